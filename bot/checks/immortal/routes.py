"""Routes through the Immortal Database challenge that never wrote with the lesson's names.

When the history shows no write of the key by the writer *with the lesson's volume at the
target*, the learner may still have done something worth naming (issue 20):

* ``other-names``: the whole proof, with other names (``redisdata``, ``myredis``): it
  worked; the tutor says so and asks for the lesson's names;
* ``no-volume``: the writer had no volume at the target: the key lived in its writable
  layer and went with it;
* ``wrong-path``: the lesson's volume at another path (``/store``), with the cause the
  writer's log gave when it stopped (``Permission denied``...);
* ``wrong-volume``: another volume at the target.
"""

from __future__ import annotations

from typing import Any

from bot.checks.framework import CheckContext, CheckResult
from bot.checks.history import Event
from bot.checks.immortal import redis_ops as ops
from bot.checks.immortal.survival import Trail
from bot.checks.observe import ENDED

MAX_TRIALS = 6
"""At most this many (writer, volume) pairs are tried for a proof with other names."""


def _key_writes(trail: Trail) -> list[tuple[Event, str]]:
    """Successful writes of the key that carry a value, by any container: (event, name)."""
    found = []
    for event in trail.events:
        if event.verb == "exec" and event.container_id and event.ok \
                and trail.key in trail.call(event).values:
            found.append((event, str(event.container.get("name", ""))))
    return found


def _mount(event: Event, target: str) -> dict[str, Any] | None:
    return next((m for m in event.container.get("mounts") or []
                 if m.get("target") == target), None)


def other_names(ctx: CheckContext, trail: Trail, n: dict[str, str]) -> CheckResult | None:
    """The proof done with other names, acknowledged (``other-names``), if the history has one."""
    pairs: list[tuple[str, str]] = []
    for event, name in _key_writes(trail):
        mount = _mount(event, n["target"])
        if mount is not None and mount.get("kind") == "volume":
            pair = (name, str(mount.get("name", "")))
            if pair not in pairs:
                pairs.append(pair)
    for writer, volume in pairs[-MAX_TRIALS:]:
        other = Trail(ctx, writer, volume, n["target"], n["key"])
        for reader in dict.fromkeys(look.name for look in other.looks if look.name != writer):
            proof = other.proof(reader)
            if proof is None or (writer, volume, reader) == (n["writer"], n["volume"],
                                                              n["reader"]):
                continue
            proved = (f"That proves it: `{n['key']}` = \"{proof.value}\" survived. `{writer}` "
                      f"wrote it on the volume `{volume}`, and `{reader}`, a new container made "
                      f"after `{writer}` was gone, loaded it from there.")
            if (writer, volume) == (n["writer"], n["volume"]):
                ask = (f" For the challenge, read it in a container named `{n['reader']}`: "
                       f"`docker run -d --name {n['reader']} -v {volume}:{n['target']} redis`, "
                       f"then `docker exec {n['reader']} redis-cli get {n['key']}`.")
            else:
                ask = (f" For the challenge, do it once more with the lesson's names so I can "
                       f"confirm it: the containers `{n['writer']}` and `{n['reader']}` and the "
                       f"volume `{n['volume']}`, starting with `docker run -d --name "
                       f"{n['writer']} -v {n['volume']}:{n['target']} redis`.")
            return CheckResult(False, proved + ask, volunteer=True, state="other-names")
    return None


def _cause(trail: Trail, box: str) -> str:
    """What the container's log said as it stopped, as a sentence (``""``: nothing)."""
    for event in reversed(trail.events):
        for ended in event.facts.get(ENDED) or []:
            if ended.get("id") != box:
                continue
            if ended.get("oom"):
                return " The kernel stopped it for using too much memory (OOM)."
            cause = str(ended.get("cause", ""))
            if cause:
                return (f" When it stopped, its log said: `{cause}` (exit code "
                        f"{ended.get('exit', '?')}; `docker logs` shows the whole log).")
            if ended.get("exit"):
                return f" It stopped with exit code {ended.get('exit')}."
    return ""


def misplaced(ctx: CheckContext, trail: Trail, n: dict[str, str]) -> CheckResult | None:
    """The writer wrote the key without the lesson's volume at the target: how, and the fix."""
    writer, volume, target, key = n["writer"], n["volume"], n["target"], n["key"]
    writes = [(e, name) for e, name in _key_writes(trail) if name == writer]
    if not writes:
        return None
    event = writes[-1][0]
    gone = ctx.sandbox.container(ctx.person, writer) is None
    start = f"`docker run -d --name {writer} -v {volume}:{target} redis`"
    mounts = [m for m in event.container.get("mounts") or [] if m.get("kind") == "volume"]
    at_target = _mount(event, target)
    elsewhere = next((m for m in mounts if m.get("name") == volume
                      and m.get("target") != target), None)
    if elsewhere is not None:
        server = ops.classify_server(trail.boxes[event.container_id].command or [])
        moved = (f" (`--dir {server.options['dir']}` told Redis to keep its files there)"
                 if "dir" in server.options else "")
        return CheckResult(
            False,
            f"`{writer}` had `{volume}` mounted at `{elsewhere.get('target')}`{moved}, not "
            f"at `{target}`, where the `redis` image keeps its data as the user `redis`."
            + _cause(trail, event.container_id)
            + f" Start over with the volume at `{target}`: {start}.",
            volunteer=gone, state="wrong-path")
    if at_target is None or at_target.get("kind") != "volume":
        return CheckResult(
            False,
            f"`{writer}` had no volume at `{target}`, so `{key}` lived in the container's own "
            "writable layer, and removing the container deleted it. A volume keeps only what "
            f"is written into it. Start `{writer}` with the volume this time: {start}.",
            volunteer=gone, state="no-volume")
    if at_target.get("anonymous"):
        return CheckResult(
            False,
            f"`{writer}` had no volume of yours at `{target}`: Docker gave it an anonymous "
            "volume of its own, which no new container mounts, so a new container could "
            f"never find `{key}` there. Start `{writer}` with the named volume this time: "
            f"{start}.",
            volunteer=gone, state="no-volume")
    if at_target.get("name") != volume:
        return CheckResult(
            False,
            f"`{writer}` wrote `{key}` with the volume `{at_target.get('name')}` at `{target}`; "
            f"I look for the volume `{volume}`. Start over with that name: {start}.",
            volunteer=gone, state="wrong-volume")
    return None


def existing(ctx: CheckContext, names: list[str]) -> list[str]:
    """Of ``names``, those of containers the learner has now (advice never names others)."""
    have = set(ctx.sandbox.container_names(ctx.person))
    return [name for name in dict.fromkeys(names) if name in have]
