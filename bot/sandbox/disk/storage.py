"""Whether the engine bounds a container's writable layer in the kernel, and the option to pass.

On a ``btrfs`` engine (and on overlay2 over xfs with project quotas, or zfs) Docker accepts
``--storage-opt size=<bytes>`` per container, and the kernel refuses every write past it:
into the layer, into a file deleted while open, new inodes. Measured here on a btrfs engine
with ``size=50M``: ``dd`` stopped at 47 MB ("Disk quota exceeded"), the deleted-open
writer of finding 5 at 47 MB, an inode flood at 134,000 empty files.

Engines whose driver refuses the option (overlay2 on ext4, fuse-overlayfs, vfs) are found
out once per engine by creating one never-started container with the option; the layer is
then measured by the disk meter instead (see :mod:`bot.sandbox.disk.meter`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import docker
import docker.errors

from bot.sandbox.disk.meter import LABEL_OWN

log = logging.getLogger("docker_tutor.sandbox.disk")

KERNEL_DRIVERS = frozenset({"btrfs", "zfs"})
"""Drivers known to bound ``size`` in the kernel (overlay2 only on xfs with pquota)."""

PROBE_IMAGE = "busybox:latest"


class LayerLimit:
    """The ``storage_opt`` each learner container gets on one engine, found once.

    Args:
        prefix: The deployment's namespace (the probe container is labelled with it).
        size_bytes: The size of a container's writable layer (the learner's disk quota);
            0 or less: no option.
    """

    def __init__(self, prefix: str, size_bytes: int) -> None:
        self.prefix = prefix
        self.size_bytes = size_bytes
        self._supported: bool | None = None
        self._lock = threading.Lock()

    def supported(self, client: docker.DockerClient) -> bool:
        """Whether this engine accepts ``--storage-opt size`` (asked once, then remembered)."""
        with self._lock:
            if self._supported is None:
                self._supported = probe(client, self.prefix)
            return self._supported

    def options(self, client: docker.DockerClient) -> dict[str, Any]:
        """``{"storage_opt": {"size": ...}}`` when the engine bounds layers, else ``{}``."""
        if self.size_bytes <= 0 or not self.supported(client):
            return {}
        return {"storage_opt": {"size": str(self.size_bytes)}}


def probe(client: docker.DockerClient, prefix: str) -> bool:
    """Whether the engine's storage driver accepts a per-container ``size`` (one create)."""
    api = client.api
    driver = str(api.info().get("Driver") or "")
    try:
        created = api.create_container(
            PROBE_IMAGE, command=["true"], network_disabled=True,
            labels={LABEL_OWN: prefix, "docker-tutor.probe": "1"},
            host_config=api.create_host_config(network_mode="none",
                                               storage_opt={"size": str(64 * 2**20)}))
    except docker.errors.ImageNotFound:
        return driver in KERNEL_DRIVERS  # no image to try with: trust the driver's name
    except docker.errors.APIError as exc:
        log.info("engine storage driver %s refuses --storage-opt size (%s): "
                 "writable layers are measured, not bounded by the kernel", driver,
                 exc.explanation)
        return False
    with contextlib.suppress(docker.errors.APIError):
        api.remove_container(created["Id"], force=True)
    log.info("engine storage driver %s bounds each container's writable layer in the kernel",
             driver)
    return True
