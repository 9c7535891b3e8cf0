"""The journey of one Redis key through one volume, as the learner's history tells it.

:class:`Trail` reads the whole check history (failed commands included: a command that
exits 1 may still have written) and keeps what the Immortal Database proof needs:

* :attr:`Trail.writes`: the writer's ``redis-cli`` writes of the key that carry a value,
  with the volume (by unique id) it had at the target and the database number;
* :attr:`Trail.looks`: what the tutor itself read in each Redis container on the volume
  the moment it started (see :mod:`bot.checks.observe`);
* :meth:`Trail.taints`: every moment something other than the writer may have written
  the key into the volume: a ``redis-cli`` write by another container, any command not
  known to be read-only (``eval``, a ``sh -c`` pipe, ``-x``...), a container whose own
  command can write files, or a command whose outcome the engine never reported;
* :attr:`Trail.reads`: the learner's own reads of the key, by container and database.

:meth:`Trail.proof` then looks for a read that shows the key in a container that the
tutor saw holding the writer's value as it started, on a volume nobody else wrote to.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from bot.checks.framework import CheckContext
from bot.checks.history import Event, events
from bot.checks.immortal import redis_ops as ops
from bot.checks.observe import CREATED_VOLUMES, OBSERVED, STARTED_VIEWS
from bot.errors import CommandRefused
from bot.progress import CommandEntry
from bot.sandbox import parse

CHECK = "redis_key_survived"
"""The primitive whose observations a trail reads."""

KNOWN_VERBS = frozenset({
    "run", "exec", "ps", "rm", "stop", "start", "restart", "kill", "logs", "inspect",
    "images", "volume create", "volume ls", "volume rm", "volume inspect", "volume prune",
    "rename", "diff", "top", "container prune",
})
"""Verbs whose effect on data the trail understands: they write nothing into a container,
or (``run``, ``exec``, ``start``, ``restart``) are read for what they run. Any other verb
that names a container counts as a possible write into it."""


@dataclass
class Box:
    """A container as the history knows it (by id: a new ``redis-2`` is a new box)."""

    id: str
    names: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    command: list[str] | None = None
    created: int | None = None
    rm: bool = False

    @property
    def name(self) -> str:
        """Its latest name."""
        return self.names[-1] if self.names else ""

    def shares(self) -> set[tuple[str, str]]:
        """What it shares with others: each volume (by unique id) and the workspace."""
        found = set()
        for mount in self.mounts:
            if mount.get("kind") == "volume":
                found.add(("volume", str(mount.get("uid", ""))))
            elif mount.get("kind") == "bind":
                found.add(("bind", ""))
        return found

    def server(self) -> ops.ServerCommand:
        """Its own command, sorted (``other`` when the tutor never learned it)."""
        return ops.classify_server(self.command) if self.command is not None \
            else ops.ServerCommand("other")


@dataclass(frozen=True)
class Write:
    """A write of the key that carries its value, by a container with the writer's name."""

    index: int
    box: str
    uid: str
    db: int
    value: str


@dataclass(frozen=True)
class Taint:
    """A moment something other than the writer may have written the key into the volume.

    Attributes:
        db: The database it may have written (``None``: any).
        why: ``write`` (a ``redis-cli`` write of the key), ``unknown`` (a command the tutor
            cannot read), ``command`` (a container whose own command can write files),
            ``lost`` (the engine never reported what the command did).
    """

    index: int
    box: str
    name: str
    text: str
    db: int | None
    why: str


@dataclass(frozen=True)
class Look:
    """What the tutor read in a Redis container on the volume, as it started."""

    index: int
    box: str
    name: str
    how: str
    uid: str
    server: str
    reachable: bool
    values: dict[str, str]
    others: dict[str, str]
    aof: bool
    existing: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Read:
    """A learner's read that prints the key's value (``get``, ``mget``...)."""

    index: int
    box: str
    name: str
    db: int


@dataclass(frozen=True)
class Proof:
    """A read that proves the key survived: the evidence stored with the completion."""

    read: Read
    look: Look
    write: Write
    value: str


def _look(index: int, record: dict[str, Any]) -> Look:
    return Look(
        index=index, box=str(record.get("id", "")), name=str(record.get("name", "")),
        how=str(record.get("how", "")), uid=str(record.get("uid", "")),
        server=str(record.get("server", "")), reachable=bool(record.get("reachable")),
        values={str(k): str(v) for k, v in (record.get("values") or {}).items()},
        others={str(k): str(v) for k, v in (record.get("others") or {}).items()},
        aof=bool(record.get("aof")),
        existing=tuple((str(c.get("id", "")), str(c.get("name", "")))
                       for c in record.get("existing") or [] if isinstance(c, dict)),
    )


