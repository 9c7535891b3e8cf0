"""The production WSGI app around bolt: health, limits and routing, on gunicorn's terms."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from bot.errors import StoreError
from handlers.wsgi import EVENTS_PATH, HEALTH_PATH, MAX_BODY, gunicorn_options, slack_wsgi


def _call(app: Any, method: str, path: str, body: bytes = b"",
          length: str | None = None) -> tuple[str, bytes]:
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.append(status)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)) if length is None else length,
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": ""}
    chunks: Iterable[bytes] = app(environ, start_response)
    return seen[0], b"".join(chunks)


def _events(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"bolt"]


def _down() -> None:
    raise StoreError("The progress database is not answering (OperationalError).")


def test_health_says_ok_only_while_the_database_answers() -> None:
    """/healthz is 200 ok with a reachable database and 503 with the reason otherwise."""
    assert _call(slack_wsgi(_events, lambda: None), "GET", HEALTH_PATH) == ("200 OK", b"ok")
    status, body = _call(slack_wsgi(_events, _down), "GET", HEALTH_PATH)
    assert status.startswith("503")
    assert b"not answering" in body


def test_limits_and_routing() -> None:
    """Bodies over the limit are refused unread; other paths and methods never reach bolt."""
    app = slack_wsgi(_events, lambda: None)
    assert _call(app, "POST", EVENTS_PATH, b"x" * 10) == ("200 OK", b"bolt")
    assert _call(app, "POST", EVENTS_PATH, b"", length=str(MAX_BODY + 1))[0].startswith("413")
    assert _call(app, "POST", EVENTS_PATH, b"", length="")[0].startswith("411")
    assert _call(app, "GET", EVENTS_PATH)[0].startswith("405")
    assert _call(app, "POST", "/admin")[0].startswith("404")


def test_gunicorn_runs_threaded_workers_with_time_limits() -> None:
    """The server is gunicorn's gthread worker with a request timeout and a graceful stop."""
    options = gunicorn_options("127.0.0.1", 3000)
    assert options["worker_class"] == "gthread"
    assert options["bind"] == "127.0.0.1:3000"
    assert 0 < options["graceful_timeout"] <= options["timeout"]
