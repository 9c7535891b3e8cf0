"""The one HTTP server of the Slack app: uvicorn (asyncio, h11) serving :mod:`handlers.web.asgi`.

Why uvicorn: a slow client costs a coroutine and a socket, not a thread. With gunicorn's
``gthread`` workers, 40 clients sending one byte every 2 s held all 2 x 16 threads before
any signature check, and a signed ``/tutor help`` waited 20 s (Slack gives 3). Here the
event loop reads every connection as bytes arrive and Bolt is only called once a whole,
well-sized body is in; the dispatch itself is a few milliseconds on a small thread pool.

What uvicorn does not bound by itself, :class:`DeadlineProtocol` does: the request line and
headers must be in within :data:`~handlers.web.asgi.HEADER_SECONDS` of connecting (or of the
previous response), however slowly they trickle (uvicorn's keep-alive timer is reset by any
byte). The body's own deadline is in the app. Beyond :data:`MAX_CONNECTIONS` open
connections new requests get ``503``.

Production (:func:`start_http`) runs :func:`http_processes` server processes (one by
default), each in its main thread with its own socket on the same port
(``SO_REUSEPORT``: the kernel spreads connections over them); SIGTERM stops accepting,
lets requests in flight finish for up to :data:`GRACEFUL_SECONDS`, then exits. The tests
and the bench run the very same app and settings on a background thread
(:class:`SlackHTTPServer`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, Self

import h11
import uvicorn
from slack_bolt import App
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import Settings
from bot.factory import WsgiApp
from handlers.web.asgi import (
    BODY_SECONDS,
    EVENTS_PATH,
    HEADER_SECONDS,
    KEEPALIVE_SECONDS,
    MAX_HEADER_BYTES,
    Healthy,
    SlackASGI,
)

log = logging.getLogger("docker_tutor.slack.http")

MAX_CONNECTIONS = 1000
"""Open connections beyond which new requests are answered ``503``."""
GRACEFUL_SECONDS = 20
"""On SIGTERM, requests in flight get this long to finish."""
BACKLOG = 2048
"""Connections the kernel queues before the server accepts them (a class clicking at once)."""

_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: 33\r\nconnection: close\r\n\r\n"
                b"the request headers came too late")


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's line and headers.

    The clock starts when the connection is made and again when a response completes
    (the next request on a kept-alive connection); it stops when the headers are parsed.
    A client still sending headers at the deadline gets ``408`` and is disconnected.
    """

    header_seconds = HEADER_SECONDS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock."""
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """Parse what arrived; stop the clock once a request's headers are in."""
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        """Restart the clock for the next request on this connection."""
        if not self.transport.is_closing():
            self._arm_header_deadline()
        super().on_response_complete()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_too_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:  # nothing was answered on this cycle
            self.transport.write(_TIMEOUT_408)
        log.info("closed a connection whose request headers did not arrive in %.0f s",
                 self.header_seconds)
        self.transport.close()


def server_config(asgi: SlackASGI, host: str, port: int, *,
                  header_seconds: float = HEADER_SECONDS) -> uvicorn.Config:
    """The server's settings: the deadline protocol and the limits.

    Args:
        asgi: The app.
        host: Interface to listen on.
        port: Port (``0`` picks a free one).
        header_seconds: The header deadline (the tests shorten it to watch it fire).
    """
    protocol = DeadlineProtocol
    if header_seconds != DeadlineProtocol.header_seconds:

        class Shortened(DeadlineProtocol):
            pass

        Shortened.header_seconds = header_seconds
        protocol = Shortened
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": protocol,
        "ws": "none",
        "lifespan": "off",
        "interface": "asgi3",
        "loop": "asyncio",
        "backlog": BACKLOG,
        "limit_concurrency": MAX_CONNECTIONS,
        "timeout_keep_alive": KEEPALIVE_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "server_header": False,
        "date_header": False,
        "proxy_headers": False,
        "access_log": False,
        "log_config": None,
    }
    return uvicorn.Config(asgi, **options)


