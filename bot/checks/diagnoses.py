"""Diagnoses as data: stable ids, said once for each change of state, counted in reports.

Every diagnosis the tutor gives a learner has a stable id, kept on the command-log line it
was about (``command_log.diagnosis``), so reports can count the class's mistakes. A check's
failure *state* (``CheckResult.state``: ``trap``, ``aof-mismatch``, ``no-volume``...) is
its diagnosis id; the tutor's own words add a few more (:data:`TUTOR_IDS`).

The check runs after every command on a step, but a diagnosis is said once for each change
of state: each checked line also records the state found (``facts["found"]``), and a
diagnosis is said again only when the state found has changed since it was last said, or
the words (which name what the engine shows now) have.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.checks.framework import CheckResult
from bot.progress import CommandEntry

FOUND = "found"
"""The fact of a checked line: the failure state its step's check found after it."""

SAID = "said"
"""The fact of a line the tutor gave a diagnosis about: the words it said."""

QUIZ_MISS = "quiz-miss"
"""A wrong quiz answer."""

SKIPPED_STEP = "skipped-step"
"""``next`` past a hands-on step that was not done (recorded on the skipped step)."""

OTHER_STEP = "other-step"
"""A command that belongs to another step's hands-on part: this step does not judge it."""

FORGOT_DETACH = "forgot-detach"
"""A server run in the foreground (no ``-d``) that hit the time limit and stays, stopped."""

TUTOR_IDS = frozenset({QUIZ_MISS, SKIPPED_STEP, OTHER_STEP, FORGOT_DETACH})
"""Diagnosis ids the tutor gives outside any check's states."""


def should_say(history: Sequence[CommandEntry], step_id: str, result: CheckResult) -> bool:
    """Whether a volunteered failure is news: not said since the state last changed.

    Args:
        history: The learner's checked lines, oldest first; the last one is the line just
            run (its own diagnosis not recorded yet).
        step_id: The step the check is for.
        result: What the check found now.
    """
    if result.passed or not result.volunteer or not result.state:
        return False
    said = result.message[:500]
    for entry in reversed(history[:-1]):
        if entry.step_id != step_id:
            continue
        facts = entry.facts or {}
        if entry.diagnosis == result.state and str(facts.get(SAID, "")) == said:
            return False  # said, and the state has not changed since
        found = facts.get(FOUND)
        if found is not None and found != result.state:
            return True  # the state changed after any earlier saying
    return True


__all__ = ["FORGOT_DETACH", "FOUND", "OTHER_STEP", "QUIZ_MISS", "SAID", "SKIPPED_STEP",
           "TUTOR_IDS", "should_say"]
