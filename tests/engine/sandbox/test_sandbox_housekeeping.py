"""Cleanup on the real engine: the idle reaper, start-up reconciliation, the thread, the CLI."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import docker
import pytest
from docker.models.containers import Container
from pytest_mock import MockerFixture

from bot import cli
from bot.config import Settings
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE, LABEL_WITNESS, Namespace
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import Janitor
from bot.tutor.core import Tutor
from bot.tutor.housekeeping import HousekeepingThread, Report, reap, reconcile

pytestmark = pytest.mark.docker


def do(tutor: Tutor, person: Person, *lines: str) -> None:
    """Send lines as the person."""
    for line in lines:
        tutor.handle(person, line)


def last_seen(tutor: Tutor, person: Person) -> float:
    """The person's last activity as the reaper computes it (a POSIX timestamp)."""
    learner = tutor.sandbox.namespace(person).learner
    db = tutor.store.learner_activity()[person.key]
    created = [o.created for o in Janitor(tutor.sandbox).inventory()
               if o.learner == learner and o.created is not None]
    return max([db, *created]).timestamp()


def names(tutor: Tutor, person: Person) -> tuple[set[str], set[str]]:
    """The person's container names and volume names."""
    return ({c.name for c in tutor.sandbox.containers(person)},
            {v.name for v in tutor.sandbox.volumes(person)})


def test_reap_removes_idle_learners_containers_then_their_volumes(
    tutor: Tutor, alice: Person, bob: Person
) -> None:
    """Bob, idle past the container limit, loses containers; past the volume limit, volumes."""
    do(tutor, bob, "docker run -d --name r -v data:/data redis", "docker volume create keep")
    time.sleep(1.2)
    do(tutor, alice, "docker run -d --name r -v data:/data redis")
    alice_last = datetime.fromtimestamp(last_seen(tutor, alice), UTC)
    now = alice_last + timedelta(minutes=120) - timedelta(seconds=0.3)
    dry = reap(Janitor(tutor.sandbox), tutor.store, now=now, dry_run=True)
    assert (dry.containers, dry.volumes, dry.dry_run) == (1, 0, True)
    assert names(tutor, bob)[0] == {"r"}
    report = reap(Janitor(tutor.sandbox), tutor.store, now=now)
    assert report.reasons == {"idle": 1}
    assert names(tutor, bob) == (set(), {"data", "keep"})
    assert names(tutor, alice) == ({"r"}, {"data"})
    later = alice_last + timedelta(hours=72) - timedelta(seconds=0.3)
    report = reap(Janitor(tutor.sandbox), tutor.store, now=later, idle_containers=timedelta(days=30))
    assert report.reasons == {"idle-volumes": 2}
    assert names(tutor, bob) == (set(), set())
    assert names(tutor, alice) == ({"r"}, {"data"})


def test_an_active_learner_is_never_reaped(tutor: Tutor, alice: Person) -> None:
    """With the default limits, a learner who just ran a command keeps everything."""
    do(tutor, alice, "docker run -d --name r busybox sleep 600", "docker volume create v")
    report = reap(Janitor(tutor.sandbox), tutor.store)
    assert report.containers == 0 and report.volumes == 0
    assert names(tutor, alice) == ({"r"}, {"v"})


def test_reconcile_removes_what_a_crash_leaves_behind(
    tutor: Tutor, alice: Person, sandbox: Sandbox, mocker: MockerFixture
) -> None:
    """Unknown learners' objects, unstarted containers and unused anonymous volumes go."""
    do(tutor, alice, "docker run -d --name keep -v data:/data redis")
    stranger = Person("slack", "UNKNOWN")  # never talked to this tutor's database
    sandbox.run_command(stranger, parse("docker run -d --name orphan -v v:/v busybox sleep 600"))
    crash = mocker.patch.object(Container, "start", side_effect=RuntimeError("tutor crashed"))
    with pytest.raises(RuntimeError):
        sandbox.run_command(alice, parse("docker run -d --name half redis"))
    mocker.stop(crash)
    ns = sandbox.namespace(alice)
    sandbox._ensure_volume(ns, "0" * 64, anonymous=True)
    assert {c.name for c in sandbox.containers(alice)} == {"keep", "half"}
    young = reconcile(Janitor(sandbox), tutor.store)  # default grace: everything is too young
    assert young.containers == young.volumes == 0
    report = reconcile(Janitor(sandbox), tutor.store, grace=timedelta(0))
    assert report.reasons == {"unknown-learner": 2, "unstarted": 1, "anonymous-unused": 2}
    assert sandbox.containers(stranger) == [] and sandbox.volumes(stranger) == []
    assert {c.name for c in sandbox.containers(alice)} == {"keep"}
    volumes = sandbox.volumes(alice)
    assert {v.name for v in volumes if not v.anonymous} == {"data"}
    assert [v for v in volumes if v.anonymous] == []
    assert sandbox.redis_get(alice, "keep", "nothing") == (True, None)


