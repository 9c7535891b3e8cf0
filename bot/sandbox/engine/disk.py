"""The disk quota per learner: writable layers, volumes and the workspace, measured together.

A learner's container can write as fast as the engine's disk allows, into its own layer,
a volume or the workspace; none of them has a size limit on overlay storage without
xfs project quotas (``--storage-opt size`` is refused by such engines). So a watcher
measures from the engine's side (``GET /system/df``: the engine sizes every
container's writable layer and every volume itself; nothing in a container can fake
it) and, past ``TUTOR_DISK_MB``, kills the learner's running containers that grew since
the last look (all their running ones on the first look). Nothing is removed: the
learner is told in the reply to their next command, frees space (``docker rm``,
``docker volume rm``) and starts again.

The watcher is one thread per sandbox. It asks the engine for the deployment's running
containers every ``TUTOR_DISK_CHECK_SECONDS`` and measures only while some run; the
overshoot past the quota is at most what a container writes in one interval plus one
measurement. An engine on a unix socket that accepts no connection (its daemon died) is
skipped with a bare connect, closed at once, before docker-py is asked anything: polling a
dead engine costs microseconds and leaves no socket behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import docker
import docker.errors
import requests.exceptions

from bot.sandbox.policy.naming import (
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    Namespace,
    own_image_bytes,
)
from bot.sandbox.pool.addresses import socket_accepts
from bot.sandbox.workspace.names import LABEL_HELPER, LABEL_WORKSPACE

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

log = logging.getLogger("docker_tutor.sandbox")


@dataclass
class Measure:
    """One look at the deployment's disk use.

    Attributes:
        by_learner: Bytes per learner hash (layers, volumes and workspace together).
        layers: Container id -> (learner, bytes of its writable layer).
        volumes: Volume engine name -> (learner, bytes).
        running: Learner hash -> their running containers (the engine's summaries).
    """

    by_learner: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    layers: dict[str, tuple[str, int]] = field(default_factory=dict)
    volumes: dict[str, tuple[str, int]] = field(default_factory=dict)
    running: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def measure(api: docker.APIClient, prefix: str, *, patience: float = 5.0) -> Measure:
    """The deployment's disk use per learner, as the engine sizes it (one ``df`` request).

    The engine runs one disk-usage operation at a time and answers another caller's
    ``df`` meanwhile with an error: that is retried for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            data: dict[str, Any] = api.df()
            break
        except docker.errors.APIError as exc:
            busy = "already running" in str(exc.explanation or "")
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    found = Measure()

    def owner(labels: dict[str, str] | None, hidden: str) -> str:
        labels = labels or {}
        if labels.get(LABEL_MANAGED) != "1" or labels.get(LABEL_NAMESPACE) != prefix:
            return ""
        return labels.get(LABEL_LEARNER) or labels.get(hidden) or ""

    for container in data.get("Containers") or []:
        learner = owner(container.get("Labels"), LABEL_HELPER)
        if not learner:
            continue
        size = max(0, int(container.get("SizeRw") or 0))
        found.layers[str(container.get("Id", ""))] = (learner, size)
        found.by_learner[learner] += size
        if container.get("State") == "running":
            found.running[learner].append(container)
    for volume in data.get("Volumes") or []:
        learner = owner(volume.get("Labels"), LABEL_WORKSPACE)
        if not learner:
            continue
        size = max(0, int((volume.get("UsageData") or {}).get("Size") or 0))
        found.volumes[str(volume.get("Name", ""))] = (learner, size)
        found.by_learner[learner] += size
    for learner, size in own_image_bytes(data.get("Images") or [], prefix).items():
        found.by_learner[learner] += size  # built images and their build cache (hook)
    return found


class DiskWatch:
    """Keeps every learner of a sandbox under the disk quota (a daemon thread).

    Args:
        sandbox: The sandbox whose engine, namespace prefix and limits are used.
    """

    def __init__(self, sandbox: QuotaHost) -> None:
        self.sandbox = sandbox
        self.prefix = sandbox.settings.namespace
        self.quota = sandbox.limits.disk_bytes
        self.interval = sandbox.limits.disk_check_seconds
        self._last: Measure | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread if it is not running (a learner container just started)."""
        if self.quota <= 0:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="disk-watch",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the sandbox closes)."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                log.warning("the disk watcher could not reach the engine", exc_info=True)

    def check(self) -> dict[str, list[str]]:
        """Measure once and stop what writes past the quota.

        Returns:
            Learner hash -> names of the containers stopped (none when the engine is dead).
        """
        address = self.sandbox.settings.docker_host or ""
        if address and not socket_accepts(address, timeout=1.0):
            self._last = None  # a dead engine: nothing to measure, no socket left, no long wait
            return {}
        api = self.sandbox.client.api
        running = api.containers(filters={"label": [f"{LABEL_NAMESPACE}={self.prefix}",
                                                    f"{LABEL_MANAGED}=1"],
                                          "status": "running"})
        if not running:
            self._last = None
            return {}
        now = measure(api, self.prefix)
        last, self._last = self._last, now
        stopped: dict[str, list[str]] = {}
        for learner, used in now.by_learner.items():
            if used <= self.quota or not now.running.get(learner):
                continue
            writers = _writers(now, last, learner)
            names = []
            for container in writers:
                try:
                    api.kill(container["Id"])
                except docker.errors.APIError:
                    continue  # it stopped meanwhile
                names.append((container.get("Labels") or {}).get(LABEL_NAME, ""))
            if names:
                stopped[learner] = names
                self._tell(learner, used, names)
        return stopped

    def _tell(self, learner: str, used: int, names: list[str]) -> None:
        shown = ", ".join(f"`{n}`" for n in names)
        self.sandbox._tell_later(Namespace(self.prefix, learner), (
            f"Your containers, volumes and workspace took {used // 2**20} MiB of disk, past "
            f"your quota of {self.quota // 2**20} MiB, so the tutor stopped {shown}, which "
            "kept writing. Nothing was removed: free space (`docker rm`, `docker volume rm`, "
            "or delete files), then `docker start` again."))


def _writers(now: Measure, last: Measure | None, learner: str) -> list[dict[str, Any]]:
    """The learner's running containers that grew (their layer, or a volume they mount).

    On the first look (nothing to compare), all their running containers; later, a
    container that did not grow is left alone even while the learner is over the quota
    (it is not what fills the disk).
    """
    running = now.running.get(learner, [])
    if last is None:
        return running
    grew = []
    for container in running:
        cid = str(container.get("Id", ""))
        before = last.layers.get(cid, (learner, 0))[1]
        if now.layers.get(cid, (learner, 0))[1] > before:
            grew.append(container)
            continue
        for mount in container.get("Mounts") or []:
            name = mount.get("Name", "")
            if mount.get("RW", True) and name in now.volumes and (
                    now.volumes[name][1] > last.volumes.get(name, (learner, 0))[1]):
                grew.append(container)
                break
    return grew
