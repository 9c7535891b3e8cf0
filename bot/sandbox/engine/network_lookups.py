"""Finding and removing a learner's networks: lookups the network-minded parts share.

Plain functions of the engine client (not a part), as :mod:`~bot.sandbox.engine.image_lookups`:
``run --network``, the network verbs, compose and ``reset`` find networks the same way. A
network is the learner's when its labels say so, never by its name.
"""

from __future__ import annotations

import docker
import docker.errors
from docker.models.networks import Network

from bot.sandbox.engine.translate import engine_calls
from bot.sandbox.policy.naming import LABEL_NAME, Namespace, owned


def own_networks(client: docker.DockerClient, ns: Namespace) -> list[Network]:
    """The learner's networks (one list request; ``attrs`` hold labels, not containers)."""
    with engine_calls():
        found: list[Network] = client.networks.list(filters=ns.filters())
    return [n for n in found if owned(n.attrs.get("Labels") or {}, ns)]


def find_network(client: docker.DockerClient, ns: Namespace, name: str) -> Network | None:
    """The learner's network called ``name`` (or with an id starting so), or ``None``."""
    mine = own_networks(client, ns)
    for network in mine:
        if (network.attrs.get("Labels") or {}).get(LABEL_NAME) == name:
            return network
    by_id = [n for n in mine if len(name) >= 3 and str(n.id).startswith(name)]
    return by_id[0] if len(by_id) == 1 else None


def remove_networks(client: docker.DockerClient, ns: Namespace) -> int:
    """Remove every network of the learner (their containers are gone); how many."""
    removed = 0
    for network in own_networks(client, ns):
        try:
            with engine_calls():
                network.remove()
            removed += 1
        except docker.errors.NotFound:
            continue
    return removed


__all__ = ["find_network", "own_networks", "remove_networks"]
