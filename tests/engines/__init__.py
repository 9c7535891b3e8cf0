"""Extra Docker engines for tests: a private ``dockerd`` started beside the system engine.

An engine gets its own folder (``/tmp/dte-<label>-XXXX``) holding its data root, exec root,
pid file, unix socket, log and a ``daemon.json`` that carries *every* setting (the command
line is only ``dockerd --config-file <it>``, so nothing is given twice and the system
daemon's ``/etc/docker/daemon.json`` is never read). Its base is the documented hardened
profile, ``deploy/sandbox/daemon.json`` (what the sandbox engine of a deployment runs):

* from the profile: ``userns-remap: default`` (Docker creates the ``dockremap`` user and its
  ``/etc/subuid``/``/etc/subgid`` ranges on first use: root in a container is an
  unprivileged uid on the host); gVisor registered as the runtime ``runsc`` with
  ``--platform=ptrace --network=none`` (the path is where it is installed here; left out
  when it is not: ``.ci/engine.sh install`` installs Debian's package); no bridge, no
  iptables, no IP forwarding or masquerading (learner containers use ``--network none``);
  ``no-new-privileges``;
* per instance: its own paths and socket, its own cgroup parent, so its containers never
  mix with the system engine's, and ``storage-driver: vfs`` (works in any folder, stacks
  on nothing) or, as the profile has it, ``btrfs``: a btrfs file system in a sparse loop
  file inside the engine's folder (``EngineOptions(storage="btrfs")``; needs mkfs.btrfs),
  where the kernel bounds each container's layer.

The lesson images are copied from the system engine (``docker save | docker load``).
Stopping ends the daemon by its pid (checked against ``/proc/<pid>/cmdline`` first), then
any process still naming the engine's folder (containerd, shims, gVisor sandboxes), unmounts
what is left under the folder, removes its cgroups and the folder.

From pytest::

    engine = engine_or_skip(EngineOptions(label="hardened"))   # skips with the reason
    ...  DOCKER_HOST=engine.docker_host ...
    engine.stop()

From a shell (as root)::

    python -m tests.engines start [--no-userns] [--no-runsc] [--label NAME]  # prints JSON
    python -m tests.engines stop /tmp/dte-NAME-XXXX
    python -m tests.engines run [start options] -- COMMAND ...   # DOCKER_HOST set for it
    python -m tests.engines sweep [--all] # stop engines a killed test run left behind
    python -m tests.engines measure      # start-up, image copy, exec latency runc vs runsc
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import docker

from bot.sandbox.engine.unix_socket import mend
from bot.sandbox.pool.addresses import socket_accepts
from tests.engines.host import (
    cgroup_dirs,
    cgroup_processes,
    is_dockerd_of,
    mounts_under,
    processes_naming,
    remove_cgroups,
    start_lock,
    tail,
)
from tests.engines.images import ImageCopyError, copy_images

mend()  # docker-py's unix connect closes its socket when it fails (see unix_socket)

__all__ = [
    "Engine", "EngineError", "EngineOptions", "EngineSkip", "cgroup_dirs", "daemon_config",
    "engine_or_skip", "fuse_overlayfs_runs", "missing", "mounts_under", "profile", "start_engine",
    "sweep",
]

PARENT = Path(os.environ.get("TEST_ENGINES_DIR", "/tmp"))
"""Where engine folders are made. Every folder on the way must let the remapped root
through (``o+x``), and socket paths must stay short: not pytest's ``tmp_path``."""

PREFIX = "dte-"
STATE = "engine.json"
LESSON_IMAGES = ("redis", "busybox")
RUNSC_ARGS = ("--platform=ptrace", "--network=none")
STORAGES = ("vfs", "fuse-overlayfs", "btrfs")
"""The storage drivers a private engine can use (see :class:`EngineOptions`)."""
PROFILE = Path(__file__).resolve().parents[2] / "deploy" / "sandbox" / "daemon.json"
_ENV_TO_DROP = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")


class EngineSkip(RuntimeError):
    """This machine cannot run an extra engine (not root, a binary missing): skip, not fail."""


class EngineError(RuntimeError):
    """The engine did not start, or did not stop cleanly; the message holds its log's tail."""


