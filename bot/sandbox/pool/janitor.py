"""What the engine holds for this deployment, and removing it: the engine side of cleanup.

:mod:`bot.tutor.housekeeping` decides *what* to remove (idle learners, learners the database
does not know, leftovers of a crash); this module lists and removes engine objects. It
only ever sees objects labelled with the deployment's namespace
(``docker-tutor.namespace=<prefix>`` and ``docker-tutor.managed=1``), so another
deployment or anything else on the engine is never listed, let alone removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import docker
import docker.errors
import requests.exceptions

from bot.errors import EngineUnavailable
from bot.sandbox.disk.meter import LABEL_OWN
from bot.sandbox.engine.image_lookups import remove_images
from bot.sandbox.output.formatting import parse_time
from bot.sandbox.policy.naming import (
    LABEL_ANONYMOUS,
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    LABEL_WITNESS,
    Namespace,
)
from bot.sandbox.workspace.names import LABEL_HELPER, LABEL_WORKSPACE

if TYPE_CHECKING:
    from bot.config import Settings

Kind = Literal["container", "volume", "network"]


@dataclass(frozen=True)
class EngineObject:
    """One container, volume or network of the deployment, as the housekeeping sees it.

    Attributes:
        kind: ``container``, ``volume`` or ``network``.
        ref: The engine's id (container, network) or engine name (volume).
        learner: The learner hash from the object's labels.
        name: The learner's own name for it.
        created: When the engine created it (``None`` if unknown).
        anonymous: A volume made for a container without a name.
        in_use: A volume that some container of the deployment mounts.
        unstarted: A container that was created but never started (a ``run`` cut short).
        running: A container that runs now.
        volumes: For a container: the engine names of the volumes it mounts.
    """

    kind: Kind
    ref: str
    learner: str
    name: str
    created: datetime | None
    anonymous: bool = False
    in_use: bool = False
    unstarted: bool = False
    running: bool = False
    volumes: tuple[str, ...] = ()


def learner_hash(prefix: str, key: str) -> str:
    """The hash that labels a learner's engine objects (``slack:U0123`` -> 12 hex digits)."""
    return Namespace.for_key(prefix, key).learner


class JanitorHost(Protocol):
    """What a janitor uses of its engine's sandbox (one engine's :class:`Sandbox` is one)."""

    settings: Settings

    @property
    def client(self) -> docker.DockerClient:
        """The engine client."""


