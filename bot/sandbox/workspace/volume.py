"""A learner's workspace kept in the engine, as a volume: no host path is ever walked.

The workspace is what ``$(pwd)`` means in ``docker run -v $(pwd):/app``, and what the
tutor word ``edit FILE TEXT`` writes ("on the host"). It used to be a folder on the
bot's host, bind-mounted into containers; a learner's running container could swap a
folder in it for a symbolic link between the bot's check and its use, and make the bot
create folders outside every workspace (issue 11, finding 1). It also needed the
engine and the bot on one machine.

Here the workspace is a named volume in the engine, one per learner:

- ``-v $(pwd):/app`` becomes a *volume* mount of it (:meth:`EngineWorkspace.mount_spec`,
  with ``nocopy`` so it behaves like a bind: an empty workspace stays empty), shown to
  the learner as their workspace bind.
- ``edit`` writes through the engine (:meth:`EngineWorkspace.write`): a tar archive is
  put into a helper container that is created, never started, and mounts the volume.
  The engine unpacks archives chrooted into that container's root, so a link planted
  in the workspace can at worst send the write into the throw-away helper's own files.
- checks read through the engine the same way (:meth:`EngineWorkspace.read`); a link
  reads as nothing, since the engine does not follow the last component.
- sub-folder binds (``-v $(pwd)/sub:/m``) are refused
  (:func:`~bot.sandbox.workspace.names.refuse_sub_folder`): Docker 20.10 has no volume
  sub-path, and making one from the volume's folder on the engine's host would walk a
  path that the learner's containers can change.

The volume and the helpers carry the deployment's namespace label (so housekeeping and
the test purge find them) but not the learner label: no learner view (``docker volume
ls``, ``docker ps -a``) and no quota counts them, and no learner name can reach them.
The volume lives under the engine's data root (``/var/lib/docker``, mode 0710, root),
so a setuid file that container root makes in it is out of reach of other host users.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import Mount

from bot.errors import EngineUnavailable, UsageError
from bot.sandbox.engine.targets import path_stat
from bot.sandbox.output.formatting import parse_time
from bot.sandbox.policy.naming import LABEL_MANAGED, LABEL_NAMESPACE, Namespace
from bot.sandbox.policy.workspace_paths import check_text, clean_path
from bot.sandbox.workspace.archives import Entry, entries, file_archive, first_file
from bot.sandbox.workspace.context import CONTEXT_BYTES, Context, read_context
from bot.sandbox.workspace.names import LABEL_HELPER, LABEL_WORKSPACE, volume_name

HELPER_IMAGE = "busybox:latest"
"""The image helper containers are created from (a lesson image; never started)."""

ROOT = "/ws"
"""Where a helper container mounts the workspace volume."""

READ_LIMIT = 64 * 1024
"""The most bytes :meth:`EngineWorkspace.read` returns."""

LISTING_BYTES = 8 * 1024 * 1024
"""The most archive bytes :meth:`EngineWorkspace.listing` reads before it stops."""

HELPER_GRACE_SECONDS = 120.0
"""A helper older than this is a leftover of a crash (an operation takes well under 1 s)."""

MODE_TYPE = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)
"""Go's ``os.ModeType``: the bits of the engine's path stat that say "not a regular file"."""
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27

DEFAULT_HOST_LIMITS: Mapping[str, Any] = {
    "network_mode": "none",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "privileged": False,
    "ipc_mode": "private",
    "pids_limit": 16,
    "mem_limit": 64 * 1024 * 1024,
    "restart_policy": {"Name": "no"},
}
"""Host settings of a helper when the sandbox gives none (it is never started anyway)."""

@dataclass(frozen=True)
class WorkspaceRecord:
    """A workspace volume as housekeeping sees it.

    Attributes:
        learner: The learner hash.
        volume: The engine name of the volume.
        created: When the engine created it.
    """

    learner: str
    volume: str
    created: datetime | None


class EngineWorkspace:
    """One learner's workspace as a volume in the engine.

    Args:
        client: The docker-py client of the sandbox engine.
        namespace: The learner's namespace.
        host_limits: Host settings for helper containers (the sandbox's own, so that an
            audit of the namespace finds them inside the policy); never started.
        helper_image: The image helpers are created from.
    """

    def __init__(self, client: docker.DockerClient, namespace: Namespace, *,
                 host_limits: Mapping[str, Any] | None = None,
                 helper_image: str = HELPER_IMAGE) -> None:
        self.client = client
        self.ns = namespace
        self.host_limits = dict(host_limits if host_limits is not None else DEFAULT_HOST_LIMITS)
        self.helper_image = helper_image
        self.name = volume_name(namespace)

    # -- the volume --------------------------------------------------------------------------

    def labels(self) -> dict[str, str]:
        """The labels of the workspace volume."""
        return {LABEL_MANAGED: "1", LABEL_NAMESPACE: self.ns.prefix,
                LABEL_WORKSPACE: self.ns.learner}

    def ensure(self) -> str:
        """Create the workspace volume if it is missing; return its engine name.

        Raises:
            EngineUnavailable: The engine failed, or a volume of that name is not the
                tutor's (its labels differ).
        """
        with _engine():
            try:
                volume: Volume = self.client.volumes.get(self.name)
            except docker.errors.NotFound:
                volume = self.client.volumes.create(name=self.name, labels=self.labels())
        labels = volume.attrs.get("Labels") or {}
        if any(labels.get(k) != v for k, v in self.labels().items()):
            raise EngineUnavailable(
                "Your workspace could not be prepared on the engine (a volume of its name "
                "is not the tutor's). Tell your instructor."
            )
        return self.name

    def exists(self) -> bool:
        """Whether the workspace volume exists."""
        with _engine():
            try:
                self.client.volumes.get(self.name)
            except docker.errors.NotFound:
                return False
        return True

    def mount_spec(self, target: str, read_only: bool = False) -> Mount:
        """The engine mount that ``-v $(pwd):TARGET`` becomes (the volume is ensured).

        ``nocopy``: the engine does not copy the image's files at ``target`` into an
        empty workspace, as with a bind mount.
        """
        self.ensure()
        return Mount(target, self.name, type="volume", read_only=read_only, no_copy=True)

    def remove(self) -> bool:
        """Remove the workspace volume and any helper left behind.

        Returns:
            ``False`` when a container still uses the volume (remove those first).
        """
        with _engine():
            for helper in self.client.containers.list(
                all=True, filters={"label": [f"{LABEL_NAMESPACE}={self.ns.prefix}",
                                             f"{LABEL_HELPER}={self.ns.learner}"]}):
                _remove_quietly(helper)
            try:
                self.client.api.remove_volume(self.name)
            except docker.errors.NotFound:
                return True
            except docker.errors.APIError as exc:
                if exc.status_code == 409:
                    return False
                raise
        return True

    # -- files -------------------------------------------------------------------------------

    @contextmanager
    def _helper(self, *, writable: bool) -> Iterator[Container]:
        """A created, never started container that mounts the workspace at :data:`ROOT`."""
        self.ensure()
        labels = {LABEL_MANAGED: "1", LABEL_NAMESPACE: self.ns.prefix,
                  LABEL_HELPER: self.ns.learner}
        with _engine():
            try:
                helper: Container = self.client.containers.create(
                    self.helper_image, command=["true"],
                    name=f"{self.ns.prefix}-{self.ns.learner}-.ws-{secrets.token_hex(4)}",
                    labels=labels, read_only=True,
                    mounts=[Mount(ROOT, self.name, type="volume", read_only=not writable,
                                  no_copy=True)],
                    **self.host_limits,
                )
            except docker.errors.ImageNotFound as exc:
                raise EngineUnavailable(
                    f"The workspace helper image {self.helper_image} is missing on the engine."
                ) from exc
        try:
            yield helper
        finally:
            with _engine():
                _remove_quietly(helper)

    def write(self, path: str, text: str) -> int:
        """Write ``text`` (plus a final newline) to ``path`` in the workspace.

        Folders on the way are made. A link or a non-folder on the way, or a folder or
        link where the file should be, is refused rather than replaced. Nothing on the
        bot's host is touched: the engine unpacks the file inside a helper container.

        Args:
            path: A path inside the workspace (``notes.txt``, ``src/app.py``).
            text: The new content (plain text, see :func:`bot.sandbox.policy.workspace_paths.check_text`).

        Returns:
            The bytes written.

        Raises:
            UsageError: For a bad path or text, or something in the way.
            EngineUnavailable: The engine failed.
        """
        path = clean_path(path)
        check_text(text)
        data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
        *folders, _ = path.split("/")
        with self._helper(writable=True) as helper:
            missing = self._check_way(helper, path, folders)
            archive = file_archive(path, data, missing, time.time())
            api = self.client.api
            with _engine():
                response = api._put(
                    api._url("/containers/{0}/archive", helper.id),
                    params={"path": ROOT, "noOverwriteDirNonDir": "1"},
                    data=archive,
                )
            if response.status_code >= 400:
                raise _in_the_way(path)
        return len(data)

    def _folders_missing(self, helper: Container, folders: list[str]) -> list[str] | None:
        """The folders on the way still to make, or ``None`` if a non-folder is in the way.

        Each existing folder is checked with the engine's stat, which does not follow
        the last component: a link on the way is "in the way", never followed.
        """
        api = self.client.api
        for i in range(len(folders)):
            folder = "/".join(folders[: i + 1])
            with _engine():
                stat = path_stat(api, helper.id, f"{ROOT}/{folder}")
            if stat is None:
                return ["/".join(folders[: j + 1]) for j in range(i, len(folders))]
            if int(stat.get("mode", 0)) & MODE_TYPE != MODE_DIR:
                return None
        return []

    def _check_way(self, helper: Container, path: str, folders: list[str]) -> list[str]:
        """The folders of ``path`` still to make; refuse anything but folders on the way."""
        missing = self._folders_missing(helper, folders)
        if missing is None:
            raise _in_the_way(path)
        if not missing:
            with _engine():
                stat = path_stat(self.client.api, helper.id, f"{ROOT}/{path}")
            if stat is not None and int(stat.get("mode", 0)) & MODE_TYPE:
                raise _in_the_way(path)
        return missing

    def read(self, path: str, limit: int = READ_LIMIT) -> str | None:
        """The text of ``path`` in the workspace (at most ``limit`` bytes), or ``None``.

        ``None`` when it is missing, a link, a folder or another non-file, or when a
        link or a file stands on the way to it.

        Raises:
            UsageError: For a path that is not a workspace path.
            EngineUnavailable: The engine failed.
        """
        path = clean_path(path)
        *folders, _ = path.split("/")
        with self._helper(writable=False) as helper, _engine():
            if self._folders_missing(helper, folders) != []:
                return None  # a folder on the way is missing, or is a link or a file
            try:
                chunks, stat = self.client.api.get_archive(helper.id, f"{ROOT}/{path}")
            except docker.errors.NotFound:
                return None
            if int(stat.get("mode", 0)) & MODE_TYPE or stat.get("linkTarget"):
                return None
            raw = first_file(chunks, limit)
        return None if raw is None else raw.decode("utf-8", "replace")

    def listing(self, max_bytes: int = LISTING_BYTES) -> tuple[list[Entry], bool]:
        """What the workspace holds, read through the engine.

        Args:
            max_bytes: Stop reading the engine's archive after this many bytes (file
                contents travel in it too).

        Returns:
            The entries seen (sorted) and whether the listing is complete.
        """
        with self._helper(writable=False) as helper, _engine():
            chunks, _ = self.client.api.get_archive(helper.id, f"{ROOT}/.")
            return entries(chunks, max_bytes)

    def build_context(self, max_bytes: int = CONTEXT_BYTES) -> Context:
        """The workspace as a build context (``docker build .``), read through the engine.

        Raises:
            CommandRefused: The workspace is over the context's caps.
            EngineUnavailable: The engine failed.
        """
        with self._helper(writable=False) as helper, _engine():
            chunks, _ = self.client.api.get_archive(helper.id, f"{ROOT}/.")
            return read_context(chunks, max_bytes)


# -- housekeeping -----------------------------------------------------------------------------


def list_workspaces(client: docker.DockerClient, prefix: str) -> list[WorkspaceRecord]:
    """Every workspace volume of a deployment (for the reaper and reconciliation)."""
    with _engine():
        found: list[Volume] = client.volumes.list(
            filters={"label": [f"{LABEL_NAMESPACE}={prefix}", LABEL_WORKSPACE]})
    records = []
    for volume in found:
        labels = volume.attrs.get("Labels") or {}
        if labels.get(LABEL_NAMESPACE) != prefix or labels.get(LABEL_MANAGED) != "1":
            continue
        records.append(WorkspaceRecord(labels.get(LABEL_WORKSPACE, ""), volume.name,
                                       parse_time(volume.attrs.get("CreatedAt", ""))))
    return records


def remove_stale_helpers(client: docker.DockerClient, prefix: str,
                         older_than: float = HELPER_GRACE_SECONDS) -> int:
    """Remove helper containers older than ``older_than`` seconds (a crash's leftovers).

    Returns:
        How many were removed.
    """
    now = datetime.now(UTC)
    removed = 0
    with _engine():
        helpers: list[Container] = client.containers.list(
            all=True, filters={"label": [f"{LABEL_NAMESPACE}={prefix}", LABEL_HELPER]})
        for helper in helpers:
            created = parse_time(helper.attrs.get("Created", ""))
            if created is not None and (now - created).total_seconds() > older_than:
                removed += _remove_quietly(helper)
    return removed


# -- plumbing ---------------------------------------------------------------------------------


@contextmanager
def _engine() -> Iterator[None]:
    """Connection-level failures become :class:`EngineUnavailable`."""
    try:
        yield
    except docker.errors.APIError:
        raise
    except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
        raise EngineUnavailable(
            "The Docker engine did not answer; your work is safe. Try again in a moment."
        ) from exc


def _remove_quietly(container: Container) -> int:
    """Remove a helper; ``0`` when it is already gone or being removed."""
    try:
        container.remove(force=True, v=False)
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # a removal already in progress
            return 0
        raise
    return 1


def _in_the_way(path: str) -> UsageError:
    return UsageError(
        f"`edit` could not write `{path}` in your workspace: a link, a folder or another "
        "file is in the way. Pick another name."
    )
