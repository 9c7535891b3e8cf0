"""Learners' own networks on the real engine: the verbs, DNS by name, and the isolation matrix.

The matrix: a learner's containers reach each other on their network, by name and by
alias; another learner's container reaches neither their names nor their addresses; no
learner container reaches the host (a listener on every host address), which stands for
the engine's API, the tutor, the database and the other engines of a pool. The same file
runs in the security set against the hardened engine (``.ci/engine.sh security``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.resources.networks import ISOLATION
from bot.sandbox.views import Outcome

pytestmark = pytest.mark.docker

PROBE = "sh -c 'echo PING | nc -w 2 {host} {port}'"
"""A busybox line that says PING to host:port and prints what answers (Redis: +PONG)."""


def run(sandbox: Sandbox, person: Person, text: str) -> Outcome:
    """One learner line through the sandbox."""
    return sandbox.run_command(person, parse(text))


def ok(sandbox: Sandbox, person: Person, text: str) -> str:
    """Run a line that must succeed; its output."""
    outcome = run(sandbox, person, text)
    assert outcome.exit_code == 0, (text, outcome.output)
    return outcome.output


def probe(sandbox: Sandbox, person: Person, network: str, host: str, port: int = 6379) -> str:
    """What a throw-away busybox on ``network`` gets back from ``host:port``."""
    return run(sandbox, person, f"docker run --rm --network {network} busybox "
                                + PROBE.format(host=host, port=port)).output


def engine_ip(sandbox: Sandbox, person: Person, name: str) -> str:
    """The address the engine gave a learner's container (what an attacker would guess)."""
    container = sandbox.client.containers.get(sandbox.namespace(person).engine_name(name))
    networks = container.attrs["NetworkSettings"]["Networks"]
    return str(next(iter(networks.values()))["IPAddress"])


@pytest.fixture
def two_apps(sandbox: Sandbox, alice: Person, bob: Person) -> Iterator[Sandbox]:
    """Alice and Bob each have a network `app` with a Redis `db`; Alice's also answers `cache`."""
    for person, key in ((alice, "alice"), (bob, "bob")):
        ok(sandbox, person, "docker network create app")
        alias = " --network-alias cache" if person is alice else ""
        ok(sandbox, person, f"docker run -d --name db --network app{alias} redis")
        ok(sandbox, person, f"docker exec db redis-cli set owner {key}")
    yield sandbox
    for person in (alice, bob):
        sandbox.remove_all(person)


def test_a_learners_containers_reach_each_other_by_name_and_alias(
        two_apps: Sandbox, alice: Person) -> None:
    """On Alice's network, `db` and its alias `cache` are her Redis (the positive control)."""
    assert "+PONG" in probe(two_apps, alice, "app", "db")
    assert "+PONG" in probe(two_apps, alice, "app", "cache")
    out = ok(two_apps, alice, "docker run --rm --network app redis redis-cli -h cache get owner")
    assert out == "alice\n"


def test_names_resolve_only_inside_their_learners_networks(
        two_apps: Sandbox, alice: Person, bob: Person) -> None:
    """Bob's `db` is his own Redis; Alice's alias `cache` does not exist for him."""
    assert ok(two_apps, bob, "docker run --rm --network app redis redis-cli -h db get owner") == "bob\n"
    assert "+PONG" not in probe(two_apps, bob, "app", "cache")
    looked_up = run(two_apps, bob, "docker run --rm --network app busybox nslookup cache").output
    assert engine_ip(two_apps, alice, "db") not in looked_up


def test_another_learner_cannot_reach_a_container_by_address(
        two_apps: Sandbox, alice: Person, bob: Person) -> None:
    """Bob, knowing the address of Alice's Redis, gets no answer from it."""
    address = engine_ip(two_apps, alice, "db")
    assert "+PONG" in probe(two_apps, alice, "app", address)  # the address itself is right
    assert "+PONG" not in probe(two_apps, bob, "app", address)


def test_no_learner_container_reaches_the_host(two_apps: Sandbox, alice: Person) -> None:
    """A listener on every host address (the tutor, a database, an engine's API) hears nothing."""
    network = two_apps.client.networks.get(two_apps.namespace(alice).engine_name("app"))
    assert network.attrs["Internal"] is True
    assert {k: network.attrs["Options"].get(k) for k in ISOLATION} == ISOLATION
    gateway = network.attrs["IPAM"]["Config"][0].get("Gateway") or ""
    heard: list[bytes] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))  # noqa: S104 - the point: every host address listens
    listener.listen(4)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                heard.append(conn.recv(64))
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        for host in [gateway, "host.docker.internal", "gateway.docker.internal"]:
            if host:
                answer = probe(two_apps, alice, "app", host, port)
                assert "PING" not in answer
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert heard == []


