"""The disk quota per learner on the real engine (issue 11, item 4; issue 19, F5a, F5b, F10).

A learner's container writes into a volume past a small quota; the watcher, measuring with
the tutor's own meter container, kills the writer within a bounded overshoot, removes
nothing, leaves containers that wrote nothing alone, and the learner's next reply says why.
Files deleted while open are counted (and their holder stopped); an inode flood costs only
its owner's bounded share of a look, while another learner's writer is still stopped in
time. The same tests run on the hardened btrfs engine in CI (``.ci/engine.sh security``),
where the kernel caps each container's layer (see also ``test_disk_btrfs.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container
from pytest_mock import MockerFixture

from bot.config import Settings
from bot.console.render import render
from bot.identity import Person
from bot.sandbox.disk.meter import (
    ENTRY_CAP,
    LABEL_OWN,
    LEARNER_SECONDS,
    Meter,
    MeterFailed,
    MeterRefused,
)
from bot.tutor.core import Tutor
from tests.conftest import LimitedTutor

pytestmark = pytest.mark.docker

QUOTA_MB = 20
CHECK_SECONDS = 1.0
WRITE_MB_PER_S = 25
"""The writer below: 5 MB every 0.2 s."""

OVERSHOOT_BOUND_MB = 120
"""What a 25 MB/s writer may add in one interval (1 s) plus one measurement, which takes up
to a few seconds on the busy shared engine (one ``df`` at a time, engine-wide)."""


@pytest.fixture
def small(limited_tutor: LimitedTutor) -> Tutor:
    """A tutor with a 20 MiB disk quota, measured every second."""
    return limited_tutor(disk_bytes=QUOTA_MB * 2**20, disk_check_seconds=CHECK_SECONDS,
                         commands_per_minute=100_000)


def _stopped_within(container: Container, seconds: float) -> float:
    """Seconds until ``container`` stopped running (fails after ``seconds``)."""
    started = time.monotonic()
    while container.status == "running" and time.monotonic() - started < seconds:
        time.sleep(0.2)
        container.reload()
    assert container.status == "exited", f"{container.name} was never stopped"
    return time.monotonic() - started


def test_writing_past_the_quota_stops_the_writer_and_loses_nothing(
    small: Tutor, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """`dd` into a volume past 20 MiB: the writer is killed soon after; data, volume, others stay."""
    small.handle(alice, "docker run -d --name idle -v keep:/keep busybox sleep 600")
    small.handle(alice, "docker exec idle sh -c 'echo precious > /keep/file'")
    small.handle(bob, "docker run -d --name b busybox sleep 600")
    started = time.monotonic()
    small.handle(alice, "docker run -d --name w -v data:/data busybox sh -c "
                        "'i=0; while :; do dd if=/dev/zero of=/data/f$i bs=1M count=5 "
                        "2>/dev/null; i=$((i+1)); sleep 0.2; done'")
    ns = small.sandbox.namespace(alice)
    writer = docker_client.containers.get(ns.engine_name("w"))
    while writer.status == "running" and time.monotonic() - started < 30:
        time.sleep(0.2)
        writer.reload()
    took = time.monotonic() - started
    assert writer.status == "exited", "the writer was never stopped"
    looked = small.sandbox._disk_watch.measure()
    assert looked is not None
    used = looked.by_learner[ns.learner]
    overshoot_mb = (used - QUOTA_MB * 2**20) / 2**20
    print(f"\ndisk quota {QUOTA_MB} MiB: writer stopped after {took:.1f} s at "
          f"{used / 2**20:.0f} MiB, overshoot {overshoot_mb:.0f} MiB")
    assert 0 < overshoot_mb < OVERSHOOT_BOUND_MB
    time.sleep(CHECK_SECONDS * 2.5)  # later looks, still over the quota, leave non-writers be
    answer = render(small.handle(alice, "docker ps"))
    assert "quota of 20 MiB" in answer and "`w`" in answer, answer
    assert "idle" in answer  # it writes nothing: it keeps running
    assert small.handle(alice, "docker exec idle cat /keep/file").text().strip() == "precious"
    assert {v.name for v in small.sandbox.volumes(alice)} == {"keep", "data"}
    bob_view = small.sandbox.container(bob, "b")
    assert bob_view is not None and bob_view.running
    assert "quota" not in render(small.handle(bob, "docker ps"))
    small.handle(alice, "docker rm -f w")
    small.handle(alice, "docker volume rm data")
    assert small.sandbox._disk_watch.check() == {}  # back under the quota


def test_the_quota_counts_layers_volumes_and_the_workspace(
    small: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """One meter look sums a learner's writable layers, volumes and workspace."""
    small.handle(alice, "docker run --rm -v v:/v busybox dd if=/dev/zero of=/v/x bs=1M count=3")
    small.handle(alice, "docker run --rm -v $(pwd):/app busybox "
                        "dd if=/dev/zero of=/app/y bs=1M count=2")
    small.handle(alice, "docker run -d --name l busybox sh -c "
                        "'dd if=/dev/zero of=/z bs=1M count=4; sleep 600'")
    time.sleep(1.0)
    watch = small.sandbox._disk_watch
    found = watch.measure()
    assert found is not None
    used = found.by_learner[small.sandbox.namespace(alice).learner]
    if small.sandbox._layer_limit.supported(small.sandbox.client):
        assert 5 * 2**20 <= used < 6 * 2**20, used  # the kernel bounds layers: not measured
    else:
        assert 9 * 2**20 <= used < 10 * 2**20, used
    print(f"\none disk measurement (the meter, one exec): {found.seconds * 1000:.0f} ms")


