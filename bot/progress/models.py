"""SQLAlchemy 2.x models of the progress store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.progress.records import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored naive in UTC and always read back timezone-aware.

    SQLite has no time zones; PostgreSQL's ``timestamp`` neither. Storing naive UTC
    everywhere keeps comparisons and medians identical on both.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Convert an aware datetime to naive UTC before storing it."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Attach UTC to a stored naive datetime."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every model."""


class Learner(Base):
    """A person known to the tutor (learners and instructors alike)."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    current_lesson: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    line_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many command lines the learner has begun (:meth:`ProgressStore.enter` adds one).

    Lines of one learner run one at a time under their lock, on whichever replica, so a
    replica that finds the count one above the last it set knows no other line ran between.
    """


class LessonProgress(Base):
    """A learner's position in one lesson."""

    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("learner_id", "lesson_id", name="uq_lesson_progress_learner_lesson"),
        Index("ix_lesson_progress_lesson_step", "lesson_id", "current_step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(String(100))
    current_step: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StepProgress(Base):
    """A learner's state on one step: completion, hints shown, check attempts."""

    __tablename__ = "step_progress"
    __table_args__ = (
        UniqueConstraint("learner_id", "lesson_id", "step_id", name="uq_step_progress"),
        Index("ix_step_progress_lesson_step", "lesson_id", "step_id"),
        # Class reports (bot/progress/queries.py): per-step completion counts read only
        # this index; per-learner step count and last completion read only the second.
        Index("ix_step_progress_lesson_done", "lesson_id", "step_id", "completed_at"),
        Index("ix_step_progress_learner_done", "learner_id", "lesson_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hints_shown: Mapped[int] = mapped_column(Integer, default=0)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)


class ChallengeCompletion(Base):
    """A verified challenge completion, with what the tutor saw."""

    __tablename__ = "challenge_completions"
    __table_args__ = (
        UniqueConstraint("learner_id", "lesson_id", "step_id", name="uq_challenge_completion"),
        Index("ix_challenge_lesson", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CommandLog(Base):
    """Append-only log of everything a learner typed, with its outcome."""

    __tablename__ = "command_log"
    __table_args__ = (
        Index("ix_command_log_learner_at", "learner_id", "at"),
        Index("ix_command_log_lesson_at", "lesson_id", "at"),
        # Class reports: a learner's failed docker commands on their current step since
        # the lesson (re)start, counted from this index alone. ``at`` precedes
        # ``exit_status`` so the ``at >=`` range is an index term (SQLite's planner picks
        # this index over ix_command_log_learner_at even without ANALYZE statistics).
        Index("ix_command_log_attempts", "learner_id", "lesson_id", "step_id", "kind", "at", "exit_status"),
        # The class's most common mistakes: diagnoses counted per lesson from this index.
        Index("ix_command_log_diagnosis", "lesson_id", "diagnosis"),
        # Failed attempts: traps and lost keys on the current step (diagnoses as data).
        Index("ix_command_log_diagnoses", "learner_id", "lesson_id", "step_id", "diagnosis", "at",
              "kind", "exit_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    step_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    exit_status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    diagnosis: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """The stable id of the diagnosis the tutor gave the learner on this line (``trap``,
    ``quiz-miss``, ``skipped-step``...; see :mod:`bot.checks.diagnoses`), else ``NULL``."""


class StuckAlert(Base):
    """A learner an instructor was (or is about to be) told is stuck, once per step and reason.

    The unique key makes "tell once" hold across every replica: whoever inserts the row
    owns the alert; ``sent_at`` is set when a batch carrying it was claimed for sending.
    A ``mute`` row (step ``*``) silences a learner's alerts in a lesson.
    """

    __tablename__ = "stuck_alerts"
    __table_args__ = (
        UniqueConstraint("learner_id", "lesson_id", "step_id", "reason", name="uq_stuck_alert"),
        Index("ix_stuck_alerts_unsent", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ClaimedRequest(Base):
    """A Slack request some replica has taken on (dedupe across processes).

    Slack retries a request it did not see acknowledged in time, possibly to another
    replica; the first replica to insert the request's key runs it, any other skips it.
    """

    __tablename__ = "claimed_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class QueuedJob(Base):
    """One learner line acknowledged to Slack and waiting to run (the durable work queue).

    The acknowledging process inserts the row; a worker process claims it with a lease
    (``state`` ``running``, ``owner``, ``lease_until``), runs it and marks it ``done``.
    ``request_key`` is Slack's identity of the request: a retried request finds its row
    and is not queued twice. ``posts`` counts the messages sent to ``reply_to``'s
    ``response_url`` (Slack allows 5 within 30 minutes).
    """

    __tablename__ = "queued_jobs"
    __table_args__ = (Index("ix_queued_jobs_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    learner_key: Mapped[str] = mapped_column(String(200), index=True)
    line: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LearnerEngine(Base):
    """Which sandbox engine of the pool a learner is placed on (``TUTOR_ENGINES``).

    One row per learner (the key is the primary key): two replicas placing the same new
    learner at once both insert, one wins, the other reads the winner's engine.
    """

    __tablename__ = "learner_engine"

    learner_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    engine: Mapped[str] = mapped_column(String(300), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngineState(Base):
    """An engine of the pool that an operator took out of placement (``engines drain``).

    Only engines that are not placeable by choice have a row: every replica reads this
    table when it places a learner, so a drain holds across replicas. ``undrain`` deletes
    the row.
    """

    __tablename__ = "engine_state"

    engine: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
