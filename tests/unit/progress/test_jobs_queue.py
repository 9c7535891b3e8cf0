"""The durable job queue (``queued_jobs``) on the real database: dedupe, order, leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture

from bot.jobs.durable import Job
from bot.progress.queue import SqlJobQueue
from bot.progress.store import ProgressStore
from tests.conftest import at_head


@pytest.fixture
def queue(database_url: str, schema_template: Path | None) -> Iterator[SqlJobQueue]:
    """A queue on a fresh database with the current schema."""
    at_head(database_url, schema_template)
    ProgressStore(database_url).close()
    jobs = SqlJobQueue(database_url)
    yield jobs
    jobs.close()


def _claim(queue: SqlJobQueue, owner: str, lease: float = 30.0) -> Job:
    job = queue.claim(owner, lease_seconds=lease)
    assert job is not None
    return job


def test_a_request_key_is_queued_once(queue: SqlJobQueue) -> None:
    """A retried request (same Slack key) is not queued a second time."""
    first = queue.enqueue("slack:U1", "docker ps", {"user": "U1"}, request_key="command:U1:t1")
    again = queue.enqueue("slack:U1", "docker ps", {"user": "U1"}, request_key="command:U1:t1")
    assert first is not None
    assert again is None
    assert queue.pending() == 1


def test_one_learner_runs_in_order_others_in_parallel(queue: SqlJobQueue) -> None:
    """A learner's second line waits for the first to finish; another learner's does not."""
    a1 = queue.enqueue("slack:A", "one", {})
    a2 = queue.enqueue("slack:A", "two", {})
    b1 = queue.enqueue("slack:B", "bee", {})
    first = _claim(queue, "w1")
    second = _claim(queue, "w2")
    assert (first.id, first.line) == (a1, "one")
    assert (second.id, second.line) == (b1, "bee")
    assert queue.claim("w3") is None  # A's "two" waits behind "one"
    assert queue.start(first.id, "w1")
    assert queue.finish(first.id, "w1", "answered")
    third = _claim(queue, "w3")
    assert (third.id, third.line) == (a2, "two")


def test_a_started_job_of_a_dead_worker_comes_back_interrupted_once(queue: SqlJobQueue) -> None:
    """After the lease runs out, a started job is handed out once as interrupted, never re-run."""
    queue.enqueue("slack:A", "docker run busybox sleep 5", {})
    queue.enqueue("slack:A", "docker ps", {})
    job = _claim(queue, "dead", lease=0.2)
    assert queue.start(job.id, "dead")
    time.sleep(0.4)
    lost = _claim(queue, "w2")
    assert lost.id == job.id
    assert lost.interrupted
    assert queue.claim("w3") is None  # the learner's next line waits for the notice
    assert not queue.finish(job.id, "dead", "answered")  # the dead owner lost its claim
    assert queue.finish(lost.id, "w2", "interrupted")
    follow = _claim(queue, "w3")
    assert (follow.line, follow.interrupted) == ("docker ps", False)
    assert queue.outcomes()[job.id] == ("done", "interrupted")


def test_a_claimed_job_that_never_started_runs_again(queue: SqlJobQueue) -> None:
    """A dead worker's job that had not begun is queued again and runs normally."""
    queue.enqueue("slack:A", "next", {})
    job = _claim(queue, "dead", lease=0.2)
    time.sleep(0.4)
    assert queue.claim("w2") is None  # this call puts it back in the queue
    again = _claim(queue, "w2")
    assert (again.id, again.interrupted) == (job.id, False)


def test_a_heartbeat_keeps_the_lease(queue: SqlJobQueue) -> None:
    """A worker that renews its lease keeps its job however long it runs."""
    queue.enqueue("slack:A", "docker run busybox sleep 5", {})
    job = _claim(queue, "alive", lease=0.3)
    queue.start(job.id, "alive")
    for _ in range(4):
        time.sleep(0.15)
        assert queue.heartbeat("alive", lease_seconds=0.3) == 1
    assert queue.claim("other") is None
    assert queue.finish(job.id, "alive", "answered")


def test_posts_are_counted_per_job(queue: SqlJobQueue) -> None:
    """Each post to the response_url is counted in the job's row."""
    job_id = queue.enqueue("slack:A", "next", {})
    assert job_id is not None
    assert [queue.count_post(job_id) for _ in range(3)] == [0, 1, 2]


