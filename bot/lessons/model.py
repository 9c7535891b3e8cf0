"""The lesson model, loaded from the data files under ``lessons/``.

A lesson is a folder holding ``lesson.toml`` (steps, hints, solutions, checks) and one
Markdown file per step. Lessons are content: adding one needs no Python. The course file
``lessons/course.toml`` (:mod:`bot.lessons.course`) orders them and says what each builds on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import LessonError, UsageError
from bot.lessons.course import Course, CourseEntry, load_course

LESSON_FILE = "lesson.toml"

QUIZ_CHECK = "quiz_answered"
"""The check the loader adds to every step with a quiz (see :mod:`bot.checks.quiz`)."""


@dataclass(frozen=True)
class CheckSpec:
    """One check primitive of a step, as written in the lesson file.

    Attributes:
        type: The primitive's name (see :mod:`bot.checks`).
        params: Its parameters.
    """

    type: str
    params: dict[str, Any]


@dataclass(frozen=True)
class QuizQuestion:
    """A multiple-choice question.

    Attributes:
        id: A short id, unique within the step.
        text: The question.
        choices: The answers, in order (numbered from 1 in the console).
        answer: The 1-based number of the right answer.
        explanation: Why that answer is right (shown once it is answered right).
        feedback: Optional, one per choice: what to say when that choice is picked
            (empty strings, or no list at all, fall back to a plain "not quite").
    """

    id: str
    text: str
    choices: tuple[str, ...]
    answer: int
    explanation: str = ""
    feedback: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateHint:
    """A hint for one situation a step's check can find the learner in.

    Attributes:
        state: A failure state a check of the step reports (``CheckResult.state``,
            e.g. ``writer-alive``); each primitive documents the states it reports.
        text: The hint, shown by ``hint`` when the check currently fails in that state.
    """

    state: str
    text: str


@dataclass(frozen=True)
class Step:
    """One section of a lesson.

    Attributes:
        id: A short id, unique within the lesson.
        title: The heading shown to the learner.
        body: The Markdown prose.
        hints: Up to three hints, from gentle to nearly the answer.
        solution: Commands that solve the step (used by ``lessons selftest``).
        checks: All must pass for the step to be done; empty for a reading step. A
            step with a quiz also gets a ``quiz_answered`` check, added by the loader.
        challenge: Whether completing the step is recorded as a challenge completion.
        quiz: Questions to answer (a quiz step is done when all are answered right).
        state_hints: Hints keyed by the failure state the step's checks report.
    """

    id: str
    title: str
    body: str
    hints: tuple[str, ...] = ()
    solution: tuple[str, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    challenge: bool = False
    quiz: tuple[QuizQuestion, ...] = ()
    state_hints: tuple[StateHint, ...] = ()

    @property
    def hands_on(self) -> bool:
        """Whether the step is done by doing something (not just by reading it)."""
        return bool(self.checks or self.quiz)

    def state_hint(self, state: str) -> StateHint | None:
        """The state hint for a failure state, if the step has one."""
        return next((h for h in self.state_hints if state and h.state == state), None)


@dataclass(frozen=True)
class Lesson:
    """A lesson: ordered steps plus the images it uses."""

    id: str
    title: str
    number: int
    summary: str
    images: tuple[str, ...]
    steps: tuple[Step, ...]
    path: Path = field(compare=False)

    def step(self, step_id: str) -> Step:
        """The step with that id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise LessonError(f"Lesson {self.id!r} has no step {step_id!r}.")

    def index(self, step_id: str) -> int:
        """The 0-based position of a step."""
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise LessonError(f"Lesson {self.id!r} has no step {step_id!r}.")

    @property
    def challenge_steps(self) -> tuple[Step, ...]:
        """Steps whose completion counts as a challenge completion."""
        return tuple(s for s in self.steps if s.challenge)


