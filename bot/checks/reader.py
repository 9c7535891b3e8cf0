"""What checks may read of a learner's engine: the engine-reader interface.

Checks depend on this :class:`typing.Protocol`, never on the sandbox class: the real
sandbox (every :class:`bot.sandbox.LearnerSandbox`) satisfies it, and so can anything else
that answers the same reads (a fake engine in a test, another engine kind later). Every
method reads; none changes the learner's objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bot.identity import Person
from bot.sandbox import Command, ContainerView, ImageView, NetworkView, VolumeView, WitnessReport


class EngineReader(Protocol):
    """The reads a check may make of one learner's corner of the engine.

    Each method may raise :class:`~bot.errors.EngineUnavailable` when the engine cannot
    be reached.
    """

    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name`` (their own name for it), or ``None``."""

    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, running or not."""

    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, or ``None``."""

    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person."""

    def exec_capture(
        self, person: Person, name: str, argv: list[str], *, timeout: float = ...
    ) -> tuple[int, str] | None:
        """Run ``argv`` in the person's running container as the tutor: (exit code, output).

        ``None`` when the container does not exist or is not running.
        """

    def redis_get(self, person: Person, name: str, key: str) -> tuple[bool, str | None]:
        """Read ``key`` from the Redis in the person's container: (reachable, value)."""

    def network(self, person: Person, name: str) -> NetworkView | None:
        """The person's network called ``name`` (its members and their names there), or ``None``."""

    def witness_http(self, person: Person, network: str, host: str, port: int,
                     path: str = "/") -> WitnessReport | None:
        """The tutor's own container on the person's ``network`` GETs ``path`` from ``host:port``.

        ``None`` when the person has no such network.
        """

    def witness_redis(self, person: Person, network: str, host: str,
                      key: str) -> WitnessReport | None:
        """The tutor's own container on the person's ``network`` reads ``key`` from ``host``'s Redis.

        ``None`` when the person has no such network.
        """

    def redis_witness(self, person: Person, name: str, key: str, target: str,
                      options: Mapping[str, str], *, wait: float = ...) -> dict[str, Any]:
        """What the Redis in the person's container ``name`` finds of ``key`` on its volume.

        Read by the tutor's own witness container, never inside the learner's: the volume
        mounted at ``target`` is loaded read-only with the container's ``redis-server``
        ``options`` that choose the files (:mod:`bot.sandbox.redis.witness`).
        """

    def container_file(self, person: Person, name: str, path: str) -> tuple[bool, str | None]:
        """Whether ``path`` exists in the person's container ``name``, and its text.

        Read through the engine's archive endpoint, never by running anything inside the
        container. The text is ``None`` for a folder or a link.
        """

    def ending(self, person: Person, name: str) -> dict[str, Any] | None:
        """How the person's stopped container ``name`` ended, or ``None`` for no such one.

        ``exit``, ``oom``, and the ``cause`` its log gives (permission denied, out of memory).
        """

    def vet(self, person: Person, command: Command) -> object:
        """Check ``command`` against the policy without any engine request.

        Raises:
            CommandRefused: The policy refuses it.
        """

    def read_workspace_file(self, person: Person, path: str) -> str | None:
        """The text of ``path`` in the person's workspace (what ``$(pwd)`` mounts), or ``None``.

        Read through the engine; ``None`` when it is missing, not a plain file, or behind a link.
        """

    def image(self, person: Person, name: str) -> ImageView | None:
        """The person's own image ``name`` (``app``, ``app:v1``), or ``None``."""

    def image_run(self, person: Person, name: str, argv: list[str] | None = None,
                  *, timeout: float = ...) -> tuple[int, str] | None:
        """Run the person's image as the tutor (a witness): (exit code, output), or ``None``."""

    def image_path(self, person: Person, name: str, path: str) -> bool | None:
        """Whether ``path`` exists in the person's image (``None``: no such image)."""


__all__ = ["EngineReader"]
