"""The sandbox: runs parsed learner commands on the Docker engine, confined and limited.

This module (with the rest of ``bot.sandbox``) is the only place that imports ``docker``.
Every docker-py error is translated here: a learner sees the docker CLI's wording, an
operator sees :class:`~bot.errors.EngineUnavailable`; nothing else escapes.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import Mount

from bot.config import Settings
from bot.errors import CommandRefused, EngineUnavailable, QuotaExceeded
from bot.identity import Person
from bot.sandbox import formatting, mounts, naming, policy
from bot.sandbox.mounts import MountRequest
from bot.sandbox.naming import (
    LABEL_ANONYMOUS,
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    LABEL_UID,
    Namespace,
)
from bot.sandbox.parser import Command
from bot.sandbox.redis_cli import parse_redis_cli, redis_call
from bot.sandbox.views import ContainerView, MountView, Outcome, VolumeView

T = TypeVar("T")

CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"]
"""The only kernel capabilities a learner container keeps (all others are dropped)."""

READ_LIMIT = 1024 * 1024
"""Stop reading a command's output past this many bytes (the rest is counted as cut)."""

DRAIN_LIMIT = 16 * 1024 * 1024
"""Count (without keeping) an exec's output up to this many bytes, then stop reading."""

EXEC_GRACE = 3.0
"""Seconds past the time limit after which the tutor stops waiting for an exec's output,
even if a process in the container still holds it open."""

OOM_SCORE_ADJ = 500
"""Learner containers are the first the host kernel kills if the host runs out of memory."""

SHM_BYTES = 64 * 1024 * 1024
"""Size of each container's ``/dev/shm`` (counted in its memory limit)."""

_REDIS_NOT_READY = re.compile(r"Could not connect to Redis|Connection refused|^LOADING", re.M)
_HEX = re.compile(r"^[0-9a-f]{1,64}$")
_ENGINE_PATH = re.compile(r"/[^\s\"']*/[0-9a-f]{64}(?:-init)?(?:/(?:merged|diff|work))?")
"""A path in the engine's own storage (``/var/lib/docker/overlay2/<64 hex>/merged``)."""
_NOT_FOUND = "Error response from daemon: No such container: {}\n"


@dataclass
class Plan:
    """A learner command after vetting: every value checked, nothing sent to the engine.

    Attributes:
        image_name: For ``run``: the image name the learner knows (``redis``).
        tag: For ``run``: the local tag to create from (``redis:latest``).
        name: For ``run``: the learner's container name (given or invented).
        env: For ``run`` and ``exec``: ``NAME=value`` items.
        mounts: For ``run``: the mounts asked for.
        binds: For ``run``: bind targets mapped to real host folders in the workspace.
        user: ``-u`` for ``run`` and ``exec``.
        workdir: ``-w`` for ``run`` and ``exec``.
        hostname: ``-h`` for ``run``.
        entrypoint: ``--entrypoint`` for ``run``, split into words.
        seconds: ``-t`` for ``stop`` and ``restart``.
        tail: ``--tail`` for ``logs``.
    """

    image_name: str = ""
    tag: str = ""
    name: str = ""
    env: list[str] = field(default_factory=list)
    mounts: list[MountRequest] = field(default_factory=list)
    binds: dict[str, Path] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    hostname: str | None = None
    entrypoint: list[str] | None = None
    seconds: int = 10
    tail: int | str = "all"


class ExecResult(NamedTuple):
    """What one exec produced."""

    code: int
    output: str
    cut: int
    timed_out: bool


def cap_output(text: str, limit: int, extra_cut: int = 0) -> tuple[str, int]:
    """Cut ``text`` to ``limit`` characters; return it and how much was cut."""
    if len(text) <= limit:
        return text, extra_cut
    return text[:limit], len(text) - limit + extra_cut


