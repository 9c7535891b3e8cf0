"""``docker-tutor lessons validate``: every problem in a lesson, with its file and line.

:func:`bot.lessons.model.load_lesson` stops at the first problem; the validator reads the raw
TOML and reports them all, each at its line (``tomllib`` gives no line numbers:
:class:`bot.lessons.toml_lines.Locator` finds them by scanning the text).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.checks import PRIMITIVES
from bot.checks.framework import validate_params
from bot.checks.library import IMPLICIT, STATES, VALIDATORS
from bot.errors import CommandRefused, LessonError, TutorError
from bot.lessons.course import COURSE_FILE, course_problems
from bot.lessons.model import LESSON_FILE, QUIZ_CHECK, CheckSpec, load_lesson
from bot.lessons.prose import prose_problems
from bot.lessons.toml_lines import Locator, Path_
from bot.sandbox import parse
from bot.sandbox.policy import clean_path
from bot.wording import tag_problems

ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
MAX_HINTS = 3
MIN_CHOICES, MAX_CHOICES = 2, 6
SOLUTION_WORDS = ("edit", "answer", "check", "hint", "show", "status")
"""Tutor words a solution may use besides ``docker ...`` lines."""

TOP_KEYS = ("id", "number", "title", "summary", "images", "steps")
STEP_KEYS = ("id", "title", "file", "hints", "solution", "checks", "challenge", "quiz",
             "state_hints")
QUIZ_KEYS = ("id", "text", "choices", "answer", "explanation", "feedback")
STATE_HINT_KEYS = ("state", "text")



@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a lesson: where it is and what is wrong."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# -- the checks on the data ----------------------------------------------------------------


class _Report:
    def __init__(self, file: Path, locator: Locator) -> None:
        self.file = file
        self.at = locator
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _unknown(report: _Report, table: Path_, raw: dict[str, Any], allowed: Iterable[str],
             what: str) -> None:
    for key in raw:
        if key not in allowed:
            report.add(report.at.key(table, key),
                       f"{what}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _string(report: _Report, table: Path_, raw: dict[str, Any], key: str, what: str,
            *, required: bool = True, pattern: re.Pattern[str] | None = None) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            report.add(report.at.table(table), f"{what}: missing {key!r}")
        return None
    if not isinstance(value, str) or not value.strip():
        report.add(report.at.key(table, key), f"{what}: {key!r} must be a non-empty string")
        return None
    if pattern is not None and not pattern.match(value):
        report.add(report.at.key(table, key),
                   f"{what}: {key!r} {value!r} must be lower-case letters, digits and '-'")
        return None
    return value


def _validate_file(report: _Report, folder: Path, table: Path_, raw: dict[str, Any],
                   what: str) -> tuple[Path, str] | None:
    """Check a step's Markdown file; return its path and text when it can be read."""
    name = _string(report, table, raw, "file", what)
    if name is None:
        return None
    line = report.at.key(table, "file")
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        report.add(line, f"{what}: file {name!r} must be inside the lesson folder")
        return None
    try:
        body = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.add(line, f"{what}: file {name!r} does not exist")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        report.add(line, f"{what}: file {name!r} cannot be read ({exc.__class__.__name__})")
        return None
    if not body.strip():
        report.problems.append(Problem(folder / name, 1, f"{what}: the Markdown file is empty"))
    return folder / name, body