class Trail:
    """The key's history on the volume; see the module docstring.

    Args:
        ctx: The check's context (its history since the lesson started).
        writer: The writer's container name (``redis-1``).
        volume: The volume's name (``my-redis-data``).
        target: Where the writer mounts it (``/data``).
        key: The Redis key (``mykey``).
    """

    def __init__(self, ctx: CheckContext, writer: str, volume: str, target: str,
                 key: str, *, resume: bool = True) -> None:
        self.writer, self.volume, self.target, self.key = writer, volume, target, key
        self.events: list[Event] = []
        self.boxes: dict[str, Box] = {}
        self.writes: list[Write] = []
        self.opaque: list[Event] = []
        self.looks: list[Look] = []
        self.reads: list[Read] = []
        self.created: dict[str, int] = {}
        self._calls: dict[int, ops.RedisCall] = {}
        self._taints: dict[str, list[Taint]] = {}
        self.lost: list[tuple[int, str]] = []
        history = ctx.history
        if not resume:  # the whole history, nothing kept (what _verify compares with)
            self._read(ctx, 0, len(history))
            return
        memo = (ctx.person.key, writer, volume, target, key)
        done = self._resume(memo, history)
        if len(history) - 1 > done:  # all but the newest row (the only one that may change)
            self._read(ctx, done, len(history) - 1)
            done = len(history) - 1
            _keep(memo, tuple(history[:done]), self._copy())
        self._read(ctx, done, len(history))
        if os.environ.get(VERIFY_ENV) == "1":
            _verify(self, ctx)

    def _resume(self, memo: tuple[str, ...], history: Sequence[CommandEntry]) -> int:
        """Start from the kept trail of the learner's history so far, if it still is a prefix.

        Returns how many rows of ``history`` the trail now covers (0: none kept).
        """
        with _kept_lock:
            kept = _kept.get(memo)
            if kept is not None:
                _kept.move_to_end(memo)
        if kept is None:
            return 0
        rows, state = kept
        if len(rows) > len(history) or any(row is not history[i] for i, row in enumerate(rows)):
            return 0  # another lesson start, a history cut at its limit, rows read afresh
        state._copy_into(self)
        return len(rows)

    def _read(self, ctx: CheckContext, start: int, stop: int) -> None:
        """Register the history's rows ``start`` to ``stop`` (indexes are the history's)."""
        self.lost += [(i, ctx.history[i].text) for i in range(start, stop)
                      if ctx.history[i].kind == "docker" and ctx.history[i].exit_status == -2]
        fresh = events(ctx, start, stop)
        self.events += fresh
        for event in fresh:
            self._register(event)

    def _copy(self) -> Trail:
        """A copy of what was registered (never changed once kept: see :func:`_keep`)."""
        other = copy.copy(self)
        self._copy_into(other)
        return other

    def _copy_into(self, other: Trail) -> None:
        other.events = list(self.events)
        other.boxes = {k: replace(b, names=list(b.names), mounts=list(b.mounts),
                                  command=None if b.command is None else list(b.command))
                       for k, b in self.boxes.items()}
        other.writes, other.opaque = list(self.writes), list(self.opaque)
        other.looks, other.reads = list(self.looks), list(self.reads)
        other.created, other._calls = dict(self.created), dict(self._calls)
        other._taints = {}  # over every event: worked out afresh for each trail
        other.lost = list(self.lost)

    def _state(self) -> tuple[Any, ...]:
        """Everything registered, comparable (for :func:`_verify`)."""
        return (self.events, self.boxes, self.writes, self.opaque, self.looks, self.reads,
                self.created, self._calls, self.lost)

    # -- reading the history ----------------------------------------------------------------

    def _box(self, fact: dict[str, Any]) -> Box:
        box = self.boxes.setdefault(str(fact.get("id", "")), Box(str(fact.get("id", ""))))
        name = str(fact.get("name", ""))
        if name and (not box.names or box.names[-1] != name):
            box.names.append(name)
        if fact.get("mounts") is not None:
            box.mounts = list(fact.get("mounts") or [])
        if fact.get("command") is not None:
            box.command = [str(w) for w in fact.get("command") or []]
        return box

    def call(self, event: Event) -> ops.RedisCall:
        """What the command run in a container by ``event`` does to Redis data (cached)."""
        if event.index not in self._calls:
            self._calls[event.index] = ops.classify(event.argv)
        return self._calls[event.index]

    def _register(self, event: Event) -> None:
        facts = event.facts
        if event.container_id:
            box = self._box(event.container)
            if event.verb == "run":
                box.created = event.index
                box.rm = _flag(event.text, "rm")
        for view in facts.get(STARTED_VIEWS) or []:
            self._box(view)
        for volume in facts.get(CREATED_VOLUMES) or []:
            self.created.setdefault(str(volume.get("uid", "")), event.index)
        for record in facts.get(OBSERVED) or []:
            if record.get("check") == CHECK and record.get("key") == self.key \
                    and record.get("target") == self.target:
                self.looks.append(_look(event.index, record))
        if event.verb != "exec" or not event.container_id:
            return
        call = self.call(event)
        name = str(event.container.get("name", ""))
        if call.kind == "read" and self.key in call.shows and event.ok:
            self.reads.append(Read(event.index, event.container_id, name, call.db))
        if name != self.writer:
            return
        mount = next((m for m in event.container.get("mounts") or []
                      if m.get("target") == self.target), None)
        if mount is None or mount.get("kind") != "volume" or mount.get("name") != self.volume:
            return
        if event.ok and self.key in call.values:
            self.writes.append(Write(event.index, event.container_id, str(mount.get("uid", "")),
                                     call.db, call.values[self.key]))
        elif call.kind == "unknown" or self.key in call.writes:
            self.opaque.append(event)

    # -- who may have written ---------------------------------------------------------------

    def writer_boxes(self, uid: str) -> list[Box]:
        """Containers ever named like the writer that mounted the volume ``uid``."""
        return [b for b in self.boxes.values()
                if self.writer in b.names and ("volume", uid) in b.shares()]

    def in_scope(self, box: Box, uid: str) -> bool:
        """Whether a container could reach the volume ``uid``, or a writer's Redis on it.

        It mounts the volume, or shares a mount (a volume, the workspace) with a writer
        container that did, through which a Redis socket could be reached.
        """
        scope = {("volume", uid)}
        for writer in self.writer_boxes(uid):
            scope |= writer.shares()
        return bool(box.shares() & scope)

    def taints(self, uid: str) -> list[Taint]:
        """Every moment something but the writer may have written the key into ``uid``."""
        if uid not in self._taints:
            self._taints[uid] = self._find_taints(uid)
        return self._taints[uid]

    def _find_taints(self, uid: str) -> list[Taint]:
        found: list[Taint] = []
        for event in self.events:
            for box, why in self._suspects(event, uid):
                db: int | None = None
                if why == "write":
                    call = self.call(event)
                    db = None if ops.EVERY_KEY in call.writes else call.db
                found.append(Taint(event.index, box.id, box.name, event.text, db, why))
        for index, text in self.lost:
            suspect = self._lost_suspect(text, uid)
            if suspect is not None:
                found.append(Taint(index, "", suspect, text, None, "lost"))
        return sorted(found, key=lambda t: t.index)

    def _suspects(self, event: Event, uid: str) -> list[tuple[Box, str]]:
        if event.verb not in KNOWN_VERBS:
            return self._unknown_verb(event, uid)
        if event.verb == "exec" and event.container_id:
            box = self.boxes[event.container_id]
            if event.container.get("name") == self.writer or not self.in_scope(box, uid):
                return []
            call = self.call(event)
            if call.kind == "unknown":
                return [(box, "unknown")]
            return [(box, "write")] if call.kind == "write" and (
                ops.EVERY_KEY in call.writes or self.key in call.writes) else []
        started = [event.container_id] if event.verb == "run" and event.container_id else []
        started += sorted(event.ids("started") | event.ids("restarted"))
        found = []
        for box_id in started:
            known = self.boxes.get(box_id)
            if known is None or self.writer in known.names or not self.in_scope(known, uid):
                continue
            if known.server().kind == "other":
                found.append((known, "command"))
        return found

    def _unknown_verb(self, event: Event, uid: str) -> list[tuple[Box, str]]:
        """Suspects of a verb this analysis does not know (say a future ``docker cp``).

        It may write into every container it names: each one in scope, but the writer.
        """
        refs: set[str] = set()
        with suppress(CommandRefused):
            refs = set(parse(event.text).args)
        found = []
        for box in self.boxes.values():
            named = box.id == event.container_id or any(
                r in box.names or (len(r) >= 4 and box.id.startswith(r)) for r in refs)
            if named and self.writer not in box.names and self.in_scope(box, uid):
                found.append((box, "unknown"))
        return found

    def _lost_suspect(self, text: str, uid: str) -> str | None:
        """For a command the engine never reported on: the container it may have changed."""
        try:
            command = parse(text)
        except CommandRefused:
            return None
        if command.verb == "exec" and command.args:
            name = command.args[0]
            known = [b for b in self.boxes.values() if name in b.names]
            if name == self.writer or (known and not self.in_scope(known[-1], uid)):
                return None
            return name
        if command.verb == "run":
            name = command.value("name") or ""
            sources = [v.split(":", 1)[0] for v in command.values("volume")]
            sources += [m for m in command.values("mount") if self.volume in m or "bind" in m]
            if name != self.writer and (self.volume in sources or any(
                    s.startswith(("/", ".", "\x00")) for s in sources)):
                return name or "a container"
        return None

    # -- the proof --------------------------------------------------------------------------

    def writer_existed(self, look: Look) -> bool:
        """Whether a writer container existed when the tutor took ``look``.

        By name, and by id for any container ever named like the writer (a renamed one).
        """
        writers = {b.id for b in self.boxes.values() if self.writer in b.names}
        return any(name == self.writer or box in writers for box, name in look.existing)

    def writer_made_after(self, creation: Look, before: int) -> bool:
        """Whether a writer container was made after the reader's creation, before ``before``.

        A reader restarted after a new writer saved would load that writer's data, but it
        was not created after that writer was gone.
        """
        return any(b.created is not None and creation.index < b.created < before
                   for b in self.boxes.values() if self.writer in b.names)

    def creation(self, box: str) -> Look | None:
        """The tutor's look at a container as ``docker run`` created it, if it took one."""
        return next((look for look in self.looks if look.box == box and look.how == "run"), None)

    def latest_look(self, box: str, before: int) -> Look | None:
        """The tutor's last look at a container before history index ``before``."""
        found = [look for look in self.looks if look.box == box and look.index < before]
        return found[-1] if found else None

    def last_look(self, box: str) -> Look:
        """The tutor's last look at a container (it has one: its creation look at least)."""
        return [look for look in self.looks if look.box == box][-1]

    def proof(self, reader: str) -> Proof | None:
        """A learner's read in ``reader`` that proves the writer's value survived.

        The read shows the key in database N of a container named ``reader``; the tutor's
        last look at that container before the read found the writer's value there, in
        database N, as it started; the container was created after every writer container
        was gone, is not one of them, and runs a plain ``redis-server``; the volume was
        created during the lesson; nothing but the writer may have written the key into it
        before that look; and the container ran only reads between the look and the read.
        """
        for read in self.reads:
            if read.name != reader:
                continue
            proof = self._proves(read)
            if proof is not None:
                return proof
        return None

    def _proves(self, read: Read) -> Proof | None:
        look = self.latest_look(read.box, read.index)
        creation = self.creation(read.box)
        box = self.boxes[read.box]
        if look is None or creation is None or not look.reachable or look.server != "redis":
            return None
        if self.writer_existed(creation) or self.writer in box.names \
                or self.writer_made_after(creation, look.index):
            return None
        if look.uid not in self.created:
            return None
        value = look.values.get(str(read.db))
        matching = [w for w in self.writes if w.uid == look.uid and w.db == read.db
                    and w.value == value and w.index < creation.index]
        if value is None or not matching:
            return None
        for taint in self.taints(look.uid):
            if taint.db is not None and taint.db != read.db:
                continue
            if self.created[look.uid] <= taint.index < look.index:
                return None
            if taint.box == read.box and look.index < taint.index < read.index:
                return None
        return Proof(read, look, matching[-1], value)


