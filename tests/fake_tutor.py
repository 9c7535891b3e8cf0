"""A tutor service for tests without a Docker engine.

:class:`EnginelessTutor` implements :class:`bot.service.TutorService`: tutor words go to
the real :class:`~bot.tutor.core.Tutor` (real store, real lessons, real checks), while
``docker ...`` lines, which need an engine, get a scripted answer and are recorded. The
Slack request pipeline is then tested end to end on any machine; the same pipeline with
real docker commands is tested in ``test_slack_engine.py`` on the real engine.
"""

from __future__ import annotations

from bot.identity import Person
from bot.reply import Code, Event, Reply
from bot.service import LessonCard, Stoppable, StuckAlert
from bot.tutor.core import Tutor

NO_ENGINE_OUTPUT = "(no engine in this test) {line}"
"""What a docker line answers: the line itself, so tests see what reached the service."""


class EnginelessTutor:
    """The real tutor for tutor words; docker lines answered without an engine.

    Args:
        tutor: A real tutor (whose sandbox is never reached through this service).

    Attributes:
        docker_lines: Every docker line handled, with the learner's key, in order.
    """

    def __init__(self, tutor: Tutor) -> None:
        self.tutor = tutor
        self.docker_lines: list[tuple[str, str]] = []

    def handle(self, person: Person, text: str) -> Reply:
        """Tutor words as the real tutor answers them; docker lines as a code block."""
        line = text.strip()
        if line == "docker" or line.startswith(("docker ", "docker\t")):
            self.docker_lines.append((person.key, line))
            return Reply(events=[Event.COMMAND_RAN]).add(Code(NO_ENGINE_OUTPUT.format(line=line)))
        return self.tutor.handle(person, text)

    def words(self) -> frozenset[str]:
        """The real tutor's words."""
        return self.tutor.words()

    def is_instructor(self, person: Person) -> bool:
        """As the real tutor decides."""
        return self.tutor.is_instructor(person)

    def class_summary(self, person: Person) -> Reply:
        """The real class summary (the store needs no engine)."""
        return self.tutor.class_summary(person)

    def lesson_cards(self, person: Person | None) -> list[LessonCard]:
        """The real lesson cards."""
        return self.tutor.lesson_cards(person)

    def stuck_alerts(self) -> list[StuckAlert]:
        """The real tutor's alerts (the store needs no engine)."""
        return self.tutor.stuck_alerts()

    def mute_alerts(self, person: Person, learner_key: str, lesson_id: str) -> bool:
        """Muted in the real store."""
        return self.tutor.mute_alerts(person, learner_key, lesson_id)

    def claim_request(self, key: str) -> bool:
        """Claims in the real store."""
        return self.tutor.claim_request(key)

    def start_housekeeping(self) -> Stoppable:
        """Housekeeping needs an engine: nothing runs, there is nothing to stop."""
        return _Idle()

    def close(self) -> None:
        """Close the real tutor."""
        self.tutor.close()


class _Idle:
    def stop(self, timeout: float = 0.0) -> None:
        """Nothing to stop."""
