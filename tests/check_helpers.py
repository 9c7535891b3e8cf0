"""Helpers for the check-primitive tests: act as a learner, then run one primitive."""

from __future__ import annotations

import time
from typing import Any

from bot.checks import CheckContext, CheckResult, run_checks
from bot.checks.history import HISTORY_LIMIT, checked_history
from bot.identity import Person
from bot.lessons.model import CheckSpec
from bot.reply import Code, Reply
from bot.tutor.core import Tutor


def do(tutor: Tutor, person: Person, *lines: str) -> list[Reply]:
    """Send lines as the learner (no lesson started, so no auto-check runs)."""
    return [tutor.handle(person, line) for line in lines]


def until_exited(tutor: Tutor, person: Person, name: str, *, within: float = 30.0) -> None:
    """Wait until the learner's container ``name`` no longer runs.

    A Redis told ``redis-cli shutdown`` answers first and exits a moment later: a ``docker
    rm`` sent at once can meet it still running (as a learner's would, typed that fast).
    """
    deadline = time.monotonic() + within
    while (view := tutor.sandbox.container(person, name)) is not None and view.running:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still runs {within:.0f} s after it was told to stop")
        time.sleep(0.05)


def verify(tutor: Tutor, person: Person, check_type: str, /, **params: Any) -> CheckResult:
    """Run one primitive on the learner's real sandbox and whole logged history."""
    history = checked_history(tutor.store.history(person, limit=HISTORY_LIMIT), None)
    ctx = CheckContext(person, tutor.sandbox, history)
    return run_checks(ctx, [CheckSpec(check_type, params)])


def printed(reply: Reply) -> list[str]:
    """The lines of command output a reply shows (its code blocks), without the tutor's notes."""
    return [line for part in reply.parts if isinstance(part, Code)
            for line in part.text.splitlines()]


def shows_value(reply: Reply, value: str) -> bool:
    """`redis-cli get` printed ``value``, bare or quoted.

    Bare is what `docker exec` without a TTY prints; quoted is what a TTY shows (the
    sandbox has printed both).
    """
    return any(line.strip() in (value, f'"{value}"') for line in printed(reply))


def shows_no_value(reply: Reply) -> bool:
    """`redis-cli get` found no key: an empty line without a TTY, `(nil)` with one."""
    return [line.strip() for line in printed(reply) if line.strip()] in ([], ["(nil)"])


CHALLENGE_LESSON = "data-persistence"
"""The lesson whose last step is the Immortal Database challenge."""

CHALLENGE_VALUE = "Hello Persistence"
"""The value the challenge's solution writes and reads back."""

CHALLENGE_SOLUTION = (
    "docker run -d --name redis-1 -v my-redis-data:/data redis",
    f'docker exec redis-1 redis-cli set mykey "{CHALLENGE_VALUE}"',
    "docker stop redis-1",
    "docker rm redis-1",
    "docker run -d --name redis-2 -v my-redis-data:/data redis",
    "docker exec redis-2 redis-cli get mykey",
)
"""The Immortal Database challenge solved as the lesson teaches it (`stop` before `rm`)."""


def to_challenge(tutor: Tutor, person: Person) -> None:
    """Start the lesson and walk to the challenge step."""
    tutor.handle(person, f"start {CHALLENGE_LESSON}")
    while tutor.store.lesson_state(person, CHALLENGE_LESSON).current_step != "challenge":  # type: ignore[union-attr]
        tutor.handle(person, "next")


def completed(tutor: Tutor, person: Person) -> bool:
    """Whether the store recorded the challenge."""
    return tutor.store.challenge_completed_at(person, CHALLENGE_LESSON, "challenge") is not None
