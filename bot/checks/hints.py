"""State-dependent hints: the hint that fits where the learner is right now.

A step's hints are a ladder (up to three, from gentle to nearly the answer). Its state
hints are keyed by the failure state its check reports (``CheckResult.state``). When the
learner asks for a hint and the check currently fails in a state that has a state hint,
that hint comes first, once per situation: asking again, without doing anything in
between, climbs the ladder as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.checks.framework import CheckResult
from bot.checks.history import CHECKED_KINDS
from bot.lessons.model import StateHint, Step
from bot.progress import CommandEntry

KIND = "hint"
"""The command-log kind of a state hint that was shown (facts: ``step``, ``state``)."""


def pick_state_hint(
    step: Step, result: CheckResult, recent: Sequence[CommandEntry]
) -> StateHint | None:
    """The state hint to show now, or ``None`` for the next hint of the ladder.

    Args:
        step: The current step.
        result: What its checks found just now.
        recent: The learner's latest command-log entries (all kinds), oldest first.
    """
    if result.passed:
        return None
    hint = step.state_hint(result.state)
    if hint is None:
        return None
    for entry in reversed(recent):
        if entry.kind in CHECKED_KINDS:
            break  # the learner acted since: the situation may be new
        facts = entry.facts or {}
        if entry.kind == KIND and facts.get("step") == step.id and facts.get("state") == hint.state:
            return None  # already shown for this very situation
    return hint
