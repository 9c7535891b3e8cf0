"""The ``redis_key`` primitive: a Redis key in a running container holds a value."""

from __future__ import annotations

from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.library import check
from bot.checks.primitives.containers import missing, stopped


@check(
    "redis_key",
    ParamSpec("container"), ParamSpec("key"), ParamSpec("value", required=False),
    states=("container-missing", "container-stopped", "redis-starting", "key-missing",
            "wrong-value"),
)
def redis_key(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The Redis server in a running container has ``key`` (holding ``value``, if given).

    The tutor reads the key itself with ``redis-cli``; nothing is logged as the learner's.

    Parameters: ``container``, ``key``; optional ``value`` (the exact value expected).
    """
    name, key, value = str(p["container"]), str(p["key"]), p.get("value")
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    if not view.running:
        return stopped(view)
    reachable, got = ctx.sandbox.redis_get(ctx.person, name, key)
    if not reachable:
        return CheckResult(False, f"Redis in `{name}` is not answering yet. Give it a second "
                           "and try again.", state="redis-starting")
    if got is None:
        return CheckResult(
            False,
            f"Redis in `{name}` has no key `{key}`. Set it with `docker exec {name} redis-cli "
            f"set {key} {value if value is not None else 'VALUE'}`.",
            state="key-missing",
        )
    if value is not None and got != value:
        return CheckResult(False, f"`{key}` in `{name}` is {got!r}, not {value!r}.",
                           state="wrong-value")
    return CheckResult(True, f"`{key}` = {got!r} in `{name}`.", evidence={f"redis:{name}:{key}": got})
