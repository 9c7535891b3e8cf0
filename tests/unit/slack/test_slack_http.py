"""The one HTTP front end on its real server over loopback sockets: limits, refusals, deadlines.

Every refusal is a short plain 4xx that closes the connection, never a traceback and never
a stalled server; the production settings are the ones tested (no shortened deadlines).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.errors import StoreError
from bot.tutor.core import Tutor
from handlers.web.asgi import (
    BODY_SECONDS,
    EVENTS_PATH,
    HEADER_SECONDS,
    HEALTH_PATH,
    HEALTH_SECONDS,
    MAX_BODY,
    MAX_HEADER_BYTES,
)
from handlers.web.server import (
    DeadlineProtocol,
    SlackHTTPServer,
    http_processes,
    server_config,
    shared_port,
)
from tests.fake_slack import FakeSlack, sign
from tests.fake_tutor import EnginelessTutor
from tests.paths import REPO_ROOT
from tests.slack_helpers import SECRET, TOKEN, Stack, running_stack

ROOT = REPO_ROOT


@pytest.fixture
def stack(settings: Settings, tutor_no_engine: Tutor) -> Iterator[Stack]:
    """The tutor's Bolt app on the production server settings, on a loopback port."""
    with FakeSlack(token=TOKEN) as fake, running_stack(
            settings, EnginelessTutor(tutor_no_engine), fake) as running:
        yield running


