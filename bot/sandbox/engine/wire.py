"""The engine requests of every learner line, sent lean: one pooled connection, no ``requests``.

Each ``docker exec`` line costs four engine requests (read the container, create the exec,
start it, read its exit code). Through docker-py each goes through ``requests``' session
(settings merged, hooks, cookies, a prepared request) and docker-py's unix adapter, which
keeps one connection pool *per URL*: every exec id is a new URL, so every request opened a
new socket. That cost about 1.5 ms of the tutor's CPU per request on this machine's 2
cores, shared with the engine it waits for; the ``docker`` CLI's line spends that time
starting its process, and the tutor's must be cheaper than the CLI's.

:class:`Wire` sends those requests itself, on a unix-socket engine: ``http.client`` over
a small pool of kept-alive connections (one per concurrent caller, reused), and for an
exec's output a fresh connection that the engine hijacks. Everything else, and every
engine not on a unix socket (TCP, TLS, SSH), goes through docker-py (:class:`DockerPyCalls`,
same methods). What callers see is the same either way:

* an engine's error answer raises docker-py's own error for it
  (:func:`docker.errors.create_api_error_from_http_exception` on a ``requests.Response``);
* a connection refused, dropped or timed out raises ``requests``' own exceptions, which
  :mod:`bot.sandbox.engine.translate` turns into :class:`~bot.errors.EngineUnavailable`;
* every request counts for the line (:func:`bot.sandbox.engine.request_counts.count`).

All requests pass through :meth:`Wire.send`, which has docker-py's ``APIClient.send``
shape (a prepared request in, a response out): tests inject a fault in both at once.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote

import docker
import docker.errors
import requests
import requests.exceptions
from docker.transport.unixconn import UnixHTTPAdapter

from bot.sandbox.engine import request_counts, unix_socket

IDLE_CONNECTIONS = 16
"""Kept-alive connections a wire keeps for reuse (more callers at once open more)."""

HEADER_LIMIT = 64 * 1024
"""Most bytes of an upgraded answer's headers read before giving up on it."""


class Stream:
    """An exec's output stream: the hijacked socket and any bytes read past its headers."""

    def __init__(self, sock: socket.socket, first: bytes = b"", owner: Any = None) -> None:
        self.sock = sock
        self.first = first
        self._owner = owner

    def close(self) -> None:
        """Close the stream (and what docker-py wrapped it in)."""
        if self._owner is not None:
            self._owner.close()
        self.sock.close()


class EngineCalls(Protocol):
    """The engine requests of a learner line, whatever carries them."""

    def inspect_container(self, ref: str) -> dict[str, Any]:
        """``GET /containers/{ref}/json``."""

    def exec_create(self, container_id: str, cmd: list[str], *, tty: bool,
                    env: list[str] | None, workdir: str | None, user: str) -> str:
        """``POST /containers/{id}/exec`` (output attached, no input): the new exec's id."""

    def exec_start(self, exec_id: str, *, tty: bool, detach: bool) -> Stream | None:
        """``POST /exec/{id}/start``: its output stream, or ``None`` when detached."""

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""


class DockerPyCalls:
    """:class:`EngineCalls` through docker-py, for engines a :class:`Wire` does not reach."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api

    def inspect_container(self, ref: str) -> dict[str, Any]:
        """``GET /containers/{ref}/json``."""
        return dict(self._api.inspect_container(ref))

    def exec_create(self, container_id: str, cmd: list[str], *, tty: bool,
                    env: list[str] | None, workdir: str | None, user: str) -> str:
        """``POST /containers/{id}/exec`` (output attached, no input): the new exec's id."""
        return str(self._api.exec_create(container_id, cmd, stdout=True, stderr=True, tty=tty,
                                         environment=env, workdir=workdir, user=user)["Id"])

    def exec_start(self, exec_id: str, *, tty: bool, detach: bool) -> Stream | None:
        """``POST /exec/{id}/start``: its output stream, or ``None`` when detached."""
        if detach:
            self._api.exec_start(exec_id, detach=True)
            return None
        wrapped = self._api.exec_start(exec_id, socket=True, tty=tty)
        return Stream(getattr(wrapped, "_sock", wrapped), owner=wrapped)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""
        return dict(self._api.exec_inspect(exec_id))


