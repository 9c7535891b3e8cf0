"""``docker-tutor engines drain ADDRESS``: empty one engine of the pool, learner by learner.

The drain is recorded in the store first (every replica stops placing there at once). Then
each learner placed on the engine, holding their lock (their commands wait meanwhile):

* a learner with a running container **stays** (their work is live; drain again later);
* otherwise they **move** to the placeable engine with the most room: each named volume and
  their workspace volume is created on the target with the same name and labels, and its
  files are streamed engine to engine through the APIs only: ``GET /containers/{helper}/
  archive`` of a helper on the source (created from a lesson image, never started, no
  network, the volume read-only) into ``PUT /containers/{helper}/archive`` of a helper on
  the target, at most :data:`MAX_VOLUME_BYTES` a volume. Only when every copy succeeded is
  the placement row switched (one conditional update); then the learner's stopped
  containers, anonymous volumes and the copied volumes are removed from the source.
  Stopped containers are not copied (a container is a process and its layer, not data):
  the report says so for each learner.
* a copy that fails leaves the learner where they were, intact: what was made on the
  target is removed, nothing on the source was touched.

Learners are shown by their pseudonymous hash, as on their engine objects and in the log.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import docker
import docker.errors
import requests.exceptions
from docker.types import Mount

from bot.errors import TutorError, UsageError
from bot.identity import Person
from bot.sandbox.images.copy import bounded
from bot.sandbox.policy.naming import (
    LABEL_ANONYMOUS,
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    Namespace,
)
from bot.sandbox.pool.sandbox_pool import SandboxPool
from bot.sandbox.workspace.names import LABEL_HELPER, volume_name
from bot.sandbox.workspace.tar_ids import remap_base, shift_ids
from bot.sandbox.workspace.volume import DEFAULT_HOST_LIMITS, HELPER_IMAGE

MAX_VOLUME_BYTES = 2 * 1024**3
"""The most archive bytes one volume may take on its way between two engines."""

BUSY_STATES = ("running", "restarting", "paused")
"""Container states that keep a learner on a draining engine."""


class DrainStore(Protocol):
    """What a drain needs of the progress store."""

    def placements(self) -> dict[str, tuple[str, datetime]]:
        """Every placement: learner key to ``(engine, assigned_at)``."""

    def engine_loads(self) -> dict[str, int]:
        """Learners placed per engine."""

    def set_draining(self, engine: str, draining: bool) -> bool:
        """Record or forget a drain."""

    def relocate_learner(self, key: str, source: str, target: str, capacity: int) -> bool:
        """Switch a placement from ``source`` to ``target``."""

    def learner_lock(self, person: Person) -> AbstractContextManager[None]:
        """Hold the learner's lock (across replicas)."""


class CopyFailed(TutorError):
    """One learner could not be moved; they stay where they were."""


@dataclass
class LearnerDrain:
    """What a drain did for one learner.

    Attributes:
        learner: Their pseudonymous hash.
        outcome: ``moved``, ``kept`` (a container runs) or ``failed``.
        target: The engine they moved to.
        volumes: Volumes copied (their workspace included).
        copied_bytes: Archive bytes streamed.
        running: Their running containers (learner names), for ``kept``.
        stopped: Their stopped containers, not copied (removed from the source on a move).
        reason: Why a move failed.
    """

    learner: str
    outcome: str
    target: str = ""
    volumes: int = 0
    copied_bytes: int = 0
    running: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    reason: str = ""

    def line(self) -> str:
        """One line of the report."""
        if self.outcome == "kept":
            return f"  kept   {self.learner}: running {', '.join(self.running)}"
        if self.outcome == "failed":
            return f"  failed {self.learner}: {self.reason}"
        note = (f"; {len(self.stopped)} stopped container(s) not copied "
                f"({', '.join(self.stopped)})" if self.stopped else "")
        return (f"  moved  {self.learner} -> {self.target}: {self.volumes} volume(s), "
                f"{self.copied_bytes // 1024} KiB{note}")


