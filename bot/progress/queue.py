"""The durable work queue in the progress database (``queued_jobs``).

States: ``queued`` -> ``running`` (claimed, leased) -> ``done``; a running job whose lease
expired becomes ``notifying`` when it had started (its learner is told it was
interrupted, then it is ``done``) or ``queued`` again when it had not.

Claiming is one statement: an ``UPDATE ... WHERE id = (SELECT ...)`` that picks the oldest
queued job whose learner has no earlier unfinished job. On PostgreSQL the inner select
takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait on nor take the same
row; an earlier job of the same learner is still ``queued`` or ``running`` in every
snapshot, so a learner's jobs are claimed strictly one after the other. SQLite runs one
writing statement at a time, so the conditional update is atomic by itself.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, exists, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased, sessionmaker

from bot.errors import StoreError
from bot.jobs.durable import DEFAULT_LEASE_SECONDS, Job
from bot.progress.models import QueuedJob
from bot.progress.records import utcnow
from bot.progress.store import make_engine

UNFINISHED = ("queued", "running", "notifying")
"""States of a job that still holds its learner's later jobs back."""

KEEP_DONE = timedelta(days=1)
"""How long a done job (and its request key) stays in the table."""

PRUNE_ONE_IN = 500
"""One finish in this many also prunes old done jobs."""

CONNECT_TIMEOUT = 2
"""Seconds to wait for a PostgreSQL connection (libpq's least; an ack must fail fast)."""


def _unavailable(exc: BaseException) -> StoreError:
    return StoreError(f"The progress database is not answering ({type(exc).__name__}).")


_ENQUEUE = insert(QueuedJob).returning(QueuedJob.id)
"""The queue's insert, built once: each acknowledged line only binds its values (the
statement compiled per call cost ~0.19 ms of the ack's ~0.4 ms; bound, ~0.06 ms)."""


def queue_url(url: str) -> str:
    """Where the queue lives for the progress database ``url``.

    A SQLite file has one writer at a time: the queue gets a file of its own beside it
    (``tutor.db`` -> ``tutor-queue.db``), so an acknowledgement's insert never waits for
    a worker's progress writes (workers run at a lower CPU priority: one preempted while
    it holds the progress file's lock would hold every ack up). PostgreSQL locks rows:
    the queue stays in the progress database.
    """
    if not url.startswith("sqlite") or ":///" not in url:
        return url
    head, path = url.split(":///", 1)
    if not path or path == ":memory:" or path.startswith("file:"):
        return url
    stem, dot, suffix = path.rpartition(".")
    return f"{head}:///{stem}-queue.{suffix}" if dot and "/" not in suffix \
        else f"{head}:///{path}-queue"


ENQUEUED = ("request_key", "learner_key", "line", "reply_to", "state", "posts", "created_at")
"""The columns an enqueue writes (every other column of ``queued_jobs`` starts NULL)."""

_ENQUEUE_NEW = (sqlite_insert(QueuedJob).on_conflict_do_nothing(index_elements=["request_key"])
                .returning(QueuedJob.id))
"""SQLite's insert of a batch: a request key queued before inserts nothing (no row back)
instead of failing the batch's transaction."""


@dataclass
class _Pending:
    """One ack's row in a group commit, and what became of it."""

    values: dict[str, Any]
    done: bool = False
    new_id: int | None = None
    error: StoreError | None = None

    def result(self) -> int | None:
        if self.error is not None:
            raise self.error
        return None if self.new_id is None else int(self.new_id)


