"""The build context of an offline lesson image: a merged-``/usr`` root file system.

The host binaries of an image and every shared library they link (found with ``ldd``,
dynamic loader included) are copied into ``rootfs/``, with the busybox applet links,
``/tmp``, and the files under ``images/<name>/rootfs/``; then the image's
``Dockerfile`` is placed beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from bot.errors import ImageUnavailable
from bot.sandbox.images.specs import IMAGES_DIR, ImageSpec, short

_MERGED_TOPS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32"})
_APPLET_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin"})
_TOOL_TIMEOUT = 60.0


def _image_path(path: str) -> PurePosixPath:
    """Where a host path lives in the image, whose ``/bin``, ``/lib``... link into ``/usr``."""
    pure = PurePosixPath(os.path.normpath(path))
    if len(pure.parts) > 1 and pure.parts[1] in _MERGED_TOPS:
        return PurePosixPath("/usr", *pure.parts[1:])
    return pure


def _in_root(rootfs: Path, path: str) -> Path:
    return rootfs / _image_path(path).relative_to("/")


def _libraries(binary: Path) -> list[Path]:
    """The shared libraries ``binary`` links, dynamic loader included (none if static).

    Raises:
        ImageUnavailable: ``ldd`` is missing or reports a library it cannot find.
    """
    try:
        result = subprocess.run(
            ["ldd", str(binary)],
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageUnavailable(
            f"Could not run ldd on {binary}: {short(exc)}",
            hint="Install the libc-bin package (it provides ldd) and retry.",
        ) from exc
    output = result.stdout + result.stderr
    if "not a dynamic executable" in output or "statically linked" in output:
        return []
    if result.returncode != 0:
        raise ImageUnavailable(f"ldd failed on {binary}: {short(Exception(output))}")
    libraries: list[Path] = []
    for raw in result.stdout.splitlines():
        line = raw.strip()
        if "=> not found" in line:
            raise ImageUnavailable(
                f"{binary} needs {line.split()[0]}, which this host does not have.",
                hint="Reinstall the package that provides it (apt-get install --reinstall).",
            )
        target = line.split("=>", 1)[1] if "=>" in line else line
        path = target.split("(", 1)[0].strip()
        if path.startswith("/"):
            libraries.append(Path(path))
    return libraries


def _copy_file(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)  # follows symlinks: the image gets the content
    os.chmod(destination, 0o755)  # noqa: S103 (a program or library of the image)


def _link(rootfs: Path, path: str, target: str) -> None:
    """Create the symlink ``path`` -> ``target`` in ``rootfs`` unless ``path`` exists."""
    where = _in_root(rootfs, path)
    if os.path.lexists(where):
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


def _applets(busybox: Path) -> list[str]:
    """The applets of ``busybox``, as absolute install paths (``/bin/sh``)."""
    try:
        result = subprocess.run(
            [str(busybox), "--list-full"],
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ImageUnavailable(
            f"Could not list the applets of {busybox}: {short(exc)}",
            hint="Reinstall busybox-static (apt-get install --reinstall busybox-static).",
        ) from exc
    applets = []
    for line in result.stdout.split():
        applet = PurePosixPath("/" + line.lstrip("/"))
        if str(applet.parent) in _APPLET_DIRS and applet.name != "busybox":
            applets.append(str(applet))  # (skips /linuxrc, an initramfs entry point)
    return applets


def assemble(spec: ImageSpec, host: Mapping[str, Path], context: Path) -> None:
    """Write the build context of ``spec`` into the empty folder ``context``."""
    rootfs = context / "rootfs"
    for top in sorted(_MERGED_TOPS - {"lib32", "libx32"}):
        (rootfs / "usr" / top).mkdir(parents=True, exist_ok=True)
        (rootfs / top).symlink_to(f"usr/{top}")
    for name in ("etc", "home", "root", "tmp", "var/tmp", "usr/local/bin", "usr/local/sbin"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)

    libraries: dict[PurePosixPath, Path] = {}
    for host_file in spec.files:
        source = host[host_file.path]
        _copy_file(source, _in_root(rootfs, host_file.path))
        for library in _libraries(source):
            libraries.setdefault(_image_path(str(library)), library)
    for where, library in libraries.items():
        _copy_file(library, rootfs / where.relative_to("/"))

    overlay = IMAGES_DIR / spec.context / "rootfs"
    if overlay.is_dir():
        for source in sorted(overlay.rglob("*")):
            if source.is_file():
                destination = _in_root(rootfs, "/" + source.relative_to(overlay).as_posix())
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
                script = source.read_bytes()[:2] == b"#!"
                os.chmod(destination, 0o755 if script else 0o644)

    for path, target in spec.links:
        _link(rootfs, path, target)
    if spec.applets:
        busybox = _in_root(rootfs, "/usr/bin/busybox")
        for applet in _applets(host["/usr/bin/busybox"]):
            where = _image_path(applet)
            _link(rootfs, applet, os.path.relpath(busybox, _in_root(rootfs, str(where.parent))))

    # Modes are the image's, not this host's: set them whatever the umask.
    for folder in (rootfs, *(path for path in rootfs.rglob("*") if path.is_dir())):
        if not folder.is_symlink():
            os.chmod(folder, 0o755)  # noqa: S103
    os.chmod(rootfs / "tmp", 0o1777)  # noqa: S103
    os.chmod(rootfs / "var" / "tmp", 0o1777)  # noqa: S103
    os.chmod(rootfs / "root", 0o700)

    for name in spec.context_dirs:
        (context / name).mkdir()
        os.chmod(context / name, 0o755)  # noqa: S103
    shutil.copyfile(IMAGES_DIR / spec.context / "Dockerfile", context / "Dockerfile")
