"""What every long-running Slack process shares: the token check and stopping on signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from bot.config import Settings
from bot.errors import UsageError

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


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
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


__all__ = ["check_settings", "stop_on_signals"]
