"""``docker-tutor dashboard``: the live class view for the operator, on loopback.

A threaded :mod:`wsgiref` server is enough here: one operator and a few browsers, each
asking for one small page every few seconds. It binds ``127.0.0.1`` unless told
otherwise, and then serves without links (whoever reaches it holds the database anyway);
to show the class to instructors over the network, use ``serve``'s signed links.
"""

from __future__ import annotations

import logging
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bot.dashboard.app import PREFIX, DashboardApp
from bot.dashboard.background import BackgroundServer

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("dashboard: " + format, *args)


class DashboardServer(BackgroundServer):
    """The dashboard app on a threaded WSGI server; a context manager for tests.

    Args:
        app: The dashboard.
        host: The address to bind (loopback by default).
        port: The port (0 picks a free one).
    """

    thread_name = "dashboard"

    def __init__(self, app: DashboardApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._wsgi = make_server(host, port, app, server_class=_ThreadingServer,
                                 handler_class=_QuietHandler)
        self._server = self._wsgi

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self._wsgi.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}{PREFIX}/"


__all__ = ["DashboardServer"]
