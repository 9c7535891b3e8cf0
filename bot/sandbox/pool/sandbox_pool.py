"""A pool of sandbox engines: each learner's commands run on the one engine they are placed on.

:class:`SandboxPool` holds one :class:`~bot.sandbox.engine.sandbox.Sandbox` per address of
``TUTOR_ENGINES`` and answers the same public methods (``run_command``, ``container``,
``exec_capture``, ``remove_all``...), each routed to the learner's engine. Placements live in
the progress store (:mod:`bot.progress.placement`), so every replica routes a learner to the
same engine; a new learner goes to the healthy engine with the most room.

When a learner's engine does not answer, they get :class:`~bot.errors.EngineDown` (one clear
message: their sandbox machine is down, their progress is safe, what to do); learners on other
engines notice nothing. ``reset`` (:meth:`SandboxPool.remove_all`) places a learner whose
engine is down on a healthy one.

A new learner is placed only on a *placeable* engine: it answers, no operator is draining
it (``docker-tutor engines drain``, recorded in the store for every replica), and it holds
every lesson image. An engine that lacks images is filled in the background
(:class:`~bot.sandbox.images.copy.ImageFiller`) and takes learners once it has them.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.constants import MINIMUM_DOCKER_API_VERSION

from bot.config import Settings
from bot.errors import EngineDown, EngineUnavailable
from bot.identity import Person
from bot.sandbox.engine.client import Plan
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.engine.translate import engine_reads
from bot.sandbox.engine.unix_socket import mend
from bot.sandbox.images.copy import ImageFiller, missing_tags
from bot.sandbox.images.lesson_images import lesson_tags
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.pool.addresses import engine_environment, socket_accepts
from bot.sandbox.pool.janitor import Janitor
from bot.sandbox.protocol import LearnerSandbox
from bot.sandbox.redis.witness import LOAD_SECONDS
from bot.sandbox.resources.witness import WITNESS_SECONDS
from bot.sandbox.views import (
    ContainerView,
    ImageView,
    NetworkView,
    Outcome,
    VolumeView,
    WitnessReport,
)

mend()  # docker-py's unix connect closes its socket when it fails (see unix_socket)

T = TypeVar("T")

DOWN = (
    "Your sandbox machine is not answering right now. Your progress is safe: your lesson "
    "and everything you completed are kept."
)
"""What a learner whose engine is down reads (the first line of :class:`EngineDown`)."""

DOWN_HINT = (
    "Try again in a few minutes, or type `reset` to start this lesson over on a machine "
    "that works (the containers and volumes you had are left behind)."
)
"""What they can do about it (the second line)."""

FULL = (
    "Every sandbox machine of this course is full or down right now; your progress is safe. "
    "Try again in a few minutes, and tell your instructor if this goes on."
)
"""What a learner who cannot be placed reads."""

HEALTH_SECONDS = 5.0
"""How long an engine's answer to a health ping is trusted."""

PING_TIMEOUT = 3
"""Seconds a health ping waits for an engine (a learner's own commands wait longer)."""

STALL_SECONDS = 8.0
"""How long a call may go without an answer before the pool asks whether its engine is alive.

A killed engine refuses connections at once; a hung one (frozen, its host cut off) accepts
and never answers, and docker-py would wait out its whole timeout (120 s). After this long
the pool pings the engine twice (:data:`PING_TIMEOUT` each): a slow engine that answers is
waited for, a silent one is down, and the learner is told within about 14 s."""


class Placements(Protocol):
    """Where learners are placed: the progress store's placement methods."""

    def engine_of(self, key: str) -> str | None:
        """The learner's engine, or ``None``."""

    def place_learner(self, key: str, candidates: Sequence[str], capacity: int) -> str | None:
        """The learner's engine, placing them on the candidate with most room if new."""

    def move_learner(self, key: str, away_from: str, candidates: Sequence[str],
                     capacity: int) -> str | None:
        """Place the learner anew, away from ``away_from``."""

    def engine_loads(self) -> dict[str, int]:
        """Learners placed per engine."""

    def draining_engines(self) -> set[str]:
        """The engines being drained (no new placements)."""


@dataclass
class _Health:
    answers: bool
    at: float


