"""A throwaway PostgreSQL server that a test can stop and start (as ``.ci/postgres.sh``)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    """Why no throwaway server can be run here, or ``None`` when one can."""
    if _bin() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    if os.geteuid() != 0 or shutil.which("su") is None:
        return "starting PostgreSQL here needs root (to run it as the postgres user)"
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return "no postgres system user"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder on a free loopback port.

    Args:
        folder: An empty folder for the cluster (made writable for ``postgres``).
    """

    def __init__(self, folder: Path) -> None:
        binary = _bin()
        assert binary is not None
        self.bin = binary
        self.folder = folder
        self.port = _free_port()
        folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "postgres")
        os.chmod(folder, 0o700)
        self._su(f"{self.bin}/initdb -D {folder}/data -A trust -U postgres --no-sync")
        self.start()
        self._su(f"{self.bin}/createdb -h 127.0.0.1 -p {self.port} tutor")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/tutor"

    def _su(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command],
                       check=True, capture_output=True, timeout=60, cwd="/")

    def start(self) -> None:
        """Start the server (again); returns when it accepts connections."""
        self._su(f"{self.bin}/pg_ctl -D {self.folder}/data -l {self.folder}/server.log -w "
                 f"-o '-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                 f"-c fsync=off' start")

    def stop(self) -> None:
        """Stop the server at once (open connections are cut)."""
        self._su(f"{self.bin}/pg_ctl -D {self.folder}/data -m immediate -w stop")

    def close(self) -> None:
        """Stop the server if it runs."""
        if (self.folder / "data" / "postmaster.pid").exists():
            self.stop()