def _validate_checks(report: _Report, table: Path_, raw: dict[str, Any], what: str) -> list[str]:
    """Check a step's ``[[steps.checks]]``; return their types."""
    checks = raw.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        report.add(report.at.key(table, "checks"), f"{what}: 'checks' must be [[steps.checks]] tables")
        return []
    types = []
    for n, check in enumerate(checks):
        where: Path_ = (*table, "checks", n)
        label = f"{what}, check {n + 1}"
        kind = check.get("type")
        if not isinstance(kind, str) or not kind:
            report.add(report.at.table(where), f"{label}: missing 'type' (one of: "
                       f"{', '.join(sorted(set(PRIMITIVES) - IMPLICIT))})")
            continue
        types.append(kind)
        if kind in IMPLICIT:
            report.add(report.at.key(where, "type"),
                       f"{label}: {kind!r} is added by the tutor itself to a step with a quiz; "
                       "remove this check")
            continue
        if kind not in PRIMITIVES:
            known = ", ".join(sorted(set(PRIMITIVES) - IMPLICIT))
            report.add(report.at.key(where, "type"), f"{label}: unknown check type {kind!r} "
                       f"(known: {known})")
            continue
        params = {k: v for k, v in check.items() if k != "type"}
        spec = CheckSpec(kind, params)
        problems = validate_params(spec)
        for problem in problems:
            named = re.search(r"parameter '([^']+)'|: '([^']+)' must", problem)
            param = next((g for g in (named.groups() if named else ()) if g), None)
            line = report.at.key(where, param) if param and param in params else (
                report.at.table(where))
            report.add(line, f"{label}: {problem}")
        extra = VALIDATORS.get(kind)
        if extra is not None and not problems:
            for problem in extra(params):
                param = problem.split("'")[1] if "'" in problem else ""
                report.add(report.at.key(where, param) if param in params
                           else report.at.table(where), f"{label}: check {kind!r}: {problem}")
    return types


def _validate_quiz(report: _Report, table: Path_, raw: dict[str, Any], what: str) -> int:
    """Check a step's ``[[steps.quiz]]``; return how many questions it has."""
    questions = raw.get("quiz", [])
    if not isinstance(questions, list) or not all(isinstance(q, dict) for q in questions):
        report.add(report.at.key(table, "quiz"), f"{what}: 'quiz' must be [[steps.quiz]] tables")
        return 0
    seen: dict[str, int] = {}
    for n, question in enumerate(questions):
        where: Path_ = (*table, "quiz", n)
        label = f"{what}, question {n + 1}"
        _unknown(report, where, question, QUIZ_KEYS, label)
        qid = question.get("id", f"q{n + 1}")
        if not isinstance(qid, str) or not ID.match(qid):
            report.add(report.at.key(where, "id"), f"{label}: 'id' must be lower-case letters, "
                       "digits and '-'")
        elif qid in seen:
            report.add(report.at.key(where, "id"), f"{label}: duplicate question id {qid!r} "
                       f"(also question {seen[qid] + 1})")
        else:
            seen[qid] = n
        _string(report, where, question, "text", label)
        choices = question.get("choices")
        count = 0
        if not _is_str_list(choices) or not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
            report.add(report.at.key(where, "choices"), f"{label}: 'choices' must be a list of "
                       f"{MIN_CHOICES} to {MAX_CHOICES} strings")
        else:
            count = len(choices)
        answer = question.get("answer")
        if not isinstance(answer, int) or isinstance(answer, bool):
            report.add(report.at.key(where, "answer"), f"{label}: 'answer' must be the number "
                       "of the right choice (1 for the first)")
        elif count and not 1 <= answer <= count:
            report.add(report.at.key(where, "answer"), f"{label}: 'answer' is {answer}, but "
                       f"there are {count} choices (numbered from 1)")
        if "explanation" in question:
            _string(report, where, question, "explanation", label)
        feedback = question.get("feedback")
        if feedback is not None and (not _is_str_list(feedback) or (count and len(feedback) != count)):
            report.add(report.at.key(where, "feedback"), f"{label}: 'feedback' must be a list of "
                       f"strings, one per choice ({count})")
    return len(questions)


