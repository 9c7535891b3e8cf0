"""The engine probe that a suite asks before it leans on the engine."""

from __future__ import annotations

import docker
import pytest
import requests.exceptions
from docker.models.containers import ContainerCollection
from pytest_mock import MockerFixture

from tests.conftest import NO_ENGINE
from tests.engines.probe import PROBE_LABEL, engine_fault

pytestmark = pytest.mark.docker


def _probe_leftovers(client: docker.DockerClient) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": PROBE_LABEL})]


def test_a_healthy_engine_runs_the_probe_and_keeps_nothing(
        docker_client: docker.DockerClient) -> None:
    """On the real engine the probe answers no fault and leaves no container behind."""
    assert engine_fault(timeout=60) is None
    assert _probe_leftovers(docker_client) == []


def test_an_engine_that_cannot_be_reached_is_named() -> None:
    """A closed port is a fault with a reason, not an exception."""
    fault = engine_fault(timeout=5, base_url=NO_ENGINE)
    assert fault is not None and fault.startswith("no engine to talk to") and "refused" in fault


def test_a_create_that_hangs_is_a_fault_after_the_timeout(
        mocker: MockerFixture, docker_client: docker.DockerClient) -> None:
    """A create that times out (a wedged runtime) is reported as the create that failed."""
    mocker.patch.object(ContainerCollection, "create",
                        side_effect=requests.exceptions.ReadTimeout("read timed out"))
    fault = engine_fault(timeout=5)
    assert fault is not None and "did not create" in fault and "5 s" in fault
    assert _probe_leftovers(docker_client) == []


def test_a_container_that_fails_is_a_fault(mocker: MockerFixture,
                                           docker_client: docker.DockerClient) -> None:
    """A probe container that exits non-zero is reported with its status, and removed."""
    real_create = ContainerCollection.create

    def failing(self: ContainerCollection, image: str, command: list[str],
                **kwargs: object) -> object:
        return real_create(self, image, ["false"], **kwargs)

    mocker.patch.object(ContainerCollection, "create", failing)
    assert engine_fault(timeout=30) == "busybox true exited 1"
    assert _probe_leftovers(docker_client) == []
