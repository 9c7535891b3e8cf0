"""Names and labels of a learner's workspace in the engine, and the refusal of sub-folder binds.

What the rest of the sandbox needs to recognise a workspace (the sandbox's mounts, the
disk watch, the janitor) without the engine calls of :mod:`bot.sandbox.workspace.volume`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import CommandRefused
from bot.sandbox.policy.naming import Namespace

LABEL_WORKSPACE = "docker-tutor.workspace"
"""On a workspace volume: the learner hash it belongs to (instead of the learner label)."""

LABEL_HELPER = "docker-tutor.workspace-helper"
"""On a helper container: the learner hash whose workspace it mounts."""

SUB_FOLDER_REASON = (
    "only your whole workspace can be mounted here (`-v $(pwd):/app`); to work in a "
    "sub-folder, mount the workspace and add `-w /app/{sub}`."
)


def volume_name(ns: Namespace) -> str:
    """The engine name of a learner's workspace volume.

    ``<prefix>-<learner>-.workspace``: no learner name starts with a dot, so no learner
    volume can have this name, and the engine's name rewriting shows it as ``.workspace``.
    """
    return f"{ns.prefix}-{ns.learner}-.workspace"


def is_workspace_mount(ns: Namespace, mount: Mapping[str, Any]) -> bool:
    """Whether a container's mount (from ``inspect``'s ``Mounts``) is the learner's workspace."""
    return mount.get("Type") == "volume" and mount.get("Name") == volume_name(ns)


def refuse_sub_folder(option: str, sub: str) -> CommandRefused:
    """The refusal for a bind of a workspace sub-folder (``-v $(pwd)/sub:/m``)."""
    return CommandRefused(f"`{option} $(pwd)/{sub}`: " + SUB_FOLDER_REASON.format(sub=sub),
                          option=option)
