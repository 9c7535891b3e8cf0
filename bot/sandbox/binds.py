"""Bind mounts of the learner's workspace: re-checked on the host before the engine mounts."""

from __future__ import annotations

import os

from docker.models.containers import Container

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.base import SandboxBase
from bot.sandbox.naming import LABEL_NAME, Namespace


class BindsMixin(SandboxBase):
    """Keeps a bind mount inside the person's workspace up to the moment it is mounted."""

    def _workspace_writers(self, person: Person, ns: Namespace) -> list[str]:
        """Names of the person's running containers that can write in the workspace.

        Such a container could swap a folder of the workspace for a symbolic link
        between the tutor's check of a bind source and the engine's mount of it.
        """
        root = os.path.realpath(self.workspace(person))
        names = []
        for container in self._summaries(ns, all_=False):
            for mount in container.get("Mounts") or []:
                source = os.path.realpath(mount.get("Source") or "/")
                inside = source == root or source.startswith(root + os.sep)
                if mount.get("Type") == "bind" and mount.get("RW", True) and inside:
                    names.append((container.get("Labels") or {}).get(LABEL_NAME, ""))
                    break
        return names

    def _check_sub_folder_binds(self, person: Person, ns: Namespace, sources: list[str]) -> None:
        """Refuse binds of workspace sub-folders while a running container could race them.

        The workspace itself cannot be swapped (no container sees its parent), so
        ``-v $(pwd):/app`` is always fine; a sub-folder is re-checked on the host and
        is refused while another running container of the person can write in the
        workspace.

        Raises:
            CommandRefused: For a sub-folder that is (now) outside the workspace, or one
                that a running container could change.
        """
        root = os.path.realpath(self.workspace(person))
        subs = [s for s in sources if os.path.normpath(s) != root]
        if not subs:
            return
        # Writers first: once none runs, nothing can change the workspace until this
        # command (the person's commands run one at a time) has started its container.
        writers = self._workspace_writers(person, ns)
        if writers:
            raise CommandRefused(
                f"Your running container `{writers[0]}` can change your workspace, so a "
                "sub-folder of it cannot be mounted safely right now. Stop it first, or "
                "mount the whole workspace with `-v $(pwd):/path`.",
                option="-v",
            )
        for source in subs:
            real = os.path.realpath(source)
            if real != source or not real.startswith(root + os.sep):
                raise CommandRefused(
                    "A bind-mounted folder of this container is no longer a plain folder in "
                    "your workspace (a symbolic link replaced it), so the sandbox will not "
                    "mount it.",
                    option="-v",
                )

    def _check_binds_before_start(
        self, person: Person, ns: Namespace, container: Container
    ) -> str | None:
        """Re-check a container's bind mounts before the engine mounts them again.

        Returns:
            The refusal to show for this container, or ``None`` when it may start.
        """
        sources = [m.get("Source", "") for m in container.attrs.get("Mounts", [])
                   if m.get("Type") == "bind"]
        try:
            self._check_sub_folder_binds(person, ns, sources)
        except CommandRefused as refused:
            return f"Error: {container.labels.get(LABEL_NAME, '')}: {refused.message}"
        return None
