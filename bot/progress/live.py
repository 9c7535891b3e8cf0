"""The live class: what an instructor watches during a workshop, read in a few SQL queries.

For each lesson: every learner's row (:func:`~bot.progress.queries.learner_rows`) with
when they entered their step, their hints and their last line; the diagnoses the tutor
gave, counted (the class's most common mistakes); time per step; quiz misses. Every
figure is aggregated in SQL over an index; Python gets one row per learner, per step or
per diagnosis, never the command log. A class of 200 is a handful of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import and_, case, func, select

from bot.progress.figures import LearnerRow, LessonOutline, LessonSummary, StuckRules
from bot.progress.models import CommandLog, Learner, LessonProgress, StepProgress
from bot.progress.queries import learner_rows, lesson_summary
from bot.progress.records import utcnow
from bot.progress.store import ProgressStore


@dataclass(frozen=True)
class LastLine:
    """A learner's last line to the tutor in a lesson.

    Attributes:
        at: When.
        kind: ``docker``, ``quiz``, ``hint``, ``edit``...
        text: What they typed.
        exit_status: Its exit status (0 when it worked).
        output: The start of what it printed (the log keeps 500 characters).
        diagnosis: The stable id of the tutor's diagnosis after it, if any.
    """

    at: datetime
    kind: str
    text: str
    exit_status: int
    output: str
    diagnosis: str | None


@dataclass(frozen=True)
class LiveLearner:
    """One learner in one lesson, as the live view shows them.

    Attributes:
        row: Their figures (position, completions, failed attempts, activity).
        step_since: When they arrived on their current step.
        hints: Hints they were shown in the lesson.
        last: Their last line in the lesson, if any.
        stuck: Why they look stuck (empty: they don't).
    """

    row: LearnerRow
    step_since: datetime
    hints: int
    last: LastLine | None
    stuck: tuple[str, ...]

    def minutes_on_step(self, now: datetime) -> float:
        """Minutes since they arrived on their current step."""
        return max(0.0, (now - self.step_since).total_seconds() / 60)


@dataclass(frozen=True)
class Mistake:
    """A diagnosis the tutor gave, counted over the class.

    Attributes:
        diagnosis: Its stable id.
        times: How often it was given.
        learners: To how many learners.
    """

    diagnosis: str
    times: int
    learners: int


@dataclass(frozen=True)
class StepTime:
    """How long a step took the learners who completed it.

    Attributes:
        step_id: The step.
        completions: Learners who completed it.
        median_minutes: Median minutes from the previous completion (or the start).
    """

    step_id: str
    completions: int
    median_minutes: float | None


@dataclass(frozen=True)
class QuizRate:
    """Answers to a step's quiz and how many were wrong.

    Attributes:
        step_id: The quiz step.
        answers: Answers given.
        wrong: Answers that were wrong.
    """

    step_id: str
    answers: int
    wrong: int

    @property
    def miss_rate(self) -> float:
        """The share of wrong answers (0 when nobody answered)."""
        return self.wrong / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class LessonLive:
    """One lesson of the live view.

    Attributes:
        summary: The class's figures (funnel, median time, stuck step).
        learners: Every learner in the lesson, stuck ones first, then by name.
        mistakes: Diagnoses given, most frequent first.
        step_times: Time per step, in lesson order.
        quizzes: Quiz answers and misses per quiz step.
    """

    summary: LessonSummary
    learners: tuple[LiveLearner, ...]
    mistakes: tuple[Mistake, ...]
    step_times: tuple[StepTime, ...]
    quizzes: tuple[QuizRate, ...]


def _side_facts(store: ProgressStore, lesson_id: str) -> dict[str, tuple[datetime, int]]:
    """Learner key -> (arrived on the current step, hints shown in the lesson)."""
    hints = (
        select(func.coalesce(func.sum(StepProgress.hints_shown), 0))
        .where(StepProgress.learner_id == LessonProgress.learner_id,
               StepProgress.lesson_id == LessonProgress.lesson_id)
        .scalar_subquery()
    )
    query = (
        select(Learner.key, LessonProgress.started_at, LessonProgress.updated_at, hints)
        .join(Learner, Learner.id == LessonProgress.learner_id)
        .where(LessonProgress.lesson_id == lesson_id)
    )
    with store.connection() as connection:
        return {key: (max(started, updated or started), int(count))
                for key, started, updated, count in connection.execute(query)}


def _last_lines(store: ProgressStore, lesson_id: str) -> dict[str, LastLine]:
    """Learner key -> their last line in the lesson (one row per learner, by the log's index)."""
    last_id = (
        select(CommandLog.learner_id, func.max(CommandLog.id).label("last_id"))
        .where(CommandLog.lesson_id == lesson_id)
        .group_by(CommandLog.learner_id)
        .subquery()
    )
    query = (
        select(Learner.key, CommandLog.at, CommandLog.kind, CommandLog.text,
               CommandLog.exit_status, CommandLog.output, CommandLog.diagnosis)
        .join(last_id, CommandLog.id == last_id.c.last_id)
        .join(Learner, Learner.id == CommandLog.learner_id)
    )
    with store.connection() as connection:
        return {r.key: LastLine(r.at, r.kind, r.text, r.exit_status, r.output, r.diagnosis)
                for r in connection.execute(query)}


def mistakes(store: ProgressStore, lesson_id: str, *, limit: int = 10) -> tuple[Mistake, ...]:
    """The diagnoses given in a lesson, most frequent first (ties: most learners, then id)."""
    times = func.count()
    learners = func.count(func.distinct(CommandLog.learner_id))
    query = (
        select(CommandLog.diagnosis, times, learners)
        .where(CommandLog.lesson_id == lesson_id, CommandLog.diagnosis.is_not(None))
        .group_by(CommandLog.diagnosis)
        .order_by(times.desc(), learners.desc(), CommandLog.diagnosis)
        .limit(limit)
    )
    with store.connection() as connection:
        return tuple(Mistake(str(d), int(t), int(n)) for d, t, n in connection.execute(query))


def step_times(store: ProgressStore, outline: LessonOutline) -> tuple[StepTime, ...]:
    """Median minutes each step took, from the learner's previous completion or lesson start.

    One row per learner and completed step comes back (at most learners x steps).
    """
    query = (
        select(StepProgress.learner_id, StepProgress.step_id, StepProgress.completed_at,
               LessonProgress.started_at)
        .join(LessonProgress, and_(LessonProgress.learner_id == StepProgress.learner_id,
                                   LessonProgress.lesson_id == StepProgress.lesson_id))
        .where(StepProgress.lesson_id == outline.lesson_id,
               StepProgress.completed_at.is_not(None),
               StepProgress.completed_at >= LessonProgress.started_at)
        .order_by(StepProgress.learner_id, StepProgress.completed_at)
    )
    spans: dict[str, list[float]] = {step: [] for step in outline.step_ids}
    previous: dict[int, datetime] = {}
    with store.connection() as connection:
        for learner_id, step_id, done_at, started_at in connection.execute(query):
            if done_at is None:  # excluded by the query; says so to the type checker
                continue
            done: datetime = done_at
            since: datetime = previous.get(learner_id, started_at)
            previous[learner_id] = done
            if step_id in spans:
                spans[step_id].append(max(0.0, (done - since).total_seconds() / 60))
    return tuple(StepTime(step, len(values), median(values) if values else None)
                 for step, values in spans.items())


def quiz_rates(store: ProgressStore, lesson_id: str, quiz_kind: str = "quiz") -> tuple[QuizRate, ...]:
    """Answers and wrong answers per quiz step of a lesson."""
    wrong = func.sum(case((CommandLog.exit_status != 0, 1), else_=0))
    query = (
        select(CommandLog.step_id, func.count(), wrong)
        .where(CommandLog.lesson_id == lesson_id, CommandLog.kind == quiz_kind)
        .group_by(CommandLog.step_id)
        .order_by(CommandLog.step_id)
    )
    with store.connection() as connection:
        return tuple(QuizRate(str(step), int(n), int(w or 0)) for step, n, w in connection.execute(query))


def _order(item: LiveLearner) -> tuple[Any, ...]:
    return (not item.stuck, item.row.finished, item.row.name.casefold(), item.row.key)


def live_learners(store: ProgressStore, outline: LessonOutline, *, now: datetime,
                  rules: StuckRules) -> tuple[LiveLearner, ...]:
    """Every learner of a lesson as the live view shows them: stuck ones first, then by name."""
    side = _side_facts(store, outline.lesson_id)
    last = _last_lines(store, outline.lesson_id)
    learners = []
    for row in learner_rows(store, outline):
        since, hints = side.get(row.key, (row.started_at, 0))
        learners.append(LiveLearner(row, since, hints, last.get(row.key),
                                    row.stuck_reasons(now, rules)))
    learners.sort(key=_order)
    return tuple(learners)


def lesson_live(
    store: ProgressStore,
    outline: LessonOutline,
    *,
    now: datetime | None = None,
    rules: StuckRules | None = None,
) -> LessonLive:
    """Everything the live view shows about one lesson."""
    now = now or utcnow()
    rules = rules or StuckRules()
    summary = lesson_summary(store, outline, now=now, rules=rules)
    return LessonLive(summary, live_learners(store, outline, now=now, rules=rules),
                      mistakes(store, outline.lesson_id), step_times(store, outline),
                      quiz_rates(store, outline.lesson_id))


def class_live(
    store: ProgressStore,
    outlines: Sequence[LessonOutline],
    *,
    now: datetime | None = None,
    rules: StuckRules | None = None,
) -> list[LessonLive]:
    """:func:`lesson_live` for each lesson, at one "now"."""
    now = now or utcnow()
    return [lesson_live(store, outline, now=now, rules=rules) for outline in outlines]


__all__ = [
    "LastLine",
    "LessonLive",
    "LiveLearner",
    "Mistake",
    "QuizRate",
    "StepTime",
    "class_live",
    "lesson_live",
    "live_learners",
    "mistakes",
    "quiz_rates",
    "step_times",
]