def test_concurrent_workers_never_share_a_job_nor_a_learner(queue: SqlJobQueue) -> None:
    """Eight threads draining 60 jobs of 6 learners: each job once, one job per learner at a time."""
    for n in range(60):
        queue.enqueue(f"slack:L{n % 6}", f"line {n}", {})
    running: dict[str, int] = {}
    seen: list[int] = []
    order: dict[str, list[int]] = {}
    problems: list[str] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        idle = 0
        while idle < 20:
            job = queue.claim(owner)
            if job is None:
                idle += 1
                time.sleep(0.01)
                continue
            idle = 0
            with lock:
                if job.learner_key in running:
                    problems.append(f"{job.learner_key} twice at once")
                running[job.learner_key] = job.id
                seen.append(job.id)
                order.setdefault(job.learner_key, []).append(job.id)
            queue.start(job.id, owner)
            time.sleep(0.002)
            with lock:
                del running[job.learner_key]
            queue.finish(job.id, owner, "answered")

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    assert sorted(seen) == sorted(set(seen))
    assert len(seen) == 60
    assert all(ids == sorted(ids) for ids in order.values())
    assert queue.pending() == 0


def test_done_jobs_are_pruned_after_a_day_and_only_then(queue: SqlJobQueue) -> None:
    """Pruning deletes done jobs older than the keep period, never queued or recent ones."""
    queue.enqueue("slack:A", "old", {}, request_key="k-old")
    queue.enqueue("slack:B", "waiting", {})
    job = _claim(queue, "w")
    queue.start(job.id, "w")
    queue.finish(job.id, "w", "answered")
    assert queue.prune() == 0  # finished just now: kept (its key still dedupes)
    assert queue.prune(keep=timedelta(0)) == 1
    assert [state for state, _ in queue.outcomes().values()] == ["queued"]


