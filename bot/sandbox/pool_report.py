"""``docker-tutor engines``: each engine of the pool with its health, learners and objects."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.errors import EngineUnavailable
from bot.sandbox.naming import LABEL_MANAGED, LABEL_NAMESPACE
from bot.sandbox.pool import Placements, SandboxPool
from bot.sandbox.translate import engine_reads


@dataclass(frozen=True)
class EngineRow:
    """One engine as ``docker-tutor engines`` prints it.

    Attributes:
        address: The engine's address (``TUTOR_ENGINES``).
        up: Whether it answered a ping.
        learners: Learners placed on it.
        containers: The tutor's containers on it (of this namespace); ``None`` when down.
        volumes: The tutor's volumes on it (of this namespace); ``None`` when down.
    """

    address: str
    up: bool
    learners: int
    containers: int | None
    volumes: int | None

    def line(self) -> str:
        """The row as one line of text."""
        def shown(count: int | None) -> str:
            return "-" if count is None else str(count)

        return (f"{self.address:50} {'up' if self.up else 'DOWN':5} {self.learners:9} "
                f"{shown(self.containers):>10} {shown(self.volumes):>8}")


HEADER = f"{'ENGINE':50} {'STATE':5} {'LEARNERS':>9} {'CONTAINERS':>10} {'VOLUMES':>8}"


def engine_rows(settings: Settings, placements: Placements) -> list[EngineRow]:
    """Every engine of the pool (``settings.engines``), asked now.

    Without ``TUTOR_ENGINES`` the one engine of ``DOCKER_HOST`` is listed alone.
    """
    listed = settings.engines or (settings.docker_host or "unix:///var/run/docker.sock",)
    pool = SandboxPool(Settings(**{**settings.__dict__, "engines": listed}), placements)
    loads = placements.engine_loads()
    selector = {"label": [f"{LABEL_NAMESPACE}={settings.namespace}", f"{LABEL_MANAGED}=1"]}
    rows = []
    try:
        for address, sandbox in pool.engines.items():
            up = pool.answers(address, fresh=True)
            containers = volumes = None
            if up:
                try:
                    with engine_reads():
                        api = sandbox.client.api
                        containers = len(api.containers(all=True, filters=selector))
                        volumes = len(api.volumes(filters=selector).get("Volumes") or [])
                except EngineUnavailable:
                    up = False
            rows.append(EngineRow(address, up, loads.get(address, 0), containers, volumes))
    finally:
        pool.close()
    return rows


__all__ = ["HEADER", "EngineRow", "engine_rows"]