class Sandbox:
    """Learners' docker commands, confined to each learner's own namespace.

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
        self._client_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        """The docker-py client, created on first use."""
        with self._client_lock:
            if self._client is None:
                try:
                    # from_env also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, which
                    # the course deployment uses to reach its sandbox engine over TLS.
                    environment = dict(os.environ)
                    if self.settings.docker_host:
                        environment["DOCKER_HOST"] = self.settings.docker_host
                    self._client = docker.from_env(
                        timeout=120, max_pool_size=64, environment=environment
                    )
                except docker.errors.DockerException as exc:
                    raise EngineUnavailable(
                        "The Docker engine is not reachable right now; your progress is safe. "
                        "Try again in a moment."
                    ) from exc
            return self._client

    def close(self) -> None:
        """Close the engine connection."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def ping(self) -> bool:
        """Whether the engine answers."""
        with self._engine():
            return bool(self.client.ping())

    @contextmanager
    def _engine(self) -> Iterator[None]:
        """Translate connection-level failures into :class:`EngineUnavailable`."""
        try:
            yield
        except docker.errors.APIError:
            raise  # the engine answered: the caller words its answer for the learner
        except requests.exceptions.RequestException as exc:
            raise EngineUnavailable(
                "The Docker engine did not answer; your progress is safe. Try again in a moment."
            ) from exc
        except docker.errors.DockerException as exc:
            raise EngineUnavailable(
                "The Docker engine is not reachable right now; your progress is safe."
            ) from exc

    def namespace(self, person: Person) -> Namespace:
        """The person's namespace on the engine."""
        return Namespace.for_key(self.settings.namespace, person.key)

    def workspace(self, person: Person) -> Path:
        """The person's workspace folder on the sandbox host (created if missing)."""
        path = self.settings.workspaces_dir / self.namespace(person).learner
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _rewrite(self, ns: Namespace, text: str) -> str:
        """Replace engine names and host paths with what the learner knows.

        The learner's own engine names lose their prefix; any other learner's engine
        name of this deployment is cut the same way (so no learner's hash is ever
        shown), and workspace folders on the host become ``$(pwd)``.
        """
        text = text.replace(f"{ns.prefix}-{ns.learner}-", "")
        text = re.sub(re.escape(ns.prefix) + r"-[0-9a-f]{12}-", "", text)
        text = _ENGINE_PATH.sub("<container filesystem>", text)
        for root in {str(self.settings.workspaces_dir), os.path.realpath(self.settings.workspaces_dir)}:
            text = re.sub(re.escape(root) + r"/[0-9a-f]{12}", "$(pwd)", text)
            text = text.replace(root, "$(pwd)")
        return text

    # -- lookups --------------------------------------------------------------------------

    def _containers(self, ns: Namespace, *, all_: bool = True) -> list[Container]:
        with self._engine():
            found: list[Container] = self.client.containers.list(
                all=all_, filters=ns.filters(), sparse=False
            )
        return [c for c in found if _owned(c.labels, ns)]

    def _find_container(self, ns: Namespace, ref: str, *, by_id: bool = True) -> Container | None:
        """The learner's container named ``ref``, or (``by_id``) whose id starts with ``ref``.

        A name like ``c2`` is also a hex id prefix: looking up a *name* (the conflict check
        of ``run --name``) must not fall back to ids, or it finds an unrelated container.
        """
        if policy.NAME_RE.match(ref):
            # Ask the engine for exactly this name: one list and one inspect, however many
            # containers the learner has. Ownership is still checked on the labels.
            selector = {"label": [*ns.filters()["label"], f"{LABEL_NAME}={ref}"]}
            with self._engine():
                named: list[Container] = self.client.containers.list(
                    all=True, filters=selector, sparse=False
                )
            for container in named:
                if _owned(container.labels, ns) and container.labels.get(LABEL_NAME) == ref:
                    return container
        if by_id and _HEX.match(ref):
            mine = self._containers(ns)
            matches = [c for c in mine if c.id.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        return None

    def _volumes(self, ns: Namespace) -> list[Volume]:
        with self._engine():
            found: list[Volume] = self.client.volumes.list(filters=ns.filters())
        return [v for v in found if _owned(v.attrs.get("Labels") or {}, ns)]

    def _find_volume(self, ns: Namespace, name: str) -> Volume | None:
        for volume in self._volumes(ns):
            if (volume.attrs.get("Labels") or {}).get(LABEL_NAME) == name:
                return volume
        return None

    def _mount_views(self, ns: Namespace, container: Container) -> tuple[MountView, ...]:
        volumes = {v.name: v for v in self._volumes(ns)}
        views = []
        for mount in container.attrs.get("Mounts", []):
            kind = mount.get("Type", "")
            target = mount.get("Destination", "")
            if kind == "volume":
                volume = volumes.get(mount.get("Name", ""))
                labels = (volume.attrs.get("Labels") or {}) if volume else {}
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
        config = container.attrs.get("Config") or {}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        return ContainerView(
            id=container.id,
            name=container.labels.get(LABEL_NAME, ""),
            image=container.labels.get("docker-tutor.image", config.get("Image", "")),
            running=container.status == "running",
            status=container.status,
            mounts=self._mount_views(ns, container),
            command=tuple(command),
        )

    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name``, or ``None``."""
        ns = self.namespace(person)
        found = self._find_container(ns, name, by_id=False)
        return None if found is None else self._view(ns, found)

    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, running or not."""
        ns = self.namespace(person)
        return [self._view(ns, c) for c in self._containers(ns)]

    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, or ``None``."""
        found = self._find_volume(self.namespace(person), name)
        if found is None:
            return None
        labels = found.attrs.get("Labels") or {}
        return VolumeView(name, labels.get(LABEL_UID, ""), labels.get(LABEL_ANONYMOUS) == "1")

    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person."""
        views = []
        for volume in self._volumes(self.namespace(person)):
            labels = volume.attrs.get("Labels") or {}
            views.append(
                VolumeView(labels.get(LABEL_NAME, ""), labels.get(LABEL_UID, ""),
                           labels.get(LABEL_ANONYMOUS) == "1")
            )
        return views

    def exec_capture(
        self, person: Person, name: str, argv: list[str], *, timeout: float = 10.0
    ) -> tuple[int, str] | None:
        """Run ``argv`` in the person's running container and return (exit code, output).

        Used by the tutor's own checks; nothing is logged as the learner's. Returns
        ``None`` when the container does not exist or is not running.
        """
        ns = self.namespace(person)
        container = self._find_container(ns, name, by_id=False)
        if container is None or container.status != "running":
            return None
        try:
            result = self._exec(container, argv, timeout=timeout, tty=False, limit=READ_LIMIT)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None
        return result.code, result.output

    def redis_get(self, person: Person, name: str, key: str) -> tuple[bool, str | None]:
        """Read ``key`` from the Redis in the person's container, as the tutor.

        Returns:
            ``(reachable, value)``: ``reachable`` is ``False`` when Redis did not answer
            (no container, not running, still loading); ``value`` is ``None`` for a
            missing key.
        """
        def run(argv: list[str]) -> tuple[int, str] | None:
            return self.exec_capture(person, name, argv)

        return redis_call(run, key)

    # -- learner commands -----------------------------------------------------------------

    def run_command(self, person: Person, command: Command) -> Outcome:
        """Execute a parsed learner command and return what the docker CLI would show.

        Raises:
            CommandRefused: The policy refused it (nothing reached the engine).
            QuotaExceeded: A quota would be exceeded.
            EngineUnavailable: The engine could not be reached.
        """
        plan = self.vet(person, command)
        ns = self.namespace(person)
        handler: Callable[[Person, Namespace, Command, Plan], Outcome] = getattr(
            self, "_do_" + command.verb.replace(" ", "_")
        )
        try:
            with self._engine():
                outcome = handler(person, ns, command, plan)
        except docker.errors.APIError as exc:
            message = self._rewrite(ns, str(exc.explanation or exc))
            prefix = "docker: " if command.verb == "run" else ""
            outcome = Outcome(125 if command.verb == "run" else 1,
                              f"{prefix}Error response from daemon: {message}\n")
        outcome.notes[:0] = command.notes
        outcome.output, outcome.cut = cap_output(
            outcome.output, self.limits.output_chars, outcome.cut
        )
        outcome.facts.setdefault("verb", command.verb)
        return outcome

    def vet(self, person: Person, command: Command) -> Plan:
        """Check every value of a command against the policy, before the engine is asked.

        Nothing here talks to the engine: a refused command never reaches it. A bind
        mount's folder is resolved (and made if missing) in the person's workspace on
        the host.

        Raises:
            CommandRefused: With a one-line reason naming what was refused.
        """
        plan = Plan()
        verb = command.verb
        if verb == "run":
            plan.image_name, plan.tag = policy.check_image(command.args[0], self.allowed_images)
            name = command.value("name")
            plan.name = (policy.check_name(name, "container") if name
                         else naming.random_container_name())
            plan.env = policy.check_env(command.values("env"))
            plan.mounts = mounts.requested_mounts(
                command.values("volume"), command.values("mount"), command.values("tmpfs")
            )
            plan.user = policy.check_user(command.value("user"))
            plan.workdir = policy.check_workdir(command.value("workdir"))
            plan.hostname = policy.check_hostname(command.value("hostname"))
            plan.entrypoint = policy.check_entrypoint(command.value("entrypoint"))
            for request in plan.mounts:
                if request.kind == "bind":
                    plan.binds[request.target] = mounts.resolve_bind(
                        self.workspace(person), request.source
                    )
        elif verb == "exec":
            plan.env = policy.check_env(command.values("env"))
            plan.user = policy.check_user(command.value("user"))
            plan.workdir = policy.check_workdir(command.value("workdir"))
        elif verb in ("stop", "restart"):
            plan.seconds = policy.check_seconds(command.value("time"), 10)
        elif verb == "logs":
            plan.tail = policy.check_tail(command.value("tail"))
        elif verb == "volume create" and command.args:
            plan.name = policy.check_name(command.args[0], "volume")
        return plan

    # run ---------------------------------------------------------------------------------

    def _images_hint(self) -> str:
        return policy.image_hint(self.allowed_images)

    def _check_quota_containers(self, ns: Namespace) -> None:
        if len(self._containers(ns)) >= self.limits.max_containers:
            raise QuotaExceeded(
                f"You already have {self.limits.max_containers} containers, the most the "
                "sandbox allows.",
                option="quota:containers",
                hint="Remove one you no longer need: `docker ps -a`, then `docker rm -f NAME`.",
            )

    def _check_quota_volumes(self, ns: Namespace, extra: int = 1) -> None:
        if len(self._volumes(ns)) + extra > self.limits.max_volumes:
            raise QuotaExceeded(
                f"That would give you more than {self.limits.max_volumes} volumes, the most "
                "the sandbox allows.",
                option="quota:volumes",
                hint="Remove one you no longer need: `docker volume ls`, then `docker volume rm`.",
            )

    def _ensure_volume(self, ns: Namespace, name: str, *, anonymous: bool = False) -> Volume:
        existing = None if anonymous else self._find_volume(ns, name)
        if existing is not None:
            return existing
        self._check_quota_volumes(ns)
        labels = ns.labels(name, **{LABEL_UID: naming.new_uid()})
        if anonymous:
            labels[LABEL_ANONYMOUS] = "1"
        volume: Volume = self.client.volumes.create(name=ns.engine_name(name), labels=labels)
        return volume

    def _workspace_writers(self, person: Person, ns: Namespace) -> list[str]:
        """Names of the person's running containers that can write in the workspace.

        Such a container could swap a folder of the workspace for a symbolic link
        between the tutor's check of a bind source and the engine's mount of it.
        """
        root = os.path.realpath(self.workspace(person))
        names = []
        for container in self._containers(ns, all_=False):
            for mount in container.attrs.get("Mounts", []):
                source = os.path.realpath(mount.get("Source") or "/")
                inside = source == root or source.startswith(root + os.sep)
                if mount.get("Type") == "bind" and mount.get("RW", True) and inside:
                    names.append(container.labels.get(LABEL_NAME, ""))
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

    def _do_run(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        image_name, tag, name, env, wanted = (
            plan.image_name, plan.tag, plan.name, plan.env, plan.mounts
        )
        argv = command.args[1:]
        self._check_sub_folder_binds(person, ns, [str(p) for p in plan.binds.values()])
        existing = self._find_container(ns, name, by_id=False)
        if existing is not None:
            return Outcome(
                125,
                f'docker: Error response from daemon: Conflict. The container name "/{name}" is '
                f'already in use by container "{existing.id}". You have to remove (or rename) '
                "that container to be able to reuse that name.\n",
            )
        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return Outcome(
                125,
                f"Unable to find image '{tag}' locally\ndocker: the sandbox has no network, so "
                f"it cannot be pulled. {self._images_hint()}\n",
            )
        self._check_quota_containers(ns)
        engine_mounts: list[Mount] = []
        tmpfs: dict[str, str] = {}
        new_volumes = sum(
            1 for r in wanted if r.kind == "volume" and self._find_volume(ns, r.source) is None
        )
        declared = list(((image.attrs.get("Config") or {}).get("Volumes") or {}).keys())
        covered = {r.target for r in wanted}
        anonymous = [MountRequest("anonymous", "", p) for p in declared if p not in covered]
        anon_needed = new_volumes + sum(1 for r in wanted if r.kind == "anonymous") + len(anonymous)
        if anon_needed:
            self._check_quota_volumes(ns, anon_needed)
        for request in [*wanted, *anonymous]:
            if request.kind == "tmpfs":
                tmpfs[request.target] = f"size={request.tmpfs_size},mode=1777"
            elif request.kind == "bind":
                host = plan.binds[request.target]
                engine_mounts.append(Mount(request.target, str(host), type="bind",
                                           read_only=request.read_only))
            else:
                volume = self._ensure_volume(
                    ns,
                    request.source or _anonymous_name(),
                    anonymous=request.kind == "anonymous",
                )
                engine_mounts.append(Mount(request.target, volume.name, type="volume",
                                           read_only=request.read_only))
        detach = command.flag("detach")
        container: Container = self.client.containers.create(
            tag,
            command=argv or None,
            entrypoint=plan.entrypoint,
            name=ns.engine_name(name),
            labels=ns.labels(name, **{"docker-tutor.image": image_name}),
            environment=env,
            working_dir=plan.workdir,
            hostname=plan.hostname,
            user=plan.user,
            mounts=engine_mounts,
            tmpfs=tmpfs or None,
            detach=True,
            tty=command.flag("tty") and not detach,
            **self._host_limits(),
        )
        facts: dict[str, Any] = {
            "container": self._view(ns, container).as_fact(),
            "argv": argv,
            "detach": detach,
        }
        if detach:
            container.start()
            return Outcome(0, container.id + "\n", facts=facts)
        return self._foreground(ns, container, command.flag("rm"), facts,
                                tty=command.flag("tty"))

    def _host_limits(self) -> dict[str, Any]:
        """Host settings every learner container gets: the heart of the policy."""
        return {
            "network_mode": "none",
            "mem_limit": self.limits.memory_bytes,
            "memswap_limit": self.limits.memory_bytes,
            "pids_limit": self.limits.pids,
            "nano_cpus": self.limits.nano_cpus,
            "cap_drop": ["ALL"],
            "cap_add": CAPABILITIES,
            "security_opt": ["no-new-privileges"],
            "init": True,
            "privileged": False,
            "ipc_mode": "private",
            "cgroupns": "private",
            "oom_score_adj": OOM_SCORE_ADJ,
            "shm_size": SHM_BYTES,
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
            "restart_policy": {"Name": "no"},
        }

    def _foreground(
        self, ns: Namespace, container: Container, remove: bool, facts: dict[str, Any],
        *, tty: bool,
    ) -> Outcome:
        """Start a created container attached, like ``docker run`` without ``-d``.

        Its output is read as it comes (so the learner is told exactly how much was cut)
        until it exits or the time limit passes; then it is killed.
        """
        api = self.client.api
        started = time.monotonic()
        limit = self.limits.foreground_seconds
        sock = api.attach_socket(
            container.id, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 1}
        )
        raw = getattr(sock, "_sock", sock)
        try:
            container.start()
            data, size, timed_out = _read_stream(
                raw, tty=tty, deadline=started + limit, limit=READ_LIMIT
            )
        finally:
            sock.close()
            raw.close()
        notes = []
        code = 137
        if not timed_out:
            try:
                left = max(1.0, started + limit - time.monotonic())
                code = int(container.wait(timeout=left).get("StatusCode", 0))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out = True
        if timed_out:
            with suppress(docker.errors.APIError):
                container.kill()
            with suppress(docker.errors.APIError, requests.exceptions.RequestException):
                container.wait(timeout=10)
            facts["timed_out"] = True
            notes.append(self._timeout_note() + " For a server, use `docker run -d`.")
        else:
            container.reload()
            if (container.attrs.get("State") or {}).get("OOMKilled"):
                facts["oom_killed"] = True
                notes.append(self._oom_note())
        output = data.decode("utf-8", "replace").replace("\r\n", "\n")
        if remove:
            self._remove(ns, container, force=True)
        facts["exit"] = code
        return Outcome(code, output, cut=max(0, size - READ_LIMIT), notes=notes, facts=facts)

    def _oom_note(self) -> str:
        return (
            f"The container went over its memory limit "
            f"({self.limits.memory_bytes // 2**20} MiB), so the kernel stopped it."
        )

    def _timeout_note(self) -> str:
        return (
            f"The command was still running after {self.limits.foreground_seconds:g} "
            "seconds, so the tutor stopped it."
        )

    # exec --------------------------------------------------------------------------------

    def _exec(
        self,
        container: Container,
        argv: list[str],
        *,
        timeout: float,
        tty: bool,
        limit: int,
        env: list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        detach: bool = False,
    ) -> ExecResult:
        """Run ``argv`` in ``container`` under a hard time limit.

        The command runs under ``timeout -s KILL N`` inside the container; whatever
        happens there (a process that keeps the output open, a replaced ``timeout``),
        the tutor stops reading after ``timeout`` + :data:`EXEC_GRACE` seconds.
        """
        wrapped = ["timeout", "-s", "KILL", str(max(1, round(timeout))), *argv]
        api = self.client.api
        exec_id = api.exec_create(
            container.id, wrapped, stdout=True, stderr=True, tty=tty, environment=env,
            workdir=workdir, user=user or "",
        )["Id"]
        if detach:
            api.exec_start(exec_id, detach=True)
            return ExecResult(0, "", 0, timed_out=False)
        sock = api.exec_start(exec_id, socket=True, tty=tty)
        raw = getattr(sock, "_sock", sock)
        try:
            data, size, timed_out = _read_stream(
                raw, tty=tty, deadline=time.monotonic() + timeout + EXEC_GRACE, limit=limit
            )
        finally:
            sock.close()
            raw.close()
        code = api.exec_inspect(exec_id).get("ExitCode")
        deadline = time.monotonic() + (0.5 if timed_out or size > DRAIN_LIMIT else 2.0)
        while code is None and time.monotonic() < deadline:
            time.sleep(0.05)
            code = api.exec_inspect(exec_id).get("ExitCode")
        if code is None:
            code = 137 if timed_out else -1
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        return ExecResult(code, text, max(0, size - limit), timed_out)

    def _await_redis(self, container: Container, *, within: float = 5.0) -> bool:
        """Give a Redis that started moments ago the time to accept connections.

        A learner who types ``docker exec redis-1 redis-cli set ...`` right after
        ``docker run -d`` would otherwise meet "Connection refused" while the server is
        still starting: a race of the machine, not a lesson. Only containers started in
        the last few seconds are waited for, at most ``within`` seconds.

        Returns:
            Whether Redis answers now (so the learner's command may be run again).
        """
        started = formatting.parse_time((container.attrs.get("State") or {}).get("StartedAt", ""))
        if started is None or (datetime.now(UTC) - started).total_seconds() > 10:
            return False
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                code, output, _, _ = self._exec(container, ["redis-cli", "ping"], timeout=2,
                                                tty=False, limit=1024)
            except docker.errors.APIError:
                return False
            if code == 0 and "PONG" in output:
                return True
            time.sleep(0.05)
        return False

    def _do_exec(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        ref, argv = command.args[0], command.args[1:]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, _NOT_FOUND.format(ref))
        if container.status != "running":
            return Outcome(
                1, f"Error response from daemon: Container {container.id} is not running\n"
            )
        tty = command.flag("tty") or (argv[:1] == ["redis-cli"])
        started = time.monotonic()

        def run() -> tuple[int, str, int, bool]:
            return self._exec(
                container, argv, timeout=self.limits.foreground_seconds, tty=tty,
                limit=READ_LIMIT, env=plan.env, workdir=plan.workdir,
                user=plan.user, detach=command.flag("detach"),
            )

        code, output, cut, timed_out = run()
        if (argv[:1] == ["redis-cli"] and code != 0 and _REDIS_NOT_READY.search(output)
                and self._await_redis(container)):
            # The server was still starting (the command never reached it): run it again.
            code, output, cut, timed_out = run()
        elapsed = time.monotonic() - started
        notes = []
        timed_out = timed_out or (code == 137 and elapsed >= self.limits.foreground_seconds - 0.5)
        if timed_out:
            notes.append(self._timeout_note())
        elif code == 137:
            notes.append(
                "The process was killed (exit status 137). In the sandbox that usually means "
                f"it went over the memory limit ({self.limits.memory_bytes // 2**20} MiB)."
            )
        if code == 127 and "can't execute" in output:
            output = (
                "OCI runtime exec failed: exec failed: unable to start container process: "
                f'exec: "{argv[0]}": executable file not found in $PATH: unknown\n'
            )
            code = 126
        facts: dict[str, Any] = {
            "container": self._view(ns, container).as_fact(),
            "argv": argv,
            "exit": code,
        }
        if timed_out:
            facts["timed_out"] = True
        redis = parse_redis_cli(_inner_argv(argv))
        if redis is not None:
            facts["redis"] = redis
        return Outcome(code, output, cut=cut, notes=notes, facts=facts)

    # lifecycle ---------------------------------------------------------------------------

    def _remove(self, ns: Namespace, container: Container, *, force: bool) -> None:
        anonymous = [
            m.get("Name", "") for m in container.attrs.get("Mounts", [])
            if m.get("Type") == "volume"
        ]
        container.remove(force=force, v=True)
        for volume in self._volumes(ns):
            labels = volume.attrs.get("Labels") or {}
            if volume.name in anonymous and labels.get(LABEL_ANONYMOUS) == "1":
                # Still used by another container: the reaper will get it later.
                with suppress(docker.errors.APIError):
                    volume.remove()

    def _each_container(
        self,
        ns: Namespace,
        refs: list[str],
        act: Callable[[Container], str | None],
    ) -> tuple[int, str]:
        """Apply ``act`` to each referenced container; the CLI's output and exit code."""
        out, code = [], 0
        for ref in refs:
            container = self._find_container(ns, ref)
            if container is None:
                out.append(_NOT_FOUND.format(ref))
                code = 1
                continue
            try:
                error = act(container)
            except docker.errors.APIError as exc:
                error = f"Error response from daemon: {self._rewrite(ns, str(exc.explanation))}"
            if error:
                out.append(error + "\n")
                code = 1
            else:
                out.append(ref + "\n")
        return code, "".join(out)

    def _do_rm(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        force = command.flag("force")
        removed: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            running = container.status == "running"
            if running and not force:
                return (
                    f"Error response from daemon: You cannot remove a running container "
                    f"{container.id}. Stop the container before attempting removal or force "
                    "remove"
                )
            fact = self._view(ns, container).as_fact()
            self._remove(ns, container, force=force)
            removed.append({**fact, "was_running": running, "force": force})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"removed": removed})

    def _do_stop(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        seconds = plan.seconds
        stopped: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            was_running = container.status == "running"
            container.stop(timeout=seconds)
            stopped.append({"id": container.id, "name": container.labels.get(LABEL_NAME, ""),
                            "was_running": was_running})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"stopped": stopped})

    def _do_start(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        started: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            refused = self._check_binds_before_start(person, ns, container)
            if refused:
                return refused
            container.start()
            started.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"started": started})

    def _do_restart(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        seconds = plan.seconds
        restarted: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            refused = self._check_binds_before_start(person, ns, container)
            if refused:
                return refused
            container.restart(timeout=seconds)
            restarted.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"restarted": restarted, "stopped": restarted})

    def _do_logs(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, _NOT_FOUND.format(ref))
        raw = container.logs(stdout=True, stderr=True, tail=plan.tail,
                             timestamps=command.flag("timestamps"))
        return Outcome(0, raw[-READ_LIMIT:].decode("utf-8", "replace").replace("\r\n", "\n"),
                       cut=max(0, len(raw) - READ_LIMIT),
                       facts={"container": {"id": container.id, "name": ref}})

    # reading -----------------------------------------------------------------------------

    def _do_ps(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        containers = self._containers(ns, all_=command.flag("all"))
        containers.sort(key=lambda c: c.attrs.get("Created", ""), reverse=True)
        full = command.flag("no_trunc")
        if command.flag("quiet"):
            ids = [c.id if full else c.id[:12] for c in containers]
            return Outcome(0, "".join(i + "\n" for i in ids))
        rows = []
        for c in containers:
            config = c.attrs.get("Config") or {}
            cmd = " ".join([*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])])
            rows.append([
                c.id if full else c.id[:12],
                c.labels.get("docker-tutor.image", config.get("Image", "")),
                f'"{cmd}"' if full else formatting.truncate_command(cmd),
                formatting.ago(c.attrs.get("Created", "")),
                formatting.status_line(c.attrs.get("State") or {}),
                "",
                c.labels.get(LABEL_NAME, ""),
            ])
        headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
        return Outcome(0, formatting.table(headers, rows))

    def _do_images(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        rows = []
        with self._engine():
            images = self.client.images.list()
        for image in images:
            for tag in image.tags:
                repo, _, version = tag.rpartition(":")
                if self.allowed_images is not None and repo not in self.allowed_images:
                    continue
                if command.args and repo != command.args[0]:
                    continue
                size = image.attrs.get("Size", 0)
                rows.append([repo, version, image.short_id.removeprefix("sha256:"),
                             formatting.ago(image.attrs.get("Created", "")),
                             f"{size / 1e6:.1f}MB"])
        rows.sort()
        if command.flag("quiet"):
            return Outcome(0, "".join(r[2] + "\n" for r in rows))
        return Outcome(0, formatting.table(
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))

    def _inspect_container(self, ns: Namespace, container: Container) -> dict[str, Any]:
        a = container.attrs
        config = a.get("Config") or {}
        host = a.get("HostConfig") or {}
        view = self._view(ns, container)
        return {
            "Id": a.get("Id"),
            "Created": a.get("Created"),
            "Path": a.get("Path"),
            "Args": a.get("Args"),
            "State": {k: self._rewrite(ns, v) if k == "Error" and isinstance(v, str) else v
                      for k, v in (a.get("State") or {}).items()},
            "Image": a.get("Image"),
            "Name": "/" + view.name,
            "RestartCount": a.get("RestartCount", 0),
            "Mounts": [
                {
                    "Type": m.kind,
                    **({"Name": m.name} if m.kind == "volume" else {}),
                    **({"Source": "$(pwd)"} if m.kind == "bind" else {}),
                    "Destination": m.target,
                    "RW": True,
                }
                for m in view.mounts if m.kind != "tmpfs"
            ],
            "Config": {
                "Hostname": config.get("Hostname"),
                "Env": config.get("Env"),
                "Cmd": config.get("Cmd"),
                "Image": view.image,
                "Volumes": config.get("Volumes"),
                "WorkingDir": config.get("WorkingDir"),
                "Entrypoint": config.get("Entrypoint"),
            },
            "HostConfig": {
                "NetworkMode": host.get("NetworkMode"),
                "Memory": host.get("Memory"),
                "NanoCpus": host.get("NanoCpus"),
                "PidsLimit": host.get("PidsLimit"),
                "Tmpfs": host.get("Tmpfs"),
                "Privileged": host.get("Privileged"),
            },
        }

    def _inspect_volume(self, volume: Volume) -> dict[str, Any]:
        a = volume.attrs
        labels = a.get("Labels") or {}
        return {
            "CreatedAt": a.get("CreatedAt"),
            "Driver": a.get("Driver"),
            "Labels": {k: v for k, v in labels.items() if not k.startswith("docker-tutor.")},
            "Mountpoint": f"/var/lib/docker/volumes/{labels.get(LABEL_NAME, '')}/_data",
            "Name": labels.get(LABEL_NAME, ""),
            "Options": a.get("Options"),
            "Scope": a.get("Scope"),
        }

    def _render_objects(
        self, objects: list[dict[str, Any]], errors: list[str], fmt: str | None, what: str
    ) -> Outcome:
        if fmt:
            try:
                text = "".join(formatting.template(fmt, obj) for obj in objects)
            except ValueError as exc:
                return Outcome(1, f"template parsing error: {exc}\n")
        else:
            text = formatting.to_json(objects)
        code = 1 if errors else 0
        return Outcome(code, text + "".join(f"Error: No such {what}: {e}\n" for e in errors))

    def _do_inspect(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        objects, errors = [], []
        for ref in command.args:
            container = self._find_container(ns, ref)
            if container is not None:
                objects.append(self._inspect_container(ns, container))
                continue
            volume = self._find_volume(ns, ref)
            if volume is not None:
                objects.append(self._inspect_volume(volume))
            else:
                errors.append(ref)
        return self._render_objects(objects, errors, command.value("format"), "object")

    # volumes -----------------------------------------------------------------------------

    def _do_volume_create(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        name = plan.name or _anonymous_name()
        volume = self._ensure_volume(ns, name)
        uid = (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
        return Outcome(0, name + "\n", facts={"volume": {"name": name, "uid": uid}})

    def _do_volume_ls(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        names = sorted((v.attrs.get("Labels") or {}).get(LABEL_NAME, "") for v in self._volumes(ns))
        if command.flag("quiet"):
            return Outcome(0, "".join(n + "\n" for n in names))
        return Outcome(0, formatting.table(["DRIVER", "VOLUME NAME"], [["local", n] for n in names]))

    def _volume_users(self, ns: Namespace, volume: Volume) -> list[Container]:
        return [
            c for c in self._containers(ns)
            if any(m.get("Name") == volume.name for m in c.attrs.get("Mounts", []))
        ]

    def _do_volume_rm(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        out, code = [], 0
        removed: list[dict[str, str]] = []
        for name in command.args:
            volume = self._find_volume(ns, name)
            if volume is None:
                if not command.flag("force"):
                    out.append(f"Error response from daemon: get {name}: no such volume\n")
                    code = 1
                continue
            users = self._volume_users(ns, volume)
            if users:
                ids = ", ".join(c.id for c in users)
                out.append(
                    f"Error response from daemon: remove {name}: volume is in use - [{ids}]\n"
                )
                code = 1
                continue
            uid = (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
            volume.remove()
            removed.append({"name": name, "uid": uid})
            out.append(name + "\n")
        return Outcome(code, "".join(out), facts={"removed_volumes": removed})

    def _do_volume_inspect(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        objects, errors = [], []
        for name in command.args:
            volume = self._find_volume(ns, name)
            if volume is None:
                errors.append(name)
            else:
                objects.append(self._inspect_volume(volume))
        return self._render_objects(objects, errors, command.value("format"), "volume")

    def _do_volume_prune(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        used = {m.get("Name") for c in self._containers(ns) for m in c.attrs.get("Mounts", [])}
        removed: list[dict[str, str]] = []
        for volume in self._volumes(ns):
            labels = volume.attrs.get("Labels") or {}
            if volume.name in used:
                continue
            if labels.get(LABEL_ANONYMOUS) != "1" and not command.flag("all"):
                continue
            volume.remove()
            removed.append({"name": labels.get(LABEL_NAME, ""), "uid": labels.get(LABEL_UID, "")})
        lines = "".join(r["name"] + "\n" for r in removed)
        return Outcome(0, f"Deleted Volumes:\n{lines}\nTotal reclaimed space: 0B\n",
                       facts={"removed_volumes": removed})

    # housekeeping ------------------------------------------------------------------------

    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove every container and volume of the person; (containers, volumes) removed."""
        ns = self.namespace(person)
        return self._remove_namespace(ns)

    def _remove_namespace(self, ns: Namespace) -> tuple[int, int]:
        with self._engine():
            containers = self._containers(ns)
            for container in containers:
                with suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
            volumes = self._volumes(ns)
            for volume in volumes:
                with suppress(docker.errors.NotFound):
                    volume.remove(force=True)
        return len(containers), len(volumes)


def _owned(labels: dict[str, str], ns: Namespace) -> bool:
    """Whether labels mark an object as belonging to exactly this namespace."""
    return (
        labels.get(LABEL_MANAGED) == "1"
        and labels.get(LABEL_NAMESPACE) == ns.prefix
        and labels.get(LABEL_LEARNER) == ns.learner
    )


def _inner_argv(argv: list[str]) -> list[str]:
    """The command a ``sh -c '...'`` wrapper runs, split into words (else ``argv``)."""
    if len(argv) >= 3 and argv[0] in ("sh", "bash", "/bin/sh") and argv[1] == "-c":
        try:
            return shlex.split(argv[2])
        except ValueError:
            return argv
    return argv


def _anonymous_name() -> str:
    return naming.new_uid() + naming.new_uid() + naming.new_uid() + naming.new_uid()


def _read_stream(
    raw: socket.socket, *, tty: bool, deadline: float, limit: int
) -> tuple[bytes, int, bool]:
    """Read an exec's output until it ends, :data:`DRAIN_LIMIT` bytes are read, or ``deadline``.

    Past ``limit`` bytes the output is only counted, so that the learner is told how
    much was cut; past :data:`DRAIN_LIMIT` the tutor stops reading.

    Without a TTY the engine multiplexes stdout and stderr in frames (an 8-byte header
    whose last 4 bytes are the payload length); both streams are kept, in order.

    Returns:
        The first ``limit`` bytes of output, how many bytes were read in all, and
        whether the deadline passed first.
    """
    kept = bytearray()
    pending = bytearray()
    frame_left = 0
    size = 0
    while size <= DRAIN_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(kept), size, True
        raw.settimeout(left)
        try:
            chunk = raw.recv(65536)
        except TimeoutError:
            return bytes(kept), size, True
        except OSError:
            break
        if not chunk:
            break
        if tty:
            payload = bytes(chunk)
        else:
            pending += chunk
            parts = []
            while pending:
                if frame_left == 0:
                    if len(pending) < 8:
                        break
                    frame_left = int.from_bytes(pending[4:8], "big")
                    del pending[:8]
                    continue
                take = min(frame_left, len(pending))
                parts.append(bytes(pending[:take]))
                del pending[:take]
                frame_left -= take
            payload = b"".join(parts)
        size += len(payload)
        room = limit - len(kept)
        if room > 0:
            kept += payload[:room]
    return bytes(kept), size, False
