"""No mount lands on /proc, /sys or /dev, whatever links a learner plants (issue 11, finding 6).

A learner's container plants ``ln -s /proc/sys /app/psys`` in the workspace; a later
``--tmpfs /app/psys/kernel`` would be mounted by the runtime *through* the link, over
``/proc/sys/kernel`` inside the container. These tests run the attack on the real
engine and prove that it is refused before the engine, that links in a container's own
layer are found before it starts again, and that the lesson images hold no link into
the kernel's folders.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Callable

import docker
import pytest
from pytest_mock import MockerFixture

from bot.errors import CommandRefused
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.sandbox.engine.targets import linked_targets, mount_targets
from bot.sandbox.policy.mounts import inside
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.tutor.core import Tutor
from tests.conftest import ROOT
from tests.engine_requests import EngineRequests

pytestmark = pytest.mark.docker

SYSTEM = ("/proc", "/sys", "/dev")

PLANT = ("docker run --rm -v $(pwd):/app busybox sh -c 'ln -s /proc/sys /app/psys && "
         "ln -s /dev /app/pdev && ln -s /sys /app/psys2 && ln -s / /app/root && "
         "ln -s ../../proc /app/up'")

ATTACKS = [
    "docker run --rm -v $(pwd):/app --tmpfs /app/psys/kernel busybox true",
    "docker run --rm -v $(pwd):/app -v vol:/app/pdev/shm busybox true",
    "docker run --rm -v $(pwd):/app --tmpfs /app/psys2/fs/cgroup busybox true",
    "docker run --rm -v $(pwd):/app --tmpfs /app/root/proc/sys busybox true",
    "docker run --rm -v $(pwd):/app -v /app/up/sys busybox true",
    "docker run --rm -v $(pwd):/app --mount type=tmpfs,target=/app/psys/vm busybox true",
    "docker run --rm --mount type=bind,src=.,dst=/app "
    "--mount type=volume,src=vol,dst=/app/pdev/shm busybox true",
    "docker run --rm -v ./:/app:ro -v /app/pdev/mqueue busybox true",
    "docker run --rm -v vol:/data -v $(pwd):/data/ws busybox true",
    "docker run --rm --tmpfs /t -v vol:/t/x busybox true",
    "docker run --rm -v vol:/app -v other:/app/x busybox true",
]


def spy_engine(mocker: MockerFixture) -> Callable[[], int]:
    """The number of engine API requests made from now on."""
    return EngineRequests(mocker)


def test_links_planted_in_a_mount_cannot_carry_another_mount_onto_the_kernel(
    tutor: Tutor, alice: Person, mocker: MockerFixture
) -> None:
    """Every mount nested in another (the planted-link attack) is refused before the engine."""
    planted = tutor.handle(alice, PLANT)
    assert "Error" not in planted.text(), planted.text()
    assert tutor.sandbox.ping()
    made = spy_engine(mocker)
    for text in ATTACKS:
        with pytest.raises(CommandRefused) as caught:
            tutor.handle(alice, text)
        assert "inside" in caught.value.message, (text, caught.value.message)
        assert "\n" not in caught.value.message
    assert made() == 0


def test_mounts_side_by_side_with_planted_links_still_work(tutor: Tutor, alice: Person) -> None:
    """Beside the workspace, tmpfs and volumes mount as usual and /proc/sys stays procfs."""
    tutor.handle(alice, PLANT)
    reply = tutor.handle(alice, "docker run --rm -v $(pwd):/app --tmpfs /cache -v vol:/data "
                                "busybox grep -E ' /(cache|data|app|proc/sys)' /proc/mounts")
    lines = reply.text().splitlines()
    assert any(" /cache tmpfs " in line for line in lines), reply.text()
    assert any(" /data " in line for line in lines) and any(" /app " in line for line in lines)
    assert not any(" /proc/sys/" in line for line in lines), reply.text()


@pytest.mark.parametrize("workdir", ["/proc", "/proc/sys", "/sys/fs", "/dev", "/dev/shm",
                                     "//proc/x", "/a/../dev"])
def test_working_directories_in_the_kernels_folders_are_refused(
    tutor: Tutor, alice: Person, workdir: str
) -> None:
    """`-w` on or under /proc, /sys, /dev is refused (as mount targets are)."""
    with pytest.raises(CommandRefused, match="belongs to the kernel"):
        tutor.handle(alice, f"docker run --rm -w {workdir} busybox true")


def test_a_working_directory_through_a_planted_link_stays_in_the_container(
    tutor: Tutor, alice: Person
) -> None:
    """`-w` through a planted link is created in the container's view, never on the host."""
    tutor.handle(alice, PLANT)
    tutor.handle(alice, "docker run --rm -v $(pwd):/app -w /app/root/made-by-w busybox pwd")
    tutor.handle(alice, "docker run --rm -v $(pwd):/app -w /app/pdev/made-by-w busybox pwd")
    entries, complete = tutor.sandbox._workspace(tutor.sandbox.namespace(alice)).listing()
    assert not posixpath.exists("/made-by-w") and not posixpath.exists("/dev/made-by-w")
    assert complete and [e.path for e in entries] == ["pdev", "psys", "psys2", "root", "up"]


