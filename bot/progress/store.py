"""The progress store's public API, on SQLAlchemy 2.x.

Every public method runs in its own transaction: it either happens completely or
not at all, so a failed command never leaves progress half-written.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StoreError
from bot.identity import Person
from bot.progress import migrate
from bot.progress.alerts import AlertsMixin
from bot.progress.commandlog import CommandLogMixin
from bot.progress.models import (
    ChallengeCompletion,
    ClaimedRequest,
    Learner,
    LessonProgress,
    StepProgress,
)
from bot.progress.placement import PlacementMixin
from bot.progress.recent import RecentHistory, WrittenFacts
from bot.progress.records import LessonState, Position, StepState, utcnow


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; for a SQLite file, create its folder and tune it."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No pre-ping: a connection to a file cannot go stale, and the ping would cost a
        # round of the driver on every transaction (several per learner command).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=60)


_TOUCH = (update(Learner).where(Learner.key == bindparam("learner_key"))
          .values(last_active_at=bindparam("active_at"), line_seq=Learner.line_seq + 1)
          .returning(Learner.id, Learner.current_lesson, Learner.display_name, Learner.line_seq))
"""What :meth:`ProgressStore.enter` runs first, built once (each learner command runs it)."""

_POSITION_AND_STEPS = (
    select(LessonProgress.lesson_id, LessonProgress.current_step, LessonProgress.started_at,
           LessonProgress.completed_at, StepProgress.step_id,
           StepProgress.completed_at.label("step_completed_at"), StepProgress.hints_shown,
           StepProgress.check_attempts, StepProgress.failed_checks)
    .outerjoin(StepProgress, (StepProgress.learner_id == LessonProgress.learner_id)
               & (StepProgress.lesson_id == LessonProgress.lesson_id))
    .where(LessonProgress.learner_id == bindparam("learner_id"),
           LessonProgress.lesson_id == bindparam("lesson_id")))
"""A learner's position in a lesson and their step states in it, in one read (one row per
step, or one row with no step)."""

_STEPS = (select(StepProgress.step_id, StepProgress.completed_at, StepProgress.hints_shown,
                 StepProgress.check_attempts, StepProgress.failed_checks)
          .where(StepProgress.learner_id == bindparam("learner_id"),
                 StepProgress.lesson_id == bindparam("lesson_id")))
"""A learner's step states in a lesson."""


def _lesson_state(connection: Connection, learner_id: int, lesson_id: str) -> LessonState | None:
    """The learner's state in a lesson, read in one statement (``None``: never started)."""
    rows = connection.execute(_POSITION_AND_STEPS, {"learner_id": learner_id,
                                                    "lesson_id": lesson_id}).all()
    if not rows:
        return None
    first = rows[0]
    return LessonState(
        lesson_id=first.lesson_id, current_step=first.current_step,
        started_at=first.started_at, completed_at=first.completed_at,
        steps={r.step_id: StepState(step_id=r.step_id, completed_at=r.step_completed_at,
                                    hints_shown=r.hints_shown, check_attempts=r.check_attempts,
                                    failed_checks=r.failed_checks)
               for r in rows if r.step_id is not None},
    )


