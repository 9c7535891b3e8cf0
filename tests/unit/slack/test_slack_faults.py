"""Faults answered, never silent: the database or the engine down during a lesson.

With the database down a line cannot be queued, so the acknowledgement itself says it
did not run (what is wrong, that progress is safe, to try again). A real PostgreSQL is
stopped in the middle of a lesson and started again; SQLite's outage is simulated.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_mock import MockerFixture
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.tutor.core import Tutor
from handlers.inbound import slack_person
from tests.fake_slack import FakeSlack
from tests.job_helpers import QueuedStack, queued_stack, thread_worker
from tests.pg_helpers import ThrowawayPostgres, unavailable_reason
from tests.slack_helpers import TOKEN

ACK_LIMIT = 3.0
"""Slack's limit for an acknowledgement, in seconds."""


def _refused_at_ack(stack: QueuedStack, command: str, text: str) -> str:
    started = time.monotonic()
    sent = stack.sender.command(command, text)
    took = time.monotonic() - started
    assert sent.status == 200
    assert took < ACK_LIMIT, f"{command} {text} acknowledged in {took:.1f} s"
    body = sent.body
    assert "did not run" in body, body
    assert "progress is safe" in body
    assert "try again" in body
    return body


def test_sqlite_down_at_ack_time_says_it_did_not_run(
    settings: Settings, tutor_no_engine: Tutor, mocker: MockerFixture
) -> None:
    """Every command acknowledged while the queue's database fails says so in the ack."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        down = OperationalError("INSERT", {}, Exception("disk I/O error"))
        assert stack.queue._writer is None  # no ack yet: the group commit's connection is new
        for part in ("engine", "_sessions"):  # every way the queue reaches its database
            broken = mocker.patch.object(stack.queue, part)
            broken.begin.side_effect = down
            broken.connect.side_effect = down
            broken.raw_connection.side_effect = down
        for command, text in (("/docker", "ps"), ("/tutor", "status"), ("/tutor", "next")):
            _refused_at_ack(stack, command, text)
        mocker.stopall()
        assert stack.queue.pending() == 0  # nothing half-queued
        sent = stack.sender.command("/tutor", "help")
        with thread_worker(stack, tutor_no_engine):
            [reply] = fake.wait_for_response(sent.response_url)
        assert "start" in reply.texts()


def test_engine_down_gets_a_notice_from_the_worker(
    settings: Settings, tutor_no_engine: Tutor
) -> None:
    """A docker command with the engine unreachable is answered with a short notice."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as stack:
        sent = stack.sender.command("/docker", "ps")
        with thread_worker(stack, tutor_no_engine):
            [reply] = fake.wait_for_response(sent.response_url, timeout=30)
        assert "not reachable" in reply.texts() or "did not answer" in reply.texts()
        assert "progress is safe" in reply.texts()


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL server this test may stop and start.

    Its folder is outside pytest's (which the ``postgres`` user may not enter).
    """
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="dt-pg-"))
    folder.chmod(0o755)  # the postgres user must reach its own folder inside
    try:
        server = ThrowawayPostgres(folder / "pg")
        try:
            yield server
        finally:
            server.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_stopped_mid_lesson_every_request_is_answered(
    postgres: ThrowawayPostgres, settings: Settings,
) -> None:
    """PostgreSQL stopped mid-lesson: each ack says the line did not run; then it goes on.

    After PostgreSQL is started again the lesson is where it was.
    """
    from dataclasses import replace

    from bot.lessons.model import Catalog
    from bot.progress.store import ProgressStore
    from bot.sandbox.engine.sandbox import Sandbox
    from tests.conftest import NO_ENGINE

    config = replace(settings, database_url=postgres.url, docker_host=NO_ENGINE)
    store = ProgressStore(config.database_url)
    catalog = Catalog(config.lessons_dir)
    box = Sandbox(config, allowed_images=catalog.images)
    tutor = Tutor(config, store, box, catalog)
    try:
        with FakeSlack(token=TOKEN) as fake, queued_stack(config, tutor, fake) as stack, \
                thread_worker(stack, tutor, lease=5.0):
            first = stack.sender.command("/tutor", "start")
            [lesson] = fake.wait_for_response(first.response_url, timeout=30)
            postgres.stop()
            for command, text in (("/docker", "ps"), ("/tutor", "status"), ("/tutor", "next"),
                                  ("/tutor", "hint")):
                _refused_at_ack(stack, command, text)
            postgres.start()
            after = stack.sender.command("/tutor", "status")
            [status] = fake.wait_for_response(after.response_url, timeout=30)
        assert "did not run" not in status.texts()
        current = store.current_lesson(slack_person("U0ALICE", "alice"))
        assert current is not None  # the lesson started before the outage is still on
        assert catalog.get(current).title in lesson.texts()
    finally:
        box.close()
        store.close()