def test_the_network_verbs_speak_the_learners_names(sandbox: Sandbox, alice: Person) -> None:
    """create, ls, inspect, connect, disconnect, rm and prune, as the docker CLI answers."""
    try:
        net_id = ok(sandbox, alice, "docker network create front").strip()
        assert len(net_id) == 64
        again = run(sandbox, alice, "docker network create front")
        assert again.exit_code == 1 and "already exists" in again.output
        listing = ok(sandbox, alice, "docker network ls")
        assert listing.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert f"{net_id[:12]}   front" in listing and "none" in listing
        assert sandbox.namespace(alice).learner not in listing
        ok(sandbox, alice, "docker run -d --name web --network front busybox sleep 300")
        members = ok(sandbox, alice,
                     "docker network inspect -f '{{range .Containers}}{{.Name}}{{end}}' front")
        assert members == "web\n"
        ok(sandbox, alice, "docker network create back")
        ok(sandbox, alice, "docker network connect --alias api back web")
        ok(sandbox, alice, "docker run -d --name probe --network back busybox sleep 300")
        resolved = run(sandbox, alice, "docker exec probe nslookup api").output
        assert "Address" in resolved and "can't resolve" not in resolved
        busy = run(sandbox, alice, "docker network rm back")
        assert busy.exit_code == 1 and "has active endpoints" in busy.output
        assert sandbox.namespace(alice).learner not in busy.output
        ok(sandbox, alice, "docker network disconnect back web")
        ok(sandbox, alice, "docker rm -f probe")
        assert ok(sandbox, alice, "docker network rm back") == "back\n"
        ok(sandbox, alice, "docker rm -f web")
        assert ok(sandbox, alice, "docker network prune -f") == "Deleted Networks:\nfront\n"
        assert ok(sandbox, alice, "docker network ls -q") == ""
    finally:
        sandbox.remove_all(alice)


def test_networks_are_counted_named_and_removed_with_the_learner(
        sandbox: Sandbox, alice: Person, bob: Person) -> None:
    """A missing network is named; the quota holds; `none` stays the default; reset removes them."""
    try:
        missing = run(sandbox, alice, "docker run -d --name x --network nowhere busybox sleep 9")
        assert missing.exit_code == 125 and "network nowhere not found" in missing.output
        plain = ok(sandbox, alice, "docker run -d --name plain busybox sleep 300").strip()
        assert sandbox.client.containers.get(plain).attrs["HostConfig"]["NetworkMode"] == "none"
        for n in range(sandbox.limits.max_networks):
            ok(sandbox, alice, f"docker network create n{n}")
        from bot.errors import QuotaExceeded

        with pytest.raises(QuotaExceeded):
            run(sandbox, alice, "docker network create one-too-many")
        stuck = run(sandbox, alice, "docker network connect n0 plain")
        assert stuck.exit_code == 1 and any("--network NAME" in note for note in stuck.notes)
        assert run(sandbox, bob, "docker network rm n0").exit_code == 1  # not Bob's
        assert run(sandbox, bob, "docker network inspect n0").exit_code == 1
    finally:
        sandbox.remove_all(alice)
    label = f"docker-tutor.learner={sandbox.namespace(alice).learner}"
    assert sandbox.client.networks.list(filters={"label": label}) == []


def test_the_janitor_lists_and_removes_a_learners_networks(sandbox: Sandbox, alice: Person) -> None:
    """Housekeeping sees a learner's network as theirs and removes it like a volume."""
    from bot.sandbox.pool.janitor import Janitor

    try:
        ok(sandbox, alice, "docker network create lab")
        janitor = Janitor(sandbox)
        [network] = [o for o in janitor.inventory() if o.kind == "network"
                     and o.learner == sandbox.namespace(alice).learner]
        assert network.name == "lab"
        assert janitor.remove(network) is True
        assert ok(sandbox, alice, "docker network ls -q") == ""
    finally:
        sandbox.remove_all(alice)
        for leftover in sandbox.client.networks.list(filters={"label": "docker-tutor.name=lab"}):
            if leftover.attrs.get("Labels", {}).get("docker-tutor.learner") == \
                    sandbox.namespace(alice).learner:
                leftover.remove()
