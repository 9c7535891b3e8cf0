"""The lean wire against docker-py on the real engine: the same answers, the same errors.

:class:`bot.sandbox.engine.wire.Wire` sends a learner line's own requests without
``requests``; :class:`~bot.sandbox.engine.wire.DockerPyCalls` sends them through docker-py.
Each case runs both on the same engine objects and compares what callers see.
"""

from __future__ import annotations

import http.server
import os
import resource
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors
import pytest
import requests.exceptions

from bot.sandbox.engine.streams import read_stream
from bot.sandbox.engine.wire import DockerPyCalls, EngineCalls, Wire
from bot.sandbox.policy.naming import LABEL_NAMESPACE

pytestmark = pytest.mark.docker


@pytest.fixture
def both(docker_client: docker.DockerClient) -> Iterator[dict[str, EngineCalls]]:
    """The wire and docker-py, to the same engine."""
    wire = Wire.for_client(docker_client.api)
    assert wire is not None, "the test engine is on a unix socket"
    yield {"wire": wire, "docker-py": DockerPyCalls(docker_client.api)}
    wire.close()


@pytest.fixture
def running(docker_client: docker.DockerClient,
            namespace_prefix: str) -> Iterator[docker.models.containers.Container]:
    """A running busybox, labelled for clean-up."""
    container = docker_client.containers.run(
        "busybox", ["sleep", "300"], detach=True, network_mode="none",
        labels={LABEL_NAMESPACE: namespace_prefix})
    yield container
    container.remove(force=True)


def _error(call: Callable[[], Any]) -> tuple[type, int | None, str]:
    with pytest.raises(docker.errors.APIError) as caught:
        call()
    return type(caught.value), caught.value.status_code, str(caught.value.explanation)


def _run(calls: EngineCalls, container_id: str, argv: list[str], *, tty: bool = False
         ) -> tuple[bytes, int]:
    exec_id = calls.exec_create(container_id, argv, tty=tty, env=["GREETING=hi"],
                                workdir="/tmp", user="")
    stream = calls.exec_start(exec_id, tty=tty, detach=False)
    assert stream is not None
    try:
        data, _, timed_out = read_stream(stream.sock, tty=tty, deadline=time.monotonic() + 20,
                                         limit=1 << 20, first=stream.first)
    finally:
        stream.close()
    assert not timed_out
    for _ in range(40):
        code = calls.exec_inspect(exec_id).get("ExitCode")
        if code is not None:
            return data, int(code)
        time.sleep(0.05)
    raise AssertionError("the exec never ended")


def test_both_read_a_container_alike(both: dict[str, EngineCalls], running: Any) -> None:
    """The inspected container is the same document through either."""
    wire, dpy = both["wire"].inspect_container(running.name), \
        both["docker-py"].inspect_container(running.name)
    assert wire == dpy and wire["Id"] == running.id


def test_both_run_an_exec_alike(both: dict[str, EngineCalls], running: Any) -> None:
    """Output (both streams, environment and workdir applied) and exit code agree."""
    argv = ["sh", "-c", 'echo "$GREETING from $(pwd)"; seq 1 20000; echo oops >&2; exit 3']
    results = {name: _run(calls, running.id, argv) for name, calls in both.items()}
    expected = [b"hi from /tmp", *(str(n).encode() for n in range(1, 20001)), b"oops"]
    for data, code in results.values():  # the two streams' order is the engine's, not ours
        assert code == 3 and sorted(data.splitlines()) == sorted(expected)
        assert data.startswith(b"hi from /tmp\n1\n")
    tty = {name: _run(calls, running.id, ["echo", "tty"], tty=True) for name, calls in both.items()}
    assert tty["wire"] == tty["docker-py"] == (b"tty\r\n", 0)


def test_both_raise_the_same_errors(both: dict[str, EngineCalls], running: Any) -> None:
    """No such container, no such exec, not running: the same docker-py error, status, words."""
    for call in (lambda c: c.inspect_container("no-such-container-" + running.id[:8]),
                 lambda c: c.exec_inspect("f" * 64),
                 lambda c: c.exec_start("f" * 64, tty=False, detach=False)):
        wire, dpy = (_error(lambda c=calls, f=call: f(c))
                     for calls in (both["wire"], both["docker-py"]))
        assert wire == dpy and wire[0] is docker.errors.NotFound
    running.stop(timeout=0)
    refused = {name: _error(lambda c=calls: c.exec_create(running.id, ["true"], tty=False, env=None,
                                                         workdir=None, user=""))
               for name, calls in both.items()}
    assert refused["wire"] == refused["docker-py"]
    assert refused["wire"][1] == 409 and "is not running" in refused["wire"][2]


def test_an_unreachable_engine_is_a_connection_error(tmp_path: Path) -> None:
    """No engine behind the socket: requests' own ConnectionError, which the sandbox translates."""
    wire = Wire(str(tmp_path / "none.sock"), "1.41", 5.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        wire.inspect_container("c")
    with pytest.raises(requests.exceptions.ConnectionError):
        wire.exec_start("e", tty=False, detach=False)


class _HangingUp(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a small JSON body, then hangs up (unless ``keep``)."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []
    keep: ClassVar[bool] = False

    def setup(self) -> None:
        super().setup()
        _Answer.connections.append(1)

    def do_GET(self) -> None:
        body = b'{"Id": "x", "ExitCode": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = not self.keep  # hang up on a connection said to stay open

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[str]:
    """A unix-socket HTTP server answering like the engine's ``GET /exec/{id}/json``."""
    path = str(tmp_path / "engine.sock")
    server = _HangingUp(path, _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Answer.connections = []
    yield path
    server.shutdown()
    server.server_close()
    _Answer.keep = False


def test_a_kept_connection_the_engine_hung_up_is_replaced(fake_engine: str) -> None:
    """A fault: the engine closed a kept-alive connection; the next request opens a new one."""
    wire = Wire(fake_engine, "1.41", 5.0)
    try:
        for _ in range(3):
            assert wire.exec_inspect("x") == {"Id": "x", "ExitCode": 0}
            time.sleep(0.05)  # the hang-up reaches the client's side of the kept connection
        assert len(_Answer.connections) == 3
    finally:
        wire.close()


def test_a_kept_connection_is_reused_whatever_its_descriptor_number(fake_engine: str) -> None:
    """Three requests, one connection, even past select()'s 1024 descriptors."""
    _Answer.keep = True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this process may open at most {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    wire = Wire(fake_engine, "1.41", 5.0)
    try:
        for _ in range(3):
            assert wire.exec_inspect("x") == {"Id": "x", "ExitCode": 0}
        assert len(_Answer.connections) == 1
    finally:
        wire.close()
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
