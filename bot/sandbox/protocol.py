"""The one seam between the tutor and the sandbox: :class:`LearnerSandbox`.

The tutor (:class:`bot.tutor.core.Tutor`, :class:`bot.tutor.hands_on.HandsOn`), the
housekeeping and the lesson self-test type against this :class:`typing.Protocol`, never
against a class. Two classes satisfy it, and mypy checks that each does (an assignment
to ``type[LearnerSandbox]`` at the end of their modules):

* :class:`bot.sandbox.engine.sandbox.Sandbox`: one engine;
* :class:`bot.sandbox.pool.sandbox_pool.SandboxPool`: several engines, each learner
  routed to their own (every method below is forwarded).

``tests/fake_sandbox.py`` satisfies it too, in memory, so the tutor's logic is tested
without an engine. The checks read through the narrower
:class:`bot.checks.reader.EngineReader`, which every :class:`LearnerSandbox` is.

Every method may raise :class:`~bot.errors.EngineUnavailable` (or its
:class:`~bot.errors.EngineDown`) when the engine cannot be reached; nothing else of the
engine escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bot.identity import Person
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import (
    ContainerView,
    ImageView,
    NetworkView,
    Outcome,
    VolumeView,
    WitnessReport,
)

if TYPE_CHECKING:
    from bot.sandbox.pool.janitor import Janitor


class EngineReader(Protocol):
    """What the tutor and the checks read of a learner's corner of the engine; nothing changes.

    Checks depend on this, never on a sandbox class: every :class:`LearnerSandbox` is one,
    and so is anything else that answers the same reads (a fake engine in a test). Each
    method may raise :class:`~bot.errors.EngineUnavailable`.
    """

    def vet(self, person: Person, command: Command) -> object:
        """Check every value of ``command`` against the policy; no engine is asked.

        Raises:
            CommandRefused: The policy refuses it (with a one-line reason).
        """

    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name`` (their own name for it), or ``None``."""

    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, running or not."""

    def container_names(self, person: Person) -> list[str]:
        """The names of every container of the person, sorted (no container is read)."""

    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, or ``None``."""

    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person."""

    def exec_capture(
        self, person: Person, name: str, argv: list[str], *, timeout: float = 10.0
    ) -> tuple[int, str] | None:
        """Run ``argv`` in the person's running container as the tutor: (exit code, output).

        ``None`` when the container does not exist, is not running, or the exec fails.
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
        """What the Redis in the person's container finds of ``key`` on its volume at ``target``.

        Read by the tutor's own witness container from the volume, read-only; nothing runs
        in the learner's container (:mod:`bot.sandbox.redis.witness`).
        """

    def container_file(self, person: Person, name: str, path: str) -> tuple[bool, str | None]:
        """Whether ``path`` exists in the person's container, and its text (a file's only).

        Through the engine's archive endpoint; nothing runs inside the container.
        """

    def ending(self, person: Person, name: str) -> dict[str, Any] | None:
        """How the person's container ended: ``exit``, ``oom``, ``cause`` (from its log)."""

    def read_workspace_file(self, person: Person, path: str) -> str | None:
        """The text of ``path`` in the person's workspace, or ``None`` (missing, not a file).

        Raises:
            UsageError: For a path that is not a workspace path.
        """

    def image(self, person: Person, name: str) -> ImageView | None:
        """The person's own image ``name`` (``app``, ``app:v1``), or ``None``."""

    def image_run(self, person: Person, name: str, argv: list[str] | None = None,
                  *, timeout: float = ...) -> tuple[int, str] | None:
        """Run the person's image as the tutor (a witness): (exit code, output), or ``None``."""

    def image_path(self, person: Person, name: str, path: str) -> bool | None:
        """Whether ``path`` exists in the person's image (``None``: no such image)."""



class LearnerSandbox(EngineReader, Protocol):
    """Where learners' docker commands run, and what the tutor reads and changes there."""

    # -- the learner's commands -----------------------------------------------------------

    def run_command(self, person: Person, command: Command) -> Outcome:
        """Run a parsed learner command and return what the docker CLI would show.

        Raises:
            CommandRefused: The policy refused it (nothing reached the engine).
            QuotaExceeded: A quota would be exceeded.
            EngineUnavailable: The engine could not be reached.
        """

    # -- what the tutor changes besides commands ------------------------------------------

    def write_workspace_file(self, person: Person, path: str, text: str) -> int:
        """Write ``text`` to ``path`` in the person's workspace (``edit``); the bytes written.

        Raises:
            UsageError: A bad path or text, or a link, folder or file in the way.
        """

    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove every container and volume of the person (``reset``): how many of each."""

    # -- plumbing -------------------------------------------------------------------------

    def namespace(self, person: Person) -> Namespace:
        """The person's namespace on the engine (the same on every engine of a pool)."""

    def engine_address(self, person: Person) -> str:
        """The engine the person's commands go to, for the operators' log (no engine call)."""

    def janitors(self) -> list[Janitor]:
        """What housekeeping lists and removes: one janitor per engine."""

    def ping(self) -> bool:
        """Whether the engine (every engine of a pool) answers."""

    def close(self) -> None:
        """Close the engine connections."""


__all__ = ["EngineReader", "LearnerSandbox"]
