"""``docker-tutor serve``: run the Slack app until SIGINT or SIGTERM.

With ``SLACK_APP_TOKEN`` set the app connects out over Socket Mode (no public URL
needed); otherwise it serves HTTP on ``PORT`` (``POST /slack/events``, ``GET /healthz``).
Next to the app runs the tutor's housekeeping (``TutorService.start_housekeeping``:
start-up reconciliation, then the idle reaper every ``TUTOR_REAP_INTERVAL_SECONDS``). On
shutdown it stops taking requests, lets queued learner commands finish and post their
replies, stops the housekeeping, then closes the tutor.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.config import Settings
from bot.errors import UsageError
from bot.factory import build_service
from bot.workqueue import KeyedExecutor
from handlers.app import build_app, workers
from handlers.server import SlackHTTPServer

log = logging.getLogger("docker_tutor.slack")


def check_settings(settings: Settings) -> None:
    """Refuse to start without the tokens the chosen mode needs.

    Raises:
        UsageError: A token or secret is missing.
    """
    if not settings.slack_bot_token:
        raise UsageError("SLACK_BOT_TOKEN is not set (the xoxb-... token from "
                         "OAuth & Permissions); see docs/slack-setup.md.")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise UsageError("Set SLACK_APP_TOKEN (xapp-..., Socket Mode) or SLACK_SIGNING_SECRET "
                         "(HTTP mode); see docs/slack-setup.md.")


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set ``stop``; returns a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


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
    restore = _stop_on_signals(stop)
    try:
        tutor = build_service(settings)
        executor = KeyedExecutor(workers(settings), thread_name_prefix="tutor")
        housekeeping = None
        try:
            housekeeping = tutor.start_housekeeping()
            app = build_app(settings, tutor, executor=executor)
            if settings.slack_app_token:
                _socket_mode(app, settings.slack_app_token, stop, on_ready)
            else:
                server = SlackHTTPServer(app, host=host, port=settings.port).start()
                if on_ready is not None:
                    on_ready(server.url)
                try:
                    _wait(stop)
                finally:
                    server.stop()
        finally:
            executor.shutdown(wait=True)
            if housekeeping is not None:
                housekeeping.stop()
            tutor.close()
    finally:
        restore()
    return 0


__all__ = ["check_settings", "serve"]
