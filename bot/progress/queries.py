"""Class data for instructors: every SQL query behind the progress reports.

The figures are aggregated in the database (``GROUP BY``, counts on indexes); Python
only ever receives one row per learner at most, never the command log. Every query is
plain SQLAlchemy Core and runs unchanged on SQLite and PostgreSQL.

Definitions used throughout (the formatting layer repeats them to the reader):

* A learner *started* a lesson when they have a position in it (``lesson_progress``).
* A learner *finished* a lesson when they completed its challenge (every challenge
  step, when a lesson has several); in a lesson without a challenge step, when the
  lesson itself is marked completed. A completed lesson always counts as finished.
* *Time to complete* runs from the learner's lesson start to that finish (their last
  challenge step's completion). The *median* is taken over the learners who finished;
  with an even count it is the mean of the two middle values.
* *Failed attempts* on a step are its failed checks (``step_progress.failed_checks``)
  plus the learner's failed ``docker`` commands (exit status other than 0, refusals
  included), wrong quiz answers, and docker commands after which the tutor diagnosed a
  trap or a lost key (:data:`FAILED_DIAGNOSES`), logged on that step since the learner
  (re)started the lesson.
* A learner *looks stuck* when they have not finished and either made no progress
  (no step completed, and no lesson start) for at least ``StuckRules.idle_after``, or
  have at least ``StuckRules.failed_attempts`` failed attempts on their current step.
* The *stuck step* is the most common current step among learners who have not
  finished (ties go to the earlier step in the lesson; the tied steps are reported too).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    ScalarSelect,
    Select,
    Subquery,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, outerjoin

from bot.progress.figures import (
    LearnerRef,
    LearnerRow,
    LearnerTimeline,
    LessonOutline,
    LessonSummary,
    LessonTrack,
    StuckRules,
)
from bot.progress.models import ChallengeCompletion, CommandLog, Learner, LessonProgress, StepProgress
from bot.progress.records import CommandEntry, StepState, utcnow
from bot.progress.store import ProgressStore

FAILED_KIND = "docker"
"""The command-log kind whose failures count as failed attempts."""
HINT_KIND = "hint"
"""The command-log kind of a hint the tutor gave (a step's hint or a state hint)."""

FAILED_KINDS = (FAILED_KIND, "quiz")
"""Kinds whose lines count as failed attempts when they fail (a quiz miss exits 1)."""

FAILED_DIAGNOSES = (
    "trap", "stop-now", "killed", "nosave", "save-off", "not-saved", "overwritten",
    "aof-mismatch", "aof-reader-only", "wrong-db", "no-volume", "wrong-path",
    "volume-recreated", "reader-wrote", "volume-tainted",
)
"""Diagnoses (``command_log.diagnosis``) that make a successful docker command a failed
attempt: the challenge's traps and lost keys (issue 24: a learner who fell into the
``rm -f`` trap twice showed 0 failed attempts)."""


# -- query builders ---------------------------------------------------------------------------


def _finishers(outline: LessonOutline) -> Subquery | None:
    """Learners who completed every challenge step of the lesson, and when the last one was."""
    if not outline.challenge_step_ids:
        return None
    return (
        select(
            ChallengeCompletion.learner_id.label("learner_id"),
            func.max(ChallengeCompletion.completed_at).label("done_at"),
        )
        .where(
            ChallengeCompletion.lesson_id == outline.lesson_id,
            ChallengeCompletion.step_id.in_(outline.challenge_step_ids),
        )
        .group_by(ChallengeCompletion.learner_id)
        .having(func.count() == len(set(outline.challenge_step_ids)))
        .subquery("finishers")
    )


def _progress_from(done: Subquery | None) -> FromClause:
    """``lesson_progress``, left-joined to the finishers when the lesson has a challenge."""
    if done is None:
        return LessonProgress.__table__
    return outerjoin(LessonProgress, done, done.c.learner_id == LessonProgress.learner_id)


def _finished_at(done: Subquery | None) -> ColumnElement[Any]:
    """The finish time: the challenge completion, else the lesson completion."""
    if done is None:
        return LessonProgress.completed_at.expression
    return func.coalesce(done.c.done_at, LessonProgress.completed_at)


def _challenge_at(done: Subquery | None) -> ColumnElement[Any]:
    """When the learner completed the challenge (``NULL`` in a lesson without one)."""
    if done is None:
        return literal(None, LessonProgress.completed_at.type)
    return done.c.done_at


def _unfinished(done: Subquery | None) -> ColumnElement[bool]:
    condition = LessonProgress.completed_at.is_(None)
    if done is None:
        return condition
    return and_(condition, done.c.done_at.is_(None))


def _logged_on_current_step(first: ColumnElement[bool],
                            *rest: ColumnElement[bool]) -> ScalarSelect[Any]:
    """Count the learner's log entries on their current step since the lesson (re)start.

    ``first`` stands before the time range and ``rest`` after it, so each count is a range
    of ``ix_command_log_attempts`` (learner, lesson, step, kind, at, exit status).
    """
    return (
        select(func.count())
        .select_from(CommandLog)
        .where(
            CommandLog.learner_id == LessonProgress.learner_id,
            CommandLog.lesson_id == LessonProgress.lesson_id,
            CommandLog.step_id == LessonProgress.current_step,
            first,
            CommandLog.at >= LessonProgress.started_at,
            *rest,
        )
        .scalar_subquery()
    )


def _rows_query(outline: LessonOutline, done: Subquery | None) -> Select[*tuple[Any, ...]]:
    """One row per learner in the lesson, every figure computed in SQL.

    The per-learner figures are correlated subqueries, each a short range of one index:
    ``ix_step_progress_learner_done`` for the step count and the last completion,
    ``uq_step_progress`` for the current step's failed checks and
    ``ix_command_log_attempts`` for the failed commands on the current step (so the
    command log is never scanned per learner).

    Args:
        outline: The lesson.
        done: Its :func:`_finishers` subquery (``None`` for a lesson without a challenge).
    """
    mine = and_(
        StepProgress.learner_id == LessonProgress.learner_id,
        StepProgress.lesson_id == LessonProgress.lesson_id,
    )
    steps_done = select(func.count(StepProgress.completed_at)).where(mine).scalar_subquery()
    # Completions before the (re)start cannot exist (a reset deletes them), but bounding
    # the range makes "the later of the two" exact without repeating the subquery.
    last_step_at = (
        select(func.max(StepProgress.completed_at))
        .where(mine, StepProgress.completed_at >= LessonProgress.started_at)
        .scalar_subquery()
    )
    failed_checks = (
        select(StepProgress.failed_checks)
        .where(mine, StepProgress.step_id == LessonProgress.current_step)
        .scalar_subquery()
    )
    failed_commands = _logged_on_current_step(
        CommandLog.kind.in_(FAILED_KINDS), CommandLog.exit_status != 0)
    failed_diagnoses = _logged_on_current_step(  # traps and lost keys after a command that worked
        CommandLog.diagnosis.in_(FAILED_DIAGNOSES), CommandLog.kind == FAILED_KIND,
        CommandLog.exit_status == 0)
    # The columns are LearnerRow's fields, in order: rows become LearnerRow(*row).
    return (
        select(
            Learner.key.label("key"),
            func.coalesce(func.nullif(Learner.display_name, ""), Learner.key).label("name"),
            LessonProgress.lesson_id.label("lesson_id"),
            LessonProgress.started_at.label("started_at"),
            LessonProgress.current_step.label("current_step"),
            func.coalesce(steps_done, 0).label("steps_completed"),
            _challenge_at(done).label("challenge_completed_at"),
            LessonProgress.completed_at.label("lesson_completed_at"),
            _finished_at(done).label("finished_at"),
            func.coalesce(last_step_at, LessonProgress.started_at).label("last_progress_at"),
            Learner.last_active_at.label("last_active_at"),
            func.coalesce(failed_checks, 0).label("failed_checks"),
            (func.coalesce(failed_commands, 0)
             + func.coalesce(failed_diagnoses, 0)).label("failed_commands"),
        )
        .select_from(_progress_from(done))
        .join(Learner, Learner.id == LessonProgress.learner_id)
        .where(LessonProgress.lesson_id == outline.lesson_id)
    )


# -- public queries ---------------------------------------------------------------------------


def learner_rows(store: ProgressStore, outline: LessonOutline) -> list[LearnerRow]:
    """Every learner who started the lesson, with their figures, ordered by key."""
    with store.session() as session:
        query = _rows_query(outline, _finishers(outline)).order_by(Learner.key)
        return [LearnerRow(*row) for row in session.connection().execute(query)]


def _unfinished_rows(session: Session, outline: LessonOutline) -> list[LearnerRow]:
    done = _finishers(outline)
    query = _rows_query(outline, done).where(_unfinished(done))
    return [LearnerRow(*row) for row in session.connection().execute(query)]


def _stuck(rows: Sequence[LearnerRow], now: datetime, rules: StuckRules) -> list[LearnerRow]:
    """The rows that look stuck, most failed attempts first, then longest idle."""
    stuck = [row for row in rows if row.stuck_reasons(now, rules)]
    stuck.sort(key=lambda row: (-row.failed_attempts, row.last_progress_at, row.key))
    return stuck


def stuck_learners(
    store: ProgressStore, outline: LessonOutline, *, now: datetime, rules: StuckRules
) -> list[LearnerRow]:
    """The learners who look stuck, most failed attempts first, then longest idle.

    SQL returns the figures of the learners who have not finished (at most one row
    each); :meth:`LearnerRow.stuck_reasons` applies the rules, so the summary and the
    export can never disagree.
    """
    with store.session() as session:
        return _stuck(_unfinished_rows(session, outline), now, rules)


def lesson_summary(
    store: ProgressStore,
    outline: LessonOutline,
    *,
    now: datetime | None = None,
    rules: StuckRules | None = None,
) -> LessonSummary:
    """The class's figures in one lesson (see the module docstring for definitions).

    Four queries aggregate in SQL: the counts, the completions per step (GROUP BY), the
    finishers' start and finish times (one pair per finisher, for a portable median) and
    the current steps of those still working (GROUP BY); a fifth returns the unfinished
    learners' figures (one row each) for the stuck rules.

    Args:
        store: The progress store.
        outline: The lesson.
        now: The time idle periods are measured to (default: now).
        rules: When a learner looks stuck (default: 30 min idle or 3 failed attempts).
    """
    now = now or utcnow()
    rules = rules or StuckRules()
    done = _finishers(outline)
    with store.session() as session:
        # Core execution on the session's connection: same transaction, no ORM overhead.
        connection = session.connection()
        started, lesson_completions, challenge_completions = connection.execute(
            select(
                func.count(), func.count(LessonProgress.completed_at), func.count(_challenge_at(done))
            )
            .select_from(_progress_from(done))
            .where(LessonProgress.lesson_id == outline.lesson_id)
        ).one()
        per_step = dict(
            connection.execute(
                select(StepProgress.step_id, func.count())
                .where(
                    StepProgress.lesson_id == outline.lesson_id,
                    StepProgress.completed_at.is_not(None),
                )
                .group_by(StepProgress.step_id)
            ).all()
        )
        finishes = connection.execute(
            select(LessonProgress.started_at, _finished_at(done))
            .select_from(_progress_from(done))
            .where(LessonProgress.lesson_id == outline.lesson_id, _finished_at(done).is_not(None))
        ).all()
        positions = connection.execute(
            select(LessonProgress.current_step, func.count())
            .select_from(_progress_from(done))
            .where(LessonProgress.lesson_id == outline.lesson_id, _unfinished(done))
            .group_by(LessonProgress.current_step)
        ).all()
        unfinished = _unfinished_rows(session, outline)
    minutes = [(end - start).total_seconds() / 60 for start, end in finishes]
    stuck_step, stuck_count, tied = _mode(outline, positions)
    return LessonSummary(
        outline=outline,
        generated_at=now,
        rules=rules,
        started=int(started),
        step_completions={step: int(per_step.get(step, 0)) for step in outline.step_ids},
        challenge_completions=None if done is None else int(challenge_completions),
        lesson_completions=int(lesson_completions),
        finished=len(minutes),
        median_minutes=median(minutes) if minutes else None,
        stuck_step=stuck_step,
        stuck_step_learners=stuck_count,
        stuck=tuple(_stuck(unfinished, now, rules)),
        tied_steps=tied,
    )


def _mode(outline: LessonOutline,
          positions: Sequence[tuple[str, int]]) -> tuple[str | None, int, tuple[str, ...]]:
    """The most common current step, its count, and every step tied with it (in lesson order).

    A tie goes to the earlier step in the lesson; the tied steps are empty when one step
    has more learners than any other.
    """
    if not positions:
        return None, 0, ()
    order = {step: i for i, step in enumerate(outline.step_ids)}
    ranked = sorted(positions, key=lambda p: (-p[1], order.get(p[0], len(order)), p[0]))
    step, count = ranked[0]
    tied = tuple(s for s, n in ranked if n == count)
    return step, int(count), tied if len(tied) > 1 else ()


def find_learners(
    store: ProgressStore, *, keys: Sequence[str] = (), name: str | None = None
) -> list[LearnerRef]:
    """Learners whose key is one of ``keys`` or whose display name is ``name`` (any case)."""
    conditions: list[ColumnElement[bool]] = []
    if keys:
        conditions.append(Learner.key.in_(list(keys)))
    if name:
        conditions.append(func.lower(Learner.display_name) == name.lower())
    if not conditions:
        return []
    with store.session() as session:
        rows = session.execute(
            select(Learner.key, Learner.display_name, Learner.last_active_at)
            .where(or_(*conditions))
            .order_by(Learner.key)
        ).all()
    return [LearnerRef(key, display or key, active) for key, display, active in rows]


def learner_timeline(store: ProgressStore, key: str, *, commands: int = 10) -> LearnerTimeline | None:
    """One learner's lessons, step completions, challenges and last ``commands`` commands."""
    with store.session() as session:
        learner = session.scalars(select(Learner).where(Learner.key == key)).one_or_none()
        if learner is None:
            return None
        ref = LearnerRef(learner.key, learner.display_name or learner.key, learner.last_active_at)
        positions = session.scalars(
            select(LessonProgress)
            .where(LessonProgress.learner_id == learner.id)
            .order_by(LessonProgress.started_at, LessonProgress.id)
        ).all()
        steps = session.scalars(select(StepProgress).where(StepProgress.learner_id == learner.id)).all()
        challenges = session.scalars(
            select(ChallengeCompletion).where(ChallengeCompletion.learner_id == learner.id)
        ).all()
        logged = session.scalars(
            select(CommandLog)
            .where(CommandLog.learner_id == learner.id)
            .order_by(CommandLog.at.desc(), CommandLog.id.desc())
            .limit(commands)
        ).all()
        lessons = tuple(
            LessonTrack(
                lesson_id=p.lesson_id,
                started_at=p.started_at,
                current_step=p.current_step,
                completed_at=p.completed_at,
                steps={
                    s.step_id: StepState.from_row(s) for s in steps if s.lesson_id == p.lesson_id
                },
                challenges={c.step_id: c.completed_at for c in challenges if c.lesson_id == p.lesson_id},
            )
            for p in positions
        )
        entries = tuple(
            CommandEntry(
                r.id, r.at, r.lesson_id, r.step_id, r.kind, r.text, r.exit_status,
                r.duration_ms, r.output, r.facts,
            )
            for r in reversed(logged)
        )
    return LearnerTimeline(ref, lessons, entries)


def hints_asked(store: ProgressStore, key: str) -> dict[tuple[str, str], int]:
    """How many hints a learner was given on each ``(lesson, step)`` since they (re)started it.

    Every hint the tutor gives is in the command log (kind :data:`HINT_KIND`): a step's
    own hints, repeats of its last one, and state hints, so this counts every ``hint``
    that answered with one.
    """
    with store.session() as session:
        rows = session.execute(
            select(CommandLog.lesson_id, CommandLog.step_id, func.count())
            .join(Learner, Learner.id == CommandLog.learner_id)
            .join(LessonProgress, and_(LessonProgress.learner_id == CommandLog.learner_id,
                                       LessonProgress.lesson_id == CommandLog.lesson_id))
            .where(Learner.key == key, CommandLog.kind == HINT_KIND,
                   CommandLog.at >= LessonProgress.started_at)
            .group_by(CommandLog.lesson_id, CommandLog.step_id)
        ).all()
    return {(str(lesson), str(step)): int(count) for lesson, step, count in rows}


__all__ = [
    "FAILED_KIND",
    "HINT_KIND",
    "find_learners",
    "hints_asked",
    "learner_rows",
    "learner_timeline",
    "lesson_summary",
    "stuck_learners",
]
