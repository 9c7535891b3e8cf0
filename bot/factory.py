"""Where the front ends get the real tutor service: the one place that wires the core.

:func:`build_service` imports the implementation only when called, so a front end
starts (and shows its prompt) before the core's heavy parts (SQLAlchemy, the lessons)
load, and the service interface (:mod:`bot.service`) imports no implementation at all.
"""

from __future__ import annotations

from bot.config import Settings
from bot.jobs.durable import JobQueue
from bot.service import TutorService


def build_service(settings: Settings) -> TutorService:
    """The real tutor with its store, sandbox and lessons, from the settings.

    Raises:
        TutorError: The database or the lessons could not be opened.
    """
    from bot.tutor.core import Tutor

    return Tutor.from_settings(settings)


def build_queue(settings: Settings) -> JobQueue:
    """The durable job queue in the progress database (its schema must be current).

    Raises:
        StoreError: The database cannot be opened.
    """
    from bot.progress.queue import SqlJobQueue

    return SqlJobQueue(settings.database_url)


__all__ = ["build_queue", "build_service"]
