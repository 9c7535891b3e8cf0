"""Finding a learner's images and the lesson images: lookups every image-minded part shares.

Plain functions of the engine client (not a part): ``run``, ``build``, the image verbs and
the tutor's witness all find images the same way, each part still building on the base
alone. An image is the learner's when its engine tag is theirs *and* its labels say so.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import docker
import docker.errors

from bot.errors import CommandRefused
from bot.sandbox.engine.translate import engine_calls
from bot.sandbox.policy import values
from bot.sandbox.policy.naming import LABEL_LEARNER, LABEL_NAMESPACE, Namespace, owned

HIDDEN_STEP = "LABEL docker-tutor."
"""The text of the layers the tutor adds after every ``FROM`` (hidden from ``history``)."""


def engine_ref(ns: Namespace, repo: str, tag: str) -> str:
    """The engine's reference for a learner's image ``repo:tag``."""
    return f"{ns.engine_name(repo)}:{tag}"


def own_tags(ns: Namespace, tags: list[str] | None) -> list[str]:
    """The learner's names (``app:v1``) among an image's engine tags."""
    head = f"{ns.prefix}-{ns.learner}-"
    return sorted(t[len(head):] for t in tags or [] if t.startswith(head))


def remove_images(client: docker.DockerClient, prefix: str, learner: str = "") -> int:
    """Remove the images (tags, then the layers they leave) labelled with a prefix (a learner's).

    Returns:
        How many images were removed.
    """
    labels = [f"{LABEL_NAMESPACE}={prefix}", *([f"{LABEL_LEARNER}={learner}"] if learner else [])]
    removed = 0
    for _ in range(3):  # a child first, then its parents (the build cache under it)
        found = client.api.images(all=True, filters={"label": labels})
        if not found:
            break
        for image in found:
            for ref in [*(image.get("RepoTags") or []), image["Id"]]:
                if ref == "<none>:<none>":
                    continue
                with suppress(docker.errors.APIError):
                    client.api.remove_image(ref, force=True)
                    removed += 1
    return removed


def own_images(client: docker.DockerClient, ns: Namespace, *, all_: bool = False) -> list[dict[str, Any]]:
    """The learner's images as the engine lists them (``all_``: intermediate ones too)."""
    with engine_calls():
        found: list[dict[str, Any]] = client.api.images(all=all_, filters=ns.filters())
    return [i for i in found if owned(i.get("Labels") or {}, ns)]


def find_image(client: docker.DockerClient, ns: Namespace, ref: str) -> dict[str, Any] | None:
    """The learner's image ``ref`` (a name, ``name:tag``, or an id prefix), inspected."""
    try:
        repo, tag = values.check_own_image(ref, None)
    except CommandRefused:
        repo = ""
    if repo:
        try:
            with engine_calls():
                found: dict[str, Any] = client.api.inspect_image(
                    engine_ref(ns, repo, tag))
        except docker.errors.NotFound:
            found = {}
        labels = (found.get("Config") or {}).get("Labels") or {}
        if found and owned(labels, ns):
            return found
    short = ref.removeprefix("sha256:")
    if 4 <= len(short) <= 64 and all(c in "0123456789abcdef" for c in short):
        ids = {i["Id"] for i in own_images(client, ns, all_=True)
               if str(i.get("Id", "")).removeprefix("sha256:").startswith(short)}
        if len(ids) == 1:
            with engine_calls():
                image: dict[str, Any] = client.api.inspect_image(ids.pop())
            return image
    return None


def lesson_tag(allowed: frozenset[str] | None, ref: str) -> str | None:
    """The local tag of a lesson image ``ref`` (``busybox:latest``), else ``None``."""
    try:
        return values.check_image(ref, allowed)[1]
    except CommandRefused:
        return None


def image_or_lesson(client: docker.DockerClient, allowed: frozenset[str] | None, ns: Namespace,
                    ref: str) -> dict[str, Any] | None:
    """The learner's image ``ref`` or the lesson image ``ref``, inspected."""
    lesson = lesson_tag(allowed, ref)
    if lesson is not None:
        try:
            with engine_calls():
                found: dict[str, Any] = client.api.inspect_image(lesson)
        except docker.errors.NotFound:
            return None
        return found
    return find_image(client, ns, ref)


__all__ = ["HIDDEN_STEP", "engine_ref", "find_image", "image_or_lesson", "lesson_tag",
           "own_images", "own_tags", "remove_images"]
