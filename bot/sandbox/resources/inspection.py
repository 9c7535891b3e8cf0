"""The reading verbs: ``docker inspect`` and ``docker logs``.

``docker images`` is in :mod:`bot.sandbox.resources.images`.
"""

from __future__ import annotations

from typing import Any

from docker.models.containers import Container

from bot.identity import Person
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase
from bot.sandbox.engine.logs import container_logs
from bot.sandbox.engine.streams import READ_LIMIT
from bot.sandbox.output import formatting
from bot.sandbox.output.inspect_doc import container_document
from bot.sandbox.output.templates import Struct
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.resources.volumes import inspect_volume
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
        view = self._view(ns, container)
        return container_document(
            container.attrs, name=view.name, image=view.image,
            mounts=[mount_struct(m) for m in view.mounts if m.kind != "tmpfs"],
            rewrite=lambda text: self._rewrite(ns, text))

    def _do_inspect(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        objects, errors = [], []
        deadline = self._line_deadline()
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
                                         limit=self.limits.output_chars, deadline=deadline)

    def _do_logs(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, NOT_FOUND.format(ref))
        raw = container_logs(container, tail=plan.tail, timestamps=command.flag("timestamps"))
        return Outcome(0, raw[-READ_LIMIT:].decode("utf-8", "replace").replace("\r\n", "\n"),
                       cut=max(0, len(raw) - READ_LIMIT),
                       facts={"container": {"id": container.id, "name": ref}})