def test_reset_and_housekeeping_remove_workspaces_and_left_helpers(
    tutor: Tutor, alice: Person, bob: Person, sandbox: Sandbox
) -> None:
    """`reset`, the reaper and reconcile take workspaces (and helpers a crash left) and images too."""
    stranger = Person("slack", "UNKNOWN-WS")  # never talked to this tutor's database
    do(tutor, alice, "edit notes.txt mine", "docker run -d --name w -v $(pwd):/app busybox sleep 600")
    do(tutor, bob, "edit notes.txt bob's", "edit Dockerfile FROM busybox", "docker build -t b .")
    do(tutor, alice, "edit Dockerfile FROM busybox", "docker build -t a .")

    def images(person: Person) -> list[object]:
        return sandbox.client.api.images(all=True, filters=sandbox.namespace(person).filters())

    assert images(alice) and images(bob)
    sandbox.write_workspace_file(stranger, "x.txt", "left behind")
    left = sandbox._workspace(sandbox.namespace(stranger))._helper(writable=False)
    helper = left.__enter__()  # a helper whose operation never finished (a crash)
    spaces = {p.key: sandbox._workspace(sandbox.namespace(p)) for p in (alice, bob, stranger)}
    assert all(ws.exists() for ws in spaces.values())
    do(tutor, alice, "reset")
    assert not spaces[alice.key].exists() and spaces[bob.key].exists()
    assert not images(alice) and images(bob)  # reset takes the learner's images too
    report = reconcile(Janitor(sandbox), tutor.store, grace=timedelta(0))
    assert report.reasons == {"unknown-learner": 2}, report.reasons  # the helper, the volume
    assert not spaces[stranger.key].exists()
    with pytest.raises(docker.errors.NotFound):
        sandbox.client.containers.get(helper.id)
    bob_last = datetime.fromtimestamp(last_seen(tutor, bob), UTC)
    report = reap(Janitor(sandbox), tutor.store, now=bob_last + timedelta(hours=73))
    assert report.reasons == {"idle-volumes": 1} and not spaces[bob.key].exists()
    assert not images(bob)  # the images went with the workspace


def test_housekeeping_never_touches_another_namespace(
    tutor: Tutor, settings: Settings, docker_client: docker.DockerClient
) -> None:
    """Objects of another deployment's prefix survive reconcile and reap."""
    other = Namespace(settings.namespace + "x", "0123456789ab")
    volume = docker_client.volumes.create(other.engine_name("v"), labels=other.labels("v"))
    try:
        reconcile(Janitor(tutor.sandbox), tutor.store, grace=timedelta(0))
        reap(Janitor(tutor.sandbox), tutor.store, idle_containers=timedelta(0), idle_volumes=timedelta(0),
             grace=timedelta(0))
        docker_client.volumes.get(volume.name)
    finally:
        volume.remove(force=True)


