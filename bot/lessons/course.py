"""The course: which lessons, in which order, and what each builds on (``lessons/course.toml``).

A course file lists the course's lessons in order::

    title = "Docker, hands-on"

    [[lessons]]
    id = "containers"             # the lesson's id (its lesson.toml says the same)
    number = 1                    # shown as "01"; lesson.toml's `number` must agree
    title = "Containers"          # shown while the lesson is not there yet
    folder = "01-containers"      # its folder under lessons/
    requires = []                 # lessons it builds on (recommended first, never enforced)

An entry whose folder holds no ``lesson.toml`` is a lesson still to come: the tutor lists
it as *coming* and nothing else. So a lesson is added by creating its folder, and a
course can name the lessons it will have before they are written. Prerequisites are
advice: ``start`` on a lesson whose prerequisites are not finished says which ones and
starts it anyway (a learner who knows containers may begin with images).

:func:`course_problems` reports every mistake in the file with its line, for
``lessons validate``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import LessonError
from bot.lessons.toml_lines import Locator

COURSE_FILE = "course.toml"
LESSON_FILE = "lesson.toml"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
TOP_KEYS = ("title", "summary", "lessons")
ENTRY_KEYS = ("id", "number", "title", "folder", "requires")


@dataclass(frozen=True)
class CourseEntry:
    """One lesson of the course, written or still to come.

    Attributes:
        id: The lesson id.
        number: Its number in the course (``1`` is shown as ``01``).
        title: Its title, shown while the lesson is not written yet.
        folder: Its folder under ``lessons/``.
        requires: Ids of the lessons it builds on.
    """

    id: str
    number: int
    title: str
    folder: str
    requires: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The number as the course shows it (``01``)."""
        return f"{self.number:02d}"


@dataclass(frozen=True)
class Course:
    """The course: a title and its lessons in order."""

    title: str
    summary: str
    entries: tuple[CourseEntry, ...]

    def entry(self, lesson_id: str) -> CourseEntry | None:
        """The entry of a lesson, if the course lists it."""
        return next((e for e in self.entries if e.id == lesson_id), None)


def _entry(raw: dict[str, Any]) -> CourseEntry:
    requires = raw.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise LessonError(f"{COURSE_FILE}: lesson {raw.get('id')!r}: 'requires' must be a "
                          "list of lesson ids.")
    return CourseEntry(id=str(raw["id"]), number=int(raw["number"]), title=str(raw["title"]),
                       folder=str(raw["folder"]), requires=tuple(requires))


