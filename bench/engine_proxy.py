"""A logging proxy on a unix socket: which requests a client (the ``docker`` CLI) sends.

``with RequestLog(upstream) as log:`` listens on a socket of its own and forwards every
connection to the engine's socket ``upstream`` byte for byte; on the way in it reads each
request's line and headers (and skips its body: ``Content-Length`` or chunked), so
``log.kinds`` counts the requests by kind, as :func:`bot.sandbox.engine.request_counts.kind` names them.
After a request that upgrades the connection (``docker exec``'s attach, ``Upgrade: tcp``)
the rest of that connection is a raw stream and is only forwarded.

For the bench: measure the CLI with ``DOCKER_HOST=unix://<log.socket>``.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType

from bot.sandbox.engine.request_counts import kind


class RequestLog:
    """Forward a unix socket to ``upstream`` and count the requests that pass, by kind."""

    def __init__(self, upstream: str = "/var/run/docker.sock") -> None:
        self.upstream = upstream
        self._folder = tempfile.TemporaryDirectory(prefix="dt-proxy-")
        self.socket = str(Path(self._folder.name) / "docker.sock")
        self.kinds: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.socket)
        self._server.listen(64)
        self._thread = threading.Thread(target=self._accept, name="request-log", daemon=True)

    @property
    def docker_host(self) -> str:
        """``DOCKER_HOST`` for a client to go through this proxy."""
        return f"unix://{self.socket}"

    def take(self) -> Counter[str]:
        """The requests counted since the last call, and start counting afresh."""
        with self._lock:
            taken, self.kinds = self.kinds, Counter()
        return taken

    def __enter__(self) -> RequestLog:
        self._thread.start()
        return self

    def __exit__(self, kind_: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._server.close()
        self._folder.cleanup()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream)
            threading.Thread(target=self._requests, args=(downstream, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, downstream), daemon=True).start()

    def _requests(self, downstream: socket.socket, upstream: socket.socket) -> None:
        reader = downstream.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                upstream.sendall(head)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = ([*lines[0].split(" "), "", ""])[:3]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                with self._lock:
                    self.kinds[kind(method, path)] += 1
                _forward_body(reader, upstream, headers)
                if "upgrade" in headers.get("connection", "").lower():
                    while chunk := reader.read1(65536):
                        upstream.sendall(chunk)
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)


def _read_head(reader: object) -> bytes | None:
    """One request's line and headers (through the blank line), ``None`` at the end."""
    lines = []
    while True:
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _forward_body(reader: object, upstream: socket.socket, headers: dict[str, str]) -> None:
    length = int(headers.get("content-length", "0") or 0)
    if length:
        upstream.sendall(reader.read(length))  # type: ignore[attr-defined]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = reader.readline()  # type: ignore[attr-defined]
            upstream.sendall(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            upstream.sendall(reader.read(size + 2))  # type: ignore[attr-defined]
            if size == 0:
                return


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
