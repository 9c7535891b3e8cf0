"""Engine failures leave the sandbox as the tutor's errors, never as docker-py's.

A fault is injected where a request leaves for the engine: where docker-py hands it to
``requests`` (``APIClient.send``), and where the sandbox's lean wire sends a line's own
requests (``Wire.send``, same shape): a refused connection, a timeout, a docker-py error,
or the engine answering 500. No engine is needed: the client's version probe is the only
thing stubbed besides the fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests
import requests.exceptions
from docker.api.client import APIClient
from pytest_mock import MockerFixture

from bot.config import Settings
from bot.errors import EngineUnavailable
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.engine.wire import Wire
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import EngineObject, Janitor

ENGINE_PATH = "/var/lib/docker/overlay2/" + "ab" * 32 + "/merged"
"""A path in the engine's own storage, which no learner may see."""


def _answer_500(request: requests.PreparedRequest, **_: Any) -> requests.Response:
    """What the engine answers when it fails inside: HTTP 500 with a message."""
    response = requests.Response()
    response.status_code = 500
    response._content = json.dumps({"message": f"boom: {ENGINE_PATH}"}).encode()
    response.headers["Content-Type"] = "application/json"
    response.url = request.url or ""
    response.request = request
    return response


FAULTS: dict[str, Any] = {
    "connection refused": requests.exceptions.ConnectionError("connection refused"),
    "read timeout": requests.exceptions.ReadTimeout("read timed out"),
    "docker-py error": docker.errors.DockerException("the engine went away"),
    "engine answers 500": _answer_500,
}

PERSON = Person("console", "faulty")

READS: dict[str, Callable[[Sandbox], object]] = {
    "ping": lambda box: box.ping(),
    "container": lambda box: box.container(PERSON, "web"),
    "containers": lambda box: box.containers(PERSON),
    "volume": lambda box: box.volume(PERSON, "data"),
    "volumes": lambda box: box.volumes(PERSON),
    "exec_capture": lambda box: box.exec_capture(PERSON, "web", ["true"]),
    "redis_get": lambda box: box.redis_get(PERSON, "web", "k"),
    "remove_all": lambda box: box.remove_all(PERSON),
    "janitor inventory": lambda box: Janitor(box).inventory(),
    "janitor remove": lambda box: Janitor(box).remove(
        EngineObject("container", "0" * 64, "abc", "web", None)
    ),
}


@pytest.fixture
def box(tmp_path: Path, mocker: MockerFixture) -> Iterator[Sandbox]:
    """A sandbox whose client exists (version probe stubbed) and whose requests all fail."""
    mocker.patch.object(APIClient, "_retrieve_server_version", return_value="1.41")
    settings = Settings(database_url="sqlite://",
                        namespace="dtfault", docker_host="unix:///nonexistent/docker.sock")
    sandbox = Sandbox(settings, allowed_images={"redis", "busybox"})
    assert sandbox.client is not None  # created before the fault, as in a running tutor
    yield sandbox
    sandbox.close()


class _Sends:
    """The injected senders together: how often the fault was met, through either."""

    def __init__(self, *mocks: Any) -> None:
        self.mocks = mocks

    @property
    def call_count(self) -> int:
        return sum(mock.call_count for mock in self.mocks)


def _inject(mocker: MockerFixture, fault: Any) -> _Sends:
    if callable(fault) and not isinstance(fault, BaseException):
        return _Sends(*(mocker.patch.object(
            owner, "send", autospec=True,
            side_effect=lambda self, request, **kw: fault(request, **kw))
            for owner in (APIClient, Wire)))
    return _Sends(*(mocker.patch.object(owner, "send", side_effect=fault)
                    for owner in (APIClient, Wire)))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=list(FAULTS))
@pytest.mark.parametrize("read", READS.values(), ids=list(READS))
def test_engine_faults_on_read_paths_become_engine_unavailable(
    box: Sandbox, mocker: MockerFixture, read: Callable[[Sandbox], object], fault: Any
) -> None:
    """Every public read or cleanup path raises EngineUnavailable, with no engine path in it."""
    send = _inject(mocker, fault)
    with pytest.raises(EngineUnavailable) as caught:
        read(box)
    assert send.call_count >= 1  # the fault was really met, not skipped
    assert not isinstance(caught.value, docker.errors.DockerException)
    assert ENGINE_PATH not in str(caught.value)
    assert caught.value.__cause__ is not None  # the operator's log keeps the engine's answer


COMMANDS = ["docker ps -a", "docker exec web redis-cli get k", "docker volume ls",
            "docker inspect web", "docker logs web", "docker rm -f web", "docker images",
            "docker run -d --name web redis", "docker volume create data"]

UNREACHABLE = {name: fault for name, fault in FAULTS.items() if fault is not _answer_500}


@pytest.mark.parametrize("text", COMMANDS)
@pytest.mark.parametrize("fault", UNREACHABLE.values(), ids=list(UNREACHABLE))
def test_an_unreachable_engine_fails_learner_commands_with_engine_unavailable(
    box: Sandbox, mocker: MockerFixture, text: str, fault: Any
) -> None:
    """A learner command that cannot reach the engine raises EngineUnavailable, nothing else."""
    send = _inject(mocker, fault)
    with pytest.raises(EngineUnavailable):
        box.run_command(PERSON, parse(text))
    assert send.call_count >= 1


@pytest.mark.parametrize("text", COMMANDS)
def test_an_engine_error_answer_is_worded_as_the_docker_cli_would(
    box: Sandbox, mocker: MockerFixture, text: str
) -> None:
    """When the engine answers 500, the learner sees the daemon's answer, without engine paths."""
    send = _inject(mocker, _answer_500)
    outcome = box.run_command(PERSON, parse(text))
    assert outcome.exit_code != 0
    assert "Error response from daemon: boom:" in outcome.output
    assert ENGINE_PATH not in outcome.output
    assert send.call_count >= 1
