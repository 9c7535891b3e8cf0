"""Where the front ends get the real tutor service: the one place that wires the core.

:func:`build_service` imports the implementation only when called, so a front end
starts (and shows its prompt) before the core's heavy parts (SQLAlchemy, the lessons)
load, and the service interface (:mod:`bot.service`) imports no implementation at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.config import Settings
from bot.jobs.durable import JobQueue
from bot.service import TutorService

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
"""A WSGI application (PEP 3333), as the front end mounts it."""


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


def build_dashboard(settings: Settings) -> WsgiApp:
    """The live class view for ``serve``: only signed links of instructors get in.

    Without a link secret (``TUTOR_DASHBOARD_SECRET`` or the Slack signing secret) every
    request is refused, so mounting it never exposes the class.

    Raises:
        TutorError: The database or the lessons could not be opened.
    """
    from bot.dashboard.app import DashboardApp
    from bot.lessons.model import Catalog
    from bot.progress import ProgressStore

    return DashboardApp(ProgressStore(settings.database_url), Catalog(settings.lessons_dir),
                        secret=settings.link_secret, instructors=settings.instructors)


__all__ = ["WsgiApp", "build_dashboard", "build_queue", "build_service"]
