"""The one HTTP front end of the Slack app: an ASGI app around bolt's ASGI adapter.

Production (``docker-tutor serve`` without Socket Mode) and the tests serve this same app
on the same server (:mod:`handlers.web.server`, uvicorn), with the one set of limits
below. It routes:

* ``POST /slack/events`` to the Bolt app (the request read the way bolt's ASGI adapter,
  :mod:`slack_bolt.adapter.asgi`, reads it), once the whole body has arrived within
  :data:`BODY_SECONDS` and :data:`MAX_BODY`: a slow client holds a coroutine, never a
  thread. Bolt's dispatch (signature check, dedupe, one queue insert: 0.4 ms of CPU in
  the median here) then runs on :data:`DISPATCH_THREADS` threads, so the event loop
  (other clients, ``/healthz``) never waits on the database. Run on the loop itself, the
  database's occasional slow write stalled every connection (200 acks at once, one
  interleaved run: p99 612 ms on the loop against 448 ms on the threads);
* ``GET /healthz`` (and ``HEAD``): ``ok`` when the database answers within
  :data:`HEALTH_SECONDS`, ``503`` otherwise;
* nothing else (``404``; ``405`` for another method on the events path).

Every refusal is a short plain-text 4xx with ``Connection: close`` (the connection is not
kept for a client that misbehaved): ``411`` without a ``Content-Length`` (chunked bodies
included: Slack always sends a length), ``413`` over :data:`MAX_BODY` (unread), ``408``
when the body is not in within :data:`BODY_SECONDS`, ``431`` for headers over
:data:`MAX_HEADER_BYTES`, ``400`` for a body that is not UTF-8, not JSON or a form Bolt can
read, or not an object (the server itself answers ``400`` to what is not HTTP, a bad or
doubled ``Content-Length``, and ``408`` to headers late past ``HEADER_SECONDS``). Never a
traceback.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request.internals import build_normalized_headers, extract_content_type, parse_body

from bot.errors import TutorError
from bot.factory import WsgiApp

log = logging.getLogger("docker_tutor.slack.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

EVENTS_PATH = "/slack/events"
DASHBOARD_PATH = "/dashboard"
HEALTH_PATH = "/healthz"
MAX_BODY = 64 * 1024
"""Largest request body accepted (a slash command or a button is a few KiB)."""
MAX_HEADER_BYTES = 16 * 1024
"""Largest request line plus headers (more is a ``431``, or ``400`` from h11 when they trickle)."""
HEADER_SECONDS = 10.0
"""A client must send its request line and headers within this long of connecting (or of
the previous response, on a kept-alive connection)."""
BODY_SECONDS = 10.0
"""A client must send its whole body within this long of its headers."""
KEEPALIVE_SECONDS = 5
"""An idle kept-alive connection is closed after this long."""
HEALTH_SECONDS = 2.0
"""``/healthz`` answers ``503`` when the database is not answering within this long."""
DISPATCH_THREADS = 4
"""Threads running Bolt's dispatch: CPU and one insert each, never waiting on a client."""

Healthy = Callable[[], None]
"""Raises :class:`~bot.errors.TutorError` when the service cannot take requests."""


class Refused(Exception):
    """A request refused before Bolt sees it: its status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def _plain(send: Send, status: int, text: str, *, close: bool = False) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope["headers"] if key == name]


def declared_length(scope: Scope, limit: int) -> int:
    """The body length a request declares, checked against ``limit``.

    Raises:
        Refused: ``411`` chunked or without a length, ``413`` over ``limit``.
    """
    if _header(scope, b"transfer-encoding"):
        raise Refused(411, "chunked bodies are not accepted: send a Content-Length")
    values = _header(scope, b"content-length")
    if not values:
        raise Refused(411, "Content-Length required")
    try:
        length = int(values[0])  # the HTTP parser lets only one well-formed number through
    except ValueError:
        raise Refused(400, "bad Content-Length") from None
    if length > limit:
        raise Refused(413, f"request too large (at most {limit} bytes)")
    return length


async def read_body(receive: Receive, limit: int, seconds: float) -> bytes:
    """The whole body, within ``seconds`` and ``limit`` bytes.

    Raises:
        Refused: ``408`` not in time, ``413`` longer than ``limit``, ``400`` the client
            went away.
    """
    chunks = bytearray()
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise Refused(400, "the client went away")
                chunks += message.get("body", b"")
                if len(chunks) > limit:
                    raise Refused(413, f"request too large (at most {limit} bytes)")
                if not message.get("more_body", False):
                    return bytes(chunks)
    except TimeoutError:
        raise Refused(408, f"the body did not arrive within {seconds:.0f} s") from None


def bolt_request(raw: bytes, scope: Scope) -> BoltRequest:
    """The request as Bolt reads it.

    Raises:
        Refused: ``400`` when the body is not UTF-8, or not a JSON object or a form.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    adapter = AsgiHttpRequest(cast(Any, scope), _no_receive)
    headers = adapter.get_headers()
    try:  # Bolt parses the same way, but takes anything that is not an object for a bug
        parsed = parse_body(text, extract_content_type(build_normalized_headers(headers)))
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        raise Refused(400, "the body is not JSON or a form Slack sends") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "the body is not a JSON object")
    return BoltRequest(body=text, query=adapter.query_string, headers=headers)


