"""The lesson images as data: what each is called, its tags, and what it is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parents[3] / "images"
"""The ``images/`` folder beside the ``bot`` package: one folder per lesson image."""


@dataclass(frozen=True)
class HostFile:
    """A binary the offline build copies from this host into the image.

    Attributes:
        path: Where the file goes in the image (absolute, e.g. ``/usr/bin/redis-cli``).
        candidates: Host commands or absolute paths to look for, in order; the first
            found is copied (following symlinks) under ``path``.
        package: The Debian package that provides a candidate.
    """

    path: str
    candidates: tuple[str, ...]
    package: str


@dataclass(frozen=True)
class ImageSpec:
    """One lesson image.

    Attributes:
        name: What a learner types (``redis``).
        tags: The tags a build produces; the first is the default (``redis:latest``).
            A learner may type any of them (``redis:7``).
        files: The host binaries the offline build copies.
        links: Extra symlinks in the image, as ``(path, target)`` pairs.
        applets: Add a link for every applet of the image's ``/usr/bin/busybox``.
        context: The folder under ``images/`` holding the ``Dockerfile`` and the
            ``rootfs/`` files laid over the assembled root file system.
        context_dirs: Empty folders placed beside ``rootfs/`` in the build context, for
            the ``Dockerfile`` to ``COPY --chown`` (an owned, empty ``/data``).
    """

    name: str
    tags: tuple[str, ...]
    files: tuple[HostFile, ...]
    links: tuple[tuple[str, str], ...] = ()
    applets: bool = True
    context: str = ""
    context_dirs: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The default tag (``redis:latest``)."""
        return self.tags[0]

    @property
    def packages(self) -> tuple[str, ...]:
        """The Debian packages that provide this image's binaries, without repeats."""
        return tuple(dict.fromkeys(host_file.package for host_file in self.files))


_BUSYBOX = HostFile("/usr/bin/busybox", ("/bin/busybox", "/usr/bin/busybox"), "busybox-static")

IMAGES: Mapping[str, ImageSpec] = {
    "redis": ImageSpec(
        name="redis",
        tags=("redis:latest", "redis:7"),
        files=(
            HostFile("/usr/bin/redis-server", ("redis-server", "redis-check-rdb"), "redis-tools"),
            HostFile("/usr/bin/redis-cli", ("redis-cli",), "redis-tools"),
            _BUSYBOX,
        ),
        links=(
            ("/usr/bin/redis-check-aof", "redis-server"),
            ("/usr/bin/redis-check-rdb", "redis-server"),
            ("/usr/bin/redis-sentinel", "redis-server"),
        ),
        context="redis",
        context_dirs=("data",),
    ),
    "busybox": ImageSpec(
        name="busybox",
        tags=("busybox:latest",),
        files=(_BUSYBOX,),
        context="busybox",
    ),
}
"""The lesson images by the name a learner types."""


def short(exc: BaseException) -> str:
    """An exception's text on one line, at most 300 characters (for an operator)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
