"""The per-learner flood limit on commands (``TUTOR_COMMANDS_PER_MINUTE``)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from bot.errors import QuotaExceeded

WINDOW_SECONDS = 60.0
"""The limit counts the commands of the last minute."""


class CommandRate:
    """At most ``per_minute`` commands per learner in any minute (0: no limit, the console's).

    Args:
        per_minute: Commands a learner may send in one minute.
        clock: Monotonic clock (tests pass their own).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Count one command of the learner ``key``, or refuse it.

        Raises:
            QuotaExceeded: The learner already sent ``per_minute`` commands this minute.
        """
        if self.per_minute <= 0:
            return
        with self._lock:
            now = self._clock()
            recent = self._recent[key]
            while recent and now - recent[0] > WINDOW_SECONDS:
                recent.popleft()
            if len(recent) >= self.per_minute:
                raise QuotaExceeded(
                    f"That's more than {self.per_minute} commands in a minute. Take a breath "
                    "and try again in a few seconds.",
                    option="quota:rate",
                )
            recent.append(now)


__all__ = ["CommandRate"]