@dataclass(frozen=True)
class EngineOptions:
    """How to start an engine.

    Attributes:
        label: A short word in the folder's name (``hardened``, ``pool1``...).
        userns_remap: ``dockerd --userns-remap`` value (``default`` or ``user[:group]``);
            ``None`` for no remapping.
        runsc: ``True`` requires gVisor (skip without it), ``False`` never registers it,
            ``None`` registers it when the binary is installed.
        default_runtime: The engine's default runtime (``runsc`` puts every container in
            gVisor without the client asking); ``None`` leaves Docker's (``runc``).
        images: Image repositories copied from the source engine (every tag of each).
        source_host: The engine images come from; ``None``: the caller's ``DOCKER_HOST``
            (or the default socket) at start time.
        timeout: Seconds to wait for the daemon to answer.
        storage: ``vfs`` (any folder; each container a whole copy of its image),
            ``fuse-overlayfs`` (copy-on-write like a production overlay2, in any folder;
            needs the ``fuse-overlayfs`` binary and ``/dev/fuse``) or ``btrfs``: the data
            root is a btrfs file system in a sparse loop file of ``storage_gib`` inside the
            engine's folder, and the kernel bounds each container's layer
            (``--storage-opt size``); needs ``mkfs.btrfs`` (Debian: btrfs-progs,
            ``.ci/engine.sh install``).
        storage_gib: The loop file's size for ``btrfs``.
        extra: More ``daemon.json`` settings (they override the profile's).
        own_network: Run the daemon in a network namespace of its own (``unshare --net``):
            its bridges, addresses and iptables are apart from the host's and the system
            engine's, and the host's own (a FORWARD policy of DROP) cannot touch its
            learners' networks.
    """

    label: str = "engine"
    userns_remap: str | None = "default"
    runsc: bool | None = None
    default_runtime: str | None = None
    images: tuple[str, ...] = LESSON_IMAGES
    source_host: str | None = None
    timeout: float = 60.0
    storage: str = "vfs"
    storage_gib: int = 4
    extra: dict[str, Any] = field(default_factory=dict)
    own_network: bool = False


