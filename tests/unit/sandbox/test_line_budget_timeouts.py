"""The line's deadline bounds every form of a request's timeout docker-py may pass."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.engine import line_budget


class _Api:
    """Stands in for docker-py's APIClient: only its request-timeout hook is used."""

    def __init__(self, timeout: Any) -> None:
        self.timeout = timeout

    def _set_request_timeout(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("timeout", self.timeout)
        return kwargs


def test_a_connect_and_read_pair_is_bounded_part_by_part() -> None:
    """A build's (connect, read) pair gets each part cut to the time left, never a crash."""
    api = _Api((5.0, None))
    with line_budget.under(api, time.monotonic() + 2.0):  # type: ignore[arg-type]
        timeout = api._set_request_timeout({})["timeout"]
    assert isinstance(timeout, tuple) and len(timeout) == 2
    assert all(0 < part <= 2.0 for part in timeout)


def test_a_plain_timeout_is_cut_to_the_time_left() -> None:
    """A single number is the smaller of itself and the time left; none is the time left."""
    for given in (60.0, None):
        api = _Api(given)
        with line_budget.under(api, time.monotonic() + 1.0):  # type: ignore[arg-type]
            assert 0 < api._set_request_timeout({})["timeout"] <= 1.0