def test_on_sqlite_the_queue_has_a_file_of_its_own_beside_the_progress_database() -> None:
    """A SQLite file's queue is its sibling `-queue` file; memory and PostgreSQL keep one database."""
    from bot.progress.queue import queue_url

    assert queue_url("sqlite:////var/lib/tutor/tutor.db") == "sqlite:////var/lib/tutor/tutor-queue.db"
    assert queue_url("sqlite:///data/tutor") == "sqlite:///data/tutor-queue"
    assert queue_url("sqlite:///a.b/tutor") == "sqlite:///a.b/tutor-queue"
    assert queue_url("sqlite:///:memory:") == "sqlite:///:memory:"
    assert queue_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_acks_at_once_commit_together_each_with_its_own_answer(queue: SqlJobQueue) -> None:
    """Forty threads enqueue at once: every one gets its id (a repeated key None), in few commits."""
    from sqlalchemy import event

    if queue.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's (PostgreSQL inserts row by row)")
    commits: list[int] = []
    event.listen(queue.engine, "commit", lambda _connection: commits.append(1))
    start = threading.Barrier(40)
    answers: dict[int, int | None] = {}

    def ack(n: int) -> None:
        start.wait()
        key = f"command:U{n % 30}:t"  # ten keys repeat
        answers[n] = queue.enqueue(f"slack:U{n}", "docker ps", {"n": n}, request_key=key)

    threads = [threading.Thread(target=ack, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    ids = [i for i in answers.values() if i is not None]
    assert len(answers) == 40 and len(ids) == 30 and len(set(ids)) == 30
    assert queue.pending() == 30
    assert len(commits) < 40  # a burst shares transactions


def test_an_ack_whose_row_is_committed_does_not_wait_for_the_next_batch(
        queue: SqlJobQueue, mocker: MockerFixture) -> None:
    """A and B commit together; B answers while C's later batch is still being written."""
    if queue.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's")
    original = queue._insert_batch
    c_may_finish = threading.Event()

    def waiting(count: int) -> None:  # until ``count`` acks wait for the next batch
        deadline = time.monotonic() + 5
        while len(queue._batch) < count and time.monotonic() < deadline:
            time.sleep(0.005)

    def insert(batch: list[Any]) -> None:
        learners = sorted(p.values["learner_key"] for p in batch)
        if learners == ["slack:Z"]:
            waiting(2)  # A and B join the next batch meanwhile
        elif learners == ["slack:A", "slack:B"]:
            waiting(1)  # C joins the batch after it
        else:
            assert c_may_finish.wait(10)
        original(batch)

    mocker.patch.object(queue, "_insert_batch", side_effect=insert)
    answers: dict[str, int | None] = {}

    def ack(name: str) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: answers.__setitem__(name, queue.enqueue(f"slack:{name}", "x", {})))
        thread.start()
        return thread

    z = ack("Z")
    while not queue._committing:
        time.sleep(0.005)
    a, b = ack("A"), ack("B")
    waiting(2)
    z.join(5)
    while queue._batch or not queue._committing:  # A's and B's batch is being written
        time.sleep(0.005)
    c = ack("C")
    try:
        a.join(5)
        b.join(5)
        assert not a.is_alive() and not b.is_alive(), "an ack waited for the next batch's write"
        assert answers["A"] is not None and answers["B"] is not None
        assert c.is_alive()  # its batch is still being written
    finally:
        c_may_finish.set()
        c.join(5)
    assert answers["C"] is not None and queue.pending() == 4


def test_a_failed_group_commit_answers_every_ack_in_it_with_an_error(
        queue: SqlJobQueue, mocker: MockerFixture) -> None:
    """The database refuses the batch: each waiting ack gets the store's error, none hangs or gets an id."""
    import sqlite3

    from bot.errors import StoreError

    if queue.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's")
    mocker.patch.object(queue.engine, "raw_connection",
                        side_effect=sqlite3.OperationalError("disk I/O error"))
    start = threading.Barrier(5)
    raised: list[str] = []

    def ack(n: int) -> None:
        start.wait()
        try:
            queue.enqueue(f"slack:U{n}", "docker ps", {"n": n})
        except StoreError as error:
            raised.append(error.message)

    threads = [threading.Thread(target=ack, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(raised) == 5 and all("not answering" in m for m in raised)


def test_the_group_commits_rows_are_the_core_inserts_rows(queue: SqlJobQueue) -> None:
    """Every column the SQLite writer stores reads back as a Core insert's does (JSON, times, NULLs)."""
    from sqlalchemy import select

    from bot.progress.models import QueuedJob
    from bot.progress.queue import _ENQUEUE, ENQUEUED
    from bot.progress.records import utcnow

    if queue.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's")
    reply_to = {"response_url": "http://127.0.0.1:1/r", "nested": {"a": [1, "é"]}}
    fast = queue.enqueue("slack:U1", "docker ps", reply_to, request_key="fast")
    with queue.engine.begin() as connection:
        core = connection.execute(_ENQUEUE, {
            "request_key": "core", "learner_key": "slack:U1", "line": "docker ps",
            "reply_to": reply_to, "state": "queued", "posts": 0,
            "created_at": utcnow(),
        }).scalar_one()
    with queue.engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(QueuedJob.__table__)).all()}
    mine, theirs = rows[fast]._asdict(), rows[core]._asdict()
    for column in ("id", "request_key", "created_at"):
        mine.pop(column), theirs.pop(column)
    assert mine == theirs and mine["reply_to"] == reply_to
    assert rows[fast].created_at.tzinfo == rows[core].created_at.tzinfo
    assert {name for name, _ in queue._insert_params} == set(ENQUEUED)


def test_a_writer_connection_that_failed_is_replaced(queue: SqlJobQueue,
                                                     mocker: MockerFixture) -> None:
    """A commit that fails drops the writer's connection; the next ack gets a new one and works."""
    import sqlite3

    from bot.errors import StoreError

    if queue.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's")
    assert queue.enqueue("slack:U1", "docker ps", {}) is not None
    broken = queue._writer
    assert broken is not None
    real = broken.driver_connection
    proxy = mocker.MagicMock(wraps=real)
    proxy.commit.side_effect = sqlite3.OperationalError("disk I/O error")
    mocker.patch.object(type(broken), "driver_connection", new=proxy)
    with pytest.raises(StoreError):
        queue.enqueue("slack:U1", "docker ps 2", {})
    mocker.stopall()
    assert queue._writer is None
    assert queue.enqueue("slack:U1", "docker ps 3", {}) is not None
    from sqlalchemy import select

    from bot.progress.models import QueuedJob

    with queue.engine.connect() as connection:  # the failed batch was rolled back
        lines = connection.execute(select(QueuedJob.line).order_by(QueuedJob.id)).scalars().all()
    assert lines == ["docker ps", "docker ps 3"]
