"""The network verbs (``docker network create/ls/inspect/rm/connect/disconnect/prune``).

A learner's network is theirs alone and leads nowhere, by construction:

* it is ``internal`` (no route out, nothing published) and its bridge gets no address
  on the host (``com.docker.network.bridge.inhibit_ipv4``): a container on it has no
  gateway, so neither the host (its services, the engine's API, the tutor, the
  database) nor any other network (another learner's) can be reached, by name or by
  address; containers on it reach each other only;
* names are the learner's own: the engine's name is namespaced, ownership is proven by
  labels, and every container joins with its learner name as an alias, so ``web``
  resolves (the engine's DNS) only inside that learner's networks.

The default stays ``--network none``.
"""

from __future__ import annotations

import re
from typing import Any

from docker.models.containers import Container
from docker.models.networks import Network

from bot.errors import QuotaExceeded
from bot.identity import Person
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase, learner_name
from bot.sandbox.engine.network_lookups import find_network, own_networks
from bot.sandbox.engine.translate import boundary, engine_calls
from bot.sandbox.output import formatting, templates
from bot.sandbox.policy.naming import LABEL_NAME, Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import NetworkView, Outcome

_HEX_ID = re.compile(r"^[0-9a-f]{12,64}$")
"""A container id among a member's DNS names (the engine adds its short id)."""

ISOLATION = {
    "com.docker.network.bridge.inhibit_ipv4": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.enable_icc": "true",
}
"""Driver options of every learner network: no host address on its bridge, no NAT out."""


def network_name(ns: Namespace, network: Network) -> str:
    """The learner's name for one of their networks."""
    return str((network.attrs.get("Labels") or {}).get(LABEL_NAME, ""))


