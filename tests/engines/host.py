"""What an extra engine leaves on the host: its processes, mounts and cgroups, found and removed.

Everything here works from the engine's folder and cgroup name only, so it also cleans up
after a daemon that was killed, or a test run that was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "docker-tutor-engines.lock"


@contextlib.contextmanager
def start_lock() -> Iterator[None]:
    """One engine start at a time, across processes (``--userns-remap=default`` creates a user)."""
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cmdline(pid: int) -> str:
    """The command line of ``pid`` as one string (empty when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_dockerd_of(pid: int, root: Path) -> bool:
    """Whether ``pid`` is a live (not zombie) ``dockerd`` started with ``root``'s config."""
    if pid <= 0:
        return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return status != "Z" and str(root / "daemon.json") in cmdline(pid)


def processes_naming(root: Path) -> list[int]:
    """Live processes whose command line names ``root`` (containerd, shims, runsc)."""
    needle = str(root) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and needle in cmdline(int(entry.name)):
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry.name))
    return found


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` in this mount namespace, deepest first."""
    prefix = str(root)
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def cgroup_dirs(name: str) -> list[Path]:
    """The cgroup folders called ``name`` (one per v1 hierarchy, or the v2 one)."""
    base = Path("/sys/fs/cgroup")
    if not name or not base.is_dir():
        return []
    candidates = [base / name, *(p / name for p in base.iterdir() if p.is_dir())]
    return [c for c in candidates if c.is_dir()]


def cgroup_processes(name: str) -> list[int]:
    """Processes in the cgroups called ``name`` and below."""
    pids: set[int] = set()
    for top in cgroup_dirs(name):
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(line) for line in procs.read_text().split())
    return sorted(pids)


def remove_cgroups(name: str) -> bool:
    """Remove the (empty) cgroup folders called ``name``, deepest first; whether all went."""
    for top in cgroup_dirs(name):
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                             reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
    return not cgroup_dirs(name)


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
