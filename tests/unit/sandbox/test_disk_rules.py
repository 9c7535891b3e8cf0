"""The disk watcher's rules, without an engine: who is a proven writer, when to look, parsing.

Finding 10: the quota stopped a learner's idle container, which wrote nothing, beside the
writer. Only containers proven to have written are stopped now; these tests pin each proof
and each non-proof on hand-made measurements.
"""

from __future__ import annotations

import time
from typing import Any

from bot.config import Limits, Settings
from bot.sandbox.disk.meter import Measure, parse
from bot.sandbox.disk.watch import GROWTH_BYTES, DiskWatch, proven_writers

MB = 2**20


def _container(cid: str, *volumes: str, rw: bool = True) -> dict[str, Any]:
    return {"Id": cid, "State": "running", "Labels": {},
            "Mounts": [{"Type": "volume", "Name": v, "RW": rw} for v in volumes]}


def _measure(running: list[dict[str, Any]], *, layers: dict[str, int] | None = None,
             volumes: dict[str, int] | None = None, held: dict[str, int] | None = None,
             activity: dict[str, tuple[int, tuple[int, ...]]] | None = None) -> Measure:
    found = Measure()
    found.running["l"] = running
    found.layers = {k: ("l", v) for k, v in (layers or {}).items()}
    found.volumes = {k: ("l", v) for k, v in (volumes or {}).items()}
    found.held = dict(held or {})
    found.activity = dict(activity or {})
    return found


def _ids(found: list[dict[str, Any]]) -> list[str]:
    return [c["Id"] for c in found]


def test_the_first_look_stops_nobody_but_holders_of_deleted_files() -> None:
    """Without a previous look nothing proves growth; a deleted-open file is proof on its own."""
    idle, writer, ghost = _container("idle", "keep"), _container("w", "data"), _container("g")
    now = _measure([idle, writer, ghost], volumes={"keep": 10, "data": 90 * MB},
                   held={"g": 400 * MB})
    assert _ids(proven_writers(now, None, "l")) == ["g"]


def test_an_idle_container_beside_a_writer_is_left_alone() -> None:
    """Finding 10: the writer's volume grew; the idle container's own volume did not."""
    idle, writer = _container("idle", "keep"), _container("w", "data")
    last = _measure([idle, writer], volumes={"keep": 4096, "data": 10 * MB})
    now = _measure([idle, writer], volumes={"keep": 8192, "data": 40 * MB})
    assert _ids(proven_writers(now, last, "l")) == ["w"]


def test_growth_below_a_megabyte_proves_nothing() -> None:
    """A few bytes written by an `exec echo` are not what fills a disk."""
    idle = _container("idle", "keep")
    last = _measure([idle], layers={"idle": 0}, volumes={"keep": 0})
    now = _measure([idle], layers={"idle": GROWTH_BYTES - 1}, volumes={"keep": 4096})
    assert proven_writers(now, last, "l") == []


def test_of_two_containers_sharing_a_grown_volume_only_the_active_one_is_stopped() -> None:
    """New processes or written bytes tell the writer from a container that only mounts it."""
    quiet, busy = _container("quiet", "shared"), _container("busy", "shared")
    last = _measure([quiet, busy], volumes={"shared": 0},
                    activity={"quiet": (100, (10,)), "busy": (100, (20,))})
    now = _measure([quiet, busy], volumes={"shared": 50 * MB},
                   activity={"quiet": (100, (10,)), "busy": (100, (20, 31))})
    assert _ids(proven_writers(now, last, "l")) == ["busy"]


def test_a_read_only_mount_of_a_grown_volume_is_no_proof() -> None:
    """A container mounting the grown volume read-only cannot have written it."""
    reader, writer = _container("r", "data", rw=False), _container("w", "data")
    last = _measure([reader, writer], volumes={"data": 0})
    now = _measure([reader, writer], volumes={"data": 50 * MB})
    assert _ids(proven_writers(now, last, "l")) == ["w"]