class SlackHTTPServer:
    """The production app and server settings, served on a background thread.

    For the tests, the bench and embedding: the same :class:`~handlers.web.asgi.SlackASGI`
    and :func:`server_config` as ``serve``, on a loopback socket bound at construction (so
    :attr:`port` is known at once). A context manager.

    Args:
        app: The Bolt app.
        host: Interface to listen on.
        port: Port; ``0`` picks a free one.
        healthy: The health check (``None``: always healthy).
        header_seconds: The header deadline (only the deadline tests shorten it).
        body_seconds: The body deadline (likewise).
        dashboard: The live class view to serve under ``/dashboard`` (as ``serve`` does).
    """

    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 0,
                 healthy: Healthy | None = None, header_seconds: float = HEADER_SECONDS,
                 body_seconds: float = BODY_SECONDS, dashboard: WsgiApp | None = None) -> None:
        self.asgi = SlackASGI(app, healthy, body_seconds=body_seconds, dashboard=dashboard)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._server = uvicorn.Server(server_config(self.asgi, host, port,
                                                    header_seconds=header_seconds))
        self._thread: threading.Thread | None = None
        self.path = EVENTS_PATH

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._socket.getsockname()[1])

    @property
    def base(self) -> str:
        """The server's root on loopback, e.g. ``http://127.0.0.1:3000``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The events URL on loopback, e.g. ``http://127.0.0.1:3000/slack/events``."""
        return self.base + self.path

    def start(self) -> Self:
        """Serve on a background thread; returns once it accepts connections."""
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],),
                                        name="slack-http", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server did not start; see the log")
            self._thread.join(0.01)
        log.info("listening on port %d, events at %s", self.port, self.path)
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close the socket."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(GRACEFUL_SECONDS + 10)
            self._thread = None
        self._socket.close()
        self.asgi.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_asgi(settings: Settings) -> SlackASGI:
    """The acknowledging side of ``serve``: tutor, queue, Bolt app, health, live class view."""
    from bot.factory import build_dashboard, build_queue, build_service
    from bot.jobs.ordered import KeyedExecutor
    from handlers.app import build_app

    tutor = build_service(settings)
    jobs = build_queue(settings)
    executor = KeyedExecutor(4, thread_name_prefix="ack-side")
    app = build_app(settings, tutor, executor=executor, jobs=jobs)
    return SlackASGI(app, jobs.ping, dashboard=build_dashboard(settings))


def http_processes() -> int:
    """HTTP server processes of ``serve`` (``TUTOR_HTTP_WORKERS``, default 1).

    One event loop holds any number of slow clients. More processes help only with
    PostgreSQL and spare cores: on SQLite they queue on the database's one write lock
    (200 acks at once with 2 processes were no faster here than with one).
    """
    try:
        return max(1, int(os.environ.get("TUTOR_HTTP_WORKERS", "1")))
    except ValueError:
        return 1


def shared_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other processes may bind too (``SO_REUSEPORT``)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


HTTP_NICE = -10
"""The CPU priority the acknowledging processes ask for (``TUTOR_HTTP_NICE``; ``0``: as
started). An ack is a signature check and one insert, due within Slack's 3 seconds;
during a class the engine's own processes (dockerd, containerd, runc) want the same
cores, and the workers already run below them (``TUTOR_WORKER_NICE``)."""


def raise_priority() -> int:
    """Give this process :data:`HTTP_NICE` when the system allows it; the nice value it has.

    A negative nice needs ``CAP_SYS_NICE`` (root) or an ``RLIMIT_NICE`` that allows it
    (docker-compose.yml gives the unprivileged bot ``ulimits: nice: 30``, enough for -10).
    Without either the process keeps its priority, and says so once in the log.
    """
    try:
        wanted = int(os.environ.get("TUTOR_HTTP_NICE", HTTP_NICE))
    except ValueError:
        wanted = HTTP_NICE
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if wanted >= current:
        return current
    try:
        os.setpriority(os.PRIO_PROCESS, 0, wanted)
    except OSError:
        log.info("acks keep nice %d: %d needs CAP_SYS_NICE or a nice limit (ulimit -e)",
                 current, wanted)
        return current
    return wanted


def run_http(settings: Settings, host: str, port: int,
             build: Callable[[Settings], SlackASGI] = build_asgi) -> None:
    """Serve HTTP until SIGTERM/SIGINT (call from a process's main thread).

    Args:
        settings: The process's settings.
        host: Interface to listen on.
        port: Port, shared with the other server processes.
        build: Makes the app (the bench passes a bare Bolt app's).
    """
    logging.basicConfig(level=logging.INFO)
    raise_priority()
    sock = shared_port(host, port)
    asgi = build(settings)
    try:
        uvicorn.Server(server_config(asgi, host, port)).run(sockets=[sock])
    finally:
        asgi.close()
        sock.close()


def start_http(settings: Settings, host: str, port: int, *, count: int | None = None,
               build: Callable[[Settings], SlackASGI] = build_asgi) -> list[BaseProcess]:
    """Start the HTTP server processes (fresh interpreters) on one port.

    Args:
        settings: Their settings.
        host: Interface to listen on.
        port: The port (not ``0``: every process must bind the same one).
        count: How many (default :func:`http_processes`).
        build: Makes each process's app.
    """
    context = multiprocessing.get_context("spawn")
    children: list[BaseProcess] = []
    for n in range(count or http_processes()):
        child = context.Process(target=run_http, args=(settings, host, port, build),
                                name=f"docker-tutor-http-{n + 1}", daemon=False)
        child.start()
        children.append(child)
    return children


def stop_http(children: list[BaseProcess]) -> None:
    """SIGTERM every server process (each finishes its requests in flight), then wait."""
    for child in children:
        if child.is_alive():
            child.terminate()
    deadline = time.monotonic() + GRACEFUL_SECONDS + 10
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(5)


__all__ = ["GRACEFUL_SECONDS", "MAX_CONNECTIONS", "DeadlineProtocol", "SlackHTTPServer",
           "build_asgi", "http_processes", "run_http", "server_config", "shared_port",
           "start_http", "stop_http"]