def test_a_link_planted_in_the_containers_own_layer_is_found_before_it_starts_again(
    tutor: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """A folder above a target swapped for a link to /proc/sys is found in the stopped container.

    This is the restart variant of the attack: the learner's container renames the
    folder that holds its own tmpfs and plants a link in its place. Started again, the
    runtime would mount the tmpfs over /proc/sys/kernel; :func:`linked_targets` names it.
    """
    tutor.handle(alice, "docker run -d --name x --tmpfs /opt/kernel -v vol:/data busybox "
                        "sh -c 'mv /opt /opt2 && ln -s /proc/sys /opt; sleep 600'")
    tutor.handle(alice, "docker run -d --name clean --tmpfs /opt/kernel -v vol2:/data busybox "
                        "sleep 600")
    time.sleep(1.0)
    tutor.handle(alice, "docker stop -t 0 x clean")
    ns = tutor.sandbox.namespace(alice)
    planted = docker_client.containers.get(ns.engine_name("x"))
    clean = docker_client.containers.get(ns.engine_name("clean"))
    assert sorted(mount_targets(planted.attrs)) == ["/data", "/opt/kernel"]
    assert linked_targets(docker_client.api, planted.id, mount_targets(planted.attrs)) == [
        "/opt/kernel"]
    assert linked_targets(docker_client.api, clean.id, mount_targets(clean.attrs)) == []
    # The tutor runs that check before every start: `start` and `restart` refuse `x`.
    for verb in ("start", "restart"):
        answer = tutor.handle(alice, f"docker {verb} x").text()
        assert "/opt/kernel" in answer and "symbolic link" in answer, answer
        planted.reload()
        assert planted.status == "exited"
    assert tutor.handle(alice, "docker restart -t 0 clean").text().strip() == "clean"
    clean.reload()
    assert clean.status == "running"


def _resolve(links: dict[str, str], path: str) -> str:
    """Where ``path`` leads in an image whose symbolic links are ``links`` (path -> target)."""
    for _ in range(64):
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            head = "/" + "/".join(parts[:i])
            if head in links:
                target = links[head]
                base = target if target.startswith("/") else posixpath.join(
                    posixpath.dirname(head), target)
                path = posixpath.normpath(posixpath.join(base, *parts[i:]))
                path = "/" + path.lstrip("/")
                break
        else:
            return path
    return path  # a loop: the runtime refuses it too


@pytest.mark.parametrize("image", sorted(Catalog(ROOT / "lessons").images))
def test_every_link_in_the_lesson_images_into_the_kernels_folders_is_refused_as_a_target(
    docker_client: docker.DockerClient, namespace_prefix: str, image: str
) -> None:
    """Walk each lesson image's files: a link into /proc, /sys, /dev is never a way in.

    The exported file system of a created container is read whole; every symbolic link
    is resolved as the runtime would. Each one that leads into /proc, /sys or /dev
    (busybox's ``/etc/mtab -> /proc/mounts``) is refused as a mount target, and so is
    any path under it, by the check run on the created container before it starts.
    """
    container = docker_client.containers.create(
        image, command=["true"], network_mode="none",
        labels={LABEL_NAMESPACE: namespace_prefix})
    try:
        data = b"".join(container.export())
        links: dict[str, str] = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                if member.issym():
                    links["/" + posixpath.normpath(member.name).lstrip("/")] = member.linkname
        assert links, f"{image} should hold some links (a sanity check of the walk)"
        into_kernel = [path for path in links
                       if any(inside(_resolve(links, path), top) for top in SYSTEM)]
        for path in into_kernel:
            targets = [path, path + "/x"]
            assert linked_targets(docker_client.api, container.id, targets) == targets
        plain = [p for p in ("/data", "/app", "/etc", "/usr/local") if p not in links]
        assert linked_targets(docker_client.api, container.id, plain) == []
    finally:
        container.remove(force=True, v=True)  # and the anonymous /data of redis