class SandboxPool:
    """Several engines behind the one sandbox interface, each learner on their own engine.

    Args:
        settings: The settings; ``settings.engines`` lists the engines (at least one).
        placements: Where learners are placed (the progress store).
        allowed_images: Image names learners may run, as for :class:`Sandbox`.
        make: Builds the sandbox of one engine from its settings (tests pass their own).
        clock: A monotonic clock, for how long a health answer is trusted.
    """

    def __init__(
        self,
        settings: Settings,
        placements: Placements,
        allowed_images: Iterable[str] | None = None,
        *,
        make: Callable[[Settings, frozenset[str] | None], Sandbox] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.engines:
            raise ValueError("a pool needs at least one engine (TUTOR_ENGINES)")
        self.settings = settings
        self.limits = settings.limits
        self.allowed_images = frozenset(allowed_images) if allowed_images is not None else None
        self.placements = placements
        self.capacity = settings.engine_capacity
        build = make or (lambda s, images: Sandbox(s, allowed_images=images))
        self.engines: dict[str, Sandbox] = {
            address: build(replace(settings, docker_host=address), self.allowed_images)
            for address in settings.engines
        }
        self._clock = clock
        self._health: dict[str, _Health] = {}
        self._health_lock = threading.Lock()
        self._stocked: set[str] = set()  # engines seen holding every lesson image
        # One health ping or image check per engine at a time: a class arriving at once
        # waits for the one in flight instead of sending fifty (single flight).
        self._probing = {address: threading.Lock() for address in self.engines}
        self._routed: dict[str, str] = {}  # learner key -> the engine their last call went to
        # Calls run on a bounded set of threads per engine, so that a hung engine holds at
        # most its own threads (until docker-py's timeout), never a caller or other engines'.
        self._runners = {address: ThreadPoolExecutor(max_workers=max(8, 2 * self.capacity),
                                                     thread_name_prefix=f"engine{index}")
                         for index, address in enumerate(self.engines)}
        self.filler = (ImageFiller(lambda: {a: s.client for a, s in self.engines.items()},
                                   self.allowed_images, self.answers, clock=clock)
                       if self.allowed_images else None)

    # -- engines and their health ---------------------------------------------------------

    @property
    def addresses(self) -> list[str]:
        """The engines' addresses, in ``TUTOR_ENGINES`` order."""
        return list(self.engines)

    def answers(self, address: str, *, fresh: bool = False) -> bool:
        """Whether the engine at ``address`` answers a ping (trusted :data:`HEALTH_SECONDS`).

        ``fresh`` pings now whatever was seen before. A unix socket is first tried with a
        bare connect, at every call (a few microseconds): a dead local engine is known at
        once, and docker-py never connects to it (it leaves such a socket unclosed).
        """
        if address.startswith("unix://") and not socket_accepts(address):
            self._remember(address, False)
            return False
        with self._health_lock:
            seen = self._health.get(address)
        if seen is not None and not seen.answers and address.startswith("unix://"):
            fresh = True  # it accepts connections again: ask it now
        if not fresh and seen is not None and self._clock() - seen.at < HEALTH_SECONDS:
            return seen.answers
        asked = self._clock()
        with self._probing[address]:
            with self._health_lock:
                seen = self._health.get(address)
            if seen is not None and seen.at >= asked:  # pinged while this call waited
                return seen.answers
            answers = self._ping(address)
            self._remember(address, answers)
        return answers

    def _remember(self, address: str, answers: bool) -> None:
        with self._health_lock:
            self._health[address] = _Health(answers, self._clock())

    def _ping(self, address: str) -> bool:
        """One health ping with a short timeout, on a client of its own."""
        settings = replace(self.settings, docker_host=address)
        try:
            # A stated API version: a client of its own would otherwise ask `/version` first.
            client = docker.from_env(timeout=PING_TIMEOUT, version=MINIMUM_DOCKER_API_VERSION,
                                     environment=engine_environment(settings, os.environ))
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False
        finally:
            client.close()

    def healthy(self) -> list[str]:
        """The engines that answer now, in pool order."""
        return [address for address in self.engines if self.answers(address)]

    def has_images(self, address: str, *, fill: bool = True) -> bool:
        """Whether the engine holds every lesson image (always, without an image list).

        An engine seen holding them is trusted from then on. One that lacks some is filled
        in the background when ``fill`` (never on the caller's thread).
        """
        if self.allowed_images is None or address in self._stocked:
            return True
        try:
            with self._probing[address], engine_reads():
                if address in self._stocked:  # checked while this call waited
                    return True
                missing = missing_tags(self.engines[address].client,
                                       lesson_tags(self.allowed_images))
        except EngineUnavailable:
            return False
        if not missing:
            self._stocked.add(address)
            return True
        if fill and self.filler is not None:
            self.filler.request(address)
        return False

    def placeable(self) -> list[str]:
        """The engines a new learner may go to: answering, not draining, images present."""
        draining = self.placements.draining_engines()
        return [address for address in self.engines
                if address not in draining and self.answers(address) and self.has_images(address)]

    def engine_address(self, person: Person) -> str:
        """The engine the person's last call went to (for the operators' log; no database read)."""
        return self._routed.get(person.key, "unplaced")

    # -- placement ------------------------------------------------------------------------

    def engine_for(self, person: Person) -> str:
        """The address of the person's engine, placing them on first use.

        Raises:
            EngineUnavailable: They are not placed and no healthy engine has room.
            StoreError: The placement could not be read or written.
        """
        placed = self.placements.engine_of(person.key)
        if placed in self.engines:
            self._routed[person.key] = placed
            return placed
        if placed is not None:  # an engine no longer in TUTOR_ENGINES
            moved = self.placements.move_learner(person.key, placed, self.placeable(),
                                                 self.capacity)
        else:
            moved = self.placements.place_learner(person.key, self.placeable(), self.capacity)
        if moved is None or moved not in self.engines:
            raise EngineUnavailable(FULL)
        self._routed[person.key] = moved
        return moved

    def sandbox_for(self, person: Person) -> Sandbox:
        """The sandbox of the person's engine (placing them on first use)."""
        return self.engines[self.engine_for(person)]

    def _on(self, person: Person, call: Callable[[Sandbox], T]) -> T:
        """Run ``call`` on the person's engine; a failure of a dead engine becomes EngineDown."""
        address = self.engine_for(person)
        if not self.answers(address):  # known down moments ago: say so without waiting
            raise EngineDown(DOWN, hint=DOWN_HINT)
        try:
            return self._watched(address, call)
        except EngineDown:
            raise
        except EngineUnavailable as failure:
            if self.answers(address, fresh=True):
                raise  # the engine answers: a failure of this request, worded as it is
            raise EngineDown(DOWN, hint=DOWN_HINT) from failure

    def _watched(self, address: str, call: Callable[[Sandbox], T]) -> T:
        """``call`` on the engine's threads, given up on when the engine stops answering.

        Every :data:`STALL_SECONDS` without a result the engine is pinged (twice before it
        is called silent). A call given up on is left to end on its own thread (docker-py's
        timeout bounds it); what it did is proven from the engine's state later, as ever.

        Raises:
            EngineDown: The engine answered no ping while the call waited.
        """
        future = self._runners[address].submit(contextvars.copy_context().run, call,
                                               self.engines[address])
        while True:
            try:
                return future.result(timeout=STALL_SECONDS)
            except FutureTimeout:
                if self.answers(address, fresh=True) or self.answers(address, fresh=True):
                    continue  # slow, not gone: a busy engine or a long command
                future.cancel()
                raise EngineDown(DOWN, hint=DOWN_HINT) from None

    # -- the sandbox interface (bot.sandbox.protocol.LearnerSandbox), routed -------------

    def namespace(self, person: Person) -> Namespace:
        """The person's namespace (the same name on every engine)."""
        return Namespace.for_key(self.settings.namespace, person.key)

    def vet(self, person: Person, command: Command) -> Plan:
        """Check a command against the policy; no engine is asked (see :meth:`Sandbox.vet`)."""
        return next(iter(self.engines.values())).vet(person, command)

    def run_command(self, person: Person, command: Command) -> Outcome:
        """Run a learner's command on their engine (see :meth:`Sandbox.run_command`)."""
        return self._on(person, lambda s: s.run_command(person, command))

    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name``, on their engine."""
        return self._on(person, lambda s: s.container(person, name))

    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, on their engine."""
        return self._on(person, lambda s: s.containers(person))

    def container_names(self, person: Person) -> list[str]:
        """The names of the person's containers, on their engine."""
        return self._on(person, lambda s: s.container_names(person))

    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, on their engine."""
        return self._on(person, lambda s: s.volume(person, name))

    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person, on their engine."""
        return self._on(person, lambda s: s.volumes(person))

    def exec_capture(self, person: Person, name: str, argv: list[str], *,
                     timeout: float = 10.0) -> tuple[int, str] | None:
        """Run ``argv`` in the person's running container as the tutor (see :class:`Sandbox`)."""
        return self._on(person, lambda s: s.exec_capture(person, name, argv, timeout=timeout))

    def redis_get(self, person: Person, name: str, key: str) -> tuple[bool, str | None]:
        """Read ``key`` from the Redis in the person's container, on their engine."""
        return self._on(person, lambda s: s.redis_get(person, name, key))

    def network(self, person: Person, name: str) -> NetworkView | None:
        """The person's network called ``name``, on their engine."""
        return self._on(person, lambda s: s.network(person, name))

    def witness_http(self, person: Person, network: str, host: str, port: int,
                     path: str = "/") -> WitnessReport | None:
        """The tutor's own HTTP request on the person's network, on their engine."""
        return self._on(person, lambda s: s.witness_http(person, network, host, port, path))

    def witness_redis(self, person: Person, network: str, host: str,
                      key: str) -> WitnessReport | None:
        """The tutor's own Redis read on the person's network, on their engine."""
        return self._on(person, lambda s: s.witness_redis(person, network, host, key))
    def redis_witness(self, person: Person, name: str, key: str, target: str,
                      options: Mapping[str, str], *,
                      wait: float = LOAD_SECONDS) -> dict[str, Any]:
        """What the person's Redis container finds of ``key`` on its volume, by the witness."""
        return self._on(person, lambda s: s.redis_witness(person, name, key, target, options,
                                                          wait=wait))

    def container_file(self, person: Person, name: str, path: str) -> tuple[bool, str | None]:
        """Whether ``path`` exists in the person's container, and its text, on their engine."""
        return self._on(person, lambda s: s.container_file(person, name, path))

    def ending(self, person: Person, name: str) -> dict[str, Any] | None:
        """How the person's container ``name`` ended, on their engine."""
        return self._on(person, lambda s: s.ending(person, name))

    def read_workspace_file(self, person: Person, path: str) -> str | None:
        """The text of ``path`` in the person's workspace, read through their engine."""
        return self._on(person, lambda s: s.read_workspace_file(person, path))

    def image(self, person: Person, name: str) -> ImageView | None:
        """The person's own image ``name``, on their engine."""
        return self._on(person, lambda s: s.image(person, name))

    def image_run(self, person: Person, name: str, argv: list[str] | None = None,
                  *, timeout: float = WITNESS_SECONDS) -> tuple[int, str] | None:
        """Run the person's image as the tutor (a witness), on their engine."""
        return self._on(person, lambda s: s.image_run(person, name, argv, timeout=timeout))

    def image_path(self, person: Person, name: str, path: str) -> bool | None:
        """Whether ``path`` exists in the person's image, on their engine."""
        return self._on(person, lambda s: s.image_path(person, name, path))

    def write_workspace_file(self, person: Person, path: str, text: str) -> int:
        """Write ``path`` in the person's workspace, through their engine (``edit``)."""
        return self._on(person, lambda s: s.write_workspace_file(person, path, text))

    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove the person's containers and volumes (``reset``).

        When their engine is down nothing can be removed there: they are placed on a
        healthy engine instead, and start afresh on it (``(0, 0)`` removed).

        Raises:
            EngineUnavailable: Their engine is down and no healthy engine has room.
        """
        try:
            return self._on(person, lambda s: s.remove_all(person))
        except EngineDown:
            address = self.engine_for(person)
            moved = self.placements.move_learner(person.key, address, self.placeable(),
                                                 self.capacity)
            if moved is None:
                raise EngineUnavailable(FULL) from None
            return 0, 0

    def janitors(self) -> list[Janitor]:
        """What housekeeping lists and removes: one janitor per engine of the pool."""
        return [Janitor(sandbox) for sandbox in self.engines.values()]

    def ping(self) -> bool:
        """Whether every engine of the pool answers now."""
        return all(self.answers(address, fresh=True) for address in self.engines)

    def close(self) -> None:
        """Close every engine's connection (calls still running on a hung engine are not waited for)."""
        for runner in self._runners.values():
            runner.shutdown(wait=False, cancel_futures=True)
        for sandbox in self.engines.values():
            sandbox.close()


_satisfies: type[LearnerSandbox] = SandboxPool
"""mypy checks here that every method the pool forwards matches :class:`LearnerSandbox`."""

__all__ = ["DOWN", "DOWN_HINT", "FULL", "Placements", "SandboxPool", "socket_accepts"]
