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
are on the host.

Debian's ``redis-server`` package holds only a host service, its configuration and
the link ``/usr/bin/redis-server -> redis-check-rdb``; the server itself is the
``redis-check-rdb`` binary of ``redis-tools`` (it acts as the server when called
``redis-server``). So the build installs ``redis-tools`` only, and never gets a
redis service enabled or listening on the host.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import docker
import docker.errors

from bot.errors import EngineUnavailable, ImageUnavailable

IMAGES_DIR = Path(__file__).resolve().parent.parent.parent / "images"
"""The ``images/`` folder beside the ``bot`` package: one folder per lesson image."""

BUILD_LABEL = "docker-tutor.image"
"""Label set on every image this module builds (value ``offline-build``)."""

Action = Literal["present", "pulled", "built"]

_MERGED_TOPS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32"})
_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_APPLET_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin"})
_APT_TIMEOUT = 900.0
_TOOL_TIMEOUT = 60.0
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
            host = _provide_files([spec for _, spec, _ in to_build], pull_errors, log)
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
        f"The Docker engine failed while {doing}: {_short(exc)}",
        hint="Check that the engine is running and that the tutor may use its socket.",
    )


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


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
        reason = _short(exc)
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
            _assemble(spec, host, context)
        except OSError as exc:
            raise ImageUnavailable(
                f"Could not assemble the {tag} image: {_short(exc)}",
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
                f"The offline build of {tag} failed: {_short(exc)}",
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


# --- host binaries ------------------------------------------------------------------


def _find_binary(candidates: Iterable[str]) -> Path | None:
    """The first candidate that exists on this host, as an executable file."""
    search = os.pathsep.join(filter(None, (os.environ.get("PATH"), _SEARCH_PATH)))
    for candidate in candidates:
        if os.path.isabs(candidate):
            found: str | None = candidate if os.path.isfile(candidate) else None
        else:
            found = shutil.which(candidate, path=search)
        if found and os.access(found, os.X_OK):
            return Path(found)
    return None


def _apt_get() -> str | None:
    """``apt-get`` when this process may install packages with it, else ``None``."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    return shutil.which("apt-get", path=_SEARCH_PATH)


def _locate(specs: Iterable[ImageSpec]) -> tuple[dict[str, Path], list[HostFile]]:
    """Map each needed image path to a host file; list what is missing."""
    found: dict[str, Path] = {}
    missing: list[HostFile] = []
    for spec in specs:
        for host_file in spec.files:
            if host_file.path in found or host_file in missing:
                continue
            path = _find_binary(host_file.candidates)
            if path is None:
                missing.append(host_file)
            else:
                found[host_file.path] = path
    return found, missing


def _provide_files(
    specs: list[ImageSpec], pull_errors: Mapping[str, str], log: Callable[[str], None]
) -> dict[str, Path]:
    """Find the host binaries ``specs`` need, installing their packages if allowed.

    Raises:
        ImageUnavailable: Binaries are missing and cannot be installed.
    """
    found, missing = _locate(specs)
    if not missing:
        return found
    packages = list(dict.fromkeys(host_file.package for host_file in missing))
    apt_get = _apt_get()
    if apt_get is None:
        raise _unavailable(specs, missing, packages, pull_errors, why=_why_no_apt())
    _apt_install(apt_get, packages, log)
    found, missing = _locate(specs)
    if missing:
        raise _unavailable(
            specs, missing, packages, pull_errors, why="apt-get ran but did not provide them"
        )
    return found


def _why_no_apt() -> str:
    if shutil.which("apt-get", path=_SEARCH_PATH) is None:
        return "this host has no apt-get"
    return "the tutor is not running as root, so it cannot run apt-get"


def _unavailable(
    specs: list[ImageSpec],
    missing: list[HostFile],
    packages: list[str],
    pull_errors: Mapping[str, str],
    *,
    why: str,
) -> ImageUnavailable:
    tags = ", ".join(spec.tag for spec in specs)
    programs = ", ".join(PurePosixPath(host_file.path).name for host_file in missing)
    pulled = ""
    if pull_errors:
        pulled = f" It could not be pulled either ({next(iter(pull_errors.values()))})."
    return ImageUnavailable(
        f"The lesson image {tags} is missing and cannot be built offline: this host lacks "
        f"{programs} (Debian packages {' '.join(packages)}) and {why}.{pulled}",
        hint=(
            "Run the tutor once as root on Debian/Ubuntu so apt-get can install "
            f"{' '.join(packages)}, or run `apt-get install {' '.join(packages)}` yourself, "
            "or pull the images on the engine host: `docker pull "
            f"{' '.join(spec.name for spec in specs)}`."
        ),
    )


def _apt_install(apt_get: str, packages: list[str], log: Callable[[str], None]) -> None:
    """``apt-get install`` ``packages``; refresh the package lists and retry once."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt_get, "install", "-y", "--no-install-recommends", *packages]
    log(f"installing {' '.join(packages)} with apt-get")
    result = _run(install, env)
    if result.returncode != 0:
        log("apt-get install failed; running apt-get update and retrying")
        _run([apt_get, "update"], env)
        result = _run(install, env)
    if result.returncode != 0:
        tail = " ".join(result.stderr.split())[-400:]
        raise ImageUnavailable(
            f"apt-get could not install {' '.join(packages)}: {tail or 'no error text'}",
            hint="Fix the host's apt sources (or install the packages by hand) and retry.",
        )
    log(f"installed {' '.join(packages)}")


def _run(command: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=_APT_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageUnavailable(
            f"Could not run {command[0]} {command[1]}: {_short(exc)}",
            hint="Install the packages by hand and retry.",
        ) from exc


# --- build context ------------------------------------------------------------------


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
            f"Could not run ldd on {binary}: {_short(exc)}",
            hint="Install the libc-bin package (it provides ldd) and retry.",
        ) from exc
    output = result.stdout + result.stderr
    if "not a dynamic executable" in output or "statically linked" in output:
        return []
    if result.returncode != 0:
        raise ImageUnavailable(f"ldd failed on {binary}: {_short(Exception(output))}")
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
            f"Could not list the applets of {busybox}: {_short(exc)}",
            hint="Reinstall busybox-static (apt-get install --reinstall busybox-static).",
        ) from exc
    applets = []
    for line in result.stdout.split():
        applet = PurePosixPath("/" + line.lstrip("/"))
        if str(applet.parent) in _APPLET_DIRS and applet.name != "busybox":
            applets.append(str(applet))  # (skips /linuxrc, an initramfs entry point)
    return applets


def _assemble(spec: ImageSpec, host: Mapping[str, Path], context: Path) -> None:
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
