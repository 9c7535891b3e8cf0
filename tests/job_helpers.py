"""A Slack stack on the durable queue: the acknowledging app on loopback plus workers."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from bot.config import Settings
from bot.jobs.ordered import KeyedExecutor
from bot.progress.queue import SqlJobQueue
from handlers.app import build_app, web_client
from handlers.runtime import Runtime
from handlers.web.server import SlackHTTPServer
from handlers.worker import JobRunner, run_worker
from tests.fake_slack import FakeSlack
from tests.slack_helpers import SlackSender, slack_settings


@dataclass
class QueuedStack:
    """The acknowledging app (queue mode), its queue and where to send requests.

    Attributes:
        fake: The fake Slack Web API.
        sender: Posts signed requests to the app.
        queue: The durable queue the app writes to.
        settings: The settings (Slack pointing at the fake).
        errors: Unexpected exceptions reported by the app.
    """

    fake: FakeSlack
    sender: SlackSender
    queue: SqlJobQueue
    settings: Settings
    errors: list[BaseException]


@contextmanager
def queued_stack(settings: Settings, tutor: Any, fake: FakeSlack) -> Iterator[QueuedStack]:
    """The app acknowledging into the durable queue; no worker (start one with the helpers)."""
    config = slack_settings(settings, fake)
    queue = SqlJobQueue(settings.database_url)
    errors: list[BaseException] = []
    executor = KeyedExecutor(4, thread_name_prefix="test-ack")
    app = build_app(config, tutor, executor=executor, on_error=errors.append, jobs=queue)
    server = SlackHTTPServer(app, healthy=queue.ping)  # as serve builds it
    server.start()
    try:
        yield QueuedStack(fake, SlackSender(server.url, fake), queue, config, errors)
    finally:
        server.stop()
        executor.shutdown(wait=True, cancel_futures=True)
        queue.close()
    if errors:
        raise errors[0]


@contextmanager
def thread_worker(stack: QueuedStack, tutor: Any, *, threads: int = 4,
                  lease: float = 30.0) -> Iterator[JobRunner]:
    """A worker in this process (threads) running the stack's queue through ``tutor``."""
    errors: list[BaseException] = []
    executor = KeyedExecutor(2, thread_name_prefix="test-worker")
    runtime = Runtime(tutor=tutor, client=web_client(stack.settings), executor=executor,
                      on_error=errors.append)
    runner = JobRunner(runtime, stack.queue, f"test-worker-{time.monotonic_ns()}",
                       threads=threads, lease=lease).start()
    try:
        yield runner
    finally:
        runner.shutdown()
        executor.shutdown(wait=True)
    if errors:
        raise errors[0]


def worker_process(settings: Settings) -> BaseProcess:
    """``run_worker`` in a fresh interpreter (as ``serve`` starts it); already started."""
    child = multiprocessing.get_context("spawn").Process(target=run_worker, args=(settings,),
                                                         daemon=True)
    child.start()
    return child


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
