"""The kernel-bounded disk quota: a private btrfs engine caps each learner container's layer.

A module fixture starts one extra ``dockerd`` (``tests/engines/``, the hardened profile:
user-namespace remapping, no network) whose data root is a btrfs file system in a sparse
loop file inside the engine's folder; it is stopped by its pid and the file removed after.
The sandbox finds out that the engine takes ``--storage-opt size`` and gives every learner
container ``size = TUTOR_DISK_MB``: the kernel refuses writes past it, whatever the
learner tries (a plain writer, a file deleted while open, an inode flood). Skipped with
the reason where the suite is not root, or dockerd or mkfs.btrfs are missing.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from bot.config import Settings
from bot.console.render import render
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.pool.janitor import purge_prefix
from bot.tutor.core import Tutor
from tests.engines import Engine, EngineOptions, engine_or_skip

pytestmark = [pytest.mark.docker, pytest.mark.slow]

QUOTA_MB = 50
FLOOD_QUOTA_MB = 10


@pytest.fixture(scope="module")
def btrfs_engine() -> Iterator[Engine]:
    """A private hardened engine on btrfs (started once; stopped and its loop file removed after)."""
    engine = engine_or_skip(EngineOptions(label="btrfs", storage="btrfs", runsc=False))
    yield engine
    engine.stop()
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=False).stdout
    assert not engine.root.exists() and str(engine.root) not in loops  # file and device gone


KernelTutor = Callable[[int], Tutor]
"""Makes the whole tutor on the btrfs engine with a disk quota of so many MiB."""


@pytest.fixture
def kernel_tutor_of(settings: Settings, store: ProgressStore, catalog: Catalog,
                    btrfs_engine: Engine) -> Iterator[KernelTutor]:
    """A maker of tutors on the btrfs engine; their sandboxes are closed and objects removed after."""
    boxes: list[Sandbox] = []

    def make(quota_mb: int) -> Tutor:
        bounded = replace(settings, docker_host=btrfs_engine.docker_host,
                          limits=replace(settings.limits, disk_bytes=quota_mb * 2**20,
                                         commands_per_minute=100_000))
        boxes.append(Sandbox(bounded, allowed_images=catalog.images))
        return Tutor(bounded, store, boxes[-1], catalog)

    yield make
    for box in boxes:
        box.close()
    client = btrfs_engine.client()
    try:
        purge_prefix(client, settings.namespace)
    finally:
        client.close()


@pytest.fixture
def kernel_tutor(kernel_tutor_of: KernelTutor) -> Tutor:
    """The whole tutor on the btrfs engine, with a 50 MiB disk quota."""
    return kernel_tutor_of(QUOTA_MB)


def _written_mb(text: str) -> float:
    """Megabytes ``dd`` reports it wrote (``N+0 records out`` of 1 MiB blocks)."""
    found = re.search(r"(\d+)\+\d+ records out", text)
    assert found, text
    return int(found.group(1)) * 2**20 / 1e6


def test_the_engine_is_found_to_bound_layers_in_the_kernel(kernel_tutor: Tutor) -> None:
    """The sandbox asks the engine once and gives containers `--storage-opt size`."""
    box = kernel_tutor.sandbox
    assert box._layer_limit.supported(box.client)  # type: ignore[attr-defined]
    assert box._host_limits()["storage_opt"] == {"size": str(QUOTA_MB * 2**20)}  # type: ignore[attr-defined]


@pytest.mark.parametrize("attempt", [
    "dd if=/dev/zero of=/big bs=1M count=400",
    "exec 3>/big; rm /big; dd if=/dev/zero bs=1M count=400 >&3",
])
def test_a_writer_cannot_exceed_the_size(kernel_tutor: Tutor, alice: Person, attempt: str) -> None:
    """A plain writer and a deleted-but-open one both stop at the size: "Disk quota exceeded"."""
    answer = render(kernel_tutor.handle(alice, f"docker run --rm busybox sh -c '{attempt}'"))
    assert "Disk quota exceeded" in answer, answer
    written = _written_mb(answer)
    print(f"\nbtrfs, size {QUOTA_MB} MiB: `{attempt}` stopped by the kernel at {written:.0f} MB")
    assert written <= QUOTA_MB * 2**20 / 1e6


def test_an_inode_flood_stops_at_the_size(kernel_tutor_of: KernelTutor, alice: Person) -> None:
    """Empty files cost metadata the kernel counts: with 10 MiB, a flood ends at about 29,000."""
    tutor = kernel_tutor_of(FLOOD_QUOTA_MB)  # creating files near a qgroup limit is slow: small
    tutor.handle(alice, "docker run -d --name flood busybox sh -c "
                        "'mkdir /f; cd /f; seq 1 400000 | xargs -n 500 sh -c "
                        "\"touch \\\"\\$@\\\" 2>/dev/null || exit 255\" sh; echo made $(ls | wc -l) files'")
    deadline = time.monotonic() + 120
    answer = ""
    while time.monotonic() < deadline:
        answer = render(tutor.handle(alice, "docker logs flood"))
        if "made" in answer:
            break
        time.sleep(1)
    made = re.search(r"made (\d+) files", answer)
    assert made and int(made.group(1)) < 100_000, answer
    print(f"\nbtrfs, size {FLOOD_QUOTA_MB} MiB: inode flood stopped by the kernel at "
          f"{int(made.group(1)):,} files after {time.monotonic() - deadline + 120:.0f} s")