class SqlJobQueue:
    """:class:`bot.jobs.durable.JobQueue` on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        url: The progress database's URL (its schema must include ``queued_jobs``).
    """

    def __init__(self, url: str) -> None:
        try:
            if url.startswith("postgresql"):
                from sqlalchemy import create_engine

                self.engine = create_engine(url, pool_pre_ping=True, pool_size=10,
                                            max_overflow=40,
                                            connect_args={"connect_timeout": CONNECT_TIMEOUT})
            else:
                self.engine = make_engine(queue_url(url))
                QueuedJob.metadata.create_all(self.engine, tables=[cast(Table, QueuedJob.__table__)])
        except (SQLAlchemyError, ImportError) as exc:
            raise _unavailable(exc) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._skip_locked = self.engine.dialect.name == "postgresql"
        # SQLite has one writer at a time and its busy wait sleeps in coarse steps: the
        # threads of one process take turns here instead (PostgreSQL needs no such turn).
        self._turn: threading.Lock | contextlib.nullcontext[None] = (
            contextlib.nullcontext() if self._skip_locked else threading.Lock())
        self._batch: list[_Pending] = []
        self._batch_ready = threading.Condition()  # the batch, and whether one is being written
        self._committing = False
        self._writer: Any = None  # SQLite: the group commit's own connection
        self._insert_sql = ""
        self._insert_params: list[tuple[str, Any]] = []
        if not self._skip_locked:
            compiled = _ENQUEUE_NEW.compile(dialect=self.engine.dialect,
                                            column_keys=list(ENQUEUED))
            self._insert_sql = str(compiled)
            columns = QueuedJob.__table__.c
            self._insert_params = [
                (name, columns[name].type.bind_processor(self.engine.dialect))
                for name in (compiled.positiontup or [])]

    def close(self) -> None:
        """Release every connection."""
        with self._turn:
            if self._writer is not None:
                with contextlib.suppress(Exception):
                    self._writer.close()
                self._writer = None
        self.engine.dispose()

    def enqueue(self, learner_key: str, line: str, reply_to: dict[str, Any], *,
                request_key: str | None = None) -> int | None:
        """See :meth:`bot.jobs.durable.JobQueue.enqueue`.

        On SQLite the acks of one process commit together (:meth:`_group_commit`): a
        burst takes the file's write lock a few times, not once per ack.
        """
        values = {"request_key": request_key[:200] if request_key else None,
                  "learner_key": learner_key, "line": line, "reply_to": reply_to,
                  "state": "queued", "posts": 0, "created_at": utcnow()}
        if not self._skip_locked:
            return self._group_commit(values)
        try:  # one prepared Core INSERT: the acknowledgement path only binds values
            with self.engine.begin() as connection:
                new_id = connection.execute(_ENQUEUE, values).scalar_one()
                return int(new_id)
        except IntegrityError:
            return None
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def _group_commit(self, values: dict[str, Any]) -> int | None:
        """Insert ``values`` with every other ack of this process waiting, in one transaction.

        Each ack joins the batch. If no batch is being written, it takes the whole batch,
        inserts it (a repeated request key inserts nothing and answers ``None``) and
        commits once; the others wait on the condition, not on the writer's turn, so an ack
        whose row a batch just committed returns at once instead of queueing behind the next
        batch's write. Nothing is acknowledged before its transaction commits.
        """
        mine = _Pending(values)
        with self._batch_ready:
            self._batch.append(mine)
            while self._committing and not mine.done:
                self._batch_ready.wait()
            if mine.done:
                return mine.result()
            self._committing = True
            batch, self._batch = self._batch, []
        failure: StoreError | None = StoreError("The job was not stored.")
        try:
            with self._turn:
                self._insert_batch(batch)
            failure = None  # committed
        except (SQLAlchemyError, sqlite3.Error) as exc:
            failure = _unavailable(exc)
            raise failure from exc
        finally:  # whatever happened, no ack of the batch waits or answers a wrong id
            with self._batch_ready:
                for pending in batch:
                    pending.error = failure
                    pending.done = True
                self._committing = False
                self._batch_ready.notify_all()
        return mine.result()

    def _insert_batch(self, batch: list[_Pending]) -> None:
        """Insert a batch and commit it, on the writer's own connection (SQLite, under the turn).

        The statement is SQLAlchemy's own (:data:`_ENQUEUE_NEW`), compiled once, and each
        value goes through its column type's own conversion: what is stored is what the
        Core insert stores. Only the per-call work of a Core ``execute`` is left out (the
        pool checkout, the result machinery): about two thirds of an ack's insert. On any
        error the connection is dropped and the transaction with it.
        """
        if self._writer is None:
            self._writer = self.engine.raw_connection()
        raw = self._writer.driver_connection
        try:
            cursor = raw.cursor()
            try:
                for pending in batch:
                    cursor.execute(self._insert_sql, tuple(
                        convert(pending.values.get(name)) if convert else pending.values.get(name)
                        for name, convert in self._insert_params))
                    row = cursor.fetchone()
                    cursor.fetchall()  # the statement is done before the commit
                    pending.new_id = None if row is None else int(row[0])
            finally:
                cursor.close()
            raw.commit()
        except BaseException:
            writer, self._writer = self._writer, None
            with contextlib.suppress(Exception):
                writer.invalidate()
            raise

    def _next_id(self, *, expired: bool) -> Any:
        now = utcnow()
        if expired:
            query = (select(QueuedJob.id)
                     .where(QueuedJob.state.in_(("running", "notifying")),
                            QueuedJob.lease_until < now)
                     .order_by(QueuedJob.id).limit(1))
        else:
            earlier = aliased(QueuedJob)
            blocked = exists().where(and_(earlier.learner_key == QueuedJob.learner_key,
                                          earlier.id < QueuedJob.id,
                                          earlier.state.in_(UNFINISHED)))
            query = (select(QueuedJob.id).where(QueuedJob.state == "queued", ~blocked)
                     .order_by(QueuedJob.id).limit(1))
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True, of=QueuedJob)
        return query.scalar_subquery()

    def claim(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Job | None:
        """See :meth:`bot.jobs.durable.JobQueue.claim`."""
        lease = utcnow() + timedelta(seconds=lease_seconds)
        try:
            if not self._anything_to_claim():  # a read: idle polls never take the write lock
                return None
            with self._turn, self._sessions.begin() as session:
                # A dead worker's jobs first: started ones are reported, others re-queued.
                lost = session.execute(
                    update(QueuedJob).where(QueuedJob.id == self._next_id(expired=True))
                    .values(state="notifying", owner=owner, lease_until=lease)
                    .returning(QueuedJob)).scalars().one_or_none()
                if lost is not None:
                    if lost.started_at is None:
                        lost.state, lost.owner, lost.lease_until = "queued", None, None
                        return None
                    return self._job(lost, interrupted=True)
                row = session.execute(
                    update(QueuedJob).where(QueuedJob.id == self._next_id(expired=False),
                                            QueuedJob.state == "queued")
                    .values(state="running", owner=owner, lease_until=lease)
                    .returning(QueuedJob)).scalars().one_or_none()
                return None if row is None else self._job(row, interrupted=False)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def _anything_to_claim(self) -> bool:
        now = utcnow()
        query = select(QueuedJob.id).where(
            (QueuedJob.state == "queued")
            | (QueuedJob.state.in_(("running", "notifying")) & (QueuedJob.lease_until < now))
        ).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    @staticmethod
    def _job(row: QueuedJob, *, interrupted: bool) -> Job:
        return Job(id=row.id, learner_key=row.learner_key, line=row.line,
                   reply_to=dict(row.reply_to), interrupted=interrupted,
                   created_at=row.created_at, posts=row.posts)

    def _owned(self, job_id: int, owner: str, **values: Any) -> bool:
        try:
            with self._turn, self._sessions.begin() as session:
                result = session.execute(
                    update(QueuedJob).where(QueuedJob.id == job_id, QueuedJob.owner == owner,
                                            QueuedJob.state.in_(("running", "notifying")))
                    .values(**values))
                return bool(getattr(result, "rowcount", 0))
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def start(self, job_id: int, owner: str) -> bool:
        """See :meth:`bot.jobs.durable.JobQueue.start`."""
        return self._owned(job_id, owner, started_at=utcnow())

    def finish(self, job_id: int, owner: str, outcome: str) -> bool:
        """See :meth:`bot.jobs.durable.JobQueue.finish`.

        Now and then, done jobs older than :data:`KEEP_DONE` are deleted (their request
        keys are kept that long, far beyond Slack's last retry).
        """
        done = self._owned(job_id, owner, state="done", finished_at=utcnow(),
                           outcome=outcome[:40], lease_until=None)
        if done and secrets.randbelow(PRUNE_ONE_IN) == 0:
            self.prune()
        return done

    def prune(self, keep: timedelta = KEEP_DONE) -> int:
        """Delete done jobs finished more than ``keep`` ago; how many."""
        try:
            with self._turn, self.engine.begin() as connection:
                result = connection.execute(delete(QueuedJob).where(
                    QueuedJob.state == "done", QueuedJob.finished_at < utcnow() - keep))
                return int(getattr(result, "rowcount", 0))
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def heartbeat(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
        """See :meth:`bot.jobs.durable.JobQueue.heartbeat`."""
        lease = utcnow() + timedelta(seconds=lease_seconds)
        try:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(QueuedJob).where(QueuedJob.owner == owner,
                                            QueuedJob.state.in_(("running", "notifying")))
                    .values(lease_until=lease))
                return int(getattr(result, "rowcount", 0))
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def count_post(self, job_id: int) -> int:
        """See :meth:`bot.jobs.durable.JobQueue.count_post`."""
        try:
            with self._sessions.begin() as session:
                before = session.execute(
                    update(QueuedJob).where(QueuedJob.id == job_id)
                    .values(posts=QueuedJob.posts + 1)
                    .returning(QueuedJob.posts)).scalar_one()
                return int(before) - 1
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        """See :meth:`bot.jobs.durable.JobQueue.ping`."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def pending(self) -> int:
        """See :meth:`bot.jobs.durable.JobQueue.pending`."""
        try:
            with self._sessions.begin() as session:
                return int(session.scalar(select(func.count()).select_from(QueuedJob)
                                          .where(QueuedJob.state != "done")) or 0)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def outcomes(self) -> dict[int, tuple[str, str | None]]:
        """Every job's state and outcome by id (for operators and tests)."""
        with self._sessions.begin() as session:
            rows = session.execute(select(QueuedJob.id, QueuedJob.state, QueuedJob.outcome))
            return {int(i): (str(s), o) for i, s, o in rows}


__all__ = ["SqlJobQueue"]