@contextmanager
def _saved() -> Iterator[None]:
    """Database errors inside become one :class:`StoreError`: nothing was changed."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(
            "The progress database could not save that; nothing was changed. Try again."
        ) from exc


class ProgressStore(PlacementMixin, CommandLogMixin, AlertsMixin):
    """Learners' progress and history, in a relational database.

    Args:
        url: A SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        create: Bring the schema up to date on start (Alembic migrations; the default).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if create:
                migrate.ensure_current(self.engine)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            where = make_url(url).render_as_string(hide_password=True) if "://" in url else url
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            hint = (" (install docker-tutor[postgres] for PostgreSQL)"
                    if isinstance(exc, ImportError) and url.startswith("postgresql") else "")
            raise StoreError(f"Cannot open the progress database {where}: {reason}{hint}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._recent = RecentHistory()
        self._written = WrittenFacts()

    def close(self) -> None:
        """Release every database connection."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with _saved(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A transaction on a plain connection, for Core statements (no ORM session to set up).

        Committed on success, rolled back on any error, as :meth:`session`.
        """
        with _saved(), self.engine.begin() as connection:
            yield connection

    # -- learners -------------------------------------------------------------------------

    def _learner(self, session: Session, person: Person, *, touch: bool = True) -> Learner:
        learner = session.scalars(select(Learner).where(Learner.key == person.key)).one_or_none()
        if learner is None:
            learner = Learner(key=person.key, display_name=person.name)
            session.add(learner)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                learner = session.scalars(select(Learner).where(Learner.key == person.key)).one()
        if touch:
            learner.last_active_at = utcnow()
            if person.display_name and learner.display_name != person.display_name:
                learner.display_name = person.display_name
        return learner

    def touch(self, person: Person) -> None:
        """Record that the person was active now (creates them if new)."""
        with self.session() as session:
            self._learner(session, person)

    def enter(self, person: Person) -> Position:
        """Record the person active now and read where they are, in one transaction.

        What a learner's command reads as it begins (their lesson and their state in
        it); pass :attr:`Position.learner_id` to :meth:`log` later in the same turn.
        """
        with self.connection() as connection:  # Core: the learner's row is touched in place
            row = connection.execute(_TOUCH, {"learner_key": person.key,
                                              "active_at": utcnow()}).one_or_none()
            renamed = row is not None and bool(person.display_name) and \
                row.display_name != person.display_name
            if row is not None and not renamed:
                lesson_id: str | None = row.current_lesson
                state = _lesson_state(connection, row.id, lesson_id) if lesson_id else None
                return Position(row.id, lesson_id, state, row.line_seq)
        with self.session() as session:  # new (or renamed): made and updated through the ORM
            learner = self._learner(session, person)
            learner.line_seq = (learner.line_seq or 0) + 1
            lesson_id = learner.current_lesson
            state = (_lesson_state(session.connection(), learner.id, lesson_id)
                     if lesson_id else None)
            return Position(learner.id, lesson_id, state, learner.line_seq)

    # -- coordination between replicas ---------------------------------------------------

    @contextmanager
    def learner_lock(self, person: Person) -> Iterator[None]:
        """Hold a database-wide lock on one learner while their request runs.

        On PostgreSQL this is a session advisory lock, so two ``serve`` replicas never
        run the same learner's commands at once. SQLite serves one process: a no-op.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        lock_id = int.from_bytes(hashlib.sha256(person.key.encode()).digest()[:8], "big",
                                 signed=True)
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError("The progress database is not answering; try again.") from exc
        try:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
            finally:
                connection.close()

    def claim_request(self, key: str, *, keep: timedelta = timedelta(days=1)) -> bool:
        """Claim a request key for this process; ``False`` if any process claimed it before.

        Keys older than ``keep`` are forgotten now and then, so the table stays small.
        """
        now = utcnow()
        try:
            with self._sessions.begin() as session:
                session.add(ClaimedRequest(key=key[:200], claimed_at=now))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StoreError("The progress database could not record that request.") from exc
        if secrets.randbelow(500) == 0:
            with self.session() as session:
                session.execute(delete(ClaimedRequest).where(ClaimedRequest.claimed_at < now - keep))
        return True

    def learner_activity(self) -> dict[str, datetime]:
        """Every known learner key with the time they were last active (UTC, aware).

        Used by housekeeping to match engine objects to learners and find idle ones.
        """
        with self.session() as session:
            rows = session.execute(select(Learner.key, Learner.last_active_at)).all()
            return {key: when for key, when in rows}

    def current_lesson(self, person: Person) -> str | None:
        """The lesson the person is working on, if any."""
        with self.session() as session:
            learner = session.scalars(select(Learner).where(Learner.key == person.key)).one_or_none()
            return learner.current_lesson if learner else None

    # -- positions ------------------------------------------------------------------------

    def _progress(self, session: Session, learner: Learner, lesson_id: str) -> LessonProgress | None:
        return session.scalars(
            select(LessonProgress).where(
                LessonProgress.learner_id == learner.id, LessonProgress.lesson_id == lesson_id
            )
        ).one_or_none()

    def _step(self, session: Session, learner: Learner, lesson_id: str, step_id: str) -> StepProgress:
        row = session.scalars(
            select(StepProgress).where(
                StepProgress.learner_id == learner.id,
                StepProgress.lesson_id == lesson_id,
                StepProgress.step_id == step_id,
            )
        ).one_or_none()
        if row is None:
            row = StepProgress(
                learner_id=learner.id,
                lesson_id=lesson_id,
                step_id=step_id,
                hints_shown=0,
                check_attempts=0,
                failed_checks=0,
            )
            session.add(row)
            session.flush()
        return row

    def start_lesson(self, person: Person, lesson_id: str, first_step: str) -> LessonState:
        """Make ``lesson_id`` the person's current lesson; start it if new.

        A lesson already started keeps its position (``reset`` starts over).
        """
        with self.session() as session:
            learner = self._learner(session, person)
            learner.current_lesson = lesson_id
            progress = self._progress(session, learner, lesson_id)
            if progress is None:
                progress = LessonProgress(
                    learner_id=learner.id, lesson_id=lesson_id, current_step=first_step
                )
                session.add(progress)
                session.flush()
            return self._state(session, learner.id, progress)

    def move_to(self, person: Person, lesson_id: str, step_id: str) -> None:
        """Set the person's current step in a lesson they started."""
        with self.session() as session:
            learner = self._learner(session, person)
            progress = self._progress(session, learner, lesson_id)
            if progress is None:
                raise StoreError("That lesson has not been started.")
            progress.current_step = step_id
            progress.updated_at = utcnow()

    def lesson_state(self, person: Person, lesson_id: str) -> LessonState | None:
        """The person's state in a lesson, or ``None`` if they never started it."""
        with self.session() as session:
            learner = session.scalars(select(Learner).where(Learner.key == person.key)).one_or_none()
            if learner is None:
                return None
            progress = self._progress(session, learner, lesson_id)
            return None if progress is None else self._state(session, learner.id, progress)

    def all_lesson_states(self, person: Person) -> list[LessonState]:
        """Every lesson the person started, oldest first."""
        with self.session() as session:
            learner = session.scalars(select(Learner).where(Learner.key == person.key)).one_or_none()
            if learner is None:
                return []
            rows = session.scalars(
                select(LessonProgress)
                .where(LessonProgress.learner_id == learner.id)
                .order_by(LessonProgress.started_at)
            ).all()
            return [self._state(session, learner.id, row) for row in rows]

    def _state(self, db: Session | Connection, learner_id: int, progress: Any) -> LessonState:
        """The state from a position (a :class:`LessonProgress` or a row of its columns)."""
        steps = db.execute(_STEPS, {"learner_id": learner_id,
                                    "lesson_id": progress.lesson_id}).all()
        return LessonState(
            lesson_id=progress.lesson_id,
            current_step=progress.current_step,
            started_at=progress.started_at,
            completed_at=progress.completed_at,
            steps={
                s.step_id: StepState.from_row(s) for s in steps
            },
        )

    def complete_step(self, person: Person, lesson_id: str, step_id: str) -> bool:
        """Mark a step completed; return ``True`` only the first time."""
        with self.session() as session:
            learner = self._learner(session, person)
            row = self._step(session, learner, lesson_id, step_id)
            if row.completed_at is not None:
                return False
            row.completed_at = utcnow()
            return True

    def complete_lesson(self, person: Person, lesson_id: str) -> bool:
        """Mark a lesson completed; return ``True`` only the first time."""
        with self.session() as session:
            learner = self._learner(session, person)
            progress = self._progress(session, learner, lesson_id)
            if progress is None or progress.completed_at is not None:
                return False
            progress.completed_at = utcnow()
            return True

    def record_check(self, person: Person, lesson_id: str, step_id: str, *, passed: bool) -> None:
        """Count a check attempt the learner asked for (and whether it failed)."""
        with self.session() as session:
            learner = self._learner(session, person)
            row = self._step(session, learner, lesson_id, step_id)
            row.check_attempts += 1
            if not passed:
                row.failed_checks += 1

    def next_hint(self, person: Person, lesson_id: str, step_id: str, available: int) -> int:
        """Advance the step's hint counter (at most ``available``); return the hint index.

        Returns:
            The 0-based index of the hint to show; ``available - 1`` once all were shown.
        """
        with self.session() as session:
            learner = self._learner(session, person)
            row = self._step(session, learner, lesson_id, step_id)
            index = min(row.hints_shown, max(available - 1, 0))
            row.hints_shown = min(row.hints_shown + 1, available)
            return index

    def record_challenge(
        self, person: Person, lesson_id: str, step_id: str, evidence: dict[str, Any]
    ) -> bool:
        """Record a verified challenge completion; return ``True`` only the first time."""
        with self.session() as session:
            learner = self._learner(session, person)
            exists = session.scalars(
                select(ChallengeCompletion).where(
                    ChallengeCompletion.learner_id == learner.id,
                    ChallengeCompletion.lesson_id == lesson_id,
                    ChallengeCompletion.step_id == step_id,
                )
            ).one_or_none()
            if exists is not None:
                return False
            session.add(
                ChallengeCompletion(
                    learner_id=learner.id, lesson_id=lesson_id, step_id=step_id, evidence=evidence
                )
            )
            return True

    def challenge_completed_at(self, person: Person, lesson_id: str, step_id: str) -> datetime | None:
        """When the person completed the challenge, or ``None``."""
        with self.session() as session:
            row = session.execute(
                select(ChallengeCompletion.completed_at)
                .join(Learner, Learner.id == ChallengeCompletion.learner_id)
                .where(
                    Learner.key == person.key,
                    ChallengeCompletion.lesson_id == lesson_id,
                    ChallengeCompletion.step_id == step_id,
                )
            ).one_or_none()
            return None if row is None else row[0]

    def reset_lesson(self, person: Person, lesson_id: str) -> None:
        """Forget the person's position and step states in a lesson (the log stays)."""
        with self.session() as session:
            learner = self._learner(session, person)
            session.execute(
                delete(StepProgress).where(
                    StepProgress.learner_id == learner.id, StepProgress.lesson_id == lesson_id
                )
            )
            session.execute(
                delete(ChallengeCompletion).where(
                    ChallengeCompletion.learner_id == learner.id,
                    ChallengeCompletion.lesson_id == lesson_id,
                )
            )
            session.execute(
                delete(LessonProgress).where(
                    LessonProgress.learner_id == learner.id, LessonProgress.lesson_id == lesson_id
                )
            )
