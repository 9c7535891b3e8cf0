"""Mount targets re-checked in a container's own files before every start.

The workspace is a volume in the engine (:mod:`bot.sandbox.workspace.volume`): no host
folder is bound, so nothing on the bot's host is checked or walked here. What a
container *can* change between two starts is its own writable layer: a folder above a
mount target replaced by a link to ``/proc/sys`` would carry the mount there. So a
created or stopped container is checked with :func:`bot.sandbox.engine.targets.linked_targets`
right before the engine starts it (after ``create``, at ``start``, and in ``restart``,
which is stop, check, start).
"""

from __future__ import annotations

from docker.models.containers import Container

from bot.sandbox.engine.client import SandboxBase
from bot.sandbox.engine.targets import linked_targets, mount_targets
from bot.sandbox.policy.naming import LABEL_NAME


class BindsMixin(SandboxBase):
    """Refuses to start a container whose mount targets lie behind a link."""

    def _linked_targets_refusal(self, container: Container) -> str | None:
        """The refusal for a container that is not running, or ``None`` when it may start.

        Its mounts are checked in its own files (the engine's path stat, links not
        followed); a stopped container's files cannot change until it starts.
        """
        bad = linked_targets(self.client.api, container.id, mount_targets(container.attrs))
        if not bad:
            return None
        return (
            f"Error: {container.labels.get(LABEL_NAME, '')}: the mount target `{bad[0]}` lies "
            "behind a symbolic link in the container's own files (it could land on the "
            "kernel's folders), so the sandbox will not start it. Remove the container and "
            "run a new one."
        )
