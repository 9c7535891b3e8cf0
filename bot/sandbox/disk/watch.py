"""The disk watcher: keeps every learner under ``TUTOR_DISK_MB``, one watcher per engine.

What the kernel bounds is not watched twice: on an engine whose storage driver takes
``--storage-opt size`` (btrfs), each learner container's writable layer is capped there
(:mod:`bot.sandbox.disk.storage`). Everything else (volumes, the workspace, deleted files
still open, and the layers on overlay engines) is measured by the tutor's meter container
(:mod:`bot.sandbox.disk.meter`), bounded per learner in entries and seconds, so one
learner's inode flood costs that learner's budget and nobody else's.

* **One watcher per engine and namespace**, across processes and replicas: only the
  holder of the engine-side :class:`~bot.sandbox.disk.lease.Lease` measures.
* **Adaptive**: the next look comes sooner when a learner nears the quota fast (half the
  time the fastest grower needs to reach it), never sooner than a fifth of
  ``TUTOR_DISK_CHECK_SECONDS`` nor than twice the last measurement's cost, and at
  ``TUTOR_DISK_CHECK_SECONDS`` when nothing grows.
* **Not during a burst** of learner commands in this process (five within a second): the
  look waits, by half seconds, at most one interval.
* **Only proven writers are stopped** (finding 10): a learner over the quota (or whose
  measurement hit the entry cap or the time budget) loses only the running containers
  that hold deleted-but-open files, whose own layer grew by at least
  :data:`GROWTH_BYTES` since the last look (or hit the cap), or that mount read-write a
  volume that grew so, when they are its only running writer or show activity of their
  own (new processes, or bytes written). A container that did nothing is never stopped,
  and the first look after the watcher starts only records (deleted-open files aside).

Nothing is removed: the learner is told in the reply to their next command, frees space
and starts again. Problems reaching the engine are logged for the operators (never with a
traceback at warning level: a busy engine is not an unreachable one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

import docker
import docker.errors
import requests.exceptions

from bot.sandbox.disk.df import engine_busy, owner_of
from bot.sandbox.disk.df import measure as df_measure
from bot.sandbox.disk.lease import Lease
from bot.sandbox.disk.meter import (
    ENTRY_CAP,
    LAYER_DRIVERS,
    LEARNER_SECONDS,
    Measure,
    Meter,
    MeterFailed,
    MeterRefused,
)
from bot.sandbox.policy.naming import LABEL_MANAGED, LABEL_NAME, LABEL_NAMESPACE, Namespace, own_image_bytes
from bot.sandbox.pool.addresses import socket_accepts

if TYPE_CHECKING:
    from bot.config import Limits, Settings


class QuotaHost(Protocol):
    """What the watcher uses of its sandbox (the sandbox base satisfies it)."""

    settings: Settings
    limits: Limits

    @property
    def client(self) -> docker.DockerClient:
        """The engine client."""

    def _tell_later(self, ns: Namespace, note: str) -> None:
        """Keep ``note`` for the learner's next reply."""

log = logging.getLogger("docker_tutor.sandbox.disk")

GROWTH_BYTES = 1024 * 1024
"""What a container must have added since the last look to count as a writer."""

BURST_COMMANDS = 5
"""Learner commands within one second of this process that put a look off."""