def test_the_quota_settings_are_read_from_the_environment() -> None:
    """`TUTOR_DISK_MB` and `TUTOR_DISK_CHECK_SECONDS` reach the limits; 1 GiB by default."""
    assert Settings.from_env({}).limits.disk_bytes == 1024 * 2**20
    read = Settings.from_env({"TUTOR_DISK_MB": "20", "TUTOR_DISK_CHECK_SECONDS": "2.5"})
    assert (read.limits.disk_bytes, read.limits.disk_check_seconds) == (20 * 2**20, 2.5)


def test_a_deleted_but_open_file_is_counted_and_its_holder_stopped(
    small: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """Finding 5a: 400 MB written to a file deleted while open (layer and volume): both holders stopped."""
    small.handle(alice, "docker run -d --name idle busybox sleep 600")
    small.handle(alice, "docker run -d --name ghost busybox sh -c "
                        "'exec 3>/big; rm /big; dd if=/dev/zero bs=1M count=400 >&3; sleep 300'")
    small.handle(alice, "docker run -d --name vghost -v d:/d busybox sh -c "
                        "'exec 3>/d/big; rm /d/big; while :; do dd if=/dev/zero bs=1M count=5 "
                        ">&3 2>/dev/null; sleep 0.2; done'")
    ns = small.sandbox.namespace(alice)
    watch = small.sandbox._disk_watch
    ghost = docker_client.containers.get(ns.engine_name("ghost"))
    vghost = docker_client.containers.get(ns.engine_name("vghost"))
    took = _stopped_within(ghost, 30)
    took_volume = _stopped_within(vghost, 30)
    held = watch.evidence.get(str(ghost.id), 0) / 2**20
    held_volume = watch.evidence.get(str(vghost.id), 0) / 2**20
    assert held >= 1 and held_volume >= 1  # counted, though no folder shows them
    print(f"\ndeleted-open, quota {QUOTA_MB} MiB: layer holder stopped after {took:.1f} s "
          f"holding {held:.0f} MiB (dd writes 400 MB at once: overshoot = what it wrote before "
          f"the look); volume holder (25 MB/s) stopped after {took_volume:.1f} s holding "
          f"{held_volume:.0f} MiB")
    assert held_volume < QUOTA_MB + OVERSHOOT_BOUND_MB
    idle = docker_client.containers.get(ns.engine_name("idle"))
    assert idle.status == "running"  # it holds nothing and writes nothing
    answer = render(small.handle(alice, "docker ps"))
    assert "`ghost`" in answer or "`vghost`" in answer, answer


def test_an_inode_flood_costs_only_its_owner_and_is_stopped(
    small: Tutor, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """Finding 5b: 70,000 empty files in a learner's volume; another's writer is still stopped in time."""
    small.handle(alice, "docker run -d --name idle busybox sleep 600")  # keeps a look going
    small.handle(alice, "docker run -d --name flood -v many:/m busybox sh -c "
                        "'cd /m; i=0; while [ $i -lt 7000 ]; do touch a$i b$i c$i d$i e$i f$i "
                        "g$i h$i i$i j$i; i=$((i+1)); done; sleep 600'")
    a_ns, b_ns = small.sandbox.namespace(alice), small.sandbox.namespace(bob)
    flood = docker_client.containers.get(a_ns.engine_name("flood"))
    took_flood = _stopped_within(flood, 60)
    watch = small.sandbox._disk_watch
    costs = [watch.last_seconds]
    small.handle(bob, "docker run -d --name w -v data:/data busybox sh -c "
                      "'i=0; while :; do dd if=/dev/zero of=/data/f$i bs=1M count=5 "
                      "2>/dev/null; i=$((i+1)); sleep 0.2; done'")
    writer = docker_client.containers.get(b_ns.engine_name("w"))
    started = time.monotonic()
    while writer.status == "running" and time.monotonic() - started < 30:
        costs.append(watch.last_seconds)
        time.sleep(0.2)
        writer.reload()
    assert writer.status == "exited", "the other learner's writer was never stopped"
    looked = watch.measure()
    assert looked is not None and a_ns.learner in {*looked.by_learner, *looked.slow}
    assert looked.flagged(a_ns.learner)  # the flood is over the entry cap: reported, bounded
    overshoot_mb = (looked.by_learner[b_ns.learner] - QUOTA_MB * 2**20) / 2**20
    print(f"\ninode flood (70,000 files, cap {ENTRY_CAP:,}): flooder stopped after "
          f"{took_flood:.1f} s; slowest look meanwhile {max(costs):.2f} s; the other learner's "
          f"writer stopped after {time.monotonic() - started:.1f} s, overshoot {overshoot_mb:.0f} MiB")
    assert max(costs) < LEARNER_SECONDS * 2 + 2
    assert overshoot_mb < OVERSHOOT_BOUND_MB
    answer = render(small.handle(alice, "docker ps"))
    assert "more files than the tutor measures" in answer and "`flood`" in answer, answer
    counted = render(small.handle(alice, "docker run --rm -v many:/m busybox sh -c 'ls /m | wc -l'"))
    print(f"inode flood: stopped with {counted.strip()[-12:]!r} files made (cap {ENTRY_CAP:,})")
    assert "idle" in answer  # over the entry cap, yet it wrote nothing: it keeps running


def test_more_deleted_open_files_than_are_looked_at_is_over_the_quota(
    small: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """1,190 files deleted while open: past the 1,000 the meter stats per process, so its holder stops."""
    small.handle(alice, "docker run -d --name idle busybox sleep 600")
    small.handle(alice, "docker run -d --name many busybox sh -c 'i=10; while [ $i -lt 1200 ]; "
                        "do eval \"exec $i>/f$i\"; rm /f$i; i=$((i+1)); done; sleep 600'")
    ns = small.sandbox.namespace(alice)
    took = _stopped_within(docker_client.containers.get(ns.engine_name("many")), 30)
    print(f"\n1,190 deleted-open files: holder stopped after {took:.1f} s; "
          f"last look {small.sandbox._disk_watch.last_seconds:.2f} s")
    assert docker_client.containers.get(ns.engine_name("idle")).status == "running"


def test_an_engine_that_refuses_the_meter_is_measured_with_its_own_df(
    small: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """A meter the engine will not create (here: no such image) falls back to `GET /system/df`."""
    small.handle(alice, "docker run -d --name l busybox sh -c "
                        "'dd if=/dev/zero of=/z bs=1M count=3; sleep 600'")
    watch = small.sandbox._disk_watch
    watch._meter = Meter(docker_client, small.settings.namespace, image="dt-no-such-image:never")
    found = watch.measure()
    assert watch._df_only and found is not None
    assert found.by_learner[small.sandbox.namespace(alice).learner] >= 3 * 2**20



@pytest.fixture
def meter_prefix(settings: Settings, docker_client: docker.DockerClient,
                 request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own for a meter (its container removed afterwards)."""
    prefix = f"{settings.namespace}-{request.node.name[-12:].strip('_')}"
    yield prefix
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.api.remove_container(f"{prefix}-disk-meter", force=True)

_ONE_RUNNING = [{"Id": "0" * 64, "State": "running", "Labels": {}}]
"""A learner's running container, as ``GET /containers/json`` lists it, for the meter to look at."""


def test_a_meter_that_exits_at_once_is_refused_whenever_it_exits(
    meter_prefix: str, docker_client: docker.DockerClient
) -> None:
    """A meter whose command ends is refused, whether it exits before the exec is made or after."""
    docker_client.containers.create("busybox", ["true"], name=f"{meter_prefix}-disk-meter",
                                    network_mode="none", labels={LABEL_OWN: meter_prefix})
    meter = Meter(docker_client, meter_prefix)
    for _ in range(5):  # each try races the exit differently; every one must end the same way
        with pytest.raises(MeterRefused, match="does not stay running"):
            meter.measure(_ONE_RUNNING, [], lambda labels, hidden: "l1", seconds=1)
        meter._id = None


def test_an_exec_that_fails_in_a_running_meter_is_the_engine_busy_not_a_refusal(
    meter_prefix: str, docker_client: docker.DockerClient, mocker: MockerFixture
) -> None:
    """The engine failing an exec while the meter runs raises its own error: the next look tries again."""
    meter = Meter(docker_client, meter_prefix)
    cid = meter.ensure()
    api = docker_client.api
    busy = docker.errors.APIError("500 Server Error", explanation="context deadline exceeded")
    mocker.patch.object(api, "exec_start", side_effect=busy)
    with pytest.raises(docker.errors.APIError, match="500"):
        meter.measure(_ONE_RUNNING, [], lambda labels, hidden: "l1", seconds=1)
    assert docker_client.containers.get(cid).status == "running"


def test_a_meter_stopped_between_two_looks_is_started_again(
    meter_prefix: str, docker_client: docker.DockerClient
) -> None:
    """A meter stopped by an operator is started again by the next look, which measures."""
    meter = Meter(docker_client, meter_prefix)
    cid = meter.ensure()
    docker_client.containers.get(cid).kill()
    found = meter.measure(_ONE_RUNNING, [], lambda labels, hidden: "l1", seconds=1)
    assert docker_client.containers.get(cid).status == "running"
    assert found.seconds > 0


def test_a_look_cut_short_in_a_running_meter_is_not_a_measurement(
    meter_prefix: str, docker_client: docker.DockerClient, mocker: MockerFixture
) -> None:
    """Output without the script's last line (killed part way) is a failed look, never a small one."""
    meter = Meter(docker_client, meter_prefix)
    meter.ensure()
    mocker.patch.object(docker_client.api, "exec_start", return_value=b"V l1 v ok 0 4\n")
    with pytest.raises(MeterFailed, match="did not finish"):
        meter.measure(_ONE_RUNNING, [], lambda labels, hidden: "l1", seconds=1)


def test_an_engine_busy_as_the_meter_is_made_is_not_a_refusal(
    meter_prefix: str, docker_client: docker.DockerClient, mocker: MockerFixture
) -> None:
    """An engine that fails the look before the meter has an id raises its error; the meter is kept."""
    meter = Meter(docker_client, meter_prefix)
    busy = docker.errors.APIError("500 Server Error", explanation="context deadline exceeded")
    mocker.patch.object(docker_client.api, "inspect_container", side_effect=busy)
    with pytest.raises(docker.errors.APIError, match="500"):
        meter.measure(_ONE_RUNNING, [], lambda labels, hidden: "l1", seconds=1)