@dataclass
class Engine:
    """A running extra engine.

    Attributes:
        root: Its folder (everything it owns is inside).
        pid: The ``dockerd`` process id.
        docker_host: ``unix://<root>/docker.sock``, for ``DOCKER_HOST``.
        cgroup_parent: The cgroup its containers live under.
        runtimes: Runtimes the engine reports (``runc``, ``runsc``...).
        remap: Host ``(uid, gid)`` that container root maps to; ``None`` without remapping.
        startup_seconds: From launching ``dockerd`` to its first answer.
        owner: The process that started it and stops it (``0``: started from the command
            line, stopped by ``stop``): ``sweep`` leaves engines of live owners alone.
        load_seconds: Copying the images into it.
    """

    root: Path
    pid: int
    docker_host: str
    cgroup_parent: str
    runtimes: tuple[str, ...] = ()
    remap: tuple[int, int] | None = None
    startup_seconds: float = 0.0
    load_seconds: float = 0.0
    owner: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def socket(self) -> Path:
        """The engine's unix socket."""
        return self.root / "docker.sock"

    @property
    def log(self) -> Path:
        """The daemon's log (stdout and stderr)."""
        return self.root / "dockerd.log"

    def client(self, timeout: int = 120) -> docker.DockerClient:
        """A docker-py client for this engine (the caller closes it)."""
        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)

    def env(self) -> dict[str, str]:
        """``os.environ`` with ``DOCKER_HOST`` pointing here (and no TLS or context)."""
        environment = {k: v for k, v in os.environ.items() if k not in _ENV_TO_DROP}
        environment["DOCKER_HOST"] = self.docker_host
        return environment

    def logtail(self, lines: int = 40) -> str:
        """The last lines of the daemon's log."""
        return tail(self.log, lines)

    def save(self) -> None:
        """Write ``engine.json`` so ``python -m tests.engines stop`` can find the engine."""
        state = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        state["root"] = str(self.root)
        (self.root / STATE).write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, root: Path) -> Engine:
        """The engine described by ``root/engine.json``."""
        state = json.loads((root / STATE).read_text())
        remap = state.get("remap")
        return cls(
            root=Path(state["root"]), pid=int(state["pid"]), docker_host=state["docker_host"],
            cgroup_parent=state["cgroup_parent"], runtimes=tuple(state.get("runtimes", ())),
            remap=(int(remap[0]), int(remap[1])) if remap else None,
            startup_seconds=float(state.get("startup_seconds", 0.0)),
            load_seconds=float(state.get("load_seconds", 0.0)),
            owner=int(state.get("owner", 0)),
        )

    def alive(self) -> bool:
        """Whether the ``dockerd`` process of this engine still runs."""
        if self._process is not None:
            return self._process.poll() is None
        return is_dockerd_of(self.pid, self.root)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the daemon by its pid and remove everything it left.

        Raises:
            EngineError: When something could not be cleaned (after trying everything).
        """
        problems: list[str] = []
        if self.alive():
            self._kill_containers()  # else dockerd waits each one's stop timeout (10 s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(timeout):
                problems.append(f"dockerd {self.pid} ignored SIGTERM for {timeout:.0f} s; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self._wait_gone(10.0)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
        # What a killed daemon leaves: containerd, shims and gVisor's sandbox and gofer name
        # the folder; the containers' own processes sit in the engine's cgroups.
        left = self._leftover_processes()
        deadline = time.monotonic() + 10
        while left and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            left = self._leftover_processes()
        if left:
            problems.append(f"processes of {self.root} still running: {left}")
        for mountpoint in mounts_under(self.root):
            result = subprocess.run(["umount", "-l", mountpoint], capture_output=True, text=True,
                                    check=False)
            if result.returncode != 0:
                problems.append(f"umount {mountpoint}: {result.stderr.strip()}")
        if not remove_cgroups(self.cgroup_parent):
            problems.append(f"cgroup {self.cgroup_parent} could not be removed")
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            problems.append(f"{self.root} could not be removed")
        if problems:
            raise EngineError("; ".join(problems))

    def _leftover_processes(self) -> list[int]:
        """Processes naming the engine's folder or living in its cgroups."""
        return sorted(set(processes_naming(self.root)) | set(cgroup_processes(self.cgroup_parent)))

    def _kill_containers(self) -> None:
        """SIGKILL every running container of this engine (the engine is going away)."""
        if not socket_accepts(self.docker_host, timeout=1.0):
            return  # a dead daemon: nothing to ask, and no docker-py socket left unclosed
        with contextlib.suppress(Exception):
            client = docker.APIClient(base_url=self.docker_host, timeout=10)
            try:
                for container in client.containers():
                    with contextlib.suppress(Exception):
                        client.kill(container["Id"])
            finally:
                client.close()

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.1)
        return not self.alive()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- requirements ---------------------------------------------------------------------------


def runsc_path() -> str | None:
    """Where gVisor's ``runsc`` is installed, if it is."""
    return shutil.which("runsc") or next(
        (p for p in ("/usr/bin/runsc", "/usr/local/bin/runsc") if os.access(p, os.X_OK)), None
    )


def missing(options: EngineOptions) -> str | None:
    """Why an engine with these options cannot start here, or ``None`` when it can."""
    if sys.platform != "linux":
        return "extra Docker engines need Linux"
    if os.geteuid() != 0:
        return "starting an extra dockerd needs root (run the suite as root, as CI does)"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (Debian: apt-get install docker.io)"
    if options.images and shutil.which("docker") is None:
        return "the docker CLI is needed to copy images (docker save | docker load)"
    wants_runsc = options.runsc is True or options.default_runtime == "runsc"
    if wants_runsc and runsc_path() is None:
        return "gVisor's runsc is not installed (.ci/engine.sh install, or apt-get install runsc)"
    if options.storage == "btrfs" and shutil.which("mkfs.btrfs") is None:
        return "mkfs.btrfs is not installed (.ci/engine.sh install, or apt-get install btrfs-progs)"
    if options.storage == "fuse-overlayfs" and not fuse_overlayfs_runs():
        return "fuse-overlayfs storage needs the fuse-overlayfs binary and /dev/fuse"
    if options.storage not in STORAGES:
        return f"unknown storage {options.storage!r} ({', '.join(STORAGES)})"
    if options.userns_remap and shutil.which("useradd") is None and not _has_subid("dockremap"):
        return "userns-remap needs useradd (or a dockremap user with /etc/subuid ranges)"
    return None


def fuse_overlayfs_runs() -> bool:
    """Whether a private engine can use ``fuse-overlayfs`` storage here (its binary and ``/dev/fuse``)."""
    return shutil.which("fuse-overlayfs") is not None and os.path.exists("/dev/fuse")


