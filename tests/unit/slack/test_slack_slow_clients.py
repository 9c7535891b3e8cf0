"""Slow clients cannot stall the front end (issue 19, F7), on the production ack path.

The stack acknowledges into the durable queue exactly as ``serve`` does; 100 connections
trickle their headers and 100 more their bodies, one byte every 2 s, while signed slash
commands and health checks keep arriving. All on loopback, in bounded loops, every socket
closed at the end.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.tutor.core import Tutor
from handlers.web.asgi import BODY_SECONDS, HEADER_SECONDS, HEALTH_PATH
from tests.fake_slack import FakeSlack
from tests.job_helpers import QueuedStack, queued_stack
from tests.slack_helpers import TOKEN

SLOW = 100
"""Connections of each kind (headers trickling, bodies trickling)."""
EVERY = 2.0
"""Seconds between two bytes of a slow client."""
WATCH = 4.5
"""Seconds the slow clients are watched (shorter than both deadlines: none is cut yet)."""
ACK_LIMIT = 0.3

HEAD = b"POST /slack/events HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"


@pytest.fixture
def stack(settings: Settings, tutor_no_engine: Tutor) -> Iterator[QueuedStack]:
    """The acknowledging side of serve: Bolt on the production server, into the job queue."""
    with FakeSlack(token=TOKEN) as fake, queued_stack(settings, tutor_no_engine, fake) as running:
        yield running


def _connect(port: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first)
    return sock


def _drip(sockets: list[socket.socket], stop: threading.Event) -> None:
    """One more byte on every slow socket each EVERY seconds, until stopped (bounded)."""
    for _ in range(int(WATCH / EVERY) + 2):
        if stop.wait(EVERY):
            return
        for sock in sockets:
            sock.sendall(b"x" if sock.getsockname()[1] % 2 else b"X")


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.slow
def test_signed_commands_ack_fast_while_200_clients_trickle(stack: QueuedStack) -> None:
    """With 100 header and 100 body tricklers open, every signed command acks in < 300 ms.

    /healthz (which asks the database) answers in time too, every command is queued, and
    the slow clients are still connected at the end: held, not refused.
    """
    assert min(HEADER_SECONDS, BODY_SECONDS) > WATCH
    port = int(stack.sender.events_url.split(":")[2].split("/")[0])
    health = stack.sender.events_url.rsplit("/slack/events", 1)[0] + HEALTH_PATH
    slow: list[socket.socket] = []
    stop = threading.Event()
    dripper = threading.Thread(target=_drip, args=(slow, stop), name="dripper")
    acks: list[float] = []
    checks: list[float] = []
    try:
        for n in range(SLOW):
            slow.append(_connect(port, HEAD[: 1 + n % 20]))  # somewhere inside the headers
            slow.append(_connect(port, HEAD + b"\r\nx"))  # headers done, one body byte
        dripper.start()
        deadline = time.monotonic() + WATCH
        while time.monotonic() < deadline:  # bounded by WATCH
            acks.append(_timed(lambda: _ok(stack.sender.command("/tutor", "help").status)))

            def check() -> None:
                with urllib.request.urlopen(health, timeout=5) as response:  # noqa: S310
                    assert response.read() == b"ok"

            checks.append(_timed(check))
            time.sleep(0.25)
        still_open = sum(1 for sock in slow if _open(sock))
    finally:
        stop.set()
        if dripper.is_alive():
            dripper.join(EVERY + 5)
        for sock in slow:
            sock.close()
    assert len(acks) >= 8
    assert max(acks) < ACK_LIMIT, sorted(acks)[-3:]
    assert max(checks) < ACK_LIMIT, sorted(checks)[-3:]
    assert still_open == 2 * SLOW
    assert stack.queue.pending() >= len(acks)


def _ok(status: int) -> None:
    assert status == 200


def _open(sock: socket.socket) -> bool:
    """Connected, and nothing answered yet (no 4xx, no close)."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False