def _validate_solution(report: _Report, table: Path_, raw: dict[str, Any], what: str, *,
                       images: list[str], quiz: int) -> list[str]:
    raw_solution = raw.get("solution", [])
    if not _is_str_list(raw_solution):
        report.add(report.at.key(table, "solution"), f"{what}: 'solution' must be a list of strings")
        return []
    solution = [str(line) for line in raw_solution]
    for n, line_text in enumerate(solution):
        line = report.at.item(table, "solution", line_text)
        label = f"{what}, solution line {n + 1}"
        if line_text.startswith("docker ") or line_text == "docker":
            try:
                command = parse(line_text)
            except CommandRefused as refused:
                report.add(line, f"{label}: the sandbox refuses `{line_text}`: {refused.message}")
                continue
            if command.verb in ("build", "tag"):  # images the lesson builds may be run later
                images.extend(t.partition(":")[0] for t in [*command.values("tag"),
                                                            *command.args[1:2]])
            if command.verb == "run" and images:
                image = command.args[0].partition(":")[0]
                if image not in images:
                    report.add(line, f"{label}: image {image!r} is not in the lesson's images "
                               f"({', '.join(images)})")
            continue
        word, _, rest = line_text.partition(" ")
        if word not in SOLUTION_WORDS:
            report.add(line, f"{label}: {line_text!r} is neither a `docker ...` command nor a "
                       f"tutor word a solution may use ({', '.join(SOLUTION_WORDS)})")
        elif word == "answer" and not quiz:
            report.add(line, f"{label}: `answer` needs a step with a quiz")
        elif word == "edit":
            path, _, text = rest.partition(" ")
            try:
                clean_path(path)
            except TutorError as error:
                report.add(line, f"{label}: {error.message}")
                continue
            if not text.strip():
                report.add(line, f"{label}: `edit` needs FILE and TEXT")
    return solution


def _validate_state_hints(report: _Report, table: Path_, raw: dict[str, Any], what: str,
                          types: list[str]) -> None:
    hints = raw.get("state_hints", [])
    if not isinstance(hints, list) or not all(isinstance(h, dict) for h in hints):
        report.add(report.at.key(table, "state_hints"),
                   f"{what}: 'state_hints' must be [[steps.state_hints]] tables")
        return
    known = frozenset().union(*(STATES.get(t, frozenset()) for t in types))
    seen: set[str] = set()
    for n, hint in enumerate(hints):
        where: Path_ = (*table, "state_hints", n)
        label = f"{what}, state hint {n + 1}"
        _unknown(report, where, hint, STATE_HINT_KEYS, label)
        state = _string(report, where, hint, "state", label)
        _string(report, where, hint, "text", label)
        if state is None:
            continue
        if state in seen:
            report.add(report.at.key(where, "state"), f"{label}: a second hint for state {state!r}")
        seen.add(state)
        if not types:
            report.add(report.at.key(where, "state"), f"{label}: this step has no check to "
                       "report a state")
        elif state not in known:
            report.add(report.at.key(where, "state"), f"{label}: no check of this step reports "
                       f"the state {state!r} (they report: {', '.join(sorted(known))})")


def _validate_step(report: _Report, folder: Path, n: int, raw: dict[str, Any], *,
                   images: list[str], ids: dict[str, int]) -> None:
    table: Path_ = ("steps", n)
    sid = raw.get("id")
    what = f"step {n + 1}" + (f" {sid!r}" if isinstance(sid, str) else "")
    _unknown(report, table, raw, STEP_KEYS, what)
    sid = _string(report, table, raw, "id", what, pattern=ID)
    if sid is not None:
        if sid in ids:
            report.add(report.at.key(table, "id"), f"{what}: duplicate step id {sid!r} "
                       f"(also step {ids[sid] + 1})")
        else:
            ids[sid] = n
    _string(report, table, raw, "title", what)
    prose = _validate_file(report, folder, table, raw, what)
    hints = raw.get("hints", [])
    if not _is_str_list(hints) or not all(h.strip() for h in hints):
        report.add(report.at.key(table, "hints"), f"{what}: 'hints' must be a list of non-empty "
                   "strings")
    elif len(hints) > MAX_HINTS:
        report.add(report.at.key(table, "hints"), f"{what}: {len(hints)} hints; a step has at "
                   f"most {MAX_HINTS} (use state hints for situations)")
    else:
        for problem in (p for hint in hints for p in tag_problems(hint)):
            report.add(report.at.key(table, "hints"), f"{what}: hint: {problem}")
    if not isinstance(raw.get("challenge", False), bool):
        report.add(report.at.key(table, "challenge"), f"{what}: 'challenge' must be true or false")
    types = _validate_checks(report, table, raw, what)
    questions = _validate_quiz(report, table, raw, what)
    if questions:
        types.append(QUIZ_CHECK)
    solution = _validate_solution(report, table, raw, what, images=images, quiz=questions)
    _validate_state_hints(report, table, raw, what, types)
    if prose is not None:
        report.problems.extend(Problem(prose[0], line, f"{what}: {message}")
                               for line, message in prose_problems(prose[1], solution))
        report.problems.extend(Problem(prose[0], 1, f"{what}: {message}")
                               for message in tag_problems(prose[1]))
    hands_on = bool(raw.get("checks") or raw.get("quiz"))
    if hands_on and not solution:
        report.add(report.at.table(table), f"{what}: a hands-on step needs a 'solution' "
                   "(`lessons selftest` runs it to prove the checks)")
    if solution and not hands_on:
        report.add(report.at.key(table, "solution"), f"{what}: has a solution but nothing to "
                   "check; add [[steps.checks]] (or remove the solution)")
    if raw.get("challenge") is True and not raw.get("checks"):
        report.add(report.at.key(table, "challenge"), f"{what}: a challenge needs checks")


