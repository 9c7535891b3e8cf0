"""``docker-tutor engines``: each engine of the pool with its state, learners, objects and disk."""

from __future__ import annotations

from dataclasses import dataclass

import docker.errors

from bot.config import Settings
from bot.errors import EngineUnavailable
from bot.sandbox.disk.df import engine_busy, measure
from bot.sandbox.engine.translate import engine_reads
from bot.sandbox.policy.naming import LABEL_MANAGED, LABEL_NAMESPACE
from bot.sandbox.pool.sandbox_pool import Placements, SandboxPool


def shown_bytes(count: int | None) -> str:
    """Bytes for a person: ``0 B``, ``12 KiB``, ``3.4 MiB``, ``1.2 GiB``; ``?`` when unknown."""
    if count is None:
        return "?"
    if count < 1024:
        return f"{count} B"
    if count < 1024**2:
        return f"{count // 1024} KiB"
    if count < 1024**3:
        return f"{count / 1024**2:.1f} MiB"
    return f"{count / 1024**3:.1f} GiB"


@dataclass(frozen=True)
class EngineRow:
    """One engine as ``docker-tutor engines`` prints it.

    Attributes:
        address: The engine's address (``TUTOR_ENGINES``).
        up: Whether it answered a ping.
        learners: Learners placed on it.
        containers: The tutor's containers on it (of this namespace); ``None`` when down.
        volumes: The tutor's volumes on it (of this namespace); ``None`` when down.
        draining: An operator is draining it (no new placements).
        images: Whether it holds every lesson image; ``None`` when down.
        disk: Bytes the tutor's containers' layers and volumes use on it (the engine's
            ``df``); ``None`` when down.
    """

    address: str
    up: bool
    learners: int
    containers: int | None
    volumes: int | None
    draining: bool = False
    images: bool | None = None
    disk: int | None = None

    @property
    def state(self) -> str:
        """``DOWN``, ``draining``, ``images missing`` or ``up`` (the first that applies)."""
        if not self.up:
            return "DOWN"
        if self.draining:
            return "draining"
        return "up" if self.images is not False else "images missing"

    def line(self) -> str:
        """The row as one line of text."""
        def shown(count: int | None) -> str:
            return "-" if count is None else str(count)

        state = self.state if not (self.draining and not self.up) else "DOWN,draining"
        return (f"{self.address:50} {state:14} {self.learners:9} "
                f"{shown(self.containers):>10} {shown(self.volumes):>8} {shown_bytes(self.disk):>10}")


HEADER = (f"{'ENGINE':50} {'STATE':14} {'LEARNERS':>9} {'CONTAINERS':>10} {'VOLUMES':>8} "
          f"{'DISK':>10}")


def engine_rows(settings: Settings, placements: Placements,
                allowed_images: frozenset[str] | None = None) -> list[EngineRow]:
    """Every engine of the pool (``settings.engines``), asked now.

    Without ``TUTOR_ENGINES`` the one engine of ``DOCKER_HOST`` is listed alone.

    Args:
        settings: The settings.
        placements: The store (placements and drains).
        allowed_images: The lesson images, to say which engines miss some (``None``: not asked).
    """
    listed = settings.engines or (settings.docker_host or "unix:///var/run/docker.sock",)
    pool = SandboxPool(Settings(**{**settings.__dict__, "engines": listed}), placements,
                       allowed_images)
    loads = placements.engine_loads()
    draining = placements.draining_engines()
    selector = {"label": [f"{LABEL_NAMESPACE}={settings.namespace}", f"{LABEL_MANAGED}=1"]}
    rows = []
    try:
        for address, sandbox in pool.engines.items():
            up = pool.answers(address, fresh=True)
            containers = volumes = disk = None
            images = None
            if up:
                try:
                    with engine_reads():
                        api = sandbox.client.api
                        containers = len(api.containers(all=True, filters=selector))
                        volumes = len(api.volumes(filters=selector).get("Volumes") or [])
                        try:
                            used = measure(api, settings.namespace)
                            disk = sum(used.by_learner.values())
                        except docker.errors.APIError as exc:
                            if not engine_busy(exc):
                                raise
                            disk = None  # busy with another disk-usage operation: not down
                    images = pool.has_images(address, fill=False)
                except EngineUnavailable:
                    up = False
            rows.append(EngineRow(address, up, loads.get(address, 0), containers, volumes,
                                  address in draining, images, disk))
    finally:
        pool.close()
    return rows


__all__ = ["HEADER", "EngineRow", "engine_rows", "shown_bytes"]