class NetworksMixin(SandboxBase):
    """The learner's networks: reading them, the ``docker network`` verbs, the quota."""

    # -- lookups --------------------------------------------------------------------------

    def _network_members(self, network: Network) -> dict[str, Any]:
        """The containers on a network (engine id -> endpoint), inspected now."""
        with engine_calls():
            network.reload()
        return dict(network.attrs.get("Containers") or {})

    def _join(self, ns: Namespace, network: Network, container: Container,
              aliases: list[str]) -> None:
        """Connect a learner container to their network, under its learner name and aliases."""
        names = [learner_name(ns, container), *aliases]
        with engine_calls():
            network.connect(container, aliases=list(dict.fromkeys(n for n in names if n)))

    def _check_quota_networks(self, ns: Namespace) -> None:
        if len(own_networks(self.client, ns)) >= self.limits.max_networks:
            raise QuotaExceeded(
                f"That would give you more than {self.limits.max_networks} networks, the most "
                "the sandbox allows.", option="quota:networks",
                hint="Remove one you no longer need: `docker network ls`, then `docker network rm`.")

    def _create_network(self, ns: Namespace, name: str,
                        labels: dict[str, str] | None = None) -> Network:
        """Create the learner's network ``name`` (internal, isolated, labelled)."""
        self._check_quota_networks(ns)
        with engine_calls():
            network: Network = self.client.networks.create(
                ns.engine_name(name), driver="bridge", internal=True,
                labels={**(labels or {}), **ns.labels(name)},
                options=ISOLATION, check_duplicate=True)
        return network

    @boundary
    def network(self, person: Person, name: str) -> NetworkView | None:
        """The person's network called ``name``: its members and the names they answer to.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        network = next((n for n in own_networks(self.client, ns) if network_name(ns, n) == name), None)
        if network is None:
            return None
        members: dict[str, tuple[str, ...]] = {}
        for cid in self._network_members(network):
            container = self._inspect_owned(ns, cid)
            if container is None:
                continue
            learner = learner_name(ns, container)
            settings = ((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
            endpoint = settings.get(network.name) or {}
            names = [learner, *(endpoint.get("Aliases") or []), *(endpoint.get("DNSNames") or [])]
            members[learner] = tuple(dict.fromkeys(
                n for n in names if n and not _HEX_ID.match(n)
                and not n.startswith(f"{ns.prefix}-{ns.learner}-")))
        labels = {k: v for k, v in (network.attrs.get("Labels") or {}).items()
                  if not k.startswith("docker-tutor.")}
        return NetworkView(name, members, labels)

    # -- verbs ----------------------------------------------------------------------------

    def _do_network_create(self, person: Person, ns: Namespace, command: Command,
                           plan: Plan) -> Outcome:
        if find_network(self.client, ns, plan.name) is not None:
            return Outcome(1, f"Error response from daemon: network with name {plan.name} "
                              "already exists\n")
        network = self._create_network(ns, plan.name, plan.labels)
        return Outcome(0, f"{network.id}\n", facts={"network": {"name": plan.name}})

    def _do_network_ls(self, person: Person, ns: Namespace, command: Command,
                       plan: Plan) -> Outcome:
        rows = [(str(n.id), network_name(ns, n)) for n in own_networks(self.client, ns)]
        rows.sort(key=lambda row: row[1])
        full = command.flag("no_trunc")
        if command.flag("quiet"):
            return Outcome(0, "".join((i if full else i[:12]) + "\n" for i, _ in rows))
        template = command.value("format")
        objects = [{"ID": i if full else i[:12], "Name": name, "Driver": "bridge",
                    "Scope": "local", "Internal": "true"} for i, name in rows]
        if template:
            try:
                return Outcome(0, "".join(formatting.template(template, o) for o in objects))
            except templates.TemplateError as exc:
                return Outcome(1, f"template parsing error: {exc}\n")
        table = [[o["ID"], o["Name"], "bridge", "local"] for o in objects]
        table.append(["-" * 12, "none", "null", "local"])
        return Outcome(0, formatting.table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], table))

    def _inspect_network(self, ns: Namespace, network: Network) -> dict[str, Any]:
        """``docker network inspect``'s object, in the learner's names."""
        a = network.attrs
        members = {}
        for cid, endpoint in self._network_members(network).items():
            members[cid] = {**endpoint, "Name": ns.learner_name(str(endpoint.get("Name", "")))
                            or endpoint.get("Name")}
        labels = {k: v for k, v in (a.get("Labels") or {}).items()
                  if not k.startswith("docker-tutor.")}
        return {"Name": network_name(ns, network), "Id": a.get("Id"), "Created": a.get("Created"),
                "Scope": a.get("Scope"), "Driver": a.get("Driver"), "EnableIPv6": False,
                "IPAM": a.get("IPAM"), "Internal": True, "Attachable": a.get("Attachable"),
                "Containers": members, "Options": {}, "Labels": labels}

    def _do_network_inspect(self, person: Person, ns: Namespace, command: Command,
                            plan: Plan) -> Outcome:
        objects, errors = [], []
        for name in command.args:
            network = find_network(self.client, ns, name)
            if network is None:
                errors.append(name)
            else:
                objects.append(self._inspect_network(ns, network))
        return formatting.render_objects(objects, errors, command.value("format"), "network")

    def _do_network_rm(self, person: Person, ns: Namespace, command: Command,
                       plan: Plan) -> Outcome:
        out, code = [], 0
        for name in command.args:
            network = find_network(self.client, ns, name)
            if network is None:
                if not command.flag("force"):
                    out.append(f"Error response from daemon: network {name} not found\n")
                    code = 1
                continue
            members = self._network_members(network)
            if members:
                out.append(f"Error response from daemon: error while removing network: network "
                           f"{name} id {network.id} has active endpoints\n")
                code = 1
                continue
            with engine_calls():
                network.remove()
            out.append(name + "\n")
        return Outcome(code, "".join(out))

    def _do_network_prune(self, person: Person, ns: Namespace, command: Command,
                          plan: Plan) -> Outcome:
        removed = []
        for network in own_networks(self.client, ns):
            if self._network_members(network):
                continue
            with engine_calls():
                network.remove()
            removed.append(network_name(ns, network))
        if not removed:
            return Outcome(0, "")
        return Outcome(0, "Deleted Networks:\n" + "".join(n + "\n" for n in sorted(removed)))

    def _connect_target(self, ns: Namespace, command: Command) -> tuple[Network, Container] | Outcome:
        net_ref, ref = command.args
        network = find_network(self.client, ns, net_ref)
        if network is None:
            return Outcome(1, f"Error response from daemon: network {net_ref} not found\n")
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, NOT_FOUND.format(ref))
        return network, container

    def _do_network_connect(self, person: Person, ns: Namespace, command: Command,
                            plan: Plan) -> Outcome:
        found = self._connect_target(ns, command)
        if isinstance(found, Outcome):
            return found
        network, container = found
        mode = str((container.attrs.get("HostConfig") or {}).get("NetworkMode", ""))
        if mode == "none":
            return Outcome(1, "Error response from daemon: container cannot be disconnected "
                              "from host network or connected to host network\n",
                           notes=["A container started with no network (the default here) "
                                  "stays without one: start it with `--network NAME` instead."])
        self._join(ns, network, container, plan.aliases)
        return Outcome(0, "")

    def _do_network_disconnect(self, person: Person, ns: Namespace, command: Command,
                               plan: Plan) -> Outcome:
        found = self._connect_target(ns, command)
        if isinstance(found, Outcome):
            return found
        network, container = found
        with engine_calls():
            network.disconnect(container, force=command.flag("force"))
        return Outcome(0, "")


__all__ = ["ISOLATION", "NetworksMixin", "network_name"]
