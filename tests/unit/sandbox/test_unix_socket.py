"""docker-py's connect to a unix socket that refuses leaves no socket for the garbage collector."""

from __future__ import annotations

import gc
import socket
import warnings
from pathlib import Path

import docker
import pytest
import requests.exceptions
from docker.transport import unixconn

from bot.sandbox.engine.unix_socket import _connect, mend


def refused_requests(address: str, count: int) -> list[warnings.WarningMessage]:
    """Ask a dead engine ``count`` times; the ResourceWarnings collected afterwards."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(count):
            client = docker.APIClient(base_url=address, timeout=2, version="1.41")
            try:
                with pytest.raises(requests.exceptions.ConnectionError):
                    client.ping()
            finally:
                client.close()
        gc.collect()
    return [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("listening", [False, True], ids=["no-file", "bound-not-listening"])
def test_a_refused_connect_closes_its_socket(tmp_path: Path, listening: bool) -> None:
    """A dead daemon's socket (gone, or a file nobody accepts on) refuses; nothing is left open."""
    path = tmp_path / "docker.sock"
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if listening:
            holder.bind(str(path))  # the file exists, but no listen(): connect is refused
        mend()
        assert unixconn.UnixHTTPConnection.connect is _connect
        assert refused_requests(f"unix://{path}", 5) == []
    finally:
        holder.close()
