"""Who became stuck: the rule behind the instructors' alerts, applied to the live class.

A learner who has not finished is *stuck* when either

* ``failures``: they made at least :attr:`AlertRules.failed_attempts` failed attempts on
  their current step (failed checks, failed commands, traps and quiz misses), or
* ``idle``: they did something on their current step, then nothing for at least
  :attr:`AlertRules.idle_minutes`, while still in the session (active within
  :attr:`AlertRules.session_minutes`): someone who left the workshop is not stuck.

Each learner, step and reason is told once (:meth:`~bot.progress.alerts.AlertsMixin.claim_alerts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.progress.alerts import AlertKey
from bot.progress.figures import StuckRules
from bot.progress.live import LiveLearner, live_learners
from bot.progress.records import utcnow
from bot.reports.exports import LessonInfo, lesson_infos
from bot.service import StuckAlert

LAST_LINES = 3
"""How many of the learner's last lines an alert quotes."""


@dataclass(frozen=True)
class AlertRules:
    """When the instructors are told a learner is stuck (``TUTOR_STUCK_*`` settings).

    Attributes:
        failed_attempts: Failed attempts on one step that make a learner stuck.
        idle_minutes: Minutes without a line, in the middle of a step, that do.
        session_minutes: A learner quiet for longer than this has left: no alert.
    """

    failed_attempts: int = 3
    idle_minutes: float = 10.0
    session_minutes: float = 60.0


def why_stuck(learner: LiveLearner, now: datetime, rules: AlertRules) -> tuple[str, str] | None:
    """``(reason, detail)`` when the learner is stuck by :class:`AlertRules`, else ``None``."""
    row = learner.row
    if row.finished:
        return None
    if row.failed_attempts >= rules.failed_attempts:
        return "failures", f"{row.failed_attempts} failed attempts on this step"
    quiet = now - row.last_active_at
    mid_step = row.last_active_at > learner.step_since
    if (mid_step and timedelta(minutes=rules.idle_minutes) <= quiet
            <= timedelta(minutes=rules.session_minutes)):
        return "idle", f"no line for {int(quiet.total_seconds() // 60)} min in the middle of this step"
    return None


def _alert(store: ProgressStore, info: LessonInfo, learner: LiveLearner,
           key: AlertKey) -> StuckAlert:
    row = learner.row
    lines = []
    diagnosis = None
    for entry in store.history_of(row.key, lesson_id=info.id, limit=12):
        if entry.step_id != row.current_step or entry.kind in ("hint", "tutor"):
            continue
        result = "ok" if entry.exit_status == 0 else f"exit {entry.exit_status}"
        lines.append(f"{entry.text[:120]} → {result}")
        diagnosis = entry.diagnosis or diagnosis
    return StuckAlert(
        learner_key=row.key, learner_name=row.name, lesson_id=info.id, lesson_title=info.title,
        step_label=info.step_label(row.current_step), reason=key.reason, detail=key.detail,
        last_lines=tuple(lines[-LAST_LINES:]), diagnosis=diagnosis,
    )


def new_stuck_alerts(store: ProgressStore, catalog: Catalog, rules: AlertRules,
                     *, now: datetime | None = None) -> list[StuckAlert]:
    """The learners who became stuck since any replica last looked, each claimed once."""
    now = now or utcnow()
    stuck_rules = StuckRules(timedelta(minutes=rules.idle_minutes), rules.failed_attempts)
    found: list[tuple[LessonInfo, LiveLearner, AlertKey]] = []
    for info in lesson_infos(catalog):
        for learner in live_learners(store, info.outline, now=now, rules=stuck_rules):
            why = why_stuck(learner, now, rules)
            if why is not None:
                found.append((info, learner, AlertKey(learner.row.key, info.id,
                                                      learner.row.current_step, *why)))
    claimed = set(store.claim_alerts([key for _, _, key in found]))
    return [_alert(store, info, learner, key) for info, learner, key in found if key in claimed]


__all__ = ["LAST_LINES", "AlertRules", "new_stuck_alerts", "why_stuck"]