def validate_lesson(folder: Path) -> list[Problem]:
    """Every problem of the lesson in ``folder``, in file and line order."""
    path = folder / LESSON_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [Problem(path, 0, f"cannot read the lesson file ({exc.__class__.__name__})")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        return [Problem(path, int(found.group(1)) if found else 1,
                        f"not valid TOML: {exc}")]
    report = _Report(path, Locator(text))
    _unknown(report, (), data, TOP_KEYS, "lesson")
    _string(report, (), data, "id", "lesson", pattern=ID)
    _string(report, (), data, "title", "lesson")
    if "summary" in data:
        _string(report, (), data, "summary", "lesson")
    number = data.get("number", 0)
    if not isinstance(number, int) or isinstance(number, bool):
        report.add(report.at.key((), "number"), "lesson: 'number' must be a whole number")
    images = data.get("images", [])
    if not _is_str_list(images):
        report.add(report.at.key((), "images"), "lesson: 'images' must be a list of image names")
        images = []
    images = list(images)  # grows with the images the solutions build (`docker build -t`)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
        report.add(1, "lesson: no [[steps]]: a lesson needs at least one step")
        steps = []
    ids: dict[str, int] = {}
    for n, raw in enumerate(steps):
        _validate_step(report, folder, n, raw, images=images, ids=ids)
    if not report.problems:
        try:
            load_lesson(folder)
        except LessonError as error:
            report.add(1, f"the lesson does not load: {error.message}")
    return sorted(report.problems)


def lesson_folders(path: Path) -> list[Path]:
    """The lesson folders a ``validate`` path names: one lesson, or every one under it.

    Raises:
        LessonError: The path holds no lesson.
    """
    if path.is_file() and path.name == LESSON_FILE:
        return [path.parent]
    if (path / LESSON_FILE).is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if (p / LESSON_FILE).is_file())
        if found:
            return found
    raise LessonError(f"{path}: no {LESSON_FILE} there, nor in its folders.")


def validate_path(path: Path) -> tuple[list[Path], list[Problem]]:
    """Validate every lesson a path names; return the lesson folders and all problems.

    A folder of lessons (or its ``course.toml``) also gets its course file checked.
    """
    if path.is_file() and path.name == COURSE_FILE:
        path = path.parent
    folders = lesson_folders(path)
    problems: list[Problem] = [Problem(file, line, message)
                               for file, line, message in course_problems(path)
                               if path.is_dir() and not (path / LESSON_FILE).is_file()]
    owners: dict[str, Path] = {}
    for folder in folders:
        problems.extend(validate_lesson(folder))
        try:
            lesson_id = tomllib.loads((folder / LESSON_FILE).read_text(encoding="utf-8")).get("id")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(lesson_id, str):
            if lesson_id in owners:
                file = folder / LESSON_FILE
                line = Locator(file.read_text(encoding="utf-8")).key((), "id")
                problems.append(Problem(file, line, f"lesson: id {lesson_id!r} is also the id "
                                        f"of {owners[lesson_id] / LESSON_FILE}"))
            owners.setdefault(lesson_id, folder)
    return folders, problems