def load_course(root: Path) -> Course | None:
    """The course file under ``root``, or ``None`` when there is none.

    Raises:
        LessonError: The file is not valid TOML or lacks a key (``lessons validate``
            gives every problem with its line: :func:`course_problems`).
    """
    path = root / COURSE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LessonError(f"{path}: {exc}") from None
    try:
        entries = tuple(_entry(raw) for raw in data.get("lessons", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise LessonError(f"{path}: a [[lessons]] entry is incomplete ({exc}); run "
                          "`docker-tutor lessons validate`.") from None
    return Course(str(data.get("title", "")), str(data.get("summary", "")), entries)


def written(root: Path, entry: CourseEntry) -> bool:
    """Whether the entry's lesson exists (its folder holds a ``lesson.toml``)."""
    return (root / entry.folder / LESSON_FILE).is_file()


# -- validation ------------------------------------------------------------------------------


def _lesson_head(folder: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads((folder / LESSON_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # the lesson's own validation reports it
    return data


def _check_entry(raw: Any, n: int, at: Locator, add: Any) -> dict[str, Any] | None:
    """Check one ``[[lessons]]`` table; return it when its keys are usable."""
    where = ("lessons", n)
    label = f"course lesson {n + 1}"
    if not isinstance(raw, dict):
        add(at.table(where), f"{label}: must be a [[lessons]] table")
        return None
    for key in raw:
        if key not in ENTRY_KEYS:
            add(at.key(where, key), f"{label}: unknown key {key!r} (allowed: "
                f"{', '.join(ENTRY_KEYS)})")
    ok = True
    for key in ("id", "title", "folder"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            add(at.key(where, key) if key in raw else at.table(where),
                f"{label}: {key!r} must be a non-empty string")
            ok = False
    if isinstance(raw.get("id"), str) and not _ID.match(raw["id"]):
        add(at.key(where, "id"), f"{label}: 'id' must be lower-case letters, digits and '-'")
        ok = False
    number = raw.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        add(at.key(where, "number") if "number" in raw else at.table(where),
            f"{label}: 'number' must be a whole number from 1")
        ok = False
    requires = raw.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        add(at.key(where, "requires"), f"{label}: 'requires' must be a list of lesson ids")
        ok = False
    folder = raw.get("folder")
    if isinstance(folder, str) and ("/" in folder or folder.startswith(".")):
        add(at.key(where, "folder"), f"{label}: 'folder' must be a folder name directly "
            "under lessons/")
        ok = False
    return raw if ok else None


def course_problems(root: Path) -> list[tuple[Path, int, str]]:
    """Every problem of ``root``'s course file: ``(file, line, message)``; empty when fine.

    Checks the keys and their types, unique ids, numbers and folders, that the numbers
    grow along the course, that each prerequisite is a lesson that comes earlier, that a
    written lesson's ``id`` and ``number`` agree with its entry, and that every lesson
    folder under ``root`` is in the course.
    """
    path = root / COURSE_FILE
    problems: list[tuple[Path, int, str]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [(path, 0, f"cannot read the course file ({exc.__class__.__name__})")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        return [(path, int(found.group(1)) if found else 1, f"not valid TOML: {exc}")]
    at = Locator(text)

    def add(line: int, message: str) -> None:
        problems.append((path, line, message))

    for key in data:
        if key not in TOP_KEYS:
            add(at.key((), key), f"course: unknown key {key!r} (allowed: {', '.join(TOP_KEYS)})")
    raw_entries = data.get("lessons")
    if not isinstance(raw_entries, list) or not raw_entries:
        add(1, "course: no [[lessons]]: a course lists at least one lesson")
        raw_entries = []
    seen: dict[str, int] = {}
    folders: dict[str, int] = {}
    last_number = 0
    for n, raw in enumerate(raw_entries):
        entry = _check_entry(raw, n, at, add)
        if entry is None:
            continue
        where = ("lessons", n)
        label = f"course lesson {n + 1} {entry['id']!r}"
        if entry["id"] in seen:
            add(at.key(where, "id"), f"{label}: duplicate id (also course lesson "
                f"{seen[entry['id']] + 1})")
        if entry["folder"] in folders:
            add(at.key(where, "folder"), f"{label}: folder {entry['folder']!r} is also course "
                f"lesson {folders[entry['folder']] + 1}'s")
        if entry["number"] <= last_number:
            add(at.key(where, "number"), f"{label}: number {entry['number']} must be larger "
                f"than the lesson before it ({last_number})")
        for required in entry.get("requires", []):
            if required == entry["id"] or required not in seen:
                add(at.key(where, "requires"), f"{label}: requires {required!r}, which is not "
                    "a lesson earlier in the course")
        seen.setdefault(entry["id"], n)
        folders.setdefault(entry["folder"], n)
        last_number = max(last_number, entry["number"])
        folder = root / entry["folder"]
        if (folder / LESSON_FILE).is_file():
            head = _lesson_head(folder)
            if head.get("id", entry["id"]) != entry["id"]:
                add(at.key(where, "id"), f"{label}: {entry['folder']}/{LESSON_FILE} has the id "
                    f"{head.get('id')!r}")
            if head.get("number", entry["number"]) != entry["number"]:
                add(at.key(where, "number"), f"{label}: {entry['folder']}/{LESSON_FILE} has "
                    f"number {head.get('number')!r}")
    listed = {str(raw.get("folder")) for raw in raw_entries if isinstance(raw, dict)}
    for folder in sorted(p for p in root.iterdir() if (p / LESSON_FILE).is_file()):
        if folder.name not in listed:
            add(1, f"course: the lesson folder {folder.name!r} is not in the course; add a "
                "[[lessons]] entry for it")
    return problems


__all__ = ["COURSE_FILE", "Course", "CourseEntry", "course_problems", "load_course", "written"]
