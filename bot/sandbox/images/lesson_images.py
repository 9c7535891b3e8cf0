"""The lesson images, and how to get them onto an engine without a registry.

Lessons run the images a learner types (``redis``, ``busybox``). A classroom engine
often cannot reach Docker Hub, so :func:`ensure_images` makes each image present:
it keeps an image that is already there, optionally tries ``docker pull``, and
otherwise builds it ``FROM scratch`` out of Debian packages installed on this host.

The offline build copies the binaries (``redis-server``, ``redis-cli`` from the
``redis-tools`` package, ``/bin/busybox`` from ``busybox-static``) and every shared
library they link (found with ``ldd``, dynamic loader included) into a ``rootfs/``
with a merged-``/usr`` layout, adds the busybox applet links, ``/tmp``, ``/data`` and
the files under ``images/<name>/rootfs/`` (``/etc/passwd``, the redis entrypoint),
then builds ``images/<name>/Dockerfile``. It takes about a second once the packages
are on the host. :mod:`~bot.sandbox.images.specs` describes the images,
:mod:`~bot.sandbox.images.host_files` finds (or installs) the binaries and
:mod:`~bot.sandbox.images.rootfs` assembles the build context; this module talks to the engine.

Debian's ``redis-server`` package holds only a host service, its configuration and
the link ``/usr/bin/redis-server -> redis-check-rdb``; the server itself is the
``redis-check-rdb`` binary of ``redis-tools`` (it acts as the server when called
``redis-server``). So the build installs ``redis-tools`` only, and never gets a
redis service enabled or listening on the host.
"""

from __future__ import annotations

import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import docker
import docker.errors

from bot.errors import EngineUnavailable, ImageUnavailable
from bot.sandbox.images import host_files, rootfs
from bot.sandbox.images.specs import IMAGES, ImageSpec, short

__all__ = ["BUILD_LABEL", "IMAGES", "ImageReport", "ensure_images", "lesson_tags"]

BUILD_LABEL = "docker-tutor.image"
"""Label set on every image this module builds (value ``offline-build``)."""

Action = Literal["present", "pulled", "built"]

_ENGINE_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_lock = threading.Lock()


@dataclass(frozen=True)
class ImageReport:
    """What :func:`ensure_images` did for one image.

    Attributes:
        name: The lesson image name (``redis``).
        tag: The tag that is now present on the engine (``redis:latest``).
        action: ``present`` (already there), ``pulled`` or ``built`` (offline build).
        seconds: Wall time spent on this image.
    """

    name: str
    tag: str
    action: Action
    seconds: float


def _lookup(name: str) -> tuple[ImageSpec, str]:
    """Find the spec and the tag for what a learner typed (``redis``, ``redis:7``).

    Raises:
        ImageUnavailable: No lesson image has that name or tag.
    """
    wanted = name.strip().lower()
    for prefix in ("docker.io/", "index.docker.io/", "library/"):
        wanted = wanted.removeprefix(prefix)
    repo, _, tag = wanted.partition(":")
    for spec in IMAGES.values():
        if repo == spec.name and not tag:
            return spec, spec.tag
        if wanted in spec.tags:
            return spec, wanted
    known = ", ".join(sorted({tag for spec in IMAGES.values() for tag in spec.tags}))
    raise ImageUnavailable(
        f"There is no lesson image called {name!r}.", hint=f"Try one of: {known}."
    )


def lesson_tags(names: Iterable[str]) -> list[str]:
    """Every tag of the lesson images named (``redis`` gives ``redis:latest`` and ``redis:7``).

    Raises:
        ImageUnavailable: A name is not a lesson image.
    """
    tags: dict[str, None] = {}
    for name in names:
        spec, _ = _lookup(name)
        tags.update(dict.fromkeys(spec.tags))
    return list(tags)


