"""The seam between the front ends and the core: the tutor service interface.

The Slack handlers and the terminal console depend on :class:`TutorService`, a
:class:`typing.Protocol`, never on :class:`bot.tutor.core.Tutor` itself nor on its store or
sandbox: whatever answers these methods can sit behind either front end (the real tutor
in production, a fake one in tests that need no Docker engine). This module imports no
implementation; :func:`bot.factory.build_service` builds the real service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bot.identity import Person
    from bot.reply import Reply


@dataclass(frozen=True)
class LessonCard:
    """One lesson with a person's progress in it, as an overview (the App Home) shows it.

    Attributes:
        lesson_id: The lesson's id.
        title: Its title.
        summary: Its one-line summary (may be empty).
        steps_total: How many steps it has.
        steps_done: How many of them the person completed.
        started: Whether the person started it.
        completed: Whether the person completed the whole lesson.
        current_number: The 1-based number of the step the person is on (``None`` when
            not started, or on a step the lesson no longer has).
        current_title: That step's title.
        number: Its number in the course (0 when there is no course file).
        coming: The course lists it but it is not written yet (nothing to start).
        waiting_on: Titles of the lessons it builds on that the person has not finished
            (advice: it can be started anyway).
    """

    lesson_id: str
    title: str
    summary: str
    steps_total: int
    steps_done: int = 0
    started: bool = False
    completed: bool = False
    current_number: int | None = None
    current_title: str | None = None
    number: int = 0
    coming: bool = False
    waiting_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class StuckAlert:
    """A learner who looks stuck, as the instructors' alert names them.

    Attributes:
        learner_key: The learner's store key (``slack:U0123``).
        learner_name: Their display name.
        lesson_id: The lesson.
        lesson_title: Its title.
        step_label: The step, numbered and titled.
        reason: ``failures`` or ``idle``.
        detail: Why, in words (``4 failed attempts on this step``).
        last_lines: Their last few lines on the step, oldest first, each with its result.
        diagnosis: The tutor's last diagnosis on the step (stable id), if any.
    """

    learner_key: str
    learner_name: str
    lesson_id: str
    lesson_title: str
    step_label: str
    reason: str
    detail: str
    last_lines: tuple[str, ...] = ()
    diagnosis: str | None = None


class Stoppable(Protocol):
    """Something running in the background that can be stopped."""

    def stop(self, timeout: float = ...) -> None:
        """Stop it, waiting up to ``timeout`` seconds."""


@runtime_checkable
class TutorService(Protocol):
    """What a front end may ask of the tutor.

    Every method may raise :class:`~bot.errors.TutorError` (with a message for the
    person); anything else is a bug.
    """

    def handle(self, person: Person, text: str) -> Reply:
        """Answer one line: a tutor word (``next``, ``hint``, ...) or a ``docker ...`` command."""

    def words(self) -> frozenset[str]:
        """The tutor words :meth:`handle` understands (``help``, ``next``, ``progress``, ...)."""

    def is_instructor(self, person: Person) -> bool:
        """Whether the person may see class data."""

    def class_summary(self, person: Person) -> Reply:
        """The class summary for an instructor's overview (no charts).

        Raises:
            NotAllowed: When the person is not an instructor.
        """

    def lesson_cards(self, person: Person | None) -> list[LessonCard]:
        """Every lesson with the person's progress in it (``None``: the lessons alone)."""

    def stuck_alerts(self) -> list[StuckAlert]:
        """Learners who became stuck since the last call, on any replica (each told once)."""

    def mute_alerts(self, person: Person, learner_key: str, lesson_id: str) -> bool:
        """Stop alerting about a learner in a lesson; ``False`` when already muted.

        Raises:
            NotAllowed: When the person is not an instructor.
        """

    def claim_request(self, key: str) -> bool:
        """Claim a front end's request key; ``False`` when any process claimed it before."""

    def start_housekeeping(self) -> Stoppable:
        """Start removing idle learners' engine objects in the background (for servers)."""

    def close(self) -> None:
        """Release the database and engine connections."""


__all__ = ["LessonCard", "Stoppable", "StuckAlert", "TutorService"]