class _Connection(http.client.HTTPConnection):
    """An HTTP connection to the engine's unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = unix_socket.connect(self._path, self.timeout)


def _dropped(conn: _Connection) -> bool:
    """Whether a kept connection was closed by the engine (readable while idle: EOF).

    ``poll``, not ``select``: a busy process may hold file descriptors past ``select``'s limit.
    """
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class Wire:
    """:class:`EngineCalls` over a unix socket, without ``requests`` (see the module docstring).

    Args:
        socket_path: The engine's unix socket.
        version: The API version docker-py negotiated (``1.41``).
        timeout: Seconds any one request may take.
    """

    def __init__(self, socket_path: str, version: str, timeout: float) -> None:
        self._path = socket_path
        self._prefix = f"/v{version}"
        self._timeout = timeout
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, api: docker.APIClient) -> Wire | None:
        """A wire to ``api``'s engine, or ``None`` when it is not on a unix socket."""
        adapter = api.adapters.get("http+docker://")
        if not isinstance(adapter, UnixHTTPAdapter) or not api.base_url.startswith("http+docker:"):
            return None
        return cls(adapter.socket_path, str(api.api_version), float(api.timeout or 60))

    # -- EngineCalls -----------------------------------------------------------------------

    def inspect_container(self, ref: str) -> dict[str, Any]:
        """``GET /containers/{ref}/json``."""
        return dict(self._json("GET", self._url("/containers/{0}/json", ref)))

    def exec_create(self, container_id: str, cmd: list[str], *, tty: bool,
                    env: list[str] | None, workdir: str | None, user: str) -> str:
        """``POST /containers/{id}/exec`` (output attached, no input): the new exec's id.

        The body docker-py's ``exec_create`` sends for the same arguments.
        """
        body: dict[str, Any] = {
            "Container": container_id, "User": user, "Privileged": False, "Tty": tty,
            "AttachStdin": False, "AttachStdout": True, "AttachStderr": True, "Cmd": cmd,
            "Env": env,
        }
        if workdir is not None:
            body["WorkingDir"] = workdir
        return str(self._json("POST", self._url("/containers/{0}/exec", container_id), body)["Id"])

    def exec_start(self, exec_id: str, *, tty: bool, detach: bool) -> Stream | None:
        """``POST /exec/{id}/start``: its output stream, or ``None`` when detached."""
        url = self._url("/exec/{0}/start", exec_id)
        body = {"Tty": tty, "Detach": detach}
        if detach:
            self._json("POST", url, body)
            return None
        return self.upgrade(_prepared("POST", url, body))

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""
        return dict(self._json("GET", self._url("/exec/{0}/json", exec_id)))

    # -- the exchange ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the kept connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        """Send one request on a kept connection (or a new one); the whole answer read.

        Raises:
            requests.exceptions.ConnectionError: The engine could not be reached, or hung up.
            requests.exceptions.ReadTimeout: The engine did not answer in time.
        """
        conn, reused = self._take()
        try:
            with _as_requests_errors():
                try:
                    answer = self._exchange(conn, request)
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    if not reused:
                        raise
                    conn.close()  # the engine had hung up on it meanwhile: once more, afresh
                    conn = _Connection(self._path, self._timeout)
                    answer = self._exchange(conn, request)
        except BaseException:
            conn.close()
            raise
        status, reason, headers, content, keep = answer
        if keep:
            self._give_back(conn)
        else:
            conn.close()
        return _response(request, status, reason, headers, content)

    def upgrade(self, request: requests.PreparedRequest) -> Stream:
        """Send ``request`` on a new connection that the engine hijacks for a stream.

        Raises:
            docker.errors.APIError: The engine refused (no such exec, container not running).
            requests.exceptions.ConnectionError: The engine could not be reached, or hung up.
        """
        with _as_requests_errors():
            sock = unix_socket.connect(self._path, self._timeout)
        body = request.body if isinstance(request.body, bytes) else b""
        head = bytearray()
        try:
            with _as_requests_errors():
                sock.sendall(
                    f"{request.method} {request.path_url} HTTP/1.1\r\nHost: docker\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode() + body)
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(65536)
                    if not chunk or len(head) > HEADER_LIMIT:
                        raise ConnectionError("the engine closed the stream before answering")
                    head += chunk
        except BaseException:
            sock.close()
            raise
        request_counts.count(request.method or "POST", request.path_url)
        headers_end = head.index(b"\r\n\r\n") + 4
        status_line = bytes(head[:head.index(b"\r\n")]).decode("latin-1").split(" ", 2)
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if status in (101, 200):
            return Stream(sock, bytes(head[headers_end:]))
        content = bytes(head[headers_end:])
        length, chunked = _body_framing(bytes(head[:headers_end]))
        try:  # an error answer is small: read it to its end (the engine keeps the connection)
            while len(content) <= HEADER_LIMIT and not (
                    (length is not None and len(content) >= length)
                    or (chunked and content.endswith(b"0\r\n\r\n"))):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                content += chunk
        except OSError:
            pass
        finally:
            sock.close()
        body = _unchunk(content) if chunked else content[:length]
        _raise_for(_response(request, status, status_line[-1], {}, body))
        raise requests.exceptions.ConnectionError(f"the engine answered {status} to a stream")

    # -- inside ----------------------------------------------------------------------------

    def _url(self, template: str, *args: str) -> str:
        return self._prefix + template.format(*(quote(arg, safe="/:") for arg in args))

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.send(_prepared(method, path, body))
        _raise_for(response)
        return json.loads(response.content) if response.content else None

    def _take(self) -> tuple[_Connection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _dropped(conn):
                    return conn, True
                conn.close()
        return _Connection(self._path, self._timeout), False

    def _give_back(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def _exchange(self, conn: _Connection, request: requests.PreparedRequest
                  ) -> tuple[int, str, dict[str, str], bytes, bool]:
        body = request.body if isinstance(request.body, bytes) else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(request.method or "GET", request.path_url, body=body, headers=headers)
        answer = conn.getresponse()
        content = answer.read()
        request_counts.count(request.method or "GET", request.path_url)
        return (answer.status, answer.reason, dict(answer.headers.items()), content,
                not answer.will_close)


@contextmanager
def _as_requests_errors() -> Iterator[None]:
    """A failure to reach the engine, or its silence, as ``requests``' own exceptions."""
    try:
        yield
    except TimeoutError as exc:
        raise requests.exceptions.ReadTimeout(f"the engine did not answer: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise requests.exceptions.ConnectionError(f"the engine hung up: {exc}") from exc


def _prepared(method: str, path: str, body: dict[str, Any] | None) -> requests.PreparedRequest:
    """A request as docker-py would hand it to ``requests`` (only what the wire reads)."""
    request = requests.PreparedRequest()
    request.method = method
    request.url = "http+docker://localhost" + path
    request.headers = requests.structures.CaseInsensitiveDict()
    request.body = None if body is None else json.dumps(body).encode()
    return request


def _response(request: requests.PreparedRequest, status: int, reason: str,
              headers: dict[str, str], content: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.headers = requests.structures.CaseInsensitiveDict(headers)
    response._content = content
    response.url = request.url or ""
    response.request = request
    return response


def _raise_for(response: requests.Response) -> None:
    """Raise docker-py's error for an engine's error answer, as docker-py would."""
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        raise docker.errors.create_api_error_from_http_exception(exc) from exc


def _body_framing(head: bytes) -> tuple[int | None, bool]:
    """How an answer's body ends, from its headers: ``(Content-Length, chunked)``."""
    length, chunked = None, False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length" and value.isdigit():
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return length, chunked


def _unchunk(content: bytes) -> bytes:
    """The body of a small answer sent in chunked transfer encoding."""
    body, rest = bytearray(), content
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2:]
    return bytes(body)


__all__ = ["DockerPyCalls", "EngineCalls", "Stream", "Wire"]
