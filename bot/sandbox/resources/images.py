"""The image verbs, on a learner's own images, and how ``run`` and ``FROM`` find one.

``images``, ``tag``, ``image rm``, ``image prune``, ``history`` and ``image inspect``.

A learner's image lives in the engine under ``<prefix>-<learner>-<name>:<tag>`` and carries
the learner's ownership labels (the build puts them on every layer it makes, see
:mod:`bot.sandbox.resources.build`). An image is the learner's only when both hold: the
engine tag is in their namespace *and* the labels are theirs, so no name or id trick
reaches another learner's image. The lesson images (``redis``, ``busybox``) are shown
and run by everyone, and tagged, removed or pruned by no one.
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.client import Plan, SandboxBase
from bot.sandbox.engine.image_lookups import (
    HIDDEN_STEP,
    engine_ref,
    find_image,
    image_or_lesson,
    lesson_tag,
    own_images,
    own_tags,
)
from bot.sandbox.engine.translate import engine_calls
from bot.sandbox.output import formatting
from bot.sandbox.output.templates import Struct
from bot.sandbox.policy import values
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import Outcome

NO_IMAGE = "Error response from daemon: No such image: {}\n"
"""The docker CLI's answer for an image reference that matches nothing of the learner's."""

LESSON_IMAGE = ("`{}` is a lesson image, shared by the whole class: only your own images "
                "can be tagged, removed or pruned.")


class ImagesMixin(SandboxBase):
    """The learner's images: finding them, and the image verbs."""

    # -- verbs --------------------------------------------------------------------------------

    def _do_images(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        rows: list[list[str]] = []
        with engine_calls():
            lesson = self.client.images.list()
        for image in lesson:
            for tag in image.tags:
                repo, _, version = tag.rpartition(":")
                if self.allowed_images is not None and repo not in self.allowed_images:
                    continue
                rows.append([repo, version, image.short_id.removeprefix("sha256:"),
                             image.attrs.get("Created", ""), image.attrs.get("Size", 0)])
        for image in own_images(self.client, ns, all_=command.flag("all")):
            names = own_tags(ns, image.get("RepoTags"))
            short = str(image.get("Id", "")).removeprefix("sha256:")[:12]
            for name in names or ["<none>:<none>"]:
                repo, _, version = name.rpartition(":")
                rows.append([repo, version, short, image.get("Created", 0), image.get("Size", 0)])
        if command.args:
            rows = [r for r in rows if r[0] == command.args[0]]
        rows.sort(key=lambda r: (r[0] == "<none>", r[0], r[1]))
        if command.flag("quiet"):
            return Outcome(0, "".join(r[2] + "\n" for r in rows))
        shown = [[r[0], r[1], r[2], _created(r[3]), f"{int(r[4]) / 1e6:.3g}MB"] for r in rows]
        return Outcome(0, formatting.table(
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], shown))

    def _do_tag(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        source, target = command.args
        repo, tag = values.check_own_image(target, self.allowed_images, option="docker tag")
        if lesson_tag(self.allowed_images, source) is not None:
            raise CommandRefused(LESSON_IMAGE.format(source), option="tag")
        image = find_image(self.client, ns, source)
        if image is None:
            return Outcome(1, NO_IMAGE.format(source))
        self.client.api.tag(image["Id"], ns.engine_name(repo), tag, force=True)
        return Outcome(0, "", facts={"image": {"id": image["Id"], "tag": f"{repo}:{tag}"}})

    def _do_image_rm(self, person: Person, ns: Namespace, command: Command,
                     plan: Plan) -> Outcome:
        lines, code, removed = [], 0, []
        for ref in command.args:
            if lesson_tag(self.allowed_images, ref) is not None:
                lines.append(f"Error: {LESSON_IMAGE.format(ref)}\n")
                code = 1
                continue
            image = find_image(self.client, ns, ref)
            if image is None:
                lines.append(NO_IMAGE.format(ref))
                code = 1
                continue
            mine = own_tags(ns, image.get("RepoTags"))
            try:
                repo, tag = values.check_own_image(ref, None)
            except CommandRefused:
                repo, tag = "", ""
            target = (engine_ref(ns, repo, tag) if f"{repo}:{tag}" in mine
                      else str(image["Id"]))
            if target == image["Id"] and len(mine) > 1 and not command.flag("force"):
                lines.append(f"Error response from daemon: conflict: unable to delete "
                             f"{image['Id'][7:19]} (must be forced) - image is referenced in "
                             "multiple repositories\n")
                code = 1
                continue
            try:
                result = self.client.api.remove_image(target, force=command.flag("force"),
                                                      noprune=command.flag("no_prune"))
            except docker.errors.APIError as exc:
                lines.append("Error response from daemon: "
                             + self._rewrite(ns, str(exc.explanation or exc)) + "\n")
                code = 1
                continue
            removed.append(image["Id"])
            for item in result or []:
                for key, value in item.items():
                    lines.append(f"{key}: {self._rewrite(ns, str(value))}\n")
        return Outcome(code, "".join(lines), facts={"images_removed": removed})

    def _do_image_prune(self, person: Person, ns: Namespace, command: Command,
                        plan: Plan) -> Outcome:
        if not command.flag("force"):
            return Outcome(1, "The sandbox cannot ask for confirmation: type "
                              "`docker image prune -f`.\n")
        filters: dict[str, Any] = {**ns.filters(), "dangling": not command.flag("all")}
        result = self.client.api.prune_images(filters=filters)
        lines = []
        for item in result.get("ImagesDeleted") or []:
            for key, value in item.items():
                lines.append(f"{key}: {self._rewrite(ns, str(value))}\n")
        head = "Deleted Images:\n" if lines else ""
        space = int(result.get("SpaceReclaimed") or 0)
        return Outcome(0, f"{head}{''.join(lines)}\nTotal reclaimed space: {space / 1e6:.3g}MB\n")

    def _do_history(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        ref = command.args[0]
        image = image_or_lesson(self.client, self.allowed_images, ns, ref)
        if image is None:
            return Outcome(1, NO_IMAGE.format(ref))
        rows = []
        for layer in self.client.api.history(image["Id"]):
            created_by = str(layer.get("CreatedBy") or "")
            if HIDDEN_STEP in created_by:
                continue
            shown = created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ",
                                                                         "RUN /bin/sh -c ")
            if not command.flag("no_trunc") and len(shown) > 45:
                shown = shown[:44] + "…"
            layer_id = str(layer.get("Id") or "<missing>")
            layer_id = layer_id if layer_id == "<missing>" else layer_id[7:19]
            rows.append([layer_id, _created(layer.get("Created", 0)), shown,
                         _size(int(layer.get("Size") or 0)), str(layer.get("Comment") or "")])
        if command.flag("quiet"):
            return Outcome(0, "".join(r[0] + "\n" for r in rows))
        return Outcome(0, formatting.table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                                           rows), facts={"image": {"id": image["Id"]}})

    def _do_image_inspect(self, person: Person, ns: Namespace, command: Command,
                          plan: Plan) -> Outcome:
        objects, errors = [], []
        for ref in command.args:
            image = image_or_lesson(self.client, self.allowed_images, ns, ref)
            if image is None:
                errors.append(ref)
            else:
                objects.append(self._image_struct(ns, image))
        return formatting.render_objects(objects, errors, command.value("format"), "image",
                                         limit=self.limits.output_chars)

    def _image_struct(self, ns: Namespace, image: dict[str, Any]) -> dict[str, Any]:
        """``docker image inspect``'s object, in the learner's names."""
        config = image.get("Config") or {}
        tags = own_tags(ns, image.get("RepoTags")) or [
            t for t in image.get("RepoTags") or [] if t.partition(":")[0] in (
                self.allowed_images or ())]
        return Struct(
            Id=image.get("Id"), RepoTags=tags, Created=image.get("Created"),
            Size=image.get("Size"), Architecture=image.get("Architecture"), Os=image.get("Os"),
            Config=Struct(
                User=config.get("User", ""), Env=config.get("Env"), Cmd=config.get("Cmd"),
                Entrypoint=config.get("Entrypoint"), WorkingDir=config.get("WorkingDir", ""),
                Volumes=config.get("Volumes"), ExposedPorts=config.get("ExposedPorts"),
                Labels={k: v for k, v in (config.get("Labels") or {}).items()
                        if not k.startswith("docker-tutor.")},
            ),
            RootFS=Struct(Type=(image.get("RootFS") or {}).get("Type", "layers"),
                          Layers=(image.get("RootFS") or {}).get("Layers") or []),
        )


def _created(raw: Any) -> str:
    """``3 minutes ago`` for an API time (a number of seconds or an RFC 3339 text)."""
    if isinstance(raw, int | float):
        from datetime import UTC, datetime

        raw = datetime.fromtimestamp(raw, UTC).isoformat()
    return formatting.ago(str(raw))


def _size(size: int) -> str:
    if size < 1000:
        return f"{size}B"
    if size < 1_000_000:
        return f"{size / 1e3:.3g}kB"
    return f"{size / 1e6:.3g}MB"
