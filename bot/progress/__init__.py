"""The progress store: learners, positions, completions and the command log.

Only this package imports SQLAlchemy.
"""

from __future__ import annotations

from bot.progress.store import CommandEntry, LessonState, ProgressStore, StepState

__all__ = ["CommandEntry", "LessonState", "ProgressStore", "StepState"]
