"""The sandbox's base: the engine client, the learner's own objects, and vetting a command.

Every verb part (``containers``, ``listing``, ``run``, ``execs``, ``volumes``,
``inspection``) builds on :class:`SandboxBase` alone, as docker-py's API mixins build on
its client, never on another part: what two families share (finding, creating and
removing the learner's objects, the quotas) is here. :mod:`bot.sandbox.engine.sandbox`
composes the parts into :class:`~bot.sandbox.engine.sandbox.Sandbox`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.volumes import Volume

from bot.config import Settings
from bot.errors import EngineUnavailable, QuotaExceeded
from bot.identity import Person
from bot.sandbox.disk.storage import LayerLimit
from bot.sandbox.disk.watch import DiskWatch
from bot.sandbox.engine import request_counts as meter
from bot.sandbox.engine.limits import CAPABILITIES, host_limits, pids_limit
from bot.sandbox.engine.overtime import Overtime
from bot.sandbox.engine.recall import (
    EmptyTargets,
    Identities,
    ImageFacts,
    LineLooks,
    SafeTargets,
)
from bot.sandbox.engine.translate import UNREACHABLE, boundary, engine_calls
from bot.sandbox.engine.unix_socket import mend
from bot.sandbox.engine.vetting import Plan, vet_command
from bot.sandbox.engine.wire import DockerPyCalls, EngineCalls, Wire
from bot.sandbox.policy import naming
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy.naming import (
    LABEL_ANONYMOUS,
    LABEL_NAME,
    LABEL_UID,
    Namespace,
    owned,
    volume_records,
)
from bot.sandbox.policy.parser import Command
from bot.sandbox.pool.addresses import engine_environment
from bot.sandbox.views import ContainerView, MountView
from bot.sandbox.workspace.names import is_workspace_mount
from bot.sandbox.workspace.volume import EngineWorkspace

mend()  # docker-py's unix connect closes its socket when it fails (see unix_socket)

NOT_FOUND = "Error response from daemon: No such container: {}\n"
"""The docker CLI's answer for a container reference that matches nothing of the learner's."""

_HEX = re.compile(r"^[0-9a-f]{1,64}$")
_ENGINE_PATH = re.compile(r"/[^\s\"']*/[0-9a-f]{64}(?:-init)?(?:/(?:merged|diff|work))?")
"""A path in the engine's own storage (``/var/lib/docker/overlay2/<64 hex>/merged``)."""


def learner_name(ns: Namespace, container: Container) -> str:
    """The learner's name for their container: its engine name, less the namespace.

    The name label records the name given at creation; ``docker rename`` changes the
    engine name only (labels cannot change), so the engine name is read first.
    """
    return ns.learner_name(container.name or "") or container.labels.get(LABEL_NAME, "")


