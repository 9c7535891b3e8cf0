"""Mount targets checked in a stopped container's own files, before the engine mounts them.

:func:`bot.sandbox.policy.mounts.check_nesting` keeps every mount out of every other mount,
so the folders above a mount target belong to the container's root filesystem: the
image (trusted: ``tests/engine/sandbox/test_sandbox_mount_targets.py`` walks the lesson images) and,
once the container has run, its writable layer, which the learner controls. A
learner's container can rename ``/opt`` and plant ``ln -s /proc/sys /opt`` while its
``--tmpfs /opt/kernel`` is mounted; on the next ``start`` the runtime would follow the
link and mount the tmpfs over ``/proc/sys/kernel``.

So before a container that has run is started again, :func:`linked_targets` asks the
engine about each folder on the way to each target (``HEAD /containers/{id}/archive``,
which does not follow the last component). A stopped container's layer cannot change
(nothing runs in it; no other container sees it), so the answer holds until the start.
``restart`` must therefore be ``stop``, this check, then ``start``.

The workspace is a volume in the engine (:mod:`bot.sandbox.workspace.volume`): no host
folder is bound, so nothing on the bot's host is checked or walked here. A created or
stopped container is checked with :func:`start_refusal` right before the engine starts
it (after ``create``, at ``start``, and in ``restart``).
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Iterable
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from bot.sandbox.engine.recall import SafeTargets
from bot.sandbox.policy.naming import LABEL_NAME
from bot.sandbox.workspace.archives import close_stream, entries

SYMLINK_BIT = 1 << 27
"""Go's ``os.ModeSymlink`` in the engine's path stat."""

DIR_BIT = 1 << 31
"""Go's ``os.ModeDir`` in the engine's path stat."""


def path_stat(api: docker.APIClient, container_id: str, path: str) -> dict[str, Any] | None:
    """The engine's stat of ``path`` in a container (the last component not followed).

    Returns:
        ``{"name", "size", "mode", "mtime", "linkTarget"}``, or ``None`` when the path
        does not exist.

    Raises:
        docker.errors.APIError: The engine refused for another reason.
    """
    url = api._url("/containers/{0}/archive", container_id)
    response = api.head(url, params={"path": path})
    if response.status_code == 404:
        return None
    api._raise_for_status(response)
    header = response.headers.get("X-Docker-Container-Path-Stat", "")
    stat: dict[str, Any] = json.loads(base64.b64decode(header)) if header else {}
    return stat


def ancestors(target: str) -> list[str]:
    """``/a``, ``/a/b`` and ``/a/b/c`` for the target ``/a/b/c``."""
    parts = [p for p in posixpath.normpath(target).split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def linked_targets(api: docker.APIClient, container_id: str,
                   targets: Iterable[str]) -> list[str]:
    """The mount targets of a stopped container reached through a symbolic link.

    Each folder on the way to each target, and the target itself, is checked in the
    container's own files: a link anywhere on the way could send the mount onto
    ``/proc``, ``/sys`` or ``/dev``. A path that does not exist is fine (the runtime
    creates plain folders).

    Args:
        api: The engine's low-level client.
        container_id: A container that is not running.
        targets: Its mount targets (volumes, tmpfs, the workspace).

    Returns:
        The targets to refuse, in the order given (empty when the container may start).
    """
    bad = []
    for target in targets:
        for path in ancestors(target):
            stat = path_stat(api, container_id, path)
            if stat is None:
                break  # missing: everything below is created by the runtime as folders
            if stat.get("linkTarget") or int(stat.get("mode", 0)) & SYMLINK_BIT:
                bad.append(target)
                break
    return bad


EMPTY_READ_LIMIT = 64 * 1024
"""The most of a folder's archive read to tell whether it is empty (more: it is not)."""


def folder_empty(api: docker.APIClient, container_id: str, path: str) -> bool:
    """Whether ``path`` in a container's own files holds nothing (a missing path: yes).

    Read through the engine's archive endpoint (nothing runs in the container): empty
    when the archive holds the folder alone. A file, a link, or a folder whose archive
    passes :data:`EMPTY_READ_LIMIT` bytes is not empty.

    Raises:
        docker.errors.APIError: The engine refused for another reason than a missing path.
    """
    try:
        chunks, stat = api.get_archive(container_id, path)
    except docker.errors.NotFound:
        return True
    if stat.get("linkTarget") or not int(stat.get("mode", 0)) & DIR_BIT:
        close_stream(chunks)
        return False
    found, complete = entries(chunks, EMPTY_READ_LIMIT)
    return complete and not found


def mount_targets(attrs: dict[str, Any]) -> list[str]:
    """Every mount target of a container, from its ``inspect`` attributes."""
    targets = [str(m.get("Destination", "")) for m in attrs.get("Mounts") or []]
    targets += list(((attrs.get("HostConfig") or {}).get("Tmpfs") or {}).keys())
    return [t for t in targets if t.startswith("/")]


def start_refusal(api: docker.APIClient, container: Container,
                  fresh: SafeTargets | None = None) -> str | None:
    """The refusal for a container that is not running, or ``None`` when it may start.

    Its mounts are checked in its own files (the engine's path stat, links not
    followed); a stopped container's files cannot change until it starts. ``fresh``:
    the container was just created from its image and never ran, so top-level targets
    already found safe in that image are not asked again (:class:`SafeTargets`).
    """
    targets = mount_targets(container.attrs)
    image_id = str(container.attrs.get("Image") or "")
    if fresh is None or not image_id:
        bad = linked_targets(api, container.id, targets)
    else:
        top = SafeTargets.top_level(targets)
        bad = linked_targets(api, container.id, fresh.unknown(image_id, targets))
        fresh.remember(image_id, [t for t in top if t not in bad])
    return link_refusal(container, bad[0]) if bad else None


def link_refusal(container: Container, target: str) -> str:
    """The refusal of a container whose mount ``target`` lies behind a symbolic link."""
    return (
        f"Error: {container.labels.get(LABEL_NAME, '')}: the mount target `{target}` lies "
        "behind a symbolic link in the container's own files (it could land on the "
        "kernel's folders), so the sandbox will not start it. Remove the container and "
        "run a new one."
    )
