"""A small threaded HTTP server for the Bolt app, for tests and embedding in one process.

``serve`` uses gunicorn (:mod:`handlers.wsgi`); this one runs the app on a background
thread of the calling process, which is what the in-process test stacks need.

``POST /slack/events`` turns the request into a :class:`slack_bolt.request.BoltRequest`,
dispatches it and writes the :class:`slack_bolt.response.BoltResponse` back; ``GET
/healthz`` answers ``ok``. Each connection gets a thread; the listen backlog is large
enough for a whole class clicking at once (Bolt's development server resets
connections under load). Put a TLS-terminating reverse proxy in front of it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlsplit

from slack_bolt import App, BoltRequest, BoltResponse

from handlers.background import BackgroundServer

log = logging.getLogger("docker_tutor.slack.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 1 << 20
"""Largest request body accepted (Slack's payloads are far smaller)."""
READ_TIMEOUT = 15.0
"""Seconds a client may take to send its request."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer whose request threads are joined on close."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request: Slack's, or a health check."""

    server_version = "docker-tutor"
    protocol_version = "HTTP/1.0"
    timeout = READ_TIMEOUT
    app: ClassVar[App]
    path_prefix: ClassVar[str]

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _write(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _plain(self, status: HTTPStatus, text: str = "") -> None:
        body = (text or status.phrase).encode()
        self._write(status, body, {"Content-Type": "text/plain; charset=utf-8"})

    def do_GET(self) -> None:
        """Health check."""
        if urlsplit(self.path).path == HEALTH_PATH:
            self._plain(HTTPStatus.OK, "ok")
        else:
            self._plain(HTTPStatus.NOT_FOUND)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        """A request from Slack: dispatch it to the Bolt app."""
        url = urlsplit(self.path)
        if url.path != self.path_prefix:
            self._plain(HTTPStatus.NOT_FOUND)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._plain(HTTPStatus.LENGTH_REQUIRED)
            return
        if length < 0 or length > MAX_BODY:
            self._plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        raw = self.rfile.read(length)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._plain(HTTPStatus.BAD_REQUEST)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        request = BoltRequest(body=body, query=url.query, headers=headers)  # type: ignore[arg-type]
        response: BoltResponse = self.app.dispatch(request)
        self._write(response.status, response.body.encode("utf-8"),
                    response.first_headers_without_set_cookie())


class SlackHTTPServer(BackgroundServer):
    """Serve a Bolt app over HTTP on a thread per connection.

    Args:
        app: The Bolt app.
        host: Interface to listen on (``0.0.0.0`` for all).
        port: Port; ``0`` picks a free one (see :attr:`port`).
        path: The events path Slack posts to.
    """

    _server: _Server
    thread_name = "slack-http"

    def __init__(self, app: App, *, host: str = "0.0.0.0", port: int = 3000,  # noqa: S104
                 path: str = EVENTS_PATH) -> None:
        handler = type("SlackHandler", (_Handler,), {"app": app, "path_prefix": path})
        self._server = _Server((host, port), handler)
        self.path = path

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The events URL on loopback, e.g. ``http://127.0.0.1:3000/slack/events``."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> SlackHTTPServer:
        """Serve in a background thread; returns ``self``."""
        super().start()
        log.info("listening on port %d, events at %s", self.port, self.path)
        return self


__all__ = ["EVENTS_PATH", "HEALTH_PATH", "SlackHTTPServer"]