MEMO_TRAILS = 1024
"""How many learners' trails are kept between their lines (least recently used go first)."""

VERIFY_ENV = "TUTOR_VERIFY_TRAILS"
"""Set to ``1`` (the test suite does): each trail built from a kept one is checked against
the same trail built from the whole history, and a difference fails loudly."""

_kept: OrderedDict[tuple[str, ...], tuple[tuple[CommandEntry, ...], Trail]] = OrderedDict()
_kept_lock = threading.Lock()


def _keep(memo: tuple[str, ...], rows: tuple[CommandEntry, ...], state: Trail) -> None:
    """Keep a learner's trail over ``rows`` for their next line.

    Kept: the registering of each row is a fold that only adds, so the trail of a history
    is the trail of its first rows with the rest registered after. The rows are compared by
    identity (:class:`~bot.progress.recent.RecentHistory` hands out the same row objects
    from line to line; a row read afresh, or a history cut at its limit, starts over). The
    newest row is never kept (its diagnosis is still being noted); the kept state is never
    changed, each trail copies it.
    """
    with _kept_lock:
        _kept[memo] = (rows, state)
        _kept.move_to_end(memo)
        while len(_kept) > MEMO_TRAILS:
            _kept.popitem(last=False)


def _verify(trail: Trail, ctx: CheckContext) -> None:
    """Fail if ``trail`` differs from the trail of the whole history (see :data:`VERIFY_ENV`)."""
    whole = Trail(ctx, trail.writer, trail.volume, trail.target, trail.key, resume=False)
    if whole._state() != trail._state():
        raise AssertionError("a trail resumed from a kept one differs from the whole history's")


def _flag(text: str, key: str) -> bool:
    try:
        return parse(text).flag(key)
    except CommandRefused:
        return False

