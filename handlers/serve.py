"""``docker-tutor serve``: run the Slack app until SIGINT or SIGTERM.

Acknowledging and working happen in separate processes, joined by the durable queue in
the progress database (:mod:`bot.jobs.durable`):

* the acknowledging side verifies each request, stores its line as a job and answers
  Slack: with ``SLACK_APP_TOKEN`` over Socket Mode in this process, otherwise over HTTP
  on ``PORT`` (``POST /slack/events``, ``GET /healthz``) on uvicorn, in child processes
  of their own (:mod:`handlers.web.server`; ``TUTOR_HTTP_WORKERS``, default 1): an
  event loop holds slow clients without a thread each, and this process's housekeeping
  never competes with it for the GIL;
* ``TUTOR_SERVE_WORKERS`` worker processes (default 1; :mod:`handlers.worker`) run the
  jobs; ``0`` starts none, for ``docker-tutor worker`` run on its own.

This process also runs the tutor's housekeeping (``TutorService.start_housekeeping``).
On shutdown it stops the acknowledging side first (requests in flight are answered), then
SIGTERMs the workers, which finish the jobs they run; queued jobs wait in the database
for the next start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from multiprocessing.process import BaseProcess

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.config import Settings
from bot.errors import UsageError
from bot.factory import build_queue, build_service
from bot.jobs.ordered import KeyedExecutor
from handlers.app import build_app, web_client
from handlers.listeners.alerts import AlertLoop
from handlers.signals import check_settings, stop_on_signals
from handlers.web.asgi import EVENTS_PATH, HEALTH_PATH

log = logging.getLogger("docker_tutor.slack")

ACK_SIDE_THREADS = 4
"""Threads of the acknowledging process for its own small work (App Home, short notes)."""

WORKER_GRACE = 70.0
"""Seconds a worker process gets on shutdown to finish the jobs it runs."""


def worker_processes() -> int:
    """How many worker processes ``serve`` starts (``TUTOR_SERVE_WORKERS``, default 1).

    ``0`` starts none: run ``docker-tutor worker`` on its own (any number of them).
    """
    try:
        return max(0, int(os.environ.get("TUTOR_SERVE_WORKERS", "1")))
    except ValueError:
        return 1


def start_workers(settings: Settings, count: int) -> list[BaseProcess]:
    """Start ``count`` worker processes (fresh interpreters) running queued jobs."""
    from handlers.worker import run_worker

    context = multiprocessing.get_context("spawn")
    children: list[BaseProcess] = []
    for n in range(count):
        child = context.Process(target=run_worker, args=(settings,),
                                name=f"docker-tutor-worker-{n + 1}", daemon=False)
        child.start()
        log.info("started worker process %s (pid %s)", child.name, child.pid)
        children.append(child)
    return children


def stop_workers(children: list[BaseProcess], timeout: float = WORKER_GRACE) -> None:
    """SIGTERM every worker (each finishes the jobs it runs), then wait; kill stragglers."""
    for child in children:
        if child.is_alive():
            child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            log.warning("worker %s did not stop in %.0f s: killed", child.name, timeout)
            child.kill()
            child.join(5)


def _wait(stop: threading.Event) -> None:
    while not stop.wait(1.0):
        pass


def _socket_mode(app: App, app_token: str, stop: threading.Event,
                 on_ready: Callable[[str], None] | None) -> None:
    socket = SocketModeHandler(app, app_token)
    socket.connect()  # type: ignore[no-untyped-call]
    log.info("connected to Slack over Socket Mode")
    try:
        if on_ready is not None:
            on_ready("socket-mode")
        _wait(stop)
    finally:
        socket.close()  # type: ignore[no-untyped-call]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _wait_healthy(base: str, http: BaseProcess, timeout: float = 90.0) -> None:
    """Wait until the HTTP server answers ``/healthz`` (its workers built their apps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not http.is_alive():
            raise UsageError(f"the HTTP server exited (status {http.exitcode}); see the log")
        try:
            with urllib.request.urlopen(base + HEALTH_PATH, timeout=2) as response:  # noqa: S310
                if response.status == HTTPStatus.OK:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise UsageError(f"the HTTP server did not answer {HEALTH_PATH} in {timeout:.0f} s")


def _http_mode(settings: Settings, host: str, stop: threading.Event,
               on_ready: Callable[[str], None] | None) -> None:
    """The HTTP server processes (each runs its server in its main thread: it owns SIGTERM)."""
    from handlers.web.server import start_http, stop_http

    port = settings.port or _free_port(host)
    children = start_http(settings, host, port)
    try:
        local = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        base = f"http://{local}:{port}"
        for child in children:
            _wait_healthy(base, child)
        log.info("listening on port %d (%d processes), events at %s", port, len(children),
                 EVENTS_PATH)
        if on_ready is not None:
            on_ready(base + EVENTS_PATH)
        while not stop.wait(1.0):
            if not all(child.is_alive() for child in children):
                log.error("an HTTP server process exited: stopping")
                break
    finally:
        stop_http(children)  # SIGTERM: stop accepting, finish requests in flight


def serve(settings: Settings, *, stop: threading.Event | None = None,
          on_ready: Callable[[str], None] | None = None, host: str = "0.0.0.0") -> int:  # noqa: S104
    """Run the Slack front end until stopped.

    Args:
        settings: Process settings (Slack tokens, port, ...).
        stop: Set it to stop (default: a new event set by SIGINT/SIGTERM).
        on_ready: Called once serving, with the events URL (HTTP mode) or
            ``"socket-mode"``.
        host: The interface the HTTP server listens on (all by default).

    Returns:
        The exit status: 0.

    Raises:
        UsageError: Missing tokens.
    """
    check_settings(settings)
    stop = stop if stop is not None else threading.Event()
    restore = stop_on_signals(stop)
    try:
        tutor = build_service(settings)  # brings the schema up to date, queue included
        jobs = build_queue(settings)
        executor = KeyedExecutor(ACK_SIDE_THREADS, thread_name_prefix="tutor")
        housekeeping = None
        alerting: AlertLoop | None = None
        children: list[BaseProcess] = []
        try:
            children = start_workers(settings, worker_processes())
            housekeeping = tutor.start_housekeeping()
            alerting = AlertLoop(tutor, web_client(settings), settings.instructors,
                                 settings.alert_seconds).start()
            if settings.slack_app_token:
                app = build_app(settings, tutor, executor=executor, jobs=jobs)
                _socket_mode(app, settings.slack_app_token, stop, on_ready)
            else:
                _http_mode(settings, host, stop, on_ready)
        finally:
            executor.shutdown(wait=True)
            stop_workers(children)
            if housekeeping is not None:
                housekeeping.stop()
            if alerting is not None:
                alerting.stop()
            jobs.close()
            tutor.close()
    finally:
        restore()
    return 0


__all__ = ["check_settings", "serve", "start_workers", "stop_on_signals", "stop_workers",
           "worker_processes"]
