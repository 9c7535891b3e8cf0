"""One disk watcher per engine and namespace, across processes: the engine-side lease.

Issue 19 item 2 and issue 21 item 2: every replica of a deployment used to measure the
same engine on its own. The lease is a never-started container whose name only one
creator gets; these tests use two leases (two processes, as far as the engine can tell)
and two whole sandboxes on the real engine.
"""

from __future__ import annotations

import time

import docker
import pytest

from bot.identity import Person
from bot.sandbox.disk.lease import Lease
from bot.tutor.core import Tutor
from tests.conftest import LimitedTutor

pytestmark = pytest.mark.docker


def test_only_one_holds_the_lease_and_a_release_hands_it_over(
    docker_client: docker.DockerClient, namespace_prefix: str
) -> None:
    """The first creator holds it; the second does not until the first releases it."""
    first, second = (Lease(docker_client, namespace_prefix, ttl=30) for _ in range(2))
    try:
        assert first.hold() and not second.hold()
        assert first.hold() and not second.hold()  # still fresh: nothing asked of the engine
        first.release()
        assert second.hold() and not first.hold()
    finally:
        first.release()
        second.release()


def test_a_lease_its_holder_stopped_renewing_is_taken_over(
    docker_client: docker.DockerClient, namespace_prefix: str
) -> None:
    """A holder that died (no renewal for a ttl) loses the lease; it finds out at its next turn."""
    dead, follower = (Lease(docker_client, namespace_prefix, ttl=1.0) for _ in range(2))
    try:
        assert dead.hold() and not follower.hold()
        time.sleep(1.2)
        assert follower.hold()  # the same lease id for longer than the ttl: taken over
        assert not dead.hold()  # its renewal finds the name taken
        assert follower.hold()
    finally:
        dead.release()
        follower.release()


def test_two_sandboxes_of_one_deployment_measure_the_engine_once(
    limited_tutor: LimitedTutor, alice: Person
) -> None:
    """Two replicas (two sandboxes, one namespace): only the lease holder looks; the other waits."""
    # a long interval: the replicas' own threads first look after 12 s, the test steps alone
    replicas: list[Tutor] = [limited_tutor(disk_check_seconds=60.0) for _ in range(2)]
    replicas[0].handle(alice, "docker run -d --name s busybox sleep 600")
    watches = [t.sandbox._disk_watch for t in replicas]  # type: ignore[attr-defined]
    for _ in range(3):
        for watch in watches:
            watch.step()
    looks = sorted(w.looks for w in watches)
    assert looks[0] == 0 and looks[1] >= 3, looks
    holder = next(w for w in watches if w.looks)
    holder.stop()  # the holder's replica closes: the other takes over at its next turn
    other = next(w for w in watches if w is not holder)
    other.step()
    assert other.looks == 1