def test_the_reaper_thread_reconciles_then_reaps_and_stops(
    tutor: Tutor, sandbox: Sandbox, alice: Person
) -> None:
    """`HousekeepingThread.start()` runs a pass at once and every interval; `stop()` ends the thread."""
    stranger = Person("slack", "UGONE")
    sandbox.run_command(stranger, parse("docker run -d --name x busybox sleep 600"))
    do(tutor, alice, "docker run -d --name r busybox sleep 600")
    reaper = HousekeepingThread(Janitor(sandbox), tutor.store, interval=0.2, grace=timedelta(0))
    with reaper:
        deadline = time.monotonic() + 10
        while reaper.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reaper.running
    assert not reaper.running
    assert reaper.passes >= 2 and reaper.errors == 0
    assert sandbox.containers(stranger) == []
    assert [c.name for c in sandbox.containers(alice)] == ["r"]


def test_the_reaper_thread_survives_an_engine_failure(
    tutor: Tutor, sandbox: Sandbox, mocker: MockerFixture
) -> None:
    """A pass that fails is logged and counted; the thread goes on."""
    mocker.patch("bot.tutor.housekeeping.reap", side_effect=[RuntimeError("boom"), *[Report()] * 200])
    reaper = HousekeepingThread(Janitor(sandbox), tutor.store, interval=0.05, reconcile_first=False)
    reaper.start()
    deadline = time.monotonic() + 5
    while reaper.passes < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    reaper.stop()
    assert reaper.errors == 1 and reaper.passes >= 1


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tutor: Tutor) -> None:
    """The environment `docker-tutor` reads, pointing at the test's database and namespace."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TUTOR_NAMESPACE", settings.namespace)
    monkeypatch.setenv("TUTOR_IDLE_CONTAINERS_MINUTES", "120")


@pytest.mark.usefixtures("cli_env")
def test_cli_sandbox_reap_reports_and_removes(
    tutor: Tutor, sandbox: Sandbox, alice: Person, capsys: pytest.CaptureFixture[str]
) -> None:
    """`docker-tutor sandbox reap --reconcile` says what it would do, then does it."""
    stranger = Person("slack", "ULEFT")
    sandbox.run_command(stranger, parse("docker run -d --name x busybox sleep 600"))
    do(tutor, alice, "docker run -d --name r busybox sleep 600")
    assert cli.main(["sandbox", "reap", "--reconcile", "--grace", "0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "reconcile: would remove 1 container(s)" in out and "reap: would remove 0" in out
    assert len(sandbox.containers(stranger)) == 1
    assert cli.main(["sandbox", "reap", "--reconcile", "--grace", "0"]) == 0
    assert "reconcile: removed 1 container(s)" in capsys.readouterr().out
    assert sandbox.containers(stranger) == []
    assert [c.name for c in sandbox.containers(alice)] == ["r"]


def test_every_object_the_tests_made_is_labelled_for_the_purge(
    tutor: Tutor, alice: Person, docker_client: docker.DockerClient, settings: Settings
) -> None:
    """What a run creates (containers, named and anonymous volumes) carries the namespace label."""
    do(tutor, alice, "docker run -d --name r -v data:/data -v /anon redis")
    selector = {"label": [f"{LABEL_NAMESPACE}={settings.namespace}"]}
    assert len(docker_client.containers.list(all=True, filters=selector)) == 1
    assert len(docker_client.volumes.list(filters=selector)) == 2


def test_a_witness_a_crash_left_is_the_learners_for_housekeeping(
    tutor: Tutor, sandbox: Sandbox
) -> None:
    """A tutor's witness container left behind is counted as its learner's and reconciled away."""
    stranger = Person("slack", "UNKNOWN-WITNESS")  # never talked to this tutor's database
    ns = sandbox.namespace(stranger)
    left = sandbox.client.containers.create(
        "redis:latest", command=["true"], network_mode="none",
        labels={"docker-tutor.managed": "1", LABEL_NAMESPACE: ns.prefix,
                LABEL_WITNESS: ns.learner})
    try:
        owned = [o for o in Janitor(sandbox).inventory() if o.ref == left.id]
        assert [(o.kind, o.learner) for o in owned] == [("container", ns.learner)]
        assert sandbox.containers(stranger) == []  # never one of the learner's own views
        reconcile(Janitor(sandbox), tutor.store, grace=timedelta(0))
        with pytest.raises(docker.errors.NotFound):
            sandbox.client.containers.get(left.id)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            left.remove(force=True, v=True)
