"""docker-py's unix-socket connection, mended to close its socket when the connect fails.

docker-py (7.x) makes a socket and connects it; when the engine's socket refuses (a daemon
that died, or one not listening yet) the exception leaves the new socket for the garbage
collector, which closes it later with a ``ResourceWarning``: one file descriptor held per
failed request until then, at a moment nobody chose. :func:`mend` replaces that ``connect``
with one that closes the socket on any failure. Every module here that makes a docker-py
client calls it at import; it is idempotent.
"""

from __future__ import annotations

import socket

from docker.transport import unixconn


def connect(path: str, timeout: float | None) -> socket.socket:
    """A socket connected to the engine's unix socket ``path``; on failure it is closed.

    Raises:
        OSError: The socket could not be connected (after closing it).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect(self: unixconn.UnixHTTPConnection) -> None:
    """Connect to the engine's unix socket; on failure close the socket before raising."""
    self.sock = connect(self.unix_socket, self.timeout)


def mend() -> None:
    """Make docker-py's unix connections close their socket when connecting fails."""
    unixconn.UnixHTTPConnection.connect = _connect

__all__ = ["connect", "mend"]
