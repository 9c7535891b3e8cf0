"""The sandbox: runs parsed learner commands on the Docker engine, confined and limited.

This module (with the rest of ``bot.sandbox``) is the only place that imports ``docker``.
Every docker-py error is translated here: a learner sees the docker CLI's wording, an
operator sees :class:`~bot.errors.EngineUnavailable`; nothing else escapes.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import Mount
from docker.utils.socket import frames_iter

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

_HEX = re.compile(r"^[0-9a-f]{1,64}$")
_NOT_FOUND = "Error response from daemon: No such container: {}\n"


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
                    if self.settings.docker_host:
                        self._client = docker.DockerClient(
                            base_url=self.settings.docker_host, timeout=120, max_pool_size=64
                        )
                    else:
                        self._client = docker.from_env(timeout=120, max_pool_size=64)
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
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise EngineUnavailable(
                "The Docker engine did not answer; your progress is safe. Try again in a moment."
            ) from exc
        except docker.errors.DockerException as exc:
            if isinstance(exc, docker.errors.APIError):
                raise
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
        """Replace engine names with learner names in an engine message."""
        return text.replace(f"{ns.prefix}-{ns.learner}-", "")

    # -- lookups --------------------------------------------------------------------------

    def _containers(self, ns: Namespace, *, all_: bool = True) -> list[Container]:
        with self._engine():
            found: list[Container] = self.client.containers.list(
                all=all_, filters=ns.filters(), sparse=False
            )
        return [c for c in found if _owned(c.labels, ns)]

    def _find_container(self, ns: Namespace, ref: str) -> Container | None:
        """The learner's container named ``ref``, or whose id starts with ``ref``."""
        mine = self._containers(ns)
        for container in mine:
            if container.labels.get(LABEL_NAME) == ref:
                return container
        if _HEX.match(ref):
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
        found = self._find_container(ns, name)
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
        container = self._find_container(ns, name)
        if container is None or container.status != "running":
            return None
        try:
            code, output, _ = self._exec(container, argv, timeout=timeout, tty=False,
                                         limit=READ_LIMIT)
        except docker.errors.APIError:
            return None
        return code, output

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
        ns = self.namespace(person)
        handler: Callable[[Person, Namespace, Command], Outcome] = getattr(
            self, "_do_" + command.verb.replace(" ", "_")
        )
        try:
            with self._engine():
                outcome = handler(person, ns, command)
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

    # run ---------------------------------------------------------------------------------

    def _image(self, ref: str) -> tuple[str, str]:
        """Normalise an image reference; return (name the learner knows, local tag)."""
        ref = ref.removeprefix("docker.io/").removeprefix("library/")
        name, _, tag = ref.partition(":")
        if "@" in name or "/" in name:
            raise CommandRefused(
                f"Image {ref!r} is not available in this sandbox.",
                option=ref,
                hint=self._images_hint(),
            )
        if self.allowed_images is not None and name not in self.allowed_images:
            raise CommandRefused(
                f"Image {ref!r} is not used by this lesson, so the sandbox does not offer it.",
                option=ref,
                hint=self._images_hint(),
            )
        return name, f"{name}:{tag or 'latest'}"

    def _images_hint(self) -> str:
        if self.allowed_images is None:
            return "Type `docker images` to see the images you can use."
        return "Images you can use: " + ", ".join(sorted(self.allowed_images)) + "."

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

    def _requested_mounts(self, command: Command) -> list[MountRequest]:
        requests_ = [mounts.parse_volume_flag(v) for v in command.values("volume")]
        requests_ += [mounts.parse_mount_flag(m) for m in command.values("mount")]
        requests_ += [mounts.parse_tmpfs_flag(t) for t in command.values("tmpfs")]
        targets = [r.target for r in requests_]
        duplicate = next((t for t in targets if targets.count(t) > 1), None)
        if duplicate:
            raise CommandRefused(f"Two mounts target {duplicate}; each path may be mounted once.",
                                 option="-v")
        return requests_

    def _do_run(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        image_name, tag = self._image(command.args[0])
        argv = command.args[1:]
        name = command.value("name")
        name = policy.check_name(name, "container") if name else naming.random_container_name()
        env = _environment(command.values("env"))
        wanted = self._requested_mounts(command)
        existing = self._find_container(ns, name)
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
                host = self.workspace(person) / request.source
                host.mkdir(parents=True, exist_ok=True)
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
        entrypoint = command.value("entrypoint")
        container: Container = self.client.containers.create(
            tag,
            command=argv or None,
            entrypoint=entrypoint.split() if entrypoint else None,
            name=ns.engine_name(name),
            labels=ns.labels(name, **{"docker-tutor.image": image_name}),
            environment=env,
            working_dir=command.value("workdir"),
            hostname=command.value("hostname"),
            user=command.value("user"),
            mounts=engine_mounts,
            tmpfs=tmpfs or None,
            detach=True,
            tty=command.flag("tty") and not detach,
            **self._host_limits(),
        )
        container.start()
        container.reload()
        facts: dict[str, Any] = {
            "container": self._view(ns, container).as_fact(),
            "argv": argv,
            "detach": detach,
        }
        if detach:
            return Outcome(0, container.id + "\n", facts=facts)
        return self._foreground(ns, container, command.flag("rm"), facts)

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
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
            "restart_policy": {"Name": "no"},
        }

    def _foreground(
        self, ns: Namespace, container: Container, remove: bool, facts: dict[str, Any]
    ) -> Outcome:
        notes = []
        try:
            result = container.wait(timeout=self.limits.foreground_seconds)
            code = int(result.get("StatusCode", 0))
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            container.wait(timeout=10)
            code = 137
            notes.append(
                f"The command was still running after {self.limits.foreground_seconds:g} "
                "seconds, so the tutor stopped it. For a server, use `docker run -d`."
            )
        raw = container.logs(stdout=True, stderr=True, tail=2000)
        output = raw.decode("utf-8", "replace").replace("\r\n", "\n")
        if remove:
            self._remove(ns, container, force=True)
        facts["exit"] = code
        return Outcome(code, output, notes=notes, facts=facts)

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
    ) -> tuple[int, str, int]:
        """Run ``argv`` in ``container`` under a hard time limit; (exit, output, cut)."""
        wrapped = ["timeout", "-s", "KILL", str(max(1, round(timeout))), *argv]
        api = self.client.api
        exec_id = api.exec_create(
            container.id, wrapped, stdout=True, stderr=True, tty=tty, environment=env,
            workdir=workdir, user=user or "",
        )["Id"]
        if detach:
            api.exec_start(exec_id, detach=True)
            return 0, "", 0
        chunks: list[bytes] = []
        size = 0
        sock = api.exec_start(exec_id, socket=True, tty=tty)
        raw = getattr(sock, "_sock", sock)
        raw.settimeout(timeout + 5)
        try:
            for _stream, data in frames_iter(sock, tty):
                size += len(data)
                if size <= limit:
                    chunks.append(data)
                else:
                    break
        except OSError:
            pass  # the read timed out; `timeout` inside the container kills the command
        finally:
            sock.close()
            raw.close()
        code = api.exec_inspect(exec_id).get("ExitCode")
        deadline = time.monotonic() + 2
        while code is None and time.monotonic() < deadline:
            time.sleep(0.05)
            code = api.exec_inspect(exec_id).get("ExitCode")
        text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
        return (code if code is not None else -1), text, max(0, size - limit)

    def _do_exec(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        ref, argv = command.args[0], command.args[1:]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, _NOT_FOUND.format(ref))
        if container.status != "running":
            return Outcome(
                1, f"Error response from daemon: Container {container.id} is not running\n"
            )
        env = _environment(command.values("env"))
        tty = command.flag("tty") or (argv[:1] == ["redis-cli"])
        started = time.monotonic()
        code, output, cut = self._exec(
            container, argv, timeout=self.limits.foreground_seconds, tty=tty,
            limit=READ_LIMIT, env=env, workdir=command.value("workdir"),
            user=command.value("user"), detach=command.flag("detach"),
        )
        notes = []
        if code == 137 and time.monotonic() - started >= self.limits.foreground_seconds - 0.5:
            notes.append(
                f"The command was still running after {self.limits.foreground_seconds:g} "
                "seconds, so the tutor stopped it."
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
                try:
                    volume.remove()
                except docker.errors.APIError:
                    pass  # still used by another container; the reaper will get it

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

    def _do_rm(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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

    def _do_stop(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        seconds = _seconds(command.value("time"), 10)
        stopped: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            was_running = container.status == "running"
            container.stop(timeout=seconds)
            stopped.append({"id": container.id, "name": container.labels.get(LABEL_NAME, ""),
                            "was_running": was_running})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"stopped": stopped})

    def _do_start(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        started: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            container.start()
            started.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"started": started})

    def _do_restart(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        seconds = _seconds(command.value("time"), 10)
        restarted: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            container.restart(timeout=seconds)
            restarted.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"restarted": restarted, "stopped": restarted})

    def _do_logs(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, _NOT_FOUND.format(ref))
        tail_raw = command.value("tail")
        tail: int | str = "all"
        if tail_raw not in (None, "all"):
            tail = _seconds(tail_raw, 0)
        raw = container.logs(stdout=True, stderr=True, tail=tail,
                             timestamps=command.flag("timestamps"))
        return Outcome(0, raw[-READ_LIMIT:].decode("utf-8", "replace").replace("\r\n", "\n"),
                       cut=max(0, len(raw) - READ_LIMIT),
                       facts={"container": {"id": container.id, "name": ref}})

    # reading -----------------------------------------------------------------------------

    def _do_ps(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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

    def _do_images(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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
            "State": a.get("State"),
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

    def _do_inspect(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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

    def _do_volume_create(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        name = policy.check_name(command.args[0], "volume") if command.args else _anonymous_name()
        volume = self._ensure_volume(ns, name)
        uid = (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
        return Outcome(0, name + "\n", facts={"volume": {"name": name, "uid": uid}})

    def _do_volume_ls(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        names = sorted((v.attrs.get("Labels") or {}).get(LABEL_NAME, "") for v in self._volumes(ns))
        if command.flag("quiet"):
            return Outcome(0, "".join(n + "\n" for n in names))
        return Outcome(0, formatting.table(["DRIVER", "VOLUME NAME"], [["local", n] for n in names]))

    def _volume_users(self, ns: Namespace, volume: Volume) -> list[Container]:
        return [
            c for c in self._containers(ns)
            if any(m.get("Name") == volume.name for m in c.attrs.get("Mounts", []))
        ]

    def _do_volume_rm(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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

    def _do_volume_inspect(self, person: Person, ns: Namespace, command: Command) -> Outcome:
        objects, errors = [], []
        for name in command.args:
            volume = self._find_volume(ns, name)
            if volume is None:
                errors.append(name)
            else:
                objects.append(self._inspect_volume(volume))
        return self._render_objects(objects, errors, command.value("format"), "volume")

    def _do_volume_prune(self, person: Person, ns: Namespace, command: Command) -> Outcome:
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
                try:
                    container.remove(force=True, v=True)
                except docker.errors.NotFound:
                    pass
            volumes = self._volumes(ns)
            for volume in volumes:
                try:
                    volume.remove(force=True)
                except docker.errors.NotFound:
                    pass
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


def _environment(values: list[str]) -> list[str]:
    env = []
    for item in values:
        key, eq, _ = item.partition("=")
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise CommandRefused(
                f"`-e {item}`: write variables as NAME=value (the sandbox has no host "
                "environment to copy from).",
                option="-e",
            )
        env.append(item)
    return env


def _seconds(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CommandRefused(f"{raw!r} is not a whole number.", option=raw) from None
    if value < 0 or value > 60:
        raise CommandRefused("Use a number of seconds from 0 to 60.", option=raw)
    return value
