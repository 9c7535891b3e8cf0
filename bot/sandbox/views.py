"""Plain data about a learner's engine objects, as the checks and the tutor see them.

These classes never expose engine names: everything is in the learner's own names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATED_VOLUMES = "created_volumes"
"""The facts key of the volumes a ``run`` created (``[{"name", "uid"}]``); the checks'
observer (:mod:`bot.checks.observe`) reads the same key."""

FRESH_VOLUMES = "fresh_volumes"
"""The facts key of the unique ids of the volumes a ``run -d`` created that were still
empty as its container started: the image holds nothing at their targets, so the engine
copied nothing into them (``[uid]``). The checks' observer reads the same key."""


@dataclass(frozen=True)
class MountView:
    """One mount of a container.

    Attributes:
        kind: ``volume``, ``bind`` or ``tmpfs``.
        name: The learner's volume name (``""`` for bind and tmpfs).
        uid: The volume's unique id (tells a re-created volume from the original).
        target: The path inside the container.
        anonymous: The volume was created for the container, without a name.
    """

    kind: str
    name: str
    uid: str
    target: str
    anonymous: bool = False

    def as_fact(self) -> dict[str, Any]:
        """A JSON-friendly form, for the command log."""
        return {
            "kind": self.kind, "name": self.name, "uid": self.uid, "target": self.target,
            "anonymous": self.anonymous,
        }


@dataclass(frozen=True)
class ContainerView:
    """A learner's container.

    Attributes:
        id: The engine's full container id.
        name: The learner's name for it.
        image: The image the learner asked for (``redis``).
        running: Whether it runs now.
        status: The engine's status word (``running``, ``exited``, ...).
        mounts: Its mounts.
        command: Its entrypoint and command, as a list.
        exit_code: The exit status of its last run (0 while it runs or never ran).
        restart_count: How many times the engine restarted it by its restart policy
            since it was last started by hand (``docker start``/``restart`` reset it).
        restart_policy: Its restart policy's name (``no``, ``on-failure``, ``always``,
            ``unless-stopped``).
        env: Its environment, as ``NAME=value`` items (the image's and ``-e``'s).
    """

    id: str
    name: str
    image: str
    running: bool
    status: str
    mounts: tuple[MountView, ...] = ()
    command: tuple[str, ...] = ()
    exit_code: int = 0
    restart_count: int = 0
    restart_policy: str = "no"
    env: tuple[str, ...] = ()

    def mount_at(self, target: str) -> MountView | None:
        """The mount at ``target``, if any."""
        return next((m for m in self.mounts if m.target == target), None)

    def as_fact(self) -> dict[str, Any]:
        """A JSON-friendly form, for the command log."""
        return {
            "id": self.id, "name": self.name, "image": self.image,
            "mounts": [m.as_fact() for m in self.mounts], "command": list(self.command),
        }


@dataclass(frozen=True)
class VolumeView:
    """A learner's volume."""

    name: str
    uid: str
    anonymous: bool = False


@dataclass(frozen=True)
class NetworkView:
    """A learner's network: its members under their learner names, and its own labels.

    Attributes:
        name: The learner's name for it (``appnet``, ``app_default``).
        members: Each container on it (learner name) to the names it answers to there
            (its own name and its aliases).
        labels: Its labels other than the sandbox's own (Compose's, for a project network).
    """

    name: str
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WitnessReport:
    """What the tutor's own container saw when it asked a learner's service itself.

    Attributes:
        exit_code: The witness's exit status (non-zero: it could not reach the service).
        output: What it printed (the page, or the value Redis answered), capped.
    """

    exit_code: int
    output: str


@dataclass
class Outcome:
    """What one learner command produced.

    Attributes:
        exit_code: The status the docker CLI would exit with.
        output: What the docker CLI would print (stdout and stderr), capped.
        cut: How many characters of output were cut to stay under the cap.
        notes: Messages from the tutor about the command (timeouts, tips).
        facts: Structured record of what happened, for checks and the command log.
    """

    exit_code: int
    output: str = ""
    cut: int = 0
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageView:
    """One of a learner's images as checks see it (the learner's names, no engine names).

    Attributes:
        id: The engine's image id (``sha256:...``).
        tags: The learner's names for it (``app:latest``).
        size: Bytes, as the engine sizes it.
        cmd: ``Config.Cmd``.
        entrypoint: ``Config.Entrypoint``.
        env: ``Config.Env``.
        workdir: ``Config.WorkingDir``.
        history: Each layer's ``CreatedBy``, newest first (the tutor's own steps left out).
    """

    id: str
    tags: tuple[str, ...]
    size: int
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    env: tuple[str, ...]
    workdir: str
    history: tuple[str, ...]