class Janitor:
    """Lists and removes the engine objects of one deployment (one namespace prefix).

    Args:
        sandbox: The sandbox of one engine, whose connection and settings are used.
    """

    def __init__(self, sandbox: JanitorHost) -> None:
        self.sandbox = sandbox
        self.settings = sandbox.settings
        self.prefix = sandbox.settings.namespace

    @contextmanager
    def _engine(self) -> Iterator[None]:
        """Every docker-py or ``requests`` error becomes :class:`EngineUnavailable`."""
        try:
            yield
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise EngineUnavailable(
                f"Housekeeping could not talk to the Docker engine ({exc.__class__.__name__})."
            ) from exc

    def _selector(self) -> dict[str, list[str]]:
        return {"label": [f"{LABEL_NAMESPACE}={self.prefix}", f"{LABEL_MANAGED}=1"]}

    def _owner(self, labels: dict[str, str] | None, *, kind: Kind) -> str:
        """The learner hash an object of this deployment belongs to (``""``: not ours).

        A learner's own objects carry the learner label; their workspace volume carries
        :data:`LABEL_WORKSPACE` and a workspace helper container :data:`LABEL_HELPER`
        instead (hidden from the learner's views), and are cleaned up the same way: a
        workspace goes with the learner's volumes, a helper (created, never started)
        as an unstarted container; a witness container (:data:`LABEL_WITNESS`, the tutor's
        own on a learner's network) goes with the learner's containers.
        """
        labels = labels or {}
        if labels.get(LABEL_MANAGED) != "1" or labels.get(LABEL_NAMESPACE) != self.prefix:
            return ""
        hidden = LABEL_HELPER if kind == "container" else LABEL_WORKSPACE
        witness = labels.get(LABEL_WITNESS, "") if kind == "container" else ""
        return labels.get(LABEL_LEARNER) or labels.get(hidden) or witness

    def inventory(self) -> list[EngineObject]:
        """Every container and volume of the deployment, with what cleanup needs to know.

        Raises:
            EngineUnavailable: The engine could not be reached.
        """
        api = self.sandbox.client.api
        with self._engine():
            containers: list[dict[str, Any]] = api.containers(all=True, filters=self._selector())
            volumes: list[dict[str, Any]] = (
                api.volumes(filters=self._selector()).get("Volumes") or []
            )
            networks: list[dict[str, Any]] = api.networks(filters=self._selector())
        used = {
            mount.get("Name")
            for container in containers
            for mount in container.get("Mounts") or []
            if mount.get("Type") == "volume"
        }
        found: list[EngineObject] = []
        for container in containers:
            labels = container.get("Labels") or {}
            owner = self._owner(labels, kind="container")
            if not owner:
                continue
            state = container.get("State", "")
            created = container.get("Created")
            found.append(EngineObject(
                kind="container",
                ref=container.get("Id", ""),
                learner=owner,
                name=labels.get(LABEL_NAME, ""),
                created=datetime.fromtimestamp(created, UTC) if created else None,
                unstarted=state == "created",
                running=state in ("running", "restarting", "paused"),
                volumes=tuple(
                    m.get("Name", "") for m in container.get("Mounts") or []
                    if m.get("Type") == "volume"
                ),
            ))
        for volume in volumes:
            labels = volume.get("Labels") or {}
            owner = self._owner(labels, kind="volume")
            if not owner:
                continue
            found.append(EngineObject(
                kind="volume",
                ref=volume.get("Name", ""),
                learner=owner,
                name=labels.get(LABEL_NAME, ""),
                created=parse_time(volume.get("CreatedAt", "")),
                anonymous=labels.get(LABEL_ANONYMOUS) == "1",
                in_use=volume.get("Name") in used,
            ))
        for network in networks:
            labels = network.get("Labels") or {}
            owner = self._owner(labels, kind="network")
            if owner:
                found.append(EngineObject(
                    kind="network", ref=network.get("Id", ""), learner=owner,
                    name=labels.get(LABEL_NAME, ""), created=parse_time(network.get("Created", "")),
                ))
        return found

    def remove(self, obj: EngineObject) -> bool:
        """Remove one object; ``False`` when it was already gone or (a volume) is in use.

        A container is removed with force (it stops first); a volume is never forced, so
        a volume that a container started using in the meantime stays. With a learner's
        workspace go their images and build cache (idle past the volumes' limit, or
        unknown at reconciliation).

        Raises:
            EngineUnavailable: The engine could not be reached.
        """
        api = self.sandbox.client.api
        with self._engine():
            try:
                if obj.kind == "container":
                    api.remove_container(obj.ref, force=True, v=True)
                elif obj.kind == "network":
                    api.remove_network(obj.ref)
                else:
                    api.remove_volume(obj.ref, force=False)
                    if obj.ref.endswith("-.workspace"):  # the learner's images go with it
                        remove_images(self.sandbox.client, self.sandbox.settings.namespace,
                                      obj.learner)
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:
                if exc.status_code in (403, 409):
                    return False  # in use (a volume, a network), or already being removed
                raise
        return True


def purge_prefix(client: docker.DockerClient, prefix: str) -> tuple[int, int]:
    """Remove every container, volume and network labelled with a deployment prefix.

    For throw-away deployments (tests, benchmarks) that must leave the engine as they
    found it; a real deployment uses :class:`Janitor` through housekeeping instead.

    The tutor's own containers of the deployment (disk meter, lease: :data:`LABEL_OWN`)
    go too, uncounted.

    Returns:
        How many containers and volumes were removed.
    """
    selector = {"label": [f"{LABEL_NAMESPACE}={prefix}"]}
    containers = client.containers.list(all=True, filters=selector, ignore_removed=True)
    own = client.containers.list(all=True, filters={"label": [f"{LABEL_OWN}={prefix}"]},
                                 ignore_removed=True)
    for container in [*containers, *own]:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    volumes = client.volumes.list(filters=selector)
    for volume in volumes:
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    for network in client.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    remove_images(client, prefix)
    return len(containers), len(volumes)

