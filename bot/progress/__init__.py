"""The progress store: learners, positions, completions and the command log.

Only this package imports SQLAlchemy.
"""

from __future__ import annotations

from bot.progress.reports import (
    LearnerRef,
    LearnerRow,
    LearnerTimeline,
    LessonOutline,
    LessonSummary,
    StuckRules,
    find_learners,
    learner_rows,
    learner_timeline,
    lesson_summary,
)
from bot.progress.store import CommandEntry, LessonState, ProgressStore, StepState

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
