"""The suite fails only on what it made itself (finding 9: other clients share the engine).

The session's check for leftover anonymous volumes counted every dangling unlabelled volume
made while it ran, other clients' too, and removed them. It now counts only volumes that a
container this session created mounted.
"""

from __future__ import annotations

import subprocess
import time

import docker
import pytest

from tests.conftest import SessionVolumes

pytestmark = pytest.mark.docker


def _anonymous_of(client: docker.DockerClient, container_id: str) -> str:
    mounts = client.api.inspect_container(container_id)["Mounts"]
    return str(next(m["Name"] for m in mounts if m["Destination"] == "/x"))


def test_only_volumes_of_the_sessions_own_containers_count(
    docker_client: docker.DockerClient,
) -> None:
    """Another client's leftover anonymous volume is not ours; one our container mounted is."""
    session = SessionVolumes(docker_client)
    names: list[str] = []
    try:
        # another client of the engine: the docker CLI, another process
        other = subprocess.run(["docker", "run", "-d", "--network", "none", "-v", "/x",
                                "busybox", "sleep", "30"], capture_output=True, text=True,
                               check=True).stdout.strip()
        names.append(_anonymous_of(docker_client, other))
        mine = docker_client.containers.run("busybox", ["sleep", "30"], detach=True,
                                            network_mode="none", volumes=["/x"])
        names.append(_anonymous_of(docker_client, str(mine.id)))
        for cid in (other, str(mine.id)):
            docker_client.api.remove_container(cid, force=True)  # without v: both are left
        time.sleep(0.3)
        assert not session.ours(names[0])
        assert session.ours(names[1])
    finally:
        session.close()
        for name in names:
            docker_client.api.remove_volume(name, force=True)
