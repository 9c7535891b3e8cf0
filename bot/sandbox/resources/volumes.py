"""The volume verbs (``docker volume create/ls/rm/inspect/prune``) and volume lookups."""

from __future__ import annotations

from typing import Any

from docker.models.volumes import Volume

from bot.identity import Person
from bot.sandbox.engine.client import Plan, SandboxBase
from bot.sandbox.engine.translate import boundary
from bot.sandbox.output import formatting
from bot.sandbox.output.inspect_doc import volume_document
from bot.sandbox.policy.naming import LABEL_ANONYMOUS, LABEL_NAME, LABEL_UID, Namespace, anonymous_name
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import Outcome, VolumeView


def inspect_volume(volume: Volume) -> dict[str, Any]:
    """``docker volume inspect``'s object for a learner's volume, in the learner's names."""
    a = volume.attrs
    labels = a.get("Labels") or {}
    return volume_document(a, name=labels.get(LABEL_NAME, ""), labels={
        k: v for k, v in labels.items() if not k.startswith("docker-tutor.")})


def _volume_view(volume: Volume) -> VolumeView:
    labels = volume.attrs.get("Labels") or {}
    return VolumeView(labels.get(LABEL_NAME, ""), labels.get(LABEL_UID, ""),
                      labels.get(LABEL_ANONYMOUS) == "1")


class VolumesMixin(SandboxBase):
    """The learner's volumes: reading them, the ``docker volume`` verbs, the quota."""

    @boundary
    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, or ``None``.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        found = self._find_volume(self.namespace(person), name)
        return None if found is None else _volume_view(found)

    @boundary
    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        return [_volume_view(volume) for volume in self._volumes(self.namespace(person))]

    def _ensure_volume(self, ns: Namespace, name: str, *, anonymous: bool = False,
                       labels: dict[str, str] | None = None) -> Volume:
        """The learner's volume ``name``, created (within the quota) if it does not exist."""
        existing = None if anonymous else self._find_volume(ns, name)
        if existing is not None:
            return existing
        self._check_quota_volumes(ns)
        return self._create_volume(ns, name, anonymous=anonymous, labels=labels)

    def _volume_users(self, ns: Namespace, volume: Volume) -> list[str]:
        """The ids of the learner's containers (running or not) that mount ``volume``."""
        return [
            str(c.get("Id", "")) for c in self._summaries(ns)
            if any(m.get("Name") == volume.name for m in c.get("Mounts") or [])
        ]

    def _do_volume_create(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        name = plan.name or anonymous_name()
        volume = self._ensure_volume(ns, name, labels=plan.labels)
        uid = (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
        return Outcome(0, name + "\n", facts={"volume": {"name": name, "uid": uid}})

    def _do_volume_ls(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        names = sorted((v.attrs.get("Labels") or {}).get(LABEL_NAME, "") for v in self._volumes(ns))
        if command.flag("quiet"):
            return Outcome(0, "".join(n + "\n" for n in names))
        return Outcome(0, formatting.table(["DRIVER", "VOLUME NAME"], [["local", n] for n in names]))

    def _do_volume_rm(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        out, code = [], 0
        removed: list[dict[str, str]] = []
        for name in command.args:
            volume = self._find_volume(ns, name)
            if volume is None:
                if not command.flag("force"):
                    out.append(f"Error response from daemon: get {name}: no such volume\n")
                    code = 1
                continue
            users = self._volume_users(ns, volume)
            if users:
                ids = ", ".join(users)
                out.append(
                    f"Error response from daemon: remove {name}: volume is in use - [{ids}]\n"
                )
                code = 1
                continue
            uid = (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
            volume.remove()
            removed.append({"name": name, "uid": uid})
            out.append(name + "\n")
        return Outcome(code, "".join(out), facts={"removed_volumes": removed})

    def _do_volume_inspect(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        objects, errors = [], []
        for name in command.args:
            volume = self._find_volume(ns, name)
            if volume is None:
                errors.append(name)
            else:
                objects.append(inspect_volume(volume))
        return formatting.render_objects(objects, errors, command.value("format"), "volume")

    def _do_volume_prune(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        used = {m.get("Name") for c in self._summaries(ns) for m in c.get("Mounts") or []}
        removed: list[dict[str, str]] = []
        for volume in self._volumes(ns):
            labels = volume.attrs.get("Labels") or {}
            if volume.name in used:
                continue
            if labels.get(LABEL_ANONYMOUS) != "1" and not command.flag("all"):
                continue
            volume.remove()
            removed.append({"name": labels.get(LABEL_NAME, ""), "uid": labels.get(LABEL_UID, "")})
        lines = "".join(r["name"] + "\n" for r in removed)
        return Outcome(0, f"Deleted Volumes:\n{lines}\nTotal reclaimed space: 0B\n",
                       facts={"removed_volumes": removed})
