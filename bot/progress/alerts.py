"""Stuck alerts in the database: each learner, step and reason told to instructors once.

Telling once holds across every process and replica by construction: an alert is a row
whose unique key is (learner, lesson, step, reason), so of two replicas that notice the
same learner at once, one insert wins and only the winner sends it. A mute is a row too
(step ``*``, reason ``mute``): it silences that learner's alerts in that lesson.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.progress.models import Learner, StuckAlert
from bot.progress.records import utcnow

MUTE = "mute"
"""The reason of a mute row."""


@dataclass(frozen=True)
class AlertKey:
    """What makes an alert the same alert: who, where, and why.

    Attributes:
        learner_key: The learner's store key.
        lesson_id: The lesson.
        step_id: The step they are stuck on.
        reason: ``failures`` or ``idle``.
        detail: The words for the instructor (not part of the identity).
    """

    learner_key: str
    lesson_id: str
    step_id: str
    reason: str
    detail: str = ""


class AlertsMixin:
    """The store's alert methods (mixed into :class:`~bot.progress.store.ProgressStore`)."""

    session: Callable[[], AbstractContextManager[Session]]

    def claim_alerts(self, candidates: Sequence[AlertKey]) -> list[AlertKey]:
        """Record each candidate not recorded before, and return those this call recorded.

        Muted learners' candidates are dropped. Each insert is its own savepoint, so a
        candidate another replica recorded first is skipped, not an error.
        """
        claimed: list[AlertKey] = []
        if not candidates:
            return claimed
        now = utcnow()
        with self.session() as session:
            keys = {c.learner_key for c in candidates}
            ids = dict(session.execute(select(Learner.key, Learner.id).where(Learner.key.in_(keys))).all())
            muted = set(session.execute(
                select(StuckAlert.learner_id, StuckAlert.lesson_id)
                .where(StuckAlert.reason == MUTE, StuckAlert.learner_id.in_(ids.values()))).all())
            for candidate in candidates:
                learner_id = ids.get(candidate.learner_key)
                if learner_id is None or (learner_id, candidate.lesson_id) in muted:
                    continue
                try:
                    with session.begin_nested():
                        session.add(StuckAlert(
                            learner_id=learner_id, lesson_id=candidate.lesson_id,
                            step_id=candidate.step_id, reason=candidate.reason,
                            detail=candidate.detail[:300], created_at=now, sent_at=now))
                except IntegrityError:
                    continue
                claimed.append(candidate)
        return claimed

    def mute_alerts(self, learner_key: str, lesson_id: str) -> bool:
        """Silence a learner's alerts in a lesson; ``False`` when they were muted already."""
        with self.session() as session:
            learner_id = session.scalar(select(Learner.id).where(Learner.key == learner_key))
            if learner_id is None:
                return False
            try:
                with session.begin_nested():
                    session.add(StuckAlert(learner_id=learner_id, lesson_id=lesson_id,
                                           step_id="*", reason=MUTE, detail="", sent_at=utcnow()))
            except IntegrityError:
                return False
            return True


__all__ = ["MUTE", "AlertKey", "AlertsMixin"]