def _has_subid(user: str) -> bool:
    try:
        return any(line.split(":")[0] == user for line in Path("/etc/subuid").read_text().splitlines())
    except OSError:
        return False


# -- start ----------------------------------------------------------------------------------


def profile() -> dict[str, Any]:
    """The documented hardened profile: ``deploy/sandbox/daemon.json`` (also the dind image's)."""
    return dict(json.loads(PROFILE.read_text()))


def daemon_config(root: Path, options: EngineOptions) -> dict[str, Any]:
    """The whole ``daemon.json`` of an engine in ``root`` (no command-line flag repeats it).

    The documented profile, plus what one more daemon beside the system engine needs: its
    own paths, socket and cgroup parent, and vfs (works in any folder, mounts nothing) or
    btrfs (on its own loop-mounted file system, see :func:`mount_btrfs`).
    """
    config = profile()
    config.update({
        "data-root": str(root / "data"),
        "exec-root": str(root / "exec"),
        "pidfile": str(root / "docker.pid"),
        "hosts": [f"unix://{root / 'docker.sock'}"],
        "storage-driver": options.storage,
        "cgroup-parent": cgroup_name(root),
        "shutdown-timeout": 5,
    })
    if options.userns_remap:
        config["userns-remap"] = options.userns_remap
    else:
        config.pop("userns-remap", None)
    runtimes = dict(config.pop("runtimes", {}))
    runsc = runsc_path() if options.runsc is not False else None
    if runsc:
        runtimes["runsc"] = {**runtimes.get("runsc", {"runtimeArgs": list(RUNSC_ARGS)}),
                             "path": runsc}
    else:
        runtimes.pop("runsc", None)
    if runtimes:
        config["runtimes"] = runtimes
    if options.default_runtime:
        config["default-runtime"] = options.default_runtime
    config.update(options.extra)
    return config


def cgroup_name(root: Path) -> str:
    """The cgroup parent of the engine in ``root`` (``dte-hardened-ab12cd``)."""
    return root.name


def start_engine(options: EngineOptions | None = None, *, detached: bool = False) -> Engine:
    """Start an extra engine, wait until it answers, copy the images into it.

    ``detached``: the engine outlives this process (the command line's ``start``); else
    ``sweep`` may stop it once this process is gone.

    Raises:
        EngineSkip: When this machine cannot run it (see :func:`missing`).
        EngineError: When it did not start or the images could not be copied; everything
            started is stopped and removed first.
    """
    options = options or EngineOptions()
    reason = missing(options)
    if reason:
        raise EngineSkip(reason)
    source_host = options.source_host or os.environ.get("DOCKER_HOST") or None
    PARENT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{options.label}-", dir=PARENT))
    root.chmod(0o711)  # the remapped root must get through to its data root
    config = root / "daemon.json"
    config.write_text(json.dumps(daemon_config(root, options), indent=2) + "\n")
    engine = Engine(root=root, pid=0, docker_host=f"unix://{root / 'docker.sock'}",
                    cgroup_parent=cgroup_name(root), owner=0 if detached else os.getpid())
    try:
        if options.storage == "btrfs":
            mount_btrfs(root, options.storage_gib)
        # One start at a time: the first --userns-remap=default creates the dockremap user,
        # and two daemons creating it at once would race in useradd.
        with start_lock(), (root / "dockerd.log").open("wb") as log:
            began = time.monotonic()
            argv = [shutil.which("dockerd") or "dockerd", "--config-file", str(config)]
            if options.own_network:  # unshare and sh exec in turn: the pid stays dockerd's
                argv = ["unshare", "--net", "--", "sh", "-c",
                        'ip link set lo up && exec "$@"', "sh", *argv]
            engine._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not it
            )
            engine.pid = engine._process.pid
            engine.save()
            info = _wait_ready(engine, options.timeout)
            engine.startup_seconds = time.monotonic() - began
        engine.runtimes = tuple(sorted(info.get("Runtimes") or {}))
        if options.userns_remap:
            if not any("userns" in opt for opt in info.get("SecurityOptions") or ()):
                raise EngineError("the engine does not report user-namespace remapping")
            engine.remap = _remap_ids(str(info.get("DockerRootDir", "")))
        if options.runsc and "runsc" not in engine.runtimes:
            raise EngineError(f"runsc is not among the engine's runtimes {engine.runtimes}")
        engine.save()
        if options.images:
            began = time.monotonic()
            try:
                copy_images(options.images, source_host, engine.env())
            except ImageCopyError as exc:
                raise EngineError(str(exc)) from exc
            engine.load_seconds = time.monotonic() - began
            engine.save()
    except BaseException as exc:
        tail = engine.logtail()
        with contextlib.suppress(EngineError):
            engine.stop()
        if isinstance(exc, EngineError):
            raise EngineError(f"{exc}\n--- dockerd log ({root}) ---\n{tail}") from exc
        raise
    return engine


