"""Slack's response_url limits: 5 posts within 30 minutes, then replies go to the DM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.config import Settings
from bot.progress.models import QueuedJob
from bot.progress.queue import SqlJobQueue
from bot.tutor.core import Tutor
from handlers.render.blocks import text_message
from tests.fake_slack import FakeSlack
from tests.job_helpers import queued_stack, thread_worker, wait_until
from tests.slack_helpers import TOKEN


def _only_job_id(queue: SqlJobQueue) -> int:
    [job_id] = queue.outcomes()
    return job_id


def test_a_used_up_response_url_sends_the_reply_to_the_dm(
    settings: Settings, tutor_no_engine: Tutor
) -> None:
    """After 5 posts to a response_url the next reply is a DM (conversations.open + postMessage)."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        sent = stack.sender.command("/tutor", "help")
        job_id = _only_job_id(stack.queue)
        for _ in range(5):
            stack.queue.count_post(job_id)
        with thread_worker(stack, tutor_no_engine):
            fake.wait_for("chat.postMessage")
            wait_until(lambda: stack.queue.pending() == 0, what="the job to finish")
        [dm] = fake.calls("chat.postMessage")
        assert fake.responses(sent.response_url) == []
        assert [c.body["users"] for c in fake.calls("conversations.open")] == ["U0ALICE"]
        assert "start" in dm.texts()


def test_a_late_reply_goes_to_the_dm(settings: Settings, tutor_no_engine: Tutor) -> None:
    """A job answered more than 30 minutes after the request replies in the DM."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        sent = stack.sender.command("/tutor", "help")
        job_id = _only_job_id(stack.queue)
        with stack.queue.engine.begin() as connection:
            connection.execute(update(QueuedJob).where(QueuedJob.id == job_id).values(
                created_at=datetime.now(UTC) - timedelta(minutes=31)))
        with thread_worker(stack, tutor_no_engine):
            fake.wait_for("chat.postMessage")
            wait_until(lambda: stack.queue.pending() == 0, what="the job to finish")
        assert fake.responses(sent.response_url) == []


def test_posts_are_counted_and_the_sixth_goes_to_the_dm(
    settings: Settings, tutor_no_engine: Tutor
) -> None:
    """Six messages for one request: five to the response_url, the sixth to the DM."""
    from handlers.worker import destination

    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        sent = stack.sender.command("/tutor", "help")
        job = stack.queue.claim("test")
        assert job is not None
        with thread_worker(stack, tutor_no_engine) as runner:
            where = destination(job, runner.runtime, stack.queue)
            for n in range(6):
                where.send(text_message(f"message {n}"), ephemeral=True)
        posted = [c.texts() for c in fake.responses(sent.response_url)]
        assert len(posted) == 5
        assert all(f"message {n}" in posted[n] for n in range(5))
        [dm] = fake.calls("chat.postMessage")
        assert "message 5" in dm.texts()