def _tuple_of_str(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise LessonError(f"{where} must be a list of strings.")
    return tuple(raw)


def load_lesson(folder: Path) -> Lesson:
    """Load one lesson folder.

    Raises:
        LessonError: When the folder or a file in it is missing or malformed. For a
            full report with line numbers use :func:`bot.lessons.validate.validate_lesson`.
    """
    path = folder / LESSON_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LessonError(f"{path}: missing.") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{path}: {exc}") from None
    try:
        steps = tuple(_step(folder, raw, i) for i, raw in enumerate(data.get("steps", [])))
        return Lesson(
            id=str(data["id"]),
            title=str(data["title"]),
            number=int(data.get("number", 0)),
            summary=str(data.get("summary", "")),
            images=_tuple_of_str(data.get("images", []), f"{path}: images"),
            steps=steps,
            path=folder,
        )
    except KeyError as exc:
        raise LessonError(f"{path}: missing key {exc}.") from None


def _step(folder: Path, raw: dict[str, Any], index: int) -> Step:
    where = f"{folder / LESSON_FILE}: steps[{index}]"
    body_file = folder / str(raw["file"])
    try:
        body = body_file.read_text(encoding="utf-8")
    except OSError:
        raise LessonError(f"{where}: file {raw['file']!r} cannot be read.") from None
    checks = tuple(
        CheckSpec(str(c.get("type", "")), {k: v for k, v in c.items() if k != "type"})
        for c in raw.get("checks", [])
    )
    quiz = tuple(
        QuizQuestion(
            id=str(q.get("id", f"q{n + 1}")),
            text=str(q["text"]),
            choices=_tuple_of_str(q.get("choices"), f"{where}: quiz[{n}].choices"),
            answer=int(q["answer"]),
            explanation=str(q.get("explanation", "")),
            feedback=_tuple_of_str(q.get("feedback"), f"{where}: quiz[{n}].feedback"),
        )
        for n, q in enumerate(raw.get("quiz", []))
    )
    if quiz and not any(c.type == QUIZ_CHECK for c in checks):
        checks += (CheckSpec(QUIZ_CHECK, {"step": str(raw["id"]),
                                          "questions": [q.id for q in quiz]}),)
    state_hints = tuple(
        StateHint(str(h.get("state", "")), str(h.get("text", "")))
        for h in raw.get("state_hints", []) if isinstance(h, dict)
    )
    return Step(
        id=str(raw["id"]),
        title=str(raw["title"]),
        body=body,
        hints=_tuple_of_str(raw.get("hints"), f"{where}: hints"),
        solution=_tuple_of_str(raw.get("solution"), f"{where}: solution"),
        checks=checks,
        challenge=bool(raw.get("challenge", False)),
        quiz=quiz,
        state_hints=state_hints,
    )


class Catalog:
    """Every lesson found under a folder, by id, in the course's order.

    With a course file (:mod:`bot.lessons.course`) the lessons follow the course; lessons
    it does not list come after, by number. Without one they go by number.

    Args:
        root: The ``lessons/`` folder; each subfolder with a ``lesson.toml`` is a lesson.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.course: Course | None = load_course(root)
        lessons = []
        for folder in sorted(p for p in root.iterdir() if (p / LESSON_FILE).is_file()):
            lessons.append(load_lesson(folder))
        if not lessons:
            raise LessonError(f"No lessons found under {root}.")
        self._by_id = self._index(lessons, self.course)

    @staticmethod
    def _index(lessons: list[Lesson], course: Course | None = None) -> dict[str, Lesson]:
        order = {e.id: n for n, e in enumerate(course.entries)} if course else {}
        lessons.sort(key=lambda lesson: (order.get(lesson.id, len(order)), lesson.number,
                                         lesson.id))
        return {lesson.id: lesson for lesson in lessons}

    @classmethod
    def of(cls, *lessons: Lesson) -> Catalog:
        """A catalog of just these lessons, with no course (``lessons selftest PATH``)."""
        if not lessons:
            raise LessonError("A catalog needs at least one lesson.")
        catalog = cls.__new__(cls)
        catalog.root = lessons[0].path.parent
        catalog.course = None
        catalog._by_id = cls._index(list(lessons))
        return catalog

    def __iter__(self) -> Iterator[Lesson]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, lesson_id: str) -> Lesson:
        """The lesson with that id.

        Raises:
            UsageError: No such lesson (the message lists the ones there are, and says
                when the course lists it as still to come).
        """
        lesson = self._by_id.get(lesson_id)
        if lesson is None:
            known = ", ".join(self._by_id)
            entry = self.course.entry(lesson_id) if self.course else None
            if entry is not None:
                raise UsageError(f"{entry.label} {entry.title} ({lesson_id!r}) is coming, but "
                                 f"not written yet. Lessons: {known}.")
            raise UsageError(f"There is no lesson {lesson_id!r}. Lessons: {known}.")
        return lesson

    def first(self) -> Lesson:
        """The first lesson."""
        return next(iter(self._by_id.values()))

    def entries(self) -> list[tuple[CourseEntry, Lesson | None]]:
        """The course in order: each entry with its lesson, ``None`` for one still to come.

        Without a course file, one entry per lesson; lessons the course does not list
        come last.
        """
        rows: list[tuple[CourseEntry, Lesson | None]] = []
        listed: set[str] = set()
        for entry in self.course.entries if self.course else ():
            rows.append((entry, self._by_id.get(entry.id)))
            listed.add(entry.id)
        rows.extend((CourseEntry(lesson.id, lesson.number, lesson.title, lesson.path.name),
                     lesson) for lesson in self if lesson.id not in listed)
        return rows

    def requires(self, lesson_id: str) -> tuple[str, ...]:
        """The ids of the lessons the course says ``lesson_id`` builds on (written ones)."""
        entry = self.course.entry(lesson_id) if self.course else None
        return tuple(r for r in entry.requires if r in self._by_id) if entry else ()

    def after(self, lesson_id: str) -> Lesson | None:
        """The written lesson that follows ``lesson_id`` in the course, if any."""
        ids = list(self._by_id)
        if lesson_id not in ids:
            return None
        index = ids.index(lesson_id)
        return self._by_id[ids[index + 1]] if index + 1 < len(ids) else None

    @property
    def images(self) -> frozenset[str]:
        """Every image any lesson uses."""
        return frozenset(image for lesson in self for image in lesson.images)
