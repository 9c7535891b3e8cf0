"""The progress store: learners, positions, completions and the command log.

Only this package imports SQLAlchemy, and only when the store or a query is first used:
the plain records (:mod:`~bot.progress.records`, :mod:`~bot.progress.figures`) load
without it, so importing the tutor, the checks or the reports stays cheap.

Layers: ``records``/``figures`` (plain data) <- ``models`` (tables) <- ``store`` (a
learner's own progress) and ``queries`` (class figures for instructors, in SQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.progress.figures import (
    LearnerRef,
    LearnerRow,
    LearnerTimeline,
    LessonOutline,
    LessonSummary,
    StuckRules,
)
from bot.progress.records import CommandEntry, LessonState, StepState

if TYPE_CHECKING:
    from bot.progress.queries import find_learners, learner_rows, learner_timeline, lesson_summary
    from bot.progress.store import ProgressStore

def __getattr__(name: str) -> Any:
    """The names that need SQLAlchemy, imported on first access (PEP 562)."""
    module: Any
    if name == "ProgressStore":
        from bot.progress import store as module
    elif name in ("find_learners", "learner_rows", "learner_timeline", "lesson_summary"):
        from bot.progress import queries as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)


__all__ = [
    "CommandEntry",
    "LearnerRef",
    "LearnerRow",
    "LearnerTimeline",
    "LessonOutline",
    "LessonState",
    "LessonSummary",
    "ProgressStore",
    "StepState",
    "StuckRules",
    "find_learners",
    "learner_rows",
    "learner_timeline",
    "lesson_summary",
]
