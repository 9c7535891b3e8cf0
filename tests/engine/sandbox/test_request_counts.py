"""The engine-request meter: request kinds, counting per line, and the operators' log fields."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.identity import Person
from bot.sandbox import count_engine_requests
from bot.sandbox.engine.request_counts import kind, summary, totals
from bot.tutor.core import Tutor


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/v1.43/containers/0123abcd/json?size=1", "GET /containers/{id}/json"),
    ("GET", "/v1.43/containers/json?all=1&filters=x", "GET /containers/json"),
    ("POST", "/v1.41/containers/create?name=dt-x", "POST /containers/create"),
    ("POST", "/containers/dt-abc-redis-1/start", "POST /containers/{id}/start"),
    ("DELETE", "/v1.43/containers/abc?v=1&force=0", "DELETE /containers/{id}"),
    ("POST", "/v1.43/exec/f00/start", "POST /exec/{id}/start"),
    ("GET", "/v1.43/volumes", "GET /volumes"),
    ("POST", "/v1.43/volumes/create", "POST /volumes/create"),
    ("GET", "/v1.43/images/redis:latest/json", "GET /images/{name}/json"),
    ("GET", "/v1.43/images/library/redis/json", "GET /images/{name}/json"),
    ("GET", "/v1.43/images/json", "GET /images/json"),
    ("HEAD", "/_ping", "HEAD /_ping"),
    ("GET", "/v1.43/events?since=1", "GET /events"),
])
def test_a_request_kind_is_its_method_and_path_template(method: str, path: str, expected: str) -> None:
    """Ids, names and the API version leave the kind; collection words stay."""
    assert kind(method, path) == expected


def test_blocks_nest_and_other_threads_count_apart() -> None:
    """A request counts in every enclosing block of its own context, never in another thread's."""
    from bot.sandbox.engine import request_counts as meter
    class Request:
        method = "GET"
        path_url = "/v1.43/containers/abc/json"

    class Response:
        request = Request()

    before = totals()["GET /containers/{id}/json"]
    seen: list[int] = []

    def elsewhere() -> None:
        with count_engine_requests() as other:
            meter._hook(Response())  # type: ignore[arg-type]
        seen.append(sum(other.values()))

    with count_engine_requests() as outer, count_engine_requests() as inner:
        meter._hook(Response())  # type: ignore[arg-type]
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert outer == inner == {"GET /containers/{id}/json": 1}
    assert seen == [1]
    assert totals()["GET /containers/{id}/json"] == before + 2
    assert summary(outer) == "1 GET /containers/{id}/json"


@pytest.mark.docker
def test_each_learner_line_logs_its_engine_requests_by_kind(
    tutor: Tutor, alice: Person, caplog: pytest.LogCaptureFixture
) -> None:
    """The operators' line says how many engine requests the line made, and which."""
    tutor.handle(alice, "docker run -d --name warm busybox sleep 60")  # the engine's first run
    tutor.handle(alice, "docker rm -f warm")  # asks it once whether it caps layers: not counted
    with caplog.at_level(logging.INFO, logger="bot.tutor.core"), count_engine_requests() as seen:
        tutor.handle(alice, "docker run -d --name c redis")
        tutor.handle(alice, "docker rm -f c")
    fields = [r.command for r in caplog.records if r.name == "bot.tutor.core"]  # type: ignore[attr-defined]
    assert [f["verb"] for f in fields] == ["docker run", "docker rm"]
    assert fields[0]["requests_by_kind"]["POST /containers/create"] == 1
    assert fields[1]["requests_by_kind"]["DELETE /containers/{id}"] == 1
    assert all(f["requests"] == sum(f["requests_by_kind"].values()) > 0 for f in fields)
    assert sum(seen.values()) == sum(f["requests"] for f in fields)
    assert f"requests={fields[0]['requests']}" in caplog.records[0].getMessage()
