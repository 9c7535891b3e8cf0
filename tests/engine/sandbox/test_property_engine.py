"""Property test on the real engine: any `run` the policy accepts makes a container inside it.

A small sample (the engine is slow next to the parser): each example builds a ``docker
run`` from options the policy accepts, runs it, and inspects what the engine made.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.config import Limits, Settings
from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.resources.run import CAPABILITIES
from tests.conftest import _purge

pytestmark = pytest.mark.docker

OPTIONS = [
    "-d", "-it", "-e A=1", "-u 0", "-u nobody", "-u 1000:1000", "-w /tmp", "-h box",
    "--network none", "-v $(pwd):/app", "-v $(pwd)/sub:/sub:ro", "-v ./a/b:/ab", "-v vol:/vol",
    "-v /anon", "--mount type=bind,source=.,target=/b,readonly",
    "--mount type=volume,source=v2,target=/v2", "--mount type=tmpfs,target=/mt,tmpfs-size=8m",
    "--tmpfs /t", "--tmpfs /t2:size=32m", "--entrypoint /bin/sh",
    # refused ones, so that the sample also shows refusals create nothing
    "--privileged", "-v /etc:/etc",
]


@pytest.fixture(scope="module")
def engine_box(
    tmp_path_factory: pytest.TempPathFactory, namespace_prefix: str,
    docker_client: docker.DockerClient,
) -> Iterator[Sandbox]:
    """A sandbox for the sample; everything it made is removed at the end."""
    box = Sandbox(Settings(database_url="sqlite://", namespace=namespace_prefix,
                           limits=Limits(foreground_seconds=5.0)),
                  allowed_images={"redis", "busybox"})
    yield box
    box.close()
    _purge(docker_client, namespace_prefix)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(OPTIONS), max_size=5, unique=True),
       st.sampled_from(["busybox", "redis"]))
def test_accepted_runs_make_containers_inside_the_policy(
    engine_box: Sandbox, docker_client: docker.DockerClient, options: list[str], image: str
) -> None:
    """No accepted sample is privileged, networked, unlimited or bound outside the workspace."""
    person = Person("console", "sample")
    entry = "--entrypoint /bin/sh" in options
    tail = "-c true" if entry else ("true" if image == "busybox" else "redis-server --version")
    text = f"docker run {' '.join(options)} {image} {tail}"
    try:
        engine_box.run_command(person, parse(text))
    except CommandRefused:
        event("refused")
        assert not engine_box.containers(person)
        return
    event("ran on the engine")
    limits = engine_box.limits
    try:
        views = engine_box.containers(person)
        assert len(views) == 1, text
        attrs = docker_client.api.inspect_container(views[0].id)
        host = attrs["HostConfig"]
        assert host["Privileged"] is False and host["NetworkMode"] == "none", text
        assert not host.get("PortBindings") and not host.get("PublishAllPorts"), text
        assert (host["Memory"], host["PidsLimit"], host["NanoCpus"]) == (
            limits.memory_bytes, limits.pids, limits.nano_cpus), text
        assert host["CapDrop"] == ["ALL"] and set(host["CapAdd"]) <= set(CAPABILITIES), text
        assert "no-new-privileges" in host["SecurityOpt"], text
        assert host["IpcMode"] == "private" and host["PidMode"] == "", text
        assert all(m["Type"] in ("volume", "tmpfs") for m in attrs["Mounts"]), text
    finally:
        engine_box.remove_all(person)
