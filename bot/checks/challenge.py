"""The Immortal Database challenge: did a Redis key survive the deletion of its container?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.checks.base import CheckContext, CheckResult, ParamSpec, primitive
from bot.sandbox.redis_cli import appendonly_from_args


@dataclass
class _Write:
    index: int
    container_id: str
    uid: str
    value: str


def _mount(container: dict[str, Any], target: str) -> dict[str, Any] | None:
    return next((m for m in container.get("mounts", []) if m.get("target") == target), None)


def _writes(facts: list[dict[str, Any]], writer: str, volume: str, target: str,
            key: str) -> list[_Write]:
    """Every SET of ``key`` by ``writer`` while ``volume`` was mounted at ``target``."""
    found = []
    for i, fact in enumerate(facts):
        redis = fact.get("redis") or {}
        container = fact.get("container") or {}
        if fact.get("verb") != "exec" or container.get("name") != writer:
            continue
        if redis.get("op") != "set" or redis.get("key") != key:
            continue
        mount = _mount(container, target)
        if mount and mount.get("kind") == "volume" and mount.get("name") == volume:
            found.append(_Write(i, container["id"], mount.get("uid", ""), redis.get("value", "")))
    return found


def _wrote_in(facts: list[dict[str, Any]], container_id: str, key: str) -> bool:
    for fact in facts:
        redis = fact.get("redis") or {}
        if (fact.get("container") or {}).get("id") != container_id:
            continue
        writes = redis.get("writes") or []
        if key in writes or "*" in writes:
            return True
    return False


def _read_attempted(facts: list[dict[str, Any]], container_id: str, key: str) -> bool:
    return any(
        (f.get("container") or {}).get("id") == container_id
        and (f.get("redis") or {}).get("op") in ("get", "exists", "keys", "mget", "scan")
        for f in facts
    ) or any(
        (f.get("container") or {}).get("id") == container_id
        and key in ((f.get("redis") or {}).get("key") or "")
        for f in facts
    )


def _persisted_how(facts: list[dict[str, Any]], write: _Write) -> dict[str, bool]:
    """What happened to the writer after its last write: saved, stopped, killed, AOF."""
    how = {"saved": False, "stopped": False, "killed": False, "aof": False}
    for fact in facts:
        container = fact.get("container") or {}
        if fact.get("verb") == "run" and container.get("id") == write.container_id:
            how["aof"] = appendonly_from_args(list(container.get("command") or []))
    for fact in facts[write.index + 1 :]:
        container = fact.get("container") or {}
        redis = fact.get("redis") or {}
        if container.get("id") == write.container_id and redis.get("saves"):
            how["saved"] = True
        if (container.get("id") == write.container_id and redis.get("op") == "config set"
                and redis.get("param") == "appendonly"):
            how["aof"] = str(redis.get("value", "")).lower() == "yes"
        for stopped in fact.get("stopped") or []:
            if stopped.get("id") == write.container_id and stopped.get("was_running", True):
                how["stopped"] = True
        for removed in fact.get("removed") or []:
            if removed.get("id") == write.container_id and removed.get("was_running"):
                how["killed"] = not how["stopped"]
    return how


TRAP = (
    "That's the trap: `docker rm -f` sends SIGKILL, and Redis keeps data in memory until it "
    "saves a snapshot (on its schedule, or on a graceful shutdown). {writer} died before "
    "writing {key} to the volume, so there was nothing for {reader} to find. The volume did "
    "its job; the data never reached it. Try again and make Redis write first: "
    "`docker stop {writer}` before `docker rm {writer}`, or `docker exec {writer} redis-cli "
    "save`, or start both containers with `redis-server --appendonly yes`."
)


@primitive(
    "redis_key_survived",
    ParamSpec("writer"), ParamSpec("reader"), ParamSpec("volume"), ParamSpec("target"),
    ParamSpec("key"),
)
def redis_key_survived(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A key written by ``writer`` on ``volume`` is read by the tutor from ``reader``.

    Passes only when: the writer wrote the key with the volume mounted at ``target``;
    that writer container is gone; a different container named ``reader`` mounts the
    *same* volume (same uid, not a re-created one of the same name) at ``target``; the
    reader never wrote the key itself; and the tutor reads the written value from it.
    """
    writer, reader, volume = p["writer"], p["reader"], p["volume"]
    target, key = p["target"], p["key"]
    names = {"writer": writer, "reader": reader, "volume": volume, "key": key}
    facts = ctx.facts()
    writes = _writes(facts, writer, volume, target, key)
    if not writes:
        return CheckResult(
            False,
            f"I haven't seen `{writer}` write `{key}` while `{volume}` was mounted at "
            f"`{target}`. Start with `docker run -d --name {writer} -v {volume}:{target} redis`, "
            f"then `docker exec {writer} redis-cli set {key} \"Hello Persistence\"`.",
            state="no-write",
        )
    last = writes[-1]
    present = {c.id for c in ctx.sandbox.containers(ctx.person)}
    alive = [w for w in writes if w.container_id in present]
    if alive and alive[-1].container_id == last.container_id:
        return CheckResult(
            False,
            f"`{writer}` wrote `{key}`; now delete that container (the volume stays).",
            state="writer-alive",
        )
    current = ctx.sandbox.container(ctx.person, reader)
    if current is None:
        return CheckResult(
            False,
            f"`{writer}` is gone. Now start `{reader}` on the same volume: "
            f"`docker run -d --name {reader} -v {volume}:{target} redis`.",
            state="no-reader",
        )
    read_tried = _read_attempted(facts, current.id, key)
    mount = current.mount_at(target)
    if mount is None or mount.kind != "volume" or mount.name != volume:
        shown = "nothing" if mount is None else (f"`{mount.name}`" if mount.name else mount.kind)
        return CheckResult(
            False,
            f"`{reader}` has {shown} mounted at `{target}`, not the volume `{volume}`. Remove "
            f"it and run it again with `-v {volume}:{target}`.",
            volunteer=read_tried,
            state="reader-wrong-mount",
        )
    uids = {w.uid for w in writes}
    if mount.uid not in uids:
        return CheckResult(
            False,
            f"`{reader}` mounts a volume called `{volume}`, but it is not the one `{writer}` "
            f"wrote to: that volume was removed and a new, empty one with the same name was "
            "created. A volume's data goes when the volume goes. Start over: write the key "
            "again and keep the volume this time.",
            volunteer=True,
            state="volume-recreated",
        )
    if current.id in {w.container_id for w in writes} or _wrote_in(facts, current.id, key):
        return CheckResult(
            False,
            f"`{key}` was written in `{reader}` itself, so reading it back there proves "
            f"nothing about persistence. Remove `{reader}` (`docker rm -f {reader}`) and run "
            "a fresh one on the same volume, then only read the key.",
            volunteer=True,
            state="reader-wrote",
        )
    if not current.running:
        return CheckResult(False, f"`{reader}` is not running; start it with "
                           f"`docker start {reader}`.", volunteer=read_tried,
                           state="reader-stopped")
    reachable, value = ctx.sandbox.redis_get(ctx.person, reader, key)
    if not reachable:
        return CheckResult(
            False, f"Redis in `{reader}` is not answering yet. Give it a second and try again.",
            state="reader-starting",
        )
    written = [w for w in writes if w.uid == mount.uid]
    if value is None:
        how = _persisted_how(facts, written[-1])
        reader_aof = appendonly_from_args(list(current.command))
        if how["aof"] and not reader_aof:
            message = (
                f"`{key}` is not in `{reader}`. `{writer}` logged it in its append-only file, "
                f"but `{reader}` was started without `--appendonly yes`, so it ignored that "
                f"file. Run `{reader}` again with `redis-server --appendonly yes`."
            )
            state = "aof-mismatch"
        elif how["killed"] and not how["saved"] and not how["aof"]:
            message = f"`{key}` did not survive. " + TRAP.format(**names)
            state = "trap"
        else:
            message = (
                f"`{key}` is not in `{reader}`: it never reached the disk of `{volume}`. "
                f"Make Redis save before deleting `{writer}` (`docker stop {writer}` or "
                f"`redis-cli save`)."
            )
            state = "not-saved"
        return CheckResult(False, message, volunteer=read_tried, state=state)
    if value not in {w.value for w in written}:
        return CheckResult(
            False,
            f"`{reader}` has `{key}` = {value!r}, which is not what `{writer}` wrote.",
            volunteer=read_tried,
            state="wrong-value",
        )
    return CheckResult(
        True,
        f"`{key}` = \"{value}\" survived! `{writer}` is gone, and `{reader}` read the key "
        f"from the same volume `{volume}`. Compute was disposable; the state was not.",
        evidence={"key": key, "value": value, "writer_id": last.container_id,
                  "reader_id": current.id, "volume_uid": mount.uid},
    )
