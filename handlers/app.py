"""Build the Bolt app: one place that wires every listener module.

Following the Bolt starter template, each listener module exposes ``register(app,
runtime)``; :func:`build_app` calls them all. Listeners run with
``process_before_response=True``: each one only queues work and acknowledges, so Slack
gets its answer in milliseconds whatever Docker is doing, and the queueing is done before
the ``200`` is sent (which is what keeps one learner's lines in the order they were
typed). In ``serve`` the queue is the durable one in the database (``jobs``), run by
worker processes; without it (tests, embedding) lines run on the
:class:`~bot.jobs.ordered.KeyedExecutor` in this process.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.config import Settings
from bot.errors import UsageError
from bot.jobs.durable import JobQueue
from bot.jobs.ordered import DEFAULT_WORKERS, KeyedExecutor
from bot.service import TutorService
from handlers.listeners import actions, alerts, commands, dedupe, editor, home, messages
from handlers.runtime import ErrorHook, Runtime

log = logging.getLogger("docker_tutor.slack")

WEB_API_TIMEOUT = 30
"""Seconds a Web API call may take."""


def workers(settings: Settings) -> int:
    """How many learner commands may run at once (``TUTOR_SLACK_WORKERS``, default 32)."""
    return settings.slack_workers or DEFAULT_WORKERS


def web_client(settings: Settings) -> WebClient:
    """The Web API client: the bot token, ``SLACK_API_URL`` if set, and retries.

    Retries: rate-limited calls (HTTP 429) wait as long as ``Retry-After`` says, up to 3
    times; connection errors are retried twice.
    """
    kwargs: dict[str, Any] = {}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    return WebClient(
        token=settings.slack_bot_token,
        timeout=WEB_API_TIMEOUT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
        **kwargs,
    )


def build_app(
    settings: Settings,
    tutor: TutorService,
    *,
    executor: KeyedExecutor,
    client: WebClient | None = None,
    on_error: ErrorHook | None = None,
    seen: dedupe.SeenCache | None = None,
    jobs: JobQueue | None = None,
) -> App:
    """The Bolt app with every listener registered.

    The token is checked with ``auth.test`` against ``SLACK_API_URL`` (or Slack) when
    the app is built.

    Args:
        settings: Needs ``slack_bot_token``; ``slack_signing_secret`` for HTTP mode.
        tutor: The core service.
        executor: Where slow work runs (a pool of :func:`workers` threads in ``serve``);
            whoever made it shuts it down, after the app stops taking requests.
        client: The Web API client (default: :func:`web_client`).
        on_error: Called with every unexpected exception after it is logged (tests fail
            on it; in production logging is enough).
        seen: The dedupe cache of this process (default: a new one). Across replicas the
            queued work claims each request in the progress store before running.
        jobs: The durable queue (``serve``): learner lines are stored there for worker
            processes; without it they run on ``executor`` in this process.

    Raises:
        UsageError: Without a bot token.
    """
    if not settings.slack_bot_token and client is None:
        raise UsageError("SLACK_BOT_TOKEN is not set: see docs/slack-setup.md.")
    client = client if client is not None else web_client(settings)
    runtime = Runtime(tutor=tutor, client=client, executor=executor, on_error=on_error,
                      jobs=jobs)
    app = App(
        name="docker-tutor",
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        process_before_response=True,
        logger=logging.getLogger("docker_tutor.slack.bolt"),
    )

    @app.error
    def unexpected(error: Exception, body: dict[str, Any]) -> None:
        log.error("unexpected error in a Slack listener (request type %s)",
                  body.get("type") or body.get("command"), exc_info=error)
        runtime.report(error)

    dedupe.register(app, seen)
    commands.register(app, runtime)
    actions.register(app, runtime)
    messages.register(app, runtime)
    home.register(app, runtime)
    alerts.register(app, runtime)
    editor.register(app, runtime)
    return app


__all__ = ["build_app", "web_client", "workers"]