@dataclass
class DrainReport:
    """A drain of one engine.

    Attributes:
        address: The engine drained.
        learners: One entry per learner that was placed on it.
    """

    address: str
    learners: list[LearnerDrain] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many learners had ``outcome``."""
        return sum(1 for entry in self.learners if entry.outcome == outcome)

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        head = (f"drain {self.address}: moved {self.count('moved')}, kept {self.count('kept')} "
                f"(running), failed {self.count('failed')}")
        return [head, *(entry.line() for entry in self.learners)]


def person_of(key: str) -> Person:
    """A person whose key is ``key`` (``platform:user``), for the learner's lock."""
    platform, _, user = key.partition(":")
    return Person(platform, user)


def drain(pool: SandboxPool, store: DrainStore, address: str, *,
          limit: int = MAX_VOLUME_BYTES) -> DrainReport:
    """Stop placing on ``address`` and move its learners who have nothing running.

    Raises:
        UsageError: ``address`` is not an engine of the pool.
        StoreError: The store could not record the drain.
    """
    if address not in pool.engines:
        raise UsageError(f"{address} is not an engine of TUTOR_ENGINES "
                         f"({', '.join(pool.addresses)}).")
    store.set_draining(address, True)
    report = DrainReport(address)
    keys = sorted(key for key, (engine, _) in store.placements().items() if engine == address)
    down = not pool.answers(address, fresh=True)
    base = (0, 0)
    if keys and not down:
        try:
            base = remap_base(pool.engines[address].client)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            down = True
    move = _Move(pool, store, address, limit, base)
    for key in keys:
        ns = pool.namespace(person_of(key))
        if down:
            report.learners.append(LearnerDrain(ns.learner, "failed",
                                                reason="the engine does not answer"))
            continue
        with store.learner_lock(person_of(key)):
            report.learners.append(_move_one(move, key, ns))
    return report


def undrain(pool: SandboxPool, store: DrainStore, address: str) -> bool:
    """Let new learners be placed on ``address`` again; whether it was draining."""
    if address not in pool.engines:
        raise UsageError(f"{address} is not an engine of TUTOR_ENGINES.")
    return store.set_draining(address, False)


def _target(pool: SandboxPool, store: DrainStore, address: str) -> str | None:
    """The placeable engine (not ``address``) with most room, ties in pool order."""
    loads = store.engine_loads()
    open_ = [(loads.get(a, 0), i, a) for i, a in enumerate(pool.placeable())
             if a != address and loads.get(a, 0) < pool.capacity]
    return min(open_)[2] if open_ else None


def _name(ns: Namespace, container: dict[str, Any]) -> str:
    names = container.get("Names") or [""]
    return ns.learner_name(names[0]) or (container.get("Labels") or {}).get(LABEL_NAME, "?")


@dataclass(frozen=True)
class _Move:
    pool: SandboxPool
    store: DrainStore
    address: str
    limit: int
    base: tuple[int, int]  # the source's user-namespace remapping


def _move_one(move: _Move, key: str, ns: Namespace) -> LearnerDrain:
    pool, store, address = move.pool, move.store, move.address
    source = pool.engines[address].client
    entry = LearnerDrain(ns.learner, "moved")
    try:
        containers = source.api.containers(all=True, filters=ns.filters())
        entry.running = sorted(_name(ns, c) for c in containers if c.get("State") in BUSY_STATES)
        if entry.running:
            entry.outcome = "kept"
            return entry
        entry.stopped = sorted(_name(ns, c) for c in containers)
        volumes = [v for v in source.api.volumes(filters=ns.filters()).get("Volumes") or []
                   if (v.get("Labels") or {}).get(LABEL_LEARNER) == ns.learner]
        with suppress(docker.errors.NotFound):  # no workspace yet
            volumes.append(source.api.inspect_volume(volume_name(ns)))
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return LearnerDrain(ns.learner, "failed", reason=f"the source engine failed: {exc}")
    named = [v for v in volumes if (v.get("Labels") or {}).get(LABEL_ANONYMOUS) != "1"]
    target = _target(pool, store, address)
    if target is None:
        return LearnerDrain(ns.learner, "failed", reason="no other engine is placeable with room")
    entry.target = target
    made: list[str] = []
    destination = pool.engines[target].client
    try:
        for volume in named:
            entry.copied_bytes += _copy_volume((source, destination), ns, volume, made, move)
            entry.volumes += 1
        if any(c.get("State") in BUSY_STATES
               for c in source.api.containers(all=True, filters=ns.filters())):
            raise CopyFailed("they started a container meanwhile")
        if not store.relocate_learner(key, address, target, pool.capacity):
            raise CopyFailed(f"the placement changed meanwhile, or {target} filled up")
    except (TutorError, docker.errors.DockerException,
            requests.exceptions.RequestException) as exc:
        for name in made:
            _removed(partial(destination.api.remove_volume, name, force=True))
        return LearnerDrain(ns.learner, "failed", target=target,
                            reason=f"copy to {target} failed: {exc}; left on {address}")
    _clear_source(source, containers, volumes, entry)
    return entry


