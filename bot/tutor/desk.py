"""The instructors' desk of the tutor: who is one, the class's progress, the live view, alerts.

:class:`InstructorDesk` is mixed into :class:`~bot.tutor.core.Tutor`; it reads the store and
the lessons only (no engine), and every answer about the class is for instructors alone.
"""

from __future__ import annotations

from bot.config import Settings
from bot.errors import NotAllowed
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.reply import Reply
from bot.service import StuckAlert


class InstructorDesk:
    """What instructors ask of the tutor (see :class:`bot.service.TutorService`)."""

    settings: Settings
    store: ProgressStore
    catalog: Catalog

    def is_instructor(self, person: Person) -> bool:
        """Whether the person may see class data."""
        return person.user_id in self.settings.instructors

    def class_summary(self, person: Person) -> Reply:
        """The class summary for an instructor's App Home (no charts).

        Raises:
            NotAllowed: When the person is not an instructor.
        """
        from bot.reports import replies as reports
        return reports.class_summary(self.store, self.catalog, allowed=self.is_instructor(person))

    def progress(self, person: Person, rest: str) -> Reply:
        """Class progress for an instructor (see :mod:`bot.reports.replies`); a refusal for anyone else.

        ``progress live`` answers with the way to the live class view.
        """
        from bot.reports import replies as reports
        if rest.strip().lower() == "live" and self.is_instructor(person):
            from bot.reports.live_link import live_link_reply
            return live_link_reply(person, self.settings)
        return reports.progress_word(self.store, self.catalog, rest,
                                     allowed=self.is_instructor(person))

    def stuck_alerts(self) -> list[StuckAlert]:
        """Learners who became stuck since any replica last looked (see :mod:`bot.reports.alerts`)."""
        from bot.reports.alerts import AlertRules, new_stuck_alerts
        rules = AlertRules(self.settings.stuck_failures, self.settings.stuck_idle_minutes)
        return new_stuck_alerts(self.store, self.catalog, rules)

    def mute_alerts(self, person: Person, learner_key: str, lesson_id: str) -> bool:
        """Stop alerting about a learner in a lesson (instructors only).

        Raises:
            NotAllowed: When the person is not an instructor.
        """
        from bot.reports.replies import REFUSAL
        if not self.is_instructor(person):
            raise NotAllowed(REFUSAL)
        return self.store.mute_alerts(learner_key, lesson_id)


__all__ = ["InstructorDesk"]
