"""Never run one Slack request twice.

Slack re-delivers an event when it did not see our ``200`` in time (HTTP: headers
``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``; Socket Mode: ``retry_attempt``), and a
slow network or a double click can bring the same slash command or button twice. A
global middleware remembers a key per request in a bounded, expiring LRU and
acknowledges a repeat at once without running anything.

Dedupe keys (documented in ``docs/slack-setup.md`` too):

* events (``event_callback``): ``event:<event_id>``; Slack keeps the ``event_id`` on
  every retry.
* slash commands: ``command:<user_id>:<trigger_id>``; each invocation gets a fresh
  ``trigger_id``, a repeat of the same request carries the same one.
* block actions (buttons): ``action:<user_id>:<trigger_id>``, or
  ``action:<user_id>:<action_id>:<action_ts>`` when there is no trigger id.

Across processes and replicas the durable queue (``serve``) stores each request's key
with its job, unique: a retry that Slack sends to another replica is acknowledged there
without being queued again. Without the durable queue (the in-process executor) the
queued work claims the key in the progress database (``claimed_requests``) before it runs.

A key is remembered when the request arrives (after its signature was verified, so a
forged request cannot poison the cache), which covers both "the original is still in
flight" and "the original is done". A retry whose original never reached us runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

log = logging.getLogger("docker_tutor.slack")

current_key: ContextVar[str | None] = ContextVar("dedupe_key", default=None)
"""The dedupe key of the request being dispatched (set before its listeners run).

:meth:`handlers.runtime.Runtime.run_line` reads it so the queued work can claim the key
in the progress store before running: across replicas, off the acknowledgement path.
"""

DEFAULT_SIZE = 20_000
DEFAULT_TTL = 2 * 3600.0
"""Slack's last retry comes about 5 minutes after the first try; two hours is ample."""


class SeenCache:
    """A thread-safe set of recently seen keys, bounded in size and age.

    Args:
        size: Keys kept at most (the oldest go first).
        ttl: Seconds a key is remembered.
        clock: Monotonic clock (for tests).
        claim: Asked for every key new to this process: ``False`` when another replica
            claimed it already (the progress store's ``claim_request``).
    """

    def __init__(self, size: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic,
                 claim: Callable[[str], bool] | None = None) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._claim = claim
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """Remember the key; whether it was new (``False`` means: a repeat, skip it)."""
        now = self._clock()
        with self._lock:
            while self._seen:
                oldest, when = next(iter(self._seen.items()))
                if now - when <= self.ttl:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return self._claim is None or self._claim(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


def dedupe_key(body: dict[str, Any]) -> str | None:
    """The key that identifies one request whatever the number of deliveries, if any."""
    kind = body.get("type")
    if kind == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body.get('user_id', '')}:{body['trigger_id']}"
    if kind == "block_actions":
        user = (body.get("user") or {}).get("id", "")
        if body.get("trigger_id"):
            return f"action:{user}:{body['trigger_id']}"
        actions = body.get("actions") or [{}]
        first = actions[0]
        if first.get("action_ts"):
            return f"action:{user}:{first.get('action_id', '')}:{first['action_ts']}"
    return None


def _retry_number(request: BoltRequest) -> str | None:
    values = request.headers.get("x-slack-retry-num") or []
    if values:
        return str(values[0])
    attempt = request.body.get("retry_attempt")
    return None if attempt in (None, 0) else str(attempt)


class Deduplicate(Middleware):
    """The global middleware: a request seen before is acknowledged and not run again.

    A :class:`~slack_bolt.middleware.Middleware` of its own (not a function Bolt wraps):
    Bolt calls it with the request directly, without working out which arguments a
    function wants on every request (that injection costs more than the dedupe itself).
    """

    def __init__(self, seen: SeenCache) -> None:
        self.seen = seen

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        """Let a request through the first time its key is seen; answer a repeat at once."""
        key = dedupe_key(req.body)
        # Bolt runs the listeners after the middleware chain returns, in this same thread
        # (process_before_response): set the key for them; every request sets it afresh.
        current_key.set(key)
        if key is None or self.seen.first_time(key):
            next()
            return None
        log.info("repeat of %s (retry %s): acknowledged, not run again",
                 key, _retry_number(req) or "-")
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})


def register(app: App, cache: SeenCache | None = None) -> SeenCache:
    """Install the deduplicating middleware; returns the cache it uses."""
    seen = cache if cache is not None else SeenCache()
    app.middleware(Deduplicate(seen))
    return seen


__all__ = ["Deduplicate", "SeenCache", "current_key", "dedupe_key", "register"]
