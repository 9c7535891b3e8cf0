"""The progress store: learners, positions, completions and the command log.

Only this package imports SQLAlchemy, and only when the store or a query is first used:
the plain records (:mod:`~bot.progress.records`, :mod:`~bot.progress.figures`) load
without it, so importing the tutor, the checks or the reports stays cheap.

Layers: ``records``/``figures`` (plain data) <- ``models`` (tables) <- ``store`` (a
learner's own progress) and ``queries`` (class figures for instructors, in SQL).
"""

from __future__ import annotations

import importlib
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

_LAZY = {
    "ProgressStore": "bot.progress.store",
    "find_learners": "bot.progress.queries",
    "learner_rows": "bot.progress.queries",
    "learner_timeline": "bot.progress.queries",
    "lesson_summary": "bot.progress.queries",
}
"""Names that need SQLAlchemy: imported on first access (PEP 562)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