class SandboxBase:
    """The engine connection, the learner's namespace, and lookups confined to it.

    Args:
        settings: Limits, the engine address, the workspaces folder, the name prefix.
        allowed_images: Image names learners may run (``redis``, ``busybox``); ``None``
            allows every image that exists locally (for tests of the sandbox alone).
    """

    def __init__(self, settings: Settings, allowed_images: Iterable[str] | None = None) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.allowed_images = frozenset(allowed_images) if allowed_images is not None else None
        self._client: docker.DockerClient | None = None
        self._calls: EngineCalls | None = None
        self._client_lock = threading.Lock()
        self._later: dict[str, list[str]] = {}
        self._later_lock = threading.Lock()
        self._overtime = Overtime()
        self._disk_watch = DiskWatch(self)
        self._layer_limit = LayerLimit(settings.namespace, self.limits.disk_bytes)
        self._image_facts = ImageFacts()  # what `run` reads of images (bot.sandbox.engine.recall)
        self._safe_targets = SafeTargets()
        self._empty_targets = EmptyTargets()
        self._looks = LineLooks()  # the tutor's reads, once per line (bot.sandbox.engine.recall)
        self._identities = Identities()  # containers' unchanging facts, line to line (same)

    # -- notes for a learner's next command -------------------------------------------------

    def _tell_later(self, ns: Namespace, note: str) -> None:
        """Keep ``note`` for the reply to the learner's next command (said once)."""
        with self._later_lock:
            notes = self._later.setdefault(ns.learner, [])
            if note not in notes:
                notes.append(note)

    def _take_notes(self, ns: Namespace) -> list[str]:
        """The notes kept for the learner (see :meth:`_tell_later`), now said."""
        with self._later_lock:
            return self._later.pop(ns.learner, [])

    # -- plumbing -------------------------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        """The docker-py client, created on first use.

        Raises:
            EngineUnavailable: The engine's address or TLS settings are unusable.
        """
        with self._client_lock:
            if self._client is None:
                try:
                    # from_env also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, which
                    # the course deployment uses to reach its sandbox engine over TLS.
                    environment = engine_environment(self.settings, os.environ)
                    self._client = docker.from_env(
                        timeout=120, max_pool_size=64, environment=environment
                    )
                    # The engine is reached where settings say, never through a proxy the
                    # process environment names (HTTPS_PROXY for Slack, say); and requests
                    # then skips re-reading the environment on every request (~0.25 ms).
                    self._client.api.trust_env = False
                    meter.install(self._client)  # engine requests per line (operators' log)
                except docker.errors.DockerException as exc:
                    raise EngineUnavailable(f"{UNREACHABLE} Try again in a moment.") from exc
            return self._client

    @property
    def calls(self) -> EngineCalls:
        """The requests of every learner line, sent lean (:mod:`bot.sandbox.engine.wire`).

        Raises:
            EngineUnavailable: The engine's address or TLS settings are unusable.
        """
        api = self.client.api
        with self._client_lock:
            if self._calls is None:
                self._calls = Wire.for_client(api) or DockerPyCalls(api)
            return self._calls

    def close(self) -> None:
        """Close the engine connection (and stop the disk watcher)."""
        self._disk_watch.stop()
        if isinstance(self._calls, Wire):
            self._calls.close()
        self._calls = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @boundary
    def ping(self) -> bool:
        """Whether the engine answers.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        return bool(self.client.ping())

    def engine_address(self, person: Person) -> str:
        """The engine the person's commands go to (for the operators' log)."""
        return self.settings.docker_host or "default"

    def namespace(self, person: Person) -> Namespace:
        """The person's namespace on the engine."""
        return Namespace.for_key(self.settings.namespace, person.key)

    def _workspace(self, ns: Namespace) -> EngineWorkspace:
        """The learner's workspace ``$(pwd)``: a volume in the engine, never a host folder."""
        return EngineWorkspace(self.client, ns, host_limits=self._host_limits())

    @boundary
    def write_workspace_file(self, person: Person, path: str, text: str) -> int:
        """Write ``text`` to ``path`` in the person's workspace, through the engine (``edit``).

        Returns:
            The bytes written.

        Raises:
            UsageError: A bad path or text, or a link, folder or file in the way.
            EngineUnavailable: The engine could not be reached or failed.
        """
        return self._workspace(self.namespace(person)).write(path, text)

    @boundary
    def read_workspace_file(self, person: Person, path: str) -> str | None:
        """The text of ``path`` in the person's workspace (≤ 64 KiB), read through the engine.

        ``None`` when it is missing, not a plain file, or behind a link.

        Raises:
            UsageError: For a path that is not a workspace path.
            EngineUnavailable: The engine could not be reached or failed.
        """
        return self._workspace(self.namespace(person)).read(path)

    def _host_limits(self) -> dict[str, Any]:
        """Host settings every learner container gets (:func:`~bot.sandbox.engine.limits.host_limits`)."""
        return host_limits(self.limits, self.settings.runtime,
                           self._layer_limit.options(self.client))  # the kernel's cap, if any

    def _rewrite(self, ns: Namespace, text: str) -> str:
        """Replace engine names and host paths with what the learner knows.

        The learner's own engine names lose their prefix; any other learner's engine
        name of this deployment is cut the same way (so no learner's hash is ever
        shown), and a workspace volume (its folder on the engine host, or its name)
        becomes ``$(pwd)``.
        """
        workspace = re.escape(ns.prefix) + r"-[0-9a-f]{12}-\.workspace"
        text = re.sub(r"/[^\s\"']*/volumes/" + workspace + r"/_data", "$(pwd)", text)
        text = re.sub(workspace, "$(pwd)", text)
        text = text.replace(f"{ns.prefix}-{ns.learner}-", "")
        text = re.sub(re.escape(ns.prefix) + r"-[0-9a-f]{12}-", "", text)
        return _ENGINE_PATH.sub("<container filesystem>", text)

    def _kept_bytes(self) -> int:
        """How much of a learner command's output is kept while it is read.

        Enough for :attr:`Limits.output_chars` characters of UTF-8 and a margin; the
        rest is only counted (:func:`bot.sandbox.engine.streams.read_stream`), so a command that
        prints gigabytes costs the bot a few kilobytes.
        """
        return self.limits.output_chars * 4 + 4096

    def _line_deadline(self) -> float:
        """When a line that acts on several containers must be done (monotonic clock).

        One wall-time budget per line, whatever its arguments: the foreground limit.
        """
        return time.monotonic() + self.limits.foreground_seconds

    def _timeout_note(self) -> str:
        return (
            f"The command was still running after {self.limits.foreground_seconds:g} "
            "seconds, so the tutor stopped it."
        )

    # -- lookups --------------------------------------------------------------------------

    def _containers(self, ns: Namespace, *, all_: bool = True) -> list[Container]:
        """The learner's containers (``all_``: stopped ones too), each inspected.

        One list and one inspect per container: for views that need a container's whole
        configuration. Counting and scanning use :meth:`_summaries` (one request).
        """
        with engine_calls():
            found: list[Container] = self.client.containers.list(
                all=all_, filters=ns.filters(), sparse=False, ignore_removed=True
            )
        return [c for c in found if owned(c.labels, ns)]

    def _summaries(self, ns: Namespace, *, all_: bool = True) -> list[dict[str, Any]]:
        """The learner's containers as the engine lists them, in one request.

        Each is the engine's summary (``Id``, ``Labels``, ``State``, ``Mounts``...), not
        an inspected container: enough to count, to match an id, or to see mounts.
        """
        with engine_calls():
            found: list[dict[str, Any]] = self.client.api.containers(
                all=all_, filters=ns.filters()
            )
        return [c for c in found if owned(c.get("Labels") or {}, ns)]

    def _inspect_owned(self, ns: Namespace, ref: str) -> Container | None:
        """The container the engine knows as ``ref``, if its labels say it is the learner's.

        What never changes about it is kept for the learner's next line (:class:`Identities`).
        """
        try:
            with engine_calls():
                attrs = self.calls.inspect_container(ref)
        except docker.errors.NotFound:
            return None
        container: Container = self.client.containers.prepare_model(attrs)
        if not owned(container.labels, ns):
            return None
        self._identities.remember(ns.learner, str(container.name), container.attrs)
        return container

    def _known_named(self, ns: Namespace, ref: str) -> Container | None:
        """The learner's container named ``ref`` as :class:`Identities` kept it, without a request.

        Its state is unknown (``status`` is ``unknown``): for verbs that act by id and let
        the engine answer for the state (``stop``, ``rm`` without ``-f``). ``None`` when
        nothing may be used (not a name, not kept, or not the learner's last line here).
        """
        if not policy.NAME_RE.match(ref):
            return None
        attrs = self._identities.recall(ns.learner, ns.engine_name(ref))
        if attrs is None:
            return None
        container: Container = self.client.containers.prepare_model(attrs)
        return container

    def _find_container(self, ns: Namespace, ref: str, *, by_id: bool = True) -> Container | None:
        """The learner's container named ``ref``, or (``by_id``) whose id starts with ``ref``.

        A name costs one request: the engine's name for it is inspected and kept only if
        its labels say it is this learner's container of that name. An id prefix costs a
        list and an inspect. A name like ``c2`` is also a hex id prefix: looking up a
        *name* (the conflict check of ``run --name``) must not fall back to ids, or it
        finds an unrelated container.
        """
        if policy.NAME_RE.match(ref):
            named = self._inspect_owned(ns, ns.engine_name(ref))
            if named is not None and learner_name(ns, named) == ref:
                return named
        if by_id and _HEX.match(ref):
            matches = [c["Id"] for c in self._summaries(ns) if str(c.get("Id", "")).startswith(ref)]
            if len(matches) == 1:
                return self._inspect_owned(ns, matches[0])
        return None

    def _looked_up(self, ns: Namespace, name: str) -> Container | None:
        """The learner's container named ``name`` for the tutor's own reads, once per line.

        See :mod:`bot.sandbox.engine.recall`; outside a learner line it reads the engine.
        """
        engine_name = ns.engine_name(name)
        known, found = self._looks.named(ns.learner, engine_name)
        if known:
            return found if found is None or learner_name(ns, found) == name else None
        found = self._find_container(ns, name, by_id=False)
        self._looks.keep_named(ns.learner, engine_name, found)
        return found

    def _volumes(self, ns: Namespace) -> list[Volume]:
        """The learner's volumes."""
        with engine_calls():
            found: list[Volume] = self.client.volumes.list(filters=ns.filters())
        return [v for v in found if owned(v.attrs.get("Labels") or {}, ns)]

    def _find_volume(self, ns: Namespace, name: str) -> Volume | None:
        """The learner's volume called ``name``, or ``None``."""
        for volume in self._volumes(ns):
            if (volume.attrs.get("Labels") or {}).get(LABEL_NAME) == name:
                return volume
        return None

    def _volume_labels(self, ns: Namespace, container: Container) -> dict[str, dict[str, str]]:
        """The labels of the learner's volumes that ``container`` mounts, by engine name.

        They come from the container's own :data:`LABEL_VOLUMES` (written by the tutor
        when it created the container; a volume's labels never change and a mounted
        volume cannot be removed), else from one list of the learner's volumes.
        """
        mounted = {m.get("Name", "") for m in container.attrs.get("Mounts", [])
                   if m.get("Type") == "volume" and not is_workspace_mount(ns, m)}
        if not mounted:
            return {}
        recorded = volume_records(container.labels)
        if mounted <= recorded.keys():
            return {name: recorded[name] for name in mounted}
        return {v.name: v.attrs.get("Labels") or {} for v in self._volumes(ns)}

    def _mount_views(self, ns: Namespace, container: Container) -> tuple[MountView, ...]:
        volumes = self._volume_labels(ns, container)
        views = []
        for mount in container.attrs.get("Mounts", []):
            kind = mount.get("Type", "")
            target = mount.get("Destination", "")
            if is_workspace_mount(ns, mount):
                views.append(MountView("bind", "", "", target))  # the learner's `$(pwd)`
            elif kind == "volume":
                labels = volumes.get(mount.get("Name", ""), {})
                views.append(
                    MountView(
                        "volume",
                        labels.get(LABEL_NAME, ""),
                        labels.get(LABEL_UID, ""),
                        target,
                        anonymous=labels.get(LABEL_ANONYMOUS) == "1",
                    )
                )
            else:
                views.append(MountView(kind, "", "", target))
        tmpfs = (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}
        views.extend(MountView("tmpfs", "", "", path) for path in tmpfs)
        return tuple(views)

    def _view(self, ns: Namespace, container: Container) -> ContainerView:
        """The learner's view of one of their containers (no engine names)."""
        config = container.attrs.get("Config") or {}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        return ContainerView(
            id=container.id,
            name=learner_name(ns, container),
            image=container.labels.get("docker-tutor.image", config.get("Image", "")),
            running=container.status == "running",
            status=container.status,
            mounts=self._mount_views(ns, container),
            command=tuple(command),
            exit_code=int((container.attrs.get("State") or {}).get("ExitCode") or 0),
            restart_count=int(container.attrs.get("RestartCount") or 0),
            restart_policy=str(((container.attrs.get("HostConfig") or {}).get("RestartPolicy")
                                or {}).get("Name") or "no"),
            env=tuple(str(item) for item in config.get("Env") or ()),
        )

    # -- creating and removing (what several verb families share) -------------------------

    def _check_quota_volumes(self, ns: Namespace, extra: int = 1, *, have: int | None = None) -> None:
        """Refuse when ``extra`` more volumes would exceed the quota.

        ``have`` is how many the learner has, when the caller listed them in this command.

        Raises:
            QuotaExceeded: With the quota and what to do.
        """
        if have is None:
            have = len(self._volumes(ns))
        if have + extra > self.limits.max_volumes:
            raise QuotaExceeded(
                f"That would give you more than {self.limits.max_volumes} volumes, the most "
                "the sandbox allows.",
                option="quota:volumes",
                hint="Remove one you no longer need: `docker volume ls`, then `docker volume rm`.",
            )

    def _create_volume(self, ns: Namespace, name: str, *, anonymous: bool,
                       labels: dict[str, str] | None = None) -> Volume:
        """Create the learner's volume ``name`` (the caller checked the quota)."""
        labels = {**(labels or {}), **ns.labels(name, **{LABEL_UID: naming.new_uid()})}
        if anonymous:
            labels[LABEL_ANONYMOUS] = "1"
        volume: Volume = self.client.volumes.create(name=ns.engine_name(name), labels=labels)
        return volume

    def _remove(self, ns: Namespace, container: Container, *, force: bool) -> None:
        """Remove a container, and the anonymous volumes no other container uses."""
        anonymous = [
            m.get("Name", "") for m in container.attrs.get("Mounts", [])
            if m.get("Type") == "volume"
        ]
        # The container's own record of its volumes (written at creation; a volume's labels
        # never change) says which are named ones: those need no volume list to be kept.
        recorded = volume_records(container.labels)
        anonymous = [n for n in anonymous
                     if n not in recorded or recorded[n].get(LABEL_ANONYMOUS) == "1"]
        container.remove(force=force, v=True)
        self._remove_anonymous(ns, anonymous)

    def _remove_anonymous(self, ns: Namespace, anonymous: list[str]) -> None:
        """Remove those of the learner's anonymous volumes named in ``anonymous``."""
        if not anonymous:
            return
        for volume in self._volumes(ns):
            labels = volume.attrs.get("Labels") or {}
            if volume.name in anonymous and labels.get(LABEL_ANONYMOUS) == "1":
                # Still used by another container: housekeeping will get it later.
                with suppress(docker.errors.APIError):
                    volume.remove()

    # -- vetting --------------------------------------------------------------------------

    def vet(self, person: Person, command: Command) -> Plan:
        """Check every value of a command against the policy, before the engine is asked.

        See :func:`bot.sandbox.engine.vetting.vet_command`: a refused command never
        reaches the engine.

        Raises:
            CommandRefused: With a one-line reason naming what was refused.
        """
        return vet_command(command, self.allowed_images)


__all__ = ["CAPABILITIES", "NOT_FOUND", "Plan", "SandboxBase", "learner_name", "pids_limit"]
