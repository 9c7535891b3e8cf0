"""The reading verbs: ``docker inspect`` and ``docker logs``.

``docker images`` is in :mod:`bot.sandbox.engine.images`.
"""

from __future__ import annotations

from typing import Any

from docker.models.containers import Container

from bot.identity import Person
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase
from bot.sandbox.engine.streams import READ_LIMIT
from bot.sandbox.engine.volumes import inspect_volume
from bot.sandbox.output import formatting
from bot.sandbox.output.templates import Struct
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import MountView, Outcome


def mount_struct(mount: MountView) -> Struct:
    """One entry of ``inspect``'s ``Mounts``, with the engine's fields in the engine's order."""
    if mount.kind == "volume":
        return Struct(Type="volume", Name=mount.name,
                      Source=f"/var/lib/docker/volumes/{mount.name}/_data",
                      Destination=mount.target, Driver="local", Mode="z", RW=True,
                      Propagation="")
    return Struct(Type=mount.kind, Source="$(pwd)", Destination=mount.target, Mode="",
                  RW=True, Propagation="rprivate")


class InspectionMixin(SandboxBase):
    """Shows the learner's containers, volumes, logs and the images they may run."""

    def _inspect_container(self, ns: Namespace, container: Container) -> dict[str, Any]:
        """``docker inspect``'s object for a learner's container, in the learner's names.

        Typed as the engine's own (:class:`~bot.sandbox.output.templates.Struct` for Go structs,
        plain dicts for Go maps) so that ``-f`` templates print what Docker prints.
        """
        a = container.attrs
        config = a.get("Config") or {}
        host = a.get("HostConfig") or {}
        view = self._view(ns, container)
        state = {k: self._rewrite(ns, v) if k == "Error" and isinstance(v, str) else v
                 for k, v in (a.get("State") or {}).items()}
        network = a.get("NetworkSettings") or {}
        return Struct(
            Id=a.get("Id"),
            Created=a.get("Created"),
            Path=a.get("Path"),
            Args=a.get("Args"),
            State=Struct(state),
            Image=a.get("Image"),
            Name="/" + view.name,
            RestartCount=a.get("RestartCount", 0),
            Mounts=[mount_struct(m) for m in view.mounts if m.kind != "tmpfs"],
            Config=Struct(
                Hostname=config.get("Hostname"),
                User=config.get("User", ""),
                Tty=config.get("Tty", False),
                Env=config.get("Env"),
                Cmd=config.get("Cmd"),
                Image=view.image,
                Volumes=config.get("Volumes"),
                WorkingDir=config.get("WorkingDir"),
                Entrypoint=config.get("Entrypoint"),
                Labels={k: v for k, v in (config.get("Labels") or {}).items()
                        if not k.startswith("docker-tutor.")},
            ),
            HostConfig=Struct(
                NetworkMode=host.get("NetworkMode"),
                Memory=host.get("Memory"),
                NanoCpus=host.get("NanoCpus"),
                PidsLimit=host.get("PidsLimit"),
                Tmpfs=host.get("Tmpfs"),
                Privileged=host.get("Privileged"),
                AutoRemove=host.get("AutoRemove", False),
            ),
            NetworkSettings=Struct(
                IPAddress=network.get("IPAddress", ""),
                Gateway=network.get("Gateway", ""),
                MacAddress=network.get("MacAddress", ""),
                Networks={
                    name: Struct(
                        NetworkID=net.get("NetworkID", ""),
                        EndpointID=net.get("EndpointID", ""),
                        Gateway=net.get("Gateway", ""),
                        IPAddress=net.get("IPAddress", ""),
                        MacAddress=net.get("MacAddress", ""),
                    )
                    for name, net in (network.get("Networks") or {}).items()
                },
            ),
        )

    def _do_inspect(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        objects, errors = [], []
        for ref in command.args:
            container = self._find_container(ns, ref)
            if container is not None:
                objects.append(self._inspect_container(ns, container))
                continue
            volume = self._find_volume(ns, ref)
            if volume is not None:
                objects.append(inspect_volume(volume))
            else:
                errors.append(ref)
        return formatting.render_objects(objects, errors, command.value("format"), "object",
                                         limit=self.limits.output_chars)

    def _do_logs(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, NOT_FOUND.format(ref))
        raw = container.logs(stdout=True, stderr=True, tail=plan.tail,
                             timestamps=command.flag("timestamps"))
        return Outcome(0, raw[-READ_LIMIT:].decode("utf-8", "replace").replace("\r\n", "\n"),
                       cut=max(0, len(raw) - READ_LIMIT),
                       facts={"container": {"id": container.id, "name": ref}})