class DiskWatch:
    """Keeps every learner of a sandbox under the disk quota (a daemon thread).

    Args:
        sandbox: The sandbox whose engine, namespace prefix and limits are used.
    """

    def __init__(self, sandbox: QuotaHost) -> None:
        self.sandbox = sandbox
        self.prefix = sandbox.settings.namespace
        self.quota = sandbox.limits.disk_bytes
        self.max_interval = sandbox.limits.disk_check_seconds
        self.min_interval = max(0.25, self.max_interval / 5)
        self.looks = 0
        self.last_seconds = 0.0
        self.seconds_between = 0.0
        """Seconds between the last two looks."""
        self.evidence: dict[str, int] = {}
        """Container id -> bytes that proved it a writer when it was stopped (for reports)."""
        self._last: Measure | None = None
        self._last_at = 0.0
        self._commands: deque[float] = deque(maxlen=BURST_COMMANDS)
        self._deferred = 0.0
        self._meter: Meter | None = None
        self._lease: Lease | None = None
        self._df_only = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the thread -------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Note a learner command that starts a process, and start the thread if needed."""
        if self.quota <= 0:
            return
        self._commands.append(time.monotonic())
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="disk-watch",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread and give the lease up (the sandbox closes)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if self._lease is not None:
            try:
                self._lease.release()
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                log.info("the disk-watch lease could not be released; it lapses by itself")

    def _loop(self) -> None:
        wait = self.min_interval
        while not self._stop.wait(wait):
            try:
                wait = self.step()
            except (docker.errors.DockerException, requests.exceptions.RequestException,
                    MeterFailed) as exc:
                wait = self.max_interval
                report(exc)
            except Exception:  # never let the thread die silently: the operators' log
                wait = self.max_interval
                log.exception("the disk watcher failed unexpectedly")

    def step(self) -> float:
        """One turn of the thread: hold the lease, maybe measure; seconds until the next."""
        address = self.sandbox.settings.docker_host or ""
        if address and not socket_accepts(address, timeout=1.0):
            return self.max_interval  # a dead engine: no socket left, no long wait
        lease = self._lease_of()
        if not lease.hold():
            self._last = None  # another process watches; its looks are not ours to compare
            return lease.ttl / 3
        if self._burst() and self._deferred < self.max_interval:
            self._deferred += 0.5
            return 0.5
        self._deferred = 0.0
        before = self._last
        self.check()
        return self._next_interval(before, self._last)

    def _lease_of(self) -> Lease:
        if self._lease is None:
            self._lease = Lease(self.sandbox.client, self.prefix,
                                ttl=max(5.0, 3 * self.max_interval))
        return self._lease

    def _burst(self) -> bool:
        times = self._commands
        return len(times) == times.maxlen and time.monotonic() - times[0] < 1.0

    def _next_interval(self, before: Measure | None, now: Measure | None) -> float:
        """Sooner when someone nears the quota fast; never cheaper than twice the last cost."""
        wait = self.max_interval
        if before is not None and now is not None and self.seconds_between > 0:
            for learner, used in now.by_learner.items():
                if not now.running.get(learner):
                    continue
                rate = (used - before.by_learner.get(learner, 0)) / self.seconds_between
                if rate > 0:
                    wait = min(wait, max(0.0, self.quota - used) / rate / 2)
        return max(wait, self.min_interval, 2 * self.last_seconds)

    # -- one look -------------------------------------------------------------------------

    def measure(self) -> Measure | None:
        """The deployment's disk use now (``None`` when no learner container runs)."""
        api = self.sandbox.client.api
        labels = [f"{LABEL_NAMESPACE}={self.prefix}", f"{LABEL_MANAGED}=1"]
        if self._meter is None:
            self._meter = Meter(self.sandbox.client, self.prefix)
        containers = api.containers(all=True, filters={"label": labels},
                                    size=self._layers_by_engine())
        if not any(c.get("State") == "running" for c in containers):
            return None
        if self._df_only:
            return df_measure(api, self.prefix)
        volumes = api.volumes(filters={"label": labels}).get("Volumes") or []
        try:
            found = self._meter.measure(containers, volumes, self._owner, cap=ENTRY_CAP,
                                        seconds=LEARNER_SECONDS)
            images = api.images(all=True, filters={"label": [f"{LABEL_NAMESPACE}={self.prefix}"]})
            for learner, size in own_image_bytes(images, self.prefix).items():
                found.by_learner[learner] += size  # built images and their build cache
            return found
        except (MeterRefused, docker.errors.APIError) as exc:
            if isinstance(exc, docker.errors.APIError) and (
                    exc.is_server_error() or exc.status_code == 404):
                raise  # busy, or a meter removed meanwhile: next time
            reason = exc.explanation if isinstance(exc, docker.errors.APIError) else exc
            log.warning("this engine refuses the disk meter (%s): measuring with the engine's "
                        "own df from now on, which misses deleted-open files", reason)
            self._df_only = True
            return df_measure(api, self.prefix)

    def _layers_by_engine(self) -> bool:
        """Whether layers must be sized by the engine (``size=1``): neither walkable nor bounded.

        On overlay engines the meter walks each layer; on btrfs the kernel bounds it; on
        anything else (vfs: test engines) the engine sizes this deployment's layers.
        """
        assert self._meter is not None  # noqa: S101 - made by the caller
        if self._meter.driver() in LAYER_DRIVERS:
            return False
        limit = getattr(self.sandbox, "_layer_limit", None)
        return not (limit is not None and limit.supported(self.sandbox.client))

    def _owner(self, labels: dict[str, str] | None, hidden: str) -> str:
        return owner_of(self.prefix, labels, hidden)

    def check(self) -> dict[str, list[str]]:
        """Measure once and stop what writes past the quota.

        Returns:
            Learner hash -> names of the containers stopped.
        """
        began = time.monotonic()
        now = self.measure()
        self.last_seconds = time.monotonic() - began
        if now is None:
            return {}
        self.looks += 1
        last, self._last = self._last, now
        self.seconds_between = began - self._last_at if last is not None else 0.0
        self._last_at = began
        stopped: dict[str, list[str]] = {}
        api = self.sandbox.client.api
        for learner in set(now.by_learner) | now.slow:
            used = now.by_learner.get(learner, 0)
            if not now.running.get(learner) or (used <= self.quota and not now.flagged(learner)):
                continue
            names = []
            for container in proven_writers(now, last, learner):
                try:
                    api.kill(container["Id"])
                except docker.errors.APIError:
                    continue  # it stopped meanwhile
                names.append((container.get("Labels") or {}).get(LABEL_NAME, ""))
                cid = str(container["Id"])
                self.evidence[cid] = max(now.held.get(cid, 0), now.layers.get(cid, ("", 0))[1])
            if names:
                stopped[learner] = names
                self._tell(learner, used, names, flood=now.flagged(learner))
                log.info("disk quota: stopped %s of learner %s (%d MiB counted)", names,
                         learner, used // 2**20)
        return stopped

    def _tell(self, learner: str, used: int, names: list[str], *, flood: bool) -> None:
        shown = ", ".join(f"`{n}`" for n in names)
        took = (f"more files than the tutor measures ({ENTRY_CAP:,})" if flood
                else f"{used // 2**20} MiB of disk")
        self.sandbox._tell_later(Namespace(self.prefix, learner), (
            f"Your containers, volumes and workspace took {took}, past "
            f"your quota of {self.quota // 2**20} MiB, so the tutor stopped {shown}, which "
            "kept writing. Nothing was removed: free space (`docker rm`, `docker volume rm`, "
            "or delete files), then `docker start` again."))


def proven_writers(now: Measure, last: Measure | None, learner: str) -> list[dict[str, Any]]:
    """The learner's running containers proven to have written what put them over.

    See the module's description: deleted-open files held, an own layer grown by
    :data:`GROWTH_BYTES` (or walked to the cap), or a read-write volume so grown when the
    container is its only running writer or shows activity of its own. Without a
    previous look only deleted-open files count.
    """
    running = now.running.get(learner, [])
    proven = []
    for container in running:
        cid = str(container.get("Id", ""))
        if now.held.get(cid, 0) >= GROWTH_BYTES or cid in now.capped:
            proven.append(container)
            continue
        if last is None:
            continue
        if _grew(now.layers, last.layers, cid):
            proven.append(container)
            continue
        for mount in container.get("Mounts") or []:
            name = mount.get("Name", "")
            if not mount.get("RW", True) or not (name in now.capped or _grew(now.volumes,
                                                                             last.volumes, name)):
                continue
            writers = [c for c in running if _mounts_rw(c, name)]
            if len(writers) == 1 or _active(now, last, cid):
                proven.append(container)
                break
    return proven


def _grew(now: dict[str, tuple[str, int]], last: dict[str, tuple[str, int]], key: str) -> bool:
    if key not in now:
        return False
    return now[key][1] - last.get(key, ("", 0))[1] >= GROWTH_BYTES


def _mounts_rw(container: dict[str, Any], name: str) -> bool:
    return any(m.get("Name") == name and m.get("RW", True) for m in container.get("Mounts") or [])


def _active(now: Measure, last: Measure, cid: str) -> bool:
    """New processes since the last look, or a megabyte written by its live ones."""
    if cid not in now.activity or cid not in last.activity:
        return False
    (wrote, pids), (wrote_before, pids_before) = now.activity[cid], last.activity[cid]
    return pids != pids_before or wrote - wrote_before >= GROWTH_BYTES


def report(exc: Exception) -> None:
    """Log a failed look for the operators: one line, the traceback only at debug level."""
    if isinstance(exc, docker.errors.APIError) and engine_busy(exc):
        log.info("the disk watcher found the engine busy; it looks again later")
    elif isinstance(exc, docker.errors.APIError):
        log.warning("the disk watcher's look failed: %s", exc.explanation or exc)
    elif isinstance(exc, MeterFailed):
        log.warning("the disk meter's look failed: %s", exc)
    else:
        log.warning("the disk watcher could not reach the engine: %s", exc)
    log.debug("the disk watcher's failure", exc_info=exc)