async def _no_receive() -> Message:  # the body is read before Bolt's adapter is called
    return {"type": "http.request", "body": b"", "more_body": False}


class SlackASGI:
    """The ASGI app: Slack's events to Bolt, a health check, the limits; nothing else.

    Args:
        app: The Bolt app.
        healthy: Raises :class:`~bot.errors.TutorError` when the database does not answer
            (``None``: always healthy).
        max_body: Largest body accepted.
        body_seconds: Time allowed for the whole body.
        dashboard: The live class view (a WSGI app that checks its own signed links),
            served under ``/dashboard``; ``None``: not served.
    """

    def __init__(self, app: App, healthy: Healthy | None = None, *, max_body: int = MAX_BODY,
                 body_seconds: float = BODY_SECONDS, dashboard: WsgiApp | None = None) -> None:
        self.dashboard = dashboard
        self.healthy = healthy
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.app = app
        self._pool = ThreadPoolExecutor(DISPATCH_THREADS, thread_name_prefix="slack-ack")
        self._health = ThreadPoolExecutor(1, thread_name_prefix="slack-health")
        self._views = ThreadPoolExecutor(2, thread_name_prefix="dashboard")

    def close(self) -> None:
        """Wait for the dispatches in flight, then free the threads."""
        self._pool.shutdown(wait=True)
        self._health.shutdown(wait=False, cancel_futures=True)
        self._views.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        if scope["type"] != "http":
            return  # the server runs without lifespan and websockets
        try:
            await self._http(scope, receive, send)
        except Refused as refused:
            log.info("refused %s %s: %d %s", scope["method"], scope["path"][:64],
                     refused.status, refused.reason)
            await _plain(send, refused.status, refused.reason, close=True)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        # h11 bounds only headers that arrive in pieces; these came in one read
        if sum(len(key) + len(value) + 4 for key, value in scope["headers"]) > MAX_HEADER_BYTES:
            raise Refused(431, f"request headers too large (at most {MAX_HEADER_BYTES} bytes)")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            status, text = await self._check_health()
            await _plain(send, status, text)
            return
        if self.dashboard is not None and (path == DASHBOARD_PATH
                                           or path.startswith(DASHBOARD_PATH + "/")):
            await self._wsgi(self.dashboard, scope, send)
            return
        if path != EVENTS_PATH:
            raise Refused(404, "not found")
        if method != "POST":
            raise Refused(405, "POST only")
        declared_length(scope, self.max_body)
        raw = await read_body(receive, self.max_body, self.body_seconds)
        request = bolt_request(raw, scope)
        loop = asyncio.get_running_loop()
        response: BoltResponse = await loop.run_in_executor(self._pool, self.app.dispatch, request)
        body = response.body.encode("utf-8")
        headers = [(name.encode("latin-1"), value.encode("latin-1"))
                   for name, value in response.first_headers_without_set_cookie().items()
                   if name.lower() != "content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _wsgi(self, wsgi: WsgiApp, scope: Scope, send: Send) -> None:
        """Answer a GET from a WSGI app on a thread (no request body is read or passed on)."""
        environ = {
            "REQUEST_METHOD": scope["method"], "PATH_INFO": scope["path"],
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": scope.get("scheme", "http"), "wsgi.errors": io.StringIO(),
        }
        started: dict[str, Any] = {}

        def call() -> bytes:
            def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
                started["status"], started["headers"] = status, headers
            return b"".join(wsgi(environ, start_response))

        body = await asyncio.get_running_loop().run_in_executor(self._views, call)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                   for k, v in started["headers"] if k.lower() != "content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": int(started["status"].split()[0]),
                    "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body, "more_body": False})

    async def _check_health(self) -> tuple[int, str]:
        if self.healthy is None:
            return 200, "ok"
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(self._health, self.healthy),
                                   HEALTH_SECONDS)
        except TutorError as error:
            return 503, error.message
        except TimeoutError:
            return 503, f"the database did not answer within {HEALTH_SECONDS:.0f} s"
        return 200, "ok"


__all__ = ["BODY_SECONDS", "DASHBOARD_PATH", "EVENTS_PATH", "HEADER_SECONDS", "HEALTH_PATH",
           "KEEPALIVE_SECONDS",
           "MAX_BODY", "MAX_HEADER_BYTES", "Refused", "SlackASGI", "bolt_request",
           "declared_length", "read_body"]
