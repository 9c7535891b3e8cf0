"""What the progress store hands out: plain records, free of SQLAlchemy.

The tutor, the checks and the reports read these; only :mod:`bot.progress.store` and
:mod:`bot.progress.queries` (which make them) import SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every stored timestamp comes from here)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class StepState:
    """A learner's record on one step: what the tutor reads and the instructors' timeline shows.

    Attributes:
        step_id: The step.
        completed_at: When its checks first passed (``None``: not done).
        hints_shown: How many of its hints the learner has seen.
        check_attempts: How many times its checks ran for ``check``.
        failed_checks: How many of those failed.
    """

    step_id: str
    completed_at: datetime | None
    hints_shown: int
    check_attempts: int
    failed_checks: int

    @classmethod
    def from_row(cls, row: Any) -> StepState:
        """The record of a ``step_progress`` row (an ORM object or a result row), by column name.

        Every field is taken by keyword, so no two counts can be swapped by their order.
        """
        return cls(step_id=row.step_id, completed_at=row.completed_at,
                   hints_shown=row.hints_shown, check_attempts=row.check_attempts,
                   failed_checks=row.failed_checks)


@dataclass(frozen=True)
class LessonState:
    """A learner's position in a lesson and the state of each step they touched."""

    lesson_id: str
    current_step: str
    started_at: datetime
    completed_at: datetime | None
    steps: dict[str, StepState]

    def completed(self, step_id: str) -> bool:
        """Whether the learner completed the step."""
        state = self.steps.get(step_id)
        return state is not None and state.completed_at is not None


@dataclass(frozen=True)
class CommandEntry:
    """One row of the command log."""

    id: int
    at: datetime
    lesson_id: str | None
    step_id: str | None
    kind: str
    text: str
    exit_status: int
    duration_ms: int
    output: str
    facts: dict[str, Any] | None
    diagnosis: str | None = None


@dataclass(frozen=True)
class Position:
    """Where a learner is as their turn begins (see :meth:`ProgressStore.enter`).

    Attributes:
        learner_id: The learner's row, for writes later in the same turn.
        lesson_id: The lesson they are working on, if any.
        state: Their state in that lesson (``None`` when there is none, or it was reset).
        line_seq: Which of the learner's lines this is (1, 2, ...: each ``enter`` adds one,
            whichever replica runs it).
    """

    learner_id: int
    lesson_id: str | None
    state: LessonState | None
    line_seq: int = 0


__all__ = ["CommandEntry", "LessonState", "Position", "StepState", "utcnow"]