def ensure_images(
    client: docker.DockerClient,
    names: Iterable[str],
    *,
    pull: bool,
    log: Callable[[str], None],
) -> list[ImageReport]:
    """Make every named lesson image present on the engine; idempotent.

    An image whose tag already exists is left alone. Otherwise, when ``pull`` is
    true, ``docker pull`` is tried first; when that fails (or ``pull`` is false) the
    image is built offline from Debian packages, installing them with ``apt-get``
    when this process runs as root and they are missing.

    Args:
        client: The engine to put the images on.
        names: Lesson images as a learner types them (``redis``, ``redis:7``).
        pull: Try the registry before building.
        log: Receives one line per step, for the operator.

    Returns:
        One report per distinct tag asked for, in the order asked.

    Raises:
        ImageUnavailable: A name is unknown, or an image could be neither pulled
            nor built (the message says what is missing and how to get it).
        EngineUnavailable: The engine could not be reached or failed unexpectedly.
    """
    wanted: dict[str, ImageSpec] = {}
    for name in names:
        spec, tag = _lookup(name)
        wanted.setdefault(tag, spec)
    with _lock:
        reports: dict[str, ImageReport] = {}
        to_build: list[tuple[str, ImageSpec, float]] = []
        pull_errors: dict[str, str] = {}
        for tag, spec in wanted.items():
            started = time.monotonic()
            if _has_tag(client, tag):
                log(f"{tag}: present")
                reports[tag] = ImageReport(spec.name, tag, "present", time.monotonic() - started)
                continue
            if pull:
                error = _pull(client, tag, log)
                if error is None:
                    reports[tag] = ImageReport(spec.name, tag, "pulled", time.monotonic() - started)
                    continue
                pull_errors[tag] = error
            to_build.append((tag, spec, time.monotonic() - started))
        if to_build:
            started = time.monotonic()
            _check_arch(client)
            host = host_files.provide_files([spec for _, spec, _ in to_build], pull_errors, log)
            shared = time.monotonic() - started  # apt-get, once for all builds
            for tag, spec, spent in to_build:
                started = time.monotonic()
                if not _has_tag(client, tag):  # an alias of an image built just before
                    _build(client, spec, tag, host, log)
                seconds = shared + spent + time.monotonic() - started
                shared = 0.0
                reports[tag] = ImageReport(spec.name, tag, "built", seconds)
        return [reports[tag] for tag in wanted]


# --- engine -------------------------------------------------------------------------


def _engine_error(exc: Exception, doing: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"The Docker engine failed while {doing}: {short(exc)}",
        hint="Check that the engine is running and that the tutor may use its socket.",
    )


def _has_tag(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.NotFound:
        return False
    except (docker.errors.DockerException, OSError) as exc:
        raise _engine_error(exc, f"looking for the image {tag}") from exc
    return True


def _pull(client: docker.DockerClient, tag: str, log: Callable[[str], None]) -> str | None:
    """Pull ``tag``; return ``None`` on success, else why it failed."""
    repository, _, version = tag.rpartition(":")
    log(f"{tag}: pulling")
    try:
        client.images.pull(repository, tag=version)
    except (docker.errors.DockerException, OSError) as exc:
        reason = short(exc)
        log(f"{tag}: pull failed ({reason}); building it offline instead")
        return reason
    log(f"{tag}: pulled")
    return None


def _check_arch(client: docker.DockerClient) -> None:
    """Refuse to copy this host's binaries to an engine of another CPU architecture."""
    try:
        engine_arch = str(client.version().get("Arch", ""))
    except (docker.errors.DockerException, OSError) as exc:
        raise _engine_error(exc, "asking for its version") from exc
    host_arch = _ENGINE_ARCH.get(platform.machine().lower())
    known = set(_ENGINE_ARCH.values())
    if engine_arch in known and host_arch in known and engine_arch != host_arch:
        raise ImageUnavailable(
            f"Cannot build the lesson images offline: the engine runs on {engine_arch} "
            f"but this host is {host_arch}, so its binaries would not run there.",
            hint="Run the tutor on a host of the engine's architecture, or pull the "
            "images on the engine host (`docker pull redis busybox`).",
        )


def _build(
    client: docker.DockerClient,
    spec: ImageSpec,
    tag: str,
    host: Mapping[str, Path],
    log: Callable[[str], None],
) -> None:
    """Assemble the context of ``spec`` and build it as ``tag`` (plus missing aliases)."""
    log(f"{tag}: building offline from this host's Debian packages")
    with tempfile.TemporaryDirectory(prefix=f"docker-tutor-{spec.name}-") as scratch:
        context = Path(scratch)
        try:
            rootfs.assemble(spec, host, context)
        except OSError as exc:
            raise ImageUnavailable(
                f"Could not assemble the {tag} image: {short(exc)}",
                hint="Check that the images/ folder ships beside the bot package and that "
                "the temporary folder has free space.",
            ) from exc
        try:
            image, _ = client.images.build(
                path=str(context),
                tag=tag,
                rm=True,
                forcerm=True,
                labels={BUILD_LABEL: "offline-build"},
            )
        except docker.errors.BuildError as exc:
            lines = [
                str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log
            ]
            tail = " | ".join(line.strip() for line in lines if line.strip())[-500:]
            raise ImageUnavailable(
                f"The offline build of {tag} failed: {short(exc)}",
                hint=f"Build log: {tail}" if tail else None,
            ) from exc
        except (docker.errors.DockerException, OSError) as exc:
            raise _engine_error(exc, f"building {tag}") from exc
    for alias in spec.tags:
        if alias != tag and not _has_tag(client, alias):
            repository, _, version = alias.rpartition(":")
            try:
                image.tag(repository, tag=version)
            except (docker.errors.DockerException, OSError) as exc:
                raise _engine_error(exc, f"tagging {alias}") from exc
    log(f"{tag}: built ({', '.join(spec.tags)})")