def test_a_layer_that_grew_or_hit_the_entry_cap_is_proof() -> None:
    """The own layer is written only by the container: growth, or a walk stopped at the cap."""
    grower, flooder, idle = _container("g"), _container("f"), _container("i")
    last = _measure([grower, flooder, idle], layers={"g": 0, "f": 0, "i": 0})
    now = _measure([grower, flooder, idle], layers={"g": 5 * MB, "f": 0, "i": 0})
    now.capped.add("f")
    assert _ids(proven_writers(now, last, "l")) == ["g", "f"]


def test_the_meter_output_is_parsed_per_learner() -> None:
    """Volumes, layers, deleted-open files, caps and time-outs land in the measurement."""
    found = parse("D a c1 1048576 500 11,12 ok\nV a vol ok 3 2048\nU a c1 cap 50001 12\n"
                  "V a v2 skip 0 0\nD a c2 0 0 - cap\nT b\nE a\ngarbage line\n", Measure())
    assert found.by_learner["a"] == 1048576 + 2048 * 1024 + 12 * 1024
    assert found.held == {"c1": 1048576, "c2": 0}
    assert found.activity == {"c1": (500, (11, 12)), "c2": (0, ())}
    assert found.capped == {"c1", "c2"} and found.slow == {"b"} and "v2" not in found.volumes
    assert found.flagged("a") and found.flagged("b")
    capped_only = Measure(capped={"c9"})  # a btrfs engine: no layer walked, fds over the cap
    capped_only.running["z"] = [_container("c9")]
    assert capped_only.flagged("z") and not capped_only.flagged("y")


class _Host:
    settings = Settings(database_url="sqlite://", docker_host="tcp://127.0.0.1:1")
    limits = Limits(disk_bytes=100 * MB, disk_check_seconds=10.0)

    def _tell_later(self, ns: object, note: str) -> None:
        raise AssertionError("nobody is over any quota")


def test_the_interval_shortens_when_someone_nears_the_quota_fast() -> None:
    """Half the time the fastest grower needs to reach the quota; the full interval when nothing grows."""
    watch = DiskWatch(_Host())  # type: ignore[arg-type]
    watch.seconds_between = 10.0
    before = _measure([_container("w")])
    before.by_learner["l"] = 20 * MB
    now = _measure([_container("w")])
    now.by_learner["l"] = 60 * MB  # 4 MB/s, 40 MB left: 10 s to the quota
    assert watch._next_interval(before, now) == 5.0
    now.by_learner["l"] = 20 * MB
    assert watch._next_interval(before, now) == 10.0
    now.by_learner["l"] = 99 * MB
    assert watch._next_interval(before, now) == watch.min_interval == 2.0
    watch.last_seconds = 1.5  # never more than a third of the time measuring
    assert watch._next_interval(before, now) == 3.0


def test_five_commands_within_a_second_are_a_burst() -> None:
    """Five learner commands within one second are a burst; the same five spread out are not."""
    watch = DiskWatch(_Host())  # type: ignore[arg-type]
    for _ in range(5):
        watch._commands.append(time.monotonic())
    assert watch._burst()
    watch._commands.append(time.monotonic() - 2)
    watch._commands.appendleft(time.monotonic() - 2)
    assert not watch._burst()


class _HeldLease:
    ttl = 30.0

    def hold(self) -> bool:
        return True


def test_a_burst_defers_the_look_by_half_seconds_for_one_interval_at_most() -> None:
    """During a burst the holder waits 0.5 s at a time; after one interval's worth it looks anyway."""

    class Local(_Host):
        settings = Settings(database_url="sqlite://")  # the default socket: no dead-engine skip

    watch = DiskWatch(Local())  # type: ignore[arg-type]
    watch._lease = _HeldLease()  # type: ignore[assignment]
    looked: list[float] = []
    watch.check = lambda: looked.append(time.monotonic()) or {}  # type: ignore[method-assign]
    waits = []
    for _ in range(25):
        for _ in range(5):
            watch._commands.append(time.monotonic())  # a class typing fast
        waits.append(watch.step())
    assert waits[:20] == [0.5] * 20 and len(looked) >= 1  # 20 x 0.5 s = one 10 s interval
