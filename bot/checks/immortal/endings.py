"""How a writer's Redis ended after its write, and who saved over the snapshot after it.

The Immortal Database check uses these to explain a key that did not survive, from the
history alone: a SIGKILL (``docker rm -f``, ``docker kill``, ``docker stop -t 0``), a
``shutdown nosave``, snapshots turned off, or another Redis on the volume that saved its
own data, without the key, over the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.checks.history import Event
from bot.checks.immortal import redis_ops as ops
from bot.checks.immortal.survival import Box, Trail, Write
from bot.errors import CommandRefused
from bot.sandbox import parse


@dataclass(frozen=True)
class Ending:
    """What became of the writer's Redis after its last write of the key.

    Attributes:
        how: ``graceful`` (``docker stop``/``restart`` with time to save, ``shutdown``,
            a ``kill`` with SIGTERM), ``stop-now`` (``stop -t 0``), ``killed-rm``
            (``rm -f`` while it ran), ``killed`` (``docker kill``), ``nosave``
            (``shutdown nosave``), or ``none`` (no ending in the history: it still runs,
            or ended in a way the history does not show).
        saved: A ``save`` or ``bgsave`` ran after the write.
        bgsave: That save was a ``bgsave`` (it runs in the background).
        aof: The append-only file was on.
        saves_off: Snapshots were turned off (``--save ""``).
        index: The history index of the ending (``-1`` for none).
    """

    how: str
    saved: bool
    bgsave: bool
    aof: bool
    saves_off: bool
    index: int


def _stop_seconds(text: str) -> int | None:
    try:
        raw = parse(text).value("time")
    except CommandRefused:
        return None
    return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None


def _kill_graceful(text: str) -> bool:
    try:
        signal = (parse(text).value("signal") or "KILL").upper().removeprefix("SIG")
    except CommandRefused:
        return False
    return signal in ("TERM", "INT", "15", "2")


def _kill_targets(event: Event, box: Box) -> bool:
    if box.id in event.ids("killed") or box.id in event.ids("stopped"):
        return True
    try:
        args = parse(event.text).args
    except CommandRefused:
        return False
    return any(a in box.names or (len(a) >= 4 and box.id.startswith(a)) for a in args)


def _ended(event: Event, box: Box) -> str | None:
    """How ``event`` ended the Redis in ``box``, or ``None`` if it did not."""
    if event.verb in ("stop", "restart") and box.id in event.ids("stopped"):
        running = next((s.get("was_running", True) for s in event.facts.get("stopped") or []
                        if s.get("id") == box.id), True)
        if not running:
            return None
        return "stop-now" if _stop_seconds(event.text) == 0 else "graceful"
    for removed in event.facts.get("removed") or []:
        if removed.get("id") == box.id and removed.get("was_running"):
            return "killed-rm"
    if event.verb == "kill" and _kill_targets(event, box):
        return "graceful" if _kill_graceful(event.text) else "killed"
    if event.verb == "exec" and event.container_id == box.id:
        call = ops.classify(event.argv)
        if call.kind == "persist" and call.op == "shutdown":
            return "nosave" if call.nosave else "graceful"
    return None


def ending(trail: Trail, write: Write) -> Ending:
    """What became of the writer's Redis after ``write`` (see :class:`Ending`)."""
    box = trail.boxes[write.box]
    server = box.server()
    aof, saves_off, saved, bgsave = server.aof, server.saves_off, False, False
    for event in trail.events:
        if event.index <= write.index:
            if event.container_id == box.id and event.verb == "exec" and event.ok:
                call = trail.call(event)
                aof = call.config.get("appendonly", "yes" if aof else "no").lower() == "yes"
                if "save" in call.config:
                    saves_off = not call.config["save"].strip()
            continue
        how = _ended(event, box)
        if how is not None:
            return Ending(how, saved, bgsave, aof, saves_off, event.index)
        if event.verb == "exec" and event.container_id == box.id and event.ok:
            call = trail.call(event)
            if call.kind == "persist" and call.op in ("save", "bgsave"):
                saved, bgsave = True, call.op == "bgsave"
            aof = call.config.get("appendonly", "yes" if aof else "no").lower() == "yes"
            if "save" in call.config:
                saves_off = not call.config["save"].strip()
    return Ending("none", saved, bgsave, aof, saves_off, -1)


def overwrite(trail: Trail, uid: str, write: Write, after: int, before: int) -> Box | None:
    """Another Redis on the volume that saved its own data, without the key, after ``after``.

    A Redis server writes everything it holds when it saves (``docker stop``, ``save``):
    if it never held the key (an append-only ``redis-2`` ignores ``dump.rdb``), that
    save replaces the snapshot that had the key.
    """
    for event in trail.events:
        if not after < event.index < before:
            continue
        for box in trail.boxes.values():
            if trail.writer in box.names or ("volume", uid) not in box.shares():
                continue
            if box.server().kind != "redis" or box.server().saves_off:
                continue
            how = _ended(event, box)
            saves = how == "graceful"
            if event.verb == "exec" and event.container_id == box.id and event.ok:
                call = trail.call(event)
                saves = saves or (call.kind == "persist" and call.op in ("save", "bgsave"))
            if not saves:
                continue
            look = trail.latest_look(box.id, event.index)
            if look is not None and look.reachable and \
                    look.values.get(str(write.db)) != write.value:
                return box
    return None


def saved_since(trail: Trail, box: Box, after: int) -> bool:
    """Whether the Redis in ``box`` saved its data after history index ``after``.

    A clean stop or restart, a ``shutdown`` without ``nosave``, or a ``save``/``bgsave``
    (with snapshots on).
    """
    if box.server().kind != "redis" or box.server().saves_off:
        return False
    for event in trail.events:
        if event.index <= after:
            continue
        if _ended(event, box) == "graceful":
            return True
        if event.verb == "exec" and event.container_id == box.id and event.ok:
            call = trail.call(event)
            if call.kind == "persist" and call.op in ("save", "bgsave"):
                return True
    return False
