"""Counting the engine requests a test's sandbox makes, whichever transport carries them.

The sandbox sends a learner line's own requests on its lean wire
(:class:`bot.sandbox.engine.wire.Wire`) and the rest through docker-py; both count every
answer at one point, :func:`bot.sandbox.engine.request_counts.count` (the operators'
metric). Spying there sees both; spying on docker-py's ``APIClient`` would miss the wire.
"""

from __future__ import annotations

import threading
from collections import Counter

from pytest_mock import MockerFixture

from bot.sandbox.engine import request_counts

MUTATING = ("POST", "PUT", "DELETE")
"""The HTTP methods that can change something in the engine."""


class EngineRequests:
    """The engine requests answered from now on, by HTTP method.

    Args:
        mocker: The test's mocker (the spy ends with the test).
        this_thread: Count only requests made on the calling thread (the tutor's background
            threads, such as the disk watcher, are not a learner's doing).
    """

    def __init__(self, mocker: MockerFixture, *, this_thread: bool = False) -> None:
        self.made: Counter[str] = Counter()
        here = threading.get_ident()
        original = request_counts.count

        def counted(method: str, path: str) -> None:
            if not this_thread or threading.get_ident() == here:
                self.made[method] += 1
            original(method, path)

        mocker.patch.object(request_counts, "count", counted)

    def __call__(self) -> int:
        """How many requests so far."""
        return sum(self.made.values())

    def by_method(self) -> dict[str, int]:
        """How many requests so far, by HTTP method."""
        return dict(self.made)

    def mutating(self) -> int:
        """How many requests so far could change something (POST, PUT, DELETE)."""
        return sum(self.made[method] for method in MUTATING)

    def reset(self) -> None:
        """Start counting again from zero."""
        self.made.clear()
