"""Slack through the durable queue: acks store jobs, separate workers answer them.

A worker process is killed (SIGKILL) in the middle of a learner's command: the learner
is told exactly once that it was interrupted, the command is not run twice, and the
queued lines of other learners still run once a worker is back.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import docker
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.progress.models import QueuedJob
from bot.progress.queue import SqlJobQueue
from bot.tutor.core import Tutor
from handlers.worker import INTERRUPTED
from tests.fake_slack import FakeSlack
from tests.job_helpers import queued_stack, thread_worker, wait_until, worker_process
from tests.slack_helpers import TOKEN


def _states(queue: SqlJobQueue) -> dict[int, tuple[str, str | None]]:
    return queue.outcomes()


def _started(queue: SqlJobQueue, job_id: int) -> bool:
    with queue.engine.connect() as connection:
        started = connection.scalar(select(QueuedJob.started_at).where(QueuedJob.id == job_id))
    return started is not None


def test_acks_only_queue_and_a_worker_answers_later(settings: Settings, tutor_no_engine: Tutor) -> None:
    """Without a worker the ack comes at once and the line waits; a worker then answers it."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        sent = stack.sender.command("/tutor", "help")
        assert sent.status == 200
        assert stack.queue.pending() == 1
        assert fake.responses(sent.response_url) == []
        with thread_worker(stack, tutor_no_engine):
            [reply] = fake.wait_for_response(sent.response_url)
        assert "start" in reply.texts()
        assert stack.queue.pending() == 0


def test_a_retried_request_is_queued_and_answered_once(settings: Settings, tutor_no_engine: Tutor) -> None:
    """Slack's retry of a slash command (same trigger id) is not queued a second time."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        url = fake.response_url()
        for retry in ("", "1"):
            headers = {"X-Slack-Retry-Num": retry} if retry else None
            sent = stack.sender.command("/tutor", "status", trigger_id="1.abc",
                                        response_url=url, headers=headers)
            assert sent.status == 200
        assert stack.queue.pending() == 1
        with thread_worker(stack, tutor_no_engine):
            fake.wait_for_response(url)
            wait_until(lambda: stack.queue.pending() == 0, what="the queue to drain")
        assert len(fake.responses(url)) == 1


@pytest.mark.docker
def test_worker_killed_mid_command_tells_the_learner_once_and_others_still_run(
    settings: Settings, tutor: Tutor, docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL mid `docker run`: Alice is told once it was interrupted; others' lines still run.

    The killed command is never run again (one container, one message to Alice), and
    Bob's and Carol's lines, queued behind it, are answered by the restarted worker.
    """
    monkeypatch.setenv("TUTOR_JOB_LEASE_SECONDS", "2")
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor, fake) as stack:
        one_at_a_time = replace(stack.settings, slack_workers=1)
        alice = stack.sender.command("/docker", "run --name nap busybox sleep 5",
                                     user="U0ALICE", user_name="alice")
        bob = stack.sender.command("/docker", "ps -a", user="U0BOB", user_name="bob")
        carol = stack.sender.command("/tutor", "status", user="U0CAROL", user_name="carol")
        assert [s.status for s in (alice, bob, carol)] == [200, 200, 200]
        first = min(_states(stack.queue))
        child = worker_process(one_at_a_time)
        try:
            wait_until(lambda: _started(stack.queue, first), what="Alice's command to start")
            wait_until(lambda: any(
                settings.namespace in c.name and "nap" in c.name
                for c in docker_client.containers.list(filters={"name": "nap"})),
                timeout=20, what="the container to run")
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            child.join(10)
        finally:
            if child.is_alive():
                child.kill()
        assert fake.responses(alice.response_url) == []
        assert fake.responses(bob.response_url) == []  # queued behind, never answered
        restarted = worker_process(replace(stack.settings, slack_workers=4))
        try:
            [told] = fake.wait_for_response(alice.response_url, timeout=60)
            [listing] = fake.wait_for_response(bob.response_url, timeout=60)
            fake.wait_for_response(carol.response_url, timeout=60)
            wait_until(lambda: stack.queue.pending() == 0, timeout=30, what="the queue to drain")
        finally:
            restarted.terminate()
            restarted.join(30)
        assert restarted.exitcode == 0
        assert INTERRUPTED.format(line="docker run --name nap busybox sleep 5") in told.texts()
        assert "CONTAINER ID" in listing.texts()
        assert len(fake.responses(alice.response_url)) == 1
        outcomes = sorted(_states(stack.queue).items())
        assert [o for _, o in outcomes] == [("done", "interrupted"), ("done", "answered"),
                                            ("done", "answered")]
        # Not run twice: Alice still has exactly the one container the first run made.
        again = stack.sender.command("/docker", "ps -a", user="U0ALICE", user_name="alice")
        with thread_worker(stack, tutor):
            [ps] = fake.wait_for_response(again.response_url, timeout=60)
        rows = {line.split()[0] for line in ps.texts().splitlines() if '"sleep 5"' in line}
        assert len(rows) == 1, ps.texts()