def _copy_volume(engines: tuple[docker.DockerClient, docker.DockerClient], ns: Namespace,
                 volume: dict[str, Any], made: list[str], move: _Move) -> int:
    """Create ``volume`` on the target (same name and labels) and stream its files there."""
    source, target = engines
    name = str(volume["Name"])
    try:
        target.api.inspect_volume(name)
    except docker.errors.NotFound:
        pass
    else:
        raise CopyFailed(f"a volume named {name} is already on the target")
    target.api.create_volume(name, driver="local", labels=volume.get("Labels") or {})
    made.append(name)
    with _helper(source, ns, name, writable=False) as giver, \
            _helper(target, ns, name, writable=True) as taker:
        chunks, _ = source.api.get_archive(giver, "/v")
        # Host ids of a remapped source back to the container's, which the target maps itself.
        counted = _Counted(shift_ids(bounded(chunks, move.limit, f"the volume {name}"), move.base))
        try:
            # "v/..." unpacked at "/": the volume root keeps its owner and mode (redis's
            # /data is the redis user's), the files land in the mount.
            target.api.put_archive(taker, "/", counted)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    return counted.total


class _Counted:
    """An iterable of chunks that counts the bytes passed on."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.total = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.total += len(chunk)
            yield chunk


@contextmanager
def _helper(client: docker.DockerClient, ns: Namespace, volume: str, *,
            writable: bool) -> Iterator[str]:
    """A created, never started container of a lesson image that mounts ``volume`` at /v."""
    # Labelled as the workspace's helpers are: housekeeping removes one a crash left behind.
    labels = {LABEL_MANAGED: "1", LABEL_NAMESPACE: ns.prefix, LABEL_HELPER: ns.learner}
    helper = client.containers.create(
        HELPER_IMAGE, command=["true"], labels=labels,
        name=f"{ns.prefix}-{ns.learner}-.mv-{secrets.token_hex(4)}",
        mounts=[Mount("/v", volume, type="volume", read_only=not writable, no_copy=True)],
        **DEFAULT_HOST_LIMITS,
    )
    try:
        yield str(helper.id)
    finally:
        _removed(lambda: helper.remove(force=True, v=False))


def _removed(remove: Callable[[], object], tries: int = 3) -> bool:
    """Run a removal, again after a pause when a busy engine refuses it; whether it went.

    A failed copy must leave nothing on the target: a helper or a volume the engine is
    still releasing (409 in use, a timeout under load) is asked again, not forgotten.
    """
    for attempt in range(tries):
        try:
            remove()
            return True
        except docker.errors.NotFound:
            return True
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            if attempt + 1 < tries:
                time.sleep(0.5 * (attempt + 1))
    return False


def _clear_source(source: docker.DockerClient, containers: Sequence[dict[str, Any]],
                  volumes: Sequence[dict[str, Any]], entry: LearnerDrain) -> None:
    """Remove the moved learner's containers and volumes from the source engine.

    A failure here leaves objects that reconcile removes later (the learner is placed
    elsewhere now); the move itself stands.
    """
    for container in containers:
        with suppress(docker.errors.DockerException, requests.exceptions.RequestException):
            source.api.remove_container(container["Id"], force=True, v=False)
    for volume in volumes:
        with suppress(docker.errors.DockerException, requests.exceptions.RequestException):
            source.api.remove_volume(volume["Name"], force=True)


__all__ = ["MAX_VOLUME_BYTES", "DrainReport", "DrainStore", "LearnerDrain", "drain", "person_of",
           "undrain"]
