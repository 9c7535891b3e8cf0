"""The production HTTP server: bolt's WSGI adapter on gunicorn (``gthread`` workers).

:func:`slack_wsgi` wraps :class:`slack_bolt.adapter.wsgi.SlackRequestHandler` with what a
server facing the internet needs: ``GET /healthz`` (``ok`` when the database answers,
``503`` otherwise), a request size limit (:data:`MAX_BODY`; Slack's payloads are far
smaller) and nothing else routed. :func:`run_http` runs it on gunicorn in the calling
process (the main thread: gunicorn's arbiter owns the signals): SIGTERM stops accepting,
lets requests in flight finish (up to :data:`GRACEFUL_SECONDS`), then exits.

Each gunicorn worker builds its own app (after the fork): the tutor service, the durable
queue and the Bolt app. Acknowledging only inserts a job, so a few threads per worker
answer a whole class at once. Put a TLS-terminating reverse proxy in front.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings
from bot.errors import TutorError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("docker_tutor.slack.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 64 * 1024
"""Largest request body accepted (a slash command or a button is a few KiB)."""
REQUEST_SECONDS = 30
"""A worker silent longer than this is restarted (gunicorn's ``timeout``)."""
GRACEFUL_SECONDS = 20
"""On SIGTERM, requests in flight get this long to finish."""
KEEPALIVE_SECONDS = 5
"""Idle keep-alive connections are closed after this long."""


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


def slack_wsgi(handler: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]],
               healthy: Callable[[], None], *, max_body: int = MAX_BODY) -> WSGIApplication:
    """The WSGI app: events to ``handler``, ``/healthz`` to ``healthy``, limits enforced.

    Args:
        handler: Bolt's WSGI handler.
        healthy: Raises :class:`~bot.errors.TutorError` when the database does not answer.
        max_body: Largest body accepted; larger ones get ``413`` unread.
    """

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            try:
                healthy()
            except TutorError as error:
                return _plain(start_response, "503 Service Unavailable",
                              error.message.encode())
            return _plain(start_response, "200 OK", b"ok")
        if path != EVENTS_PATH:
            return _plain(start_response, "404 Not Found", b"not found")
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed", b"POST only")
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return _plain(start_response, "411 Length Required", b"Content-Length required")
        if length > max_body:
            return _plain(start_response, "413 Content Too Large", b"request too large")
        return handler(environ, start_response)

    return application


def build_wsgi(settings: Settings) -> WSGIApplication:
    """The whole acknowledging side for one server process: tutor, queue, Bolt app."""
    from bot.factory import build_queue, build_service
    from bot.jobs.ordered import KeyedExecutor
    from handlers.app import build_app

    tutor = build_service(settings)
    jobs = build_queue(settings)
    executor = KeyedExecutor(4, thread_name_prefix="ack-side")
    app = build_app(settings, tutor, executor=executor, jobs=jobs)
    return slack_wsgi(SlackRequestHandler(app, EVENTS_PATH), jobs.ping)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code (no config file, no command line)."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApplication:
        return build_wsgi(self.settings)


def http_workers() -> int:
    """Gunicorn worker processes (``TUTOR_HTTP_WORKERS``, default 2)."""
    try:
        return max(1, int(os.environ.get("TUTOR_HTTP_WORKERS", "2")))
    except ValueError:
        return 2


def gunicorn_options(host: str, port: int) -> dict[str, Any]:
    """The server's settings: gthread workers, limits and timeouts."""
    return {
        "bind": f"{host}:{port}",
        "workers": http_workers(),
        "worker_class": "gthread",
        "threads": 16,
        "backlog": 2048,
        "timeout": REQUEST_SECONDS,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "docker-tutor-http",
    }


def run_http(settings: Settings, host: str, port: int) -> None:
    """Serve HTTP on gunicorn until SIGTERM/SIGINT (call from a process's main thread)."""
    logging.basicConfig(level=logging.INFO)
    _Gunicorn(settings, gunicorn_options(host, port)).run()


__all__ = ["EVENTS_PATH", "HEALTH_PATH", "MAX_BODY", "build_wsgi", "gunicorn_options",
           "http_workers", "run_http", "slack_wsgi"]
