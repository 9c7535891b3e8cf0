"""Class figures for instructors: the plain records the report queries return.

Free of SQLAlchemy: :mod:`bot.progress.queries` computes them in SQL, :mod:`bot.reports.replies`
and :mod:`bot.reports.exports` word them. The definitions (started, finished, time to complete,
failed attempts, looks stuck, stuck step) are in :mod:`bot.progress.queries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.progress.records import CommandEntry, StepState


@dataclass(frozen=True)
class LessonOutline:
    """What the reports need to know about a lesson; no lesson files are read here.

    Attributes:
        lesson_id: The lesson's id.
        step_ids: Its step ids, in lesson order.
        challenge_step_ids: The ids of its challenge steps (may be empty).
    """

    lesson_id: str
    step_ids: tuple[str, ...]
    challenge_step_ids: tuple[str, ...] = ()

    def step_number(self, step_id: str) -> int:
        """The 1-based position of a step in the lesson; 0 for a step it no longer has."""
        try:
            return self.step_ids.index(step_id) + 1
        except ValueError:
            return 0


@dataclass(frozen=True)
class StuckRules:
    """When a learner who has not finished looks stuck.

    Attributes:
        idle_after: No progress (step completion or lesson start) for at least this long.
        failed_attempts: At least this many failed attempts on the current step.
    """

    idle_after: timedelta = timedelta(minutes=30)
    failed_attempts: int = 3


@dataclass(frozen=True)
class LearnerRow:
    """One learner's figures in one lesson (one row of the export).

    Attributes:
        key: The learner's store key (``slack:U0123``, ``console:ada``).
        name: Their display name.
        lesson_id: The lesson.
        started_at: When they (re)started it.
        current_step: The step they are on.
        steps_completed: How many steps of the lesson they completed.
        challenge_completed_at: When they completed the challenge (all its steps), if so.
        lesson_completed_at: When they completed the whole lesson, if so.
        finished_at: When they finished (defined in :mod:`bot.progress.queries`), if so.
        last_progress_at: Their last step completion, or the lesson start if later.
        last_active_at: The last time they did anything at all with the tutor.
        failed_checks: Failed checks on the current step.
        failed_commands: Failed docker commands on the current step since the start.
    """

    key: str
    name: str
    lesson_id: str
    started_at: datetime
    current_step: str
    steps_completed: int
    challenge_completed_at: datetime | None
    lesson_completed_at: datetime | None
    finished_at: datetime | None
    last_progress_at: datetime
    last_active_at: datetime
    failed_checks: int
    failed_commands: int

    @property
    def failed_attempts(self) -> int:
        """Failed checks plus failed docker commands on the current step."""
        return self.failed_checks + self.failed_commands

    @property
    def finished(self) -> bool:
        """Whether the learner finished the lesson."""
        return self.finished_at is not None

    @property
    def minutes_to_complete(self) -> float | None:
        """Minutes from the lesson start to the finish, or ``None`` if not finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() / 60

    def idle(self, now: datetime) -> timedelta:
        """How long since the learner's last progress."""
        return now - self.last_progress_at

    def stuck_reasons(self, now: datetime, rules: StuckRules) -> tuple[str, ...]:
        """Why the learner looks stuck (empty when they don't, or finished)."""
        if self.finished:
            return ()
        reasons = []
        idle = self.idle(now)
        if idle >= rules.idle_after:
            reasons.append(f"no progress for {int(idle.total_seconds() // 60)} min")
        if self.failed_attempts >= rules.failed_attempts:
            reasons.append(f"{self.failed_attempts} failed attempts")
        return tuple(reasons)


@dataclass(frozen=True)
class LessonSummary:
    """The class's figures in one lesson.

    Attributes:
        outline: The lesson.
        generated_at: The "now" the idle times were measured against.
        rules: The stuck rules applied.
        started: Learners who started the lesson.
        step_completions: Learners who completed each step, in lesson order.
        challenge_completions: Learners who completed the challenge (``None`` when the
            lesson has no challenge step).
        lesson_completions: Learners who completed the whole lesson.
        finished: Learners who finished (defined in :mod:`bot.progress.queries`).
        median_minutes: Median time to complete, in minutes; ``None`` if nobody finished.
        stuck_step: The most common current step of learners who have not finished (the
            earliest in the lesson when several tie).
        stuck_step_learners: How many unfinished learners are on ``stuck_step``.
        stuck: The learners who look stuck, most failed attempts first, then longest idle.
        tied_steps: Every step with as many unfinished learners as ``stuck_step``, in lesson
            order, ``stuck_step`` first; empty when one step has more than any other.
    """

    outline: LessonOutline
    generated_at: datetime
    rules: StuckRules
    started: int
    step_completions: dict[str, int]
    challenge_completions: int | None
    lesson_completions: int
    finished: int
    median_minutes: float | None
    stuck_step: str | None
    stuck_step_learners: int
    stuck: tuple[LearnerRow, ...] = field(default=())
    tied_steps: tuple[str, ...] = field(default=())

    @property
    def unfinished(self) -> int:
        """Learners who started and have not finished."""
        return self.started - self.finished


@dataclass(frozen=True)
class LearnerRef:
    """A learner found by key or name.

    Attributes:
        key: The store key.
        name: The display name.
        last_active_at: The last time they did anything.
    """

    key: str
    name: str
    last_active_at: datetime


@dataclass(frozen=True)
class LessonTrack:
    """A learner's record in one lesson, for the timeline.

    Attributes:
        lesson_id: The lesson.
        started_at: When they (re)started it.
        current_step: The step they are on.
        completed_at: When they completed the whole lesson, if so.
        steps: Every step they touched, by id.
        challenges: Completed challenge steps and when, by step id.
    """

    lesson_id: str
    started_at: datetime
    current_step: str
    completed_at: datetime | None
    steps: dict[str, StepState]
    challenges: dict[str, datetime]


@dataclass(frozen=True)
class LearnerTimeline:
    """Everything an instructor sees about one learner.

    Attributes:
        learner: Who.
        lessons: Every lesson they started, oldest first.
        commands: Their last commands, oldest first.
    """

    learner: LearnerRef
    lessons: tuple[LessonTrack, ...]
    commands: tuple[CommandEntry, ...]


__all__ = [
    "LearnerRef",
    "LearnerRow",
    "LearnerTimeline",
    "LessonOutline",
    "LessonSummary",
    "LessonTrack",
    "StuckRules",
]