def read_answer(sock: socket.socket) -> bytes:
    """One whole HTTP answer (head and Content-Length body), or what came before a close."""
    answer = bytearray()
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(answer)
        answer += chunk
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    lengths = [line.split(b":", 1)[1] for line in head.lower().split(b"\r\n")
               if line.startswith(b"content-length:")]
    want = int(lengths[0]) if lengths else 0
    while len(body) < want and (chunk := sock.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


def exchange(port: int, data: bytes, *, wait: float = 5.0) -> tuple[bytes, float, bool]:
    """Send raw bytes and read one answer.

    Returns the answer, the seconds it took, and whether the server then closed.
    """
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(data)
        answer = read_answer(connection)
        took = time.monotonic() - start
        connection.settimeout(0.5)
        closed = False
        try:  # an answer without a Content-Length ends where the server closes
            while chunk := connection.recv(65536):
                answer += chunk
            closed = True
        except TimeoutError:
            pass
    return answer, took, closed


def status(answer: bytes) -> int:
    """The status code of a raw HTTP answer."""
    return int(answer.split(b" ", 2)[1])


def post(body: bytes, *headers: str, path: str = EVENTS_PATH) -> bytes:
    """A raw POST with the given header lines (nothing added)."""
    head = "".join(f"{line}\r\n" for line in (f"POST {path} HTTP/1.1", "Host: t", *headers))
    return head.encode() + b"\r\n" + body


def sized(body: bytes, *headers: str, path: str = EVENTS_PATH) -> bytes:
    """A raw POST with a correct Content-Length."""
    return post(body, f"Content-Length: {len(body)}", *headers, path=path)


MALFORMED = {
    "chunked": (post(b"5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), 411),
    "chunked with a length too": (
        post(b"5\r\nhello\r\n0\r\n\r\n", "Content-Length: 5", "Transfer-Encoding: chunked"), 411),
    "chunk size beyond reason": (
        post(b"ffffffffffffffffff\r\nx", "Transfer-Encoding: chunked"), 411),
    "no length": (post(b"", "Content-Type: application/json"), 411),
    "length not a number": (post(b"hello", "Content-Length: abc"), 400),
    "negative length": (post(b"hello", "Content-Length: -5"), 400),
    "two lengths": (post(b"hello", "Content-Length: 5", "Content-Length: 6"), 400),
    "oversized, declared": (post(b"x", f"Content-Length: {MAX_BODY + 1}"), 413),
    "oversized headers": (sized(b"{}", "X-Pad: " + "a" * MAX_HEADER_BYTES), 431),
    "not UTF-8": (sized(b"\xff\xfe\xfd"), 400),
    "broken JSON": (sized(b"{not json", "Content-Type: application/json"), 400),
    "JSON not an object": (sized(b'"text"', "Content-Type: application/json"), 400),
    "JSON nested past Python's stack": (
        sized(b'{"a":' + b"[" * 30000 + b"]" * 30000 + b"}"), 400),
    "form with a broken payload": (sized(b"payload=%7Bbroken"), 400),
    "unsigned but well formed": (sized(b"command=%2Ftutor&text=help", "Connection: close"), 401),
    "GET on the events path": (b"GET /slack/events HTTP/1.1\r\nHost: t\r\n\r\n", 405),
    "unknown path": (sized(b"{}", path="/admin"), 404),
    "not HTTP": (b"HELLO THERE\r\n\r\n", 400),
    "request line with spaces": (b"POST /slack events HTTP/1.1\r\nHost: t\r\n\r\n", 400),
}


@pytest.mark.parametrize(("request_bytes", "expected"), MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_request_gets_a_clear_4xx_and_no_traceback(
    stack: Stack, request_bytes: bytes, expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed or oversized request: its 4xx at once, the connection closed, no error logged."""
    with caplog.at_level(logging.INFO):
        answer, took, closed = exchange(stack.server.port, request_bytes)
    assert status(answer) == expected, answer[:300]
    assert took < 2.0 and closed
    assert b"Traceback" not in answer and b"Internal Server Error" not in answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [c.method for c in stack.fake.calls()] == ["auth.test"]


def test_an_oversized_body_is_refused_before_it_is_sent(stack: Stack) -> None:
    """A declared body over MAX_BODY gets 413 while the client has sent only its headers."""
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=5) as connection:
        connection.sendall(post(b"", f"Content-Length: {10 * MAX_BODY}",
                                "Content-Type: application/x-www-form-urlencoded"))
        answer = read_answer(connection)
        assert status(answer) == 413
        assert b"connection: close" in answer.lower()
        assert connection.recv(65536) == b""  # closed: the rest is never read


def test_a_body_exactly_at_the_limit_reaches_bolt(stack: Stack) -> None:
    """A body of MAX_BODY bytes is read whole and judged by Bolt (unsigned: 401, not 413)."""
    body = b"text=" + b"a" * (MAX_BODY - 5)
    answer, _, _ = exchange(stack.server.port, sized(body))
    assert status(answer) == 401


def test_a_signed_command_and_the_health_check_on_one_kept_alive_connection(stack: Stack) -> None:
    """Keep-alive works: health, then a signed /tutor help, on one connection."""
    body, url = stack.sender.command_body("/tutor", "help")
    signed = [f"{k}: {v}" for k, v in sign(body, SECRET).items()]
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=5) as connection:
        connection.sendall(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        first = read_answer(connection)
        connection.sendall(sized(body.encode(), "Content-Type: application/x-www-form-urlencoded",
                                 *signed))
        second = read_answer(connection)
    assert status(first) == 200 and first.endswith(b"ok")
    assert status(second) == 200
    [reply] = stack.fake.wait_for_response(url)
    assert "start" in reply.texts()


def _trickle(port: int, data: bytes, every: float, out: dict[str, tuple[bytes, float]],
             name: str, *, prefix: bytes = b"", answered: bool = False) -> None:
    """Send ``prefix`` at once, then ``data`` a byte at a time.

    With ``answered`` the prefix's answer is read first. Records the answer to the
    trickle and how long after the prefix it came.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(prefix)
        if answered:
            assert status(read_answer(sock)) == 200  # a whole first exchange, kept alive
        start = time.monotonic()
        sock.settimeout(every)
        for byte in data:  # bounded: at most len(data) rounds
            try:
                sock.sendall(bytes([byte]))
                answer = read_answer(sock)
            except TimeoutError:
                continue
            except OSError:
                answer = b""
            out[name] = (answer, time.monotonic() - start)
            return
        out[name] = (b"", time.monotonic() - start)


SHORT = 1.5
"""The deadlines of the deadline test (the production ones are 10 s; the same code)."""


def test_headers_and_bodies_that_trickle_are_cut_at_their_deadlines(stack: Stack) -> None:
    """Headers late past their deadline, or a body late past its own: 408 and closed.

    Also on a kept-alive connection (the clock restarts after each answer), while the
    server keeps answering others. The deadlines are shortened to SHORT for speed.
    """
    head = b"POST /slack/events HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
    out: dict[str, tuple[bytes, float]] = {}
    with SlackHTTPServer(stack.server.asgi.app, header_seconds=SHORT,
                         body_seconds=SHORT) as server:
        port = server.port
        threads = [
            threading.Thread(target=_trickle, args=(port, head, 0.2, out, "headers")),
            threading.Thread(target=_trickle, args=(port, b"x" * 100, 0.2, out, "body"),
                             kwargs={"prefix": head}),
            threading.Thread(target=_trickle, args=(port, head, 0.2, out, "kept-alive"),
                             kwargs={"prefix": f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: t\r\n\r\n"
                                     .encode(), "answered": True}),
        ]
        for thread in threads:
            thread.start()
        time.sleep(SHORT / 2)
        with urllib.request.urlopen(server.base + HEALTH_PATH, timeout=2) as response:  # noqa: S310
            assert response.read() == b"ok"
        for thread in threads:
            thread.join(SHORT + 10)
    for name in ("headers", "kept-alive", "body"):
        answer, took = out[name]
        assert status(answer) == 408, (name, answer)
        assert SHORT - 0.3 <= took <= SHORT + 1.0, (name, took)
    assert b"did not arrive within" in out["body"][0]
    assert b"headers came too late" in out["headers"][0]


def test_health_says_503_when_the_database_fails_or_hangs(
    settings: Settings, tutor_no_engine: Tutor
) -> None:
    """/healthz asks the database: an error or no answer within HEALTH_SECONDS is 503."""
    release = threading.Event()
    state = {"mode": "ok"}

    def healthy() -> None:
        if state["mode"] == "down":
            raise StoreError("the progress database does not answer")
        if state["mode"] == "hang":
            release.wait(30)

    with FakeSlack(token=TOKEN) as fake, running_stack(
            settings, EnginelessTutor(tutor_no_engine), fake) as running:
        app = running.server.asgi.app
        with SlackHTTPServer(app, healthy=healthy) as server:
            url = server.base + HEALTH_PATH
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                assert response.read() == b"ok"
            for mode, text in (("down", "does not answer"), ("hang", "did not answer within")):
                state["mode"] = mode
                start = time.monotonic()
                with pytest.raises(urllib.error.HTTPError) as failed:
                    urllib.request.urlopen(url, timeout=HEALTH_SECONDS + 5)  # noqa: S310
                with failed.value as error:
                    assert error.code == 503
                    assert text in error.read().decode()
                assert time.monotonic() - start < HEALTH_SECONDS + 1
            release.set()


def test_serve_and_the_tests_share_one_entry_point_and_one_set_of_limits() -> None:
    """One module defines the paths and limits; the server settings use the deadline protocol."""
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "handlers").rglob("*.py")}
    for name in ("EVENTS_PATH =", "HEALTH_PATH =", "MAX_BODY =", "HEADER_SECONDS =",
                 "BODY_SECONDS ="):
        assert [p.name for p, text in sources.items() if name in text] == ["asgi.py"], name
    assert "server_config(" in sources[ROOT / "handlers" / "web" / "server.py"]
    assert not (ROOT / "handlers" / "fake_slack.py").exists()
    config = server_config(None, "127.0.0.1", 0)  # type: ignore[arg-type]
    assert config.http is DeadlineProtocol
    assert DeadlineProtocol.header_seconds == HEADER_SECONDS == 10
    assert config.limit_concurrency == 1000
    assert config.timeout_keep_alive <= HEADER_SECONDS and BODY_SECONDS <= 10
    assert json.dumps(config.h11_max_incomplete_event_size) == str(MAX_HEADER_BYTES)


def test_server_processes_share_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """TUTOR_HTTP_WORKERS processes (default 1) each bind the same port (SO_REUSEPORT)."""
    monkeypatch.delenv("TUTOR_HTTP_WORKERS", raising=False)
    assert http_processes() == 1
    monkeypatch.setenv("TUTOR_HTTP_WORKERS", "3")
    assert http_processes() == 3
    monkeypatch.setenv("TUTOR_HTTP_WORKERS", "many")
    assert http_processes() == 1
    first = shared_port("127.0.0.1", 0)
    try:
        second = shared_port("127.0.0.1", first.getsockname()[1])
        second.close()
    finally:
        first.close()
