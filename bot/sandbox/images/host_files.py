"""The host binaries an offline image build copies, installed with apt-get when allowed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

from bot.errors import ImageUnavailable
from bot.sandbox.images.specs import HostFile, ImageSpec, short

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where host programs are looked for, besides ``PATH``."""

_APT_TIMEOUT = 900.0


def _find_binary(candidates: Iterable[str]) -> Path | None:
    """The first candidate that exists on this host, as an executable file."""
    search = os.pathsep.join(filter(None, (os.environ.get("PATH"), SEARCH_PATH)))
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
    return shutil.which("apt-get", path=SEARCH_PATH)


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


def provide_files(
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
    if shutil.which("apt-get", path=SEARCH_PATH) is None:
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
            f"Could not run {command[0]} {command[1]}: {short(exc)}",
            hint="Install the packages by hand and retry.",
        ) from exc
