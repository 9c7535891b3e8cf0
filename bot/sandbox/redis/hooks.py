"""What the sandbox knows about Redis: its start-up race and what a call wrote.

The generic :class:`~bot.sandbox.resources.execs.ExecMixin` asks its hooks; this mixin answers
them for ``redis-cli``; its witness (:mod:`bot.sandbox.redis.witness`) reads keys and files
for the tutor's checks.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import docker.errors
from docker.models.containers import Container

from bot.sandbox.engine.recall import is_lite
from bot.sandbox.engine.streams import ExecResult
from bot.sandbox.output import formatting
from bot.sandbox.redis.cli import inner_argv, not_ready, parse_redis_cli
from bot.sandbox.redis.witness import RedisWitnessMixin

STARTING_SECONDS = 10.0
"""A container started at most this long ago may still have a Redis that is starting."""


_CONTAINER_SAFE_OPS = frozenset({
    "get", "set", "exists", "keys", "type", "ttl", "del", "incr", "decr", "mget", "mset",
    "append", "strlen", "ping", "dbsize", "hget", "hset", "hgetall", "lpush", "rpush",
    "lrange", "llen", "sadd", "smembers", "expire", "save", "bgsave",
})
"""``redis-cli`` operations that cannot stop or change their container (see
:meth:`RedisMixin._exec_keeps_container`)."""

_AWAIT_SCRIPT = (
    'i=0; until [ "$(redis-cli ping 2>/dev/null)" = PONG ]; do '
    'i=$((i + 1)); [ "$i" -ge "$1" ] && exit 1; sleep 0.05; done; echo PONG'
)
"""Wait inside the container until Redis answers ``PONG``, at most ``$1`` tries 50 ms apart."""


class RedisMixin(RedisWitnessMixin):
    """Redis-aware ``docker exec``, key reads and the witness for the tutor's checks."""

    def _exec_retry(self, container: Container, argv: list[str], result: ExecResult) -> bool:
        return (
            argv[:1] == ["redis-cli"]
            and not_ready(result.output)
            and self._await_redis(container)
        )

    def _exec_facts(self, argv: list[str]) -> dict[str, Any]:
        redis = parse_redis_cli(inner_argv(argv))
        return {} if redis is None else {"redis": redis}

    def _exec_keeps_container(self, argv: list[str], facts: dict[str, Any]) -> bool:
        # A `redis-cli` data command (no shutdown, no debug, no config) changes keys, never
        # whether its container runs.
        redis = facts.get("redis")
        return (argv[:1] == ["redis-cli"] and isinstance(redis, dict)
                and redis.get("op") in _CONTAINER_SAFE_OPS)

    def _await_redis(self, container: Container, *, within: float = 5.0) -> bool:
        """Give a Redis that started moments ago the time to accept connections.

        A learner who types ``docker exec redis-1 redis-cli set ...`` right after
        ``docker run -d`` would otherwise meet "Connection refused" while the server is
        still starting: a race of the machine, not a lesson. Only containers started in
        the last :data:`STARTING_SECONDS` are waited for, at most ``within`` seconds.

        Returns:
            Whether Redis answers now (so the learner's command may be run again).
        """
        state = container.attrs.get("State") or {}
        if is_lite(container):  # kept from the learner's last line: when it started is not kept
            with suppress(docker.errors.APIError):
                state = self.calls.inspect_container(container.id).get("State") or {}
        started = formatting.parse_time(state.get("StartedAt", ""))
        if started is None or (datetime.now(UTC) - started).total_seconds() > STARTING_SECONDS:
            return False
        # One exec that waits inside the container (an exec costs the engine three
        # requests; asking `redis-cli ping` every 50 ms from here cost three per try).
        tries = str(max(1, round(within / 0.05)))
        try:
            code, output, _, _ = self._exec(container, ["sh", "-c", _AWAIT_SCRIPT, "sh", tries],
                                            timeout=within + 2, tty=False, limit=1024)
        except docker.errors.APIError:
            return False
        return code == 0 and "PONG" in output