def mount_btrfs(root: Path, gib: int) -> None:
    """Make ``root/data`` a btrfs file system in the sparse file ``root/btrfs.img``.

    ``mount -o loop`` sets the loop device to clear itself: once :meth:`Engine.stop`
    unmounts everything under the folder, the device is free and the file is removed with it.

    Raises:
        EngineError: ``mkfs.btrfs`` or ``mount`` failed (their message).
    """
    image, data = root / "btrfs.img", root / "data"
    with image.open("wb") as sparse:
        sparse.truncate(gib * 2**30)
    data.mkdir()
    for command in (["mkfs.btrfs", "-q", str(image)], ["mount", "-o", "loop", str(image), str(data)]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EngineError(f"{' '.join(command[:2])}: {done.stderr.strip()}")
    data.chmod(0o711)  # the remapped root must get through to its data root


def _wait_ready(engine: Engine, timeout: float) -> dict[str, Any]:
    """Poll the socket until the daemon answers ``/info``; fail fast when it exits."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if engine._process is not None and engine._process.poll() is not None:
            raise EngineError(f"dockerd exited with status {engine._process.returncode}")
        # A bare connect first: docker-py's own connect to a socket nobody accepts on yet
        # leaves its socket to the garbage collector (a ResourceWarning some test later meets).
        if engine.socket.exists() and socket_accepts(engine.docker_host, timeout=1.0):
            try:
                client = docker.APIClient(base_url=engine.docker_host, timeout=5)
                try:
                    if client.ping():
                        return dict(client.info())
                finally:
                    client.close()
            except Exception as exc:  # any failure means "not yet"
                last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.05)
    raise EngineError(f"dockerd did not answer within {timeout:.0f} s ({last})")


def _remap_ids(docker_root: str) -> tuple[int, int]:
    """``(uid, gid)`` from a remapped data root's name (``.../data/100000.100000``)."""
    try:
        uid, gid = Path(docker_root).name.split(".")
        return int(uid), int(gid)
    except ValueError as exc:
        raise EngineError(f"cannot tell the remapped ids from {docker_root!r}") from exc


def engine_or_skip(options: EngineOptions | None = None) -> Engine:
    """:func:`start_engine` for pytest fixtures: ``pytest.skip`` with the reason when it cannot."""
    import pytest

    try:
        return start_engine(options)
    except EngineSkip as exc:
        pytest.skip(str(exc))


@contextlib.contextmanager
def engine_pair(label: str) -> Iterator[tuple[Engine, Engine]]:
    """Two private hardened engines (``<label>1``, ``<label>2``, runc) with the lesson images.

    Skips the test when this machine cannot run them; both are stopped and emptied after,
    the second even when stopping the first fails.
    """
    first = engine_or_skip(EngineOptions(label=f"{label}1", runsc=False))
    try:
        second = engine_or_skip(EngineOptions(label=f"{label}2", runsc=False))
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        try:
            first.stop()
        finally:
            second.stop()


def sweep(parent: Path = PARENT, everything: bool = False) -> list[Path]:
    """Stop the engines a killed run left in ``parent``: their owner or their daemon is gone.

    Engines of a live owner (another test session running now) are left alone; so are
    engines started from the command line while their daemon runs, unless ``everything``.
    """
    stopped = []
    for root in sorted(parent.glob(f"{PREFIX}*")):
        if not (root / STATE).is_file():
            continue
        engine = Engine.load(root)
        orphaned = engine.owner != 0 and not Path(f"/proc/{engine.owner}").exists()
        if everything or orphaned or not engine.alive():
            engine.stop()
            stopped.append(root)
    return stopped
