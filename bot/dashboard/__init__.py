"""The live class view in a browser: server-rendered HTML that refreshes itself.

``docker-tutor dashboard`` serves it on loopback for the operator; ``serve`` mounts the
same WSGI app behind short-lived signed links that ``/tutor progress live`` sends an
instructor. Public API: :func:`dashboard_app`, :func:`sign_link`, :func:`check_link`.
"""

from __future__ import annotations

from bot.dashboard.app import DashboardApp, dashboard_app
from bot.dashboard.links import LinkError, check_link, sign_link

__all__ = ["DashboardApp", "LinkError", "check_link", "dashboard_app", "sign_link"]
