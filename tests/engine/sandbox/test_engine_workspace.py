"""The workspace kept in the engine as a volume (issue 11, finding 1; issue 14, item 3).

Everything runs on the real engine: writes and reads go through helper containers, a
learner container sees the workspace through :meth:`EngineWorkspace.mount_spec`, and
the symlink-swap race of finding 1 is run against it while the bot process is watched
for any file-system call on its host.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from bot.errors import CommandRefused, UsageError
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.workspace.names import LABEL_HELPER, is_workspace_mount, refuse_sub_folder, volume_name
from bot.sandbox.workspace.volume import EngineWorkspace, list_workspaces, remove_stale_helpers
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker


def workspace_of(sandbox: Sandbox, person: Person) -> EngineWorkspace:
    """The person's engine workspace, with the sandbox's own host settings for helpers."""
    return EngineWorkspace(sandbox.client, sandbox.namespace(person),
                           host_limits=sandbox._host_limits())


@pytest.fixture
def alice_ws(sandbox: Sandbox, alice: Person) -> Iterator[EngineWorkspace]:
    """Alice's workspace volume, removed afterwards with its containers."""
    ws = workspace_of(sandbox, alice)
    yield ws
    remove_learner_containers(sandbox, alice)
    ws.remove()


def remove_learner_containers(sandbox: Sandbox, person: Person) -> None:
    """Remove the containers a test made for ``person``."""
    for container in sandbox.client.containers.list(
            all=True, filters=sandbox.namespace(person).filters()):
        container.remove(force=True)


def learner_container(sandbox: Sandbox, person: Person, ws: EngineWorkspace, name: str,
                      command: list[str], *, target: str = "/app",
                      image: str = "busybox:latest") -> Container:
    """A running container of ``person`` with the workspace at ``target``, as `run` makes it."""
    ns = sandbox.namespace(person)
    container: Container = sandbox.client.containers.run(
        image, command, detach=True, name=ns.engine_name(name), labels=ns.labels(name),
        mounts=[ws.mount_spec(target)], **sandbox._host_limits())
    return container


def test_edits_reach_a_running_container_and_its_writes_read_back(
    sandbox: Sandbox, alice: Person, alice_ws: EngineWorkspace
) -> None:
    """`edit` through the engine shows at once in a container; what it writes reads back."""
    assert alice_ws.write("notes.txt", "hello from the host") == len("hello from the host\n")
    assert alice_ws.write("src/app/main.py", "print('hi')\n") == len("print('hi')\n")
    box = learner_container(sandbox, alice, alice_ws, "w", ["sleep", "600"])
    assert box.exec_run(["cat", "/app/notes.txt"]).output == b"hello from the host\n"
    alice_ws.write("notes.txt", "changed")
    assert box.exec_run(["cat", "/app/notes.txt"]).output == b"changed\n"
    box.exec_run(["sh", "-c", "echo from the container > /app/out.txt && mkdir /app/empty"])
    assert alice_ws.read("out.txt") == "from the container\n"
    assert alice_ws.read("./src/app/main.py") == "print('hi')\n"
    assert alice_ws.read("missing.txt") is None and alice_ws.read("src") is None
    box.exec_run(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a > /app/big.txt"])
    assert alice_ws.read("big.txt", limit=1000) == "a" * 1000
    assert alice_ws.read("big.txt") == "a" * 64 * 1024
    box.exec_run(["rm", "/app/big.txt"])
    entries, complete = alice_ws.listing()
    assert complete
    assert [(e.path, e.kind) for e in entries] == [
        ("empty", "dir"), ("notes.txt", "file"), ("out.txt", "file"), ("src", "dir"),
        ("src/app", "dir"), ("src/app/main.py", "file")]
    mount = next(m for m in box.attrs["Mounts"] if m["Destination"] == "/app")
    assert is_workspace_mount(sandbox.namespace(alice), mount)


def test_the_workspace_behaves_like_a_bind_and_copies_nothing_from_the_image(
    sandbox: Sandbox, alice: Person, alice_ws: EngineWorkspace
) -> None:
    """Mounted over a folder of the image, an empty workspace stays empty (`nocopy`)."""
    box = learner_container(sandbox, alice, alice_ws, "var", ["ls", "-A", "/var"],
                            target="/var")
    box.wait(timeout=30)
    assert box.logs() == b""
    assert alice_ws.listing() == ([], True)


def test_reads_and_writes_never_follow_a_link_planted_in_the_workspace(
    sandbox: Sandbox, alice: Person, alice_ws: EngineWorkspace
) -> None:
    """Links, a FIFO and a folder in the way are refused or read as nothing, and stay as they were."""
    box = learner_container(sandbox, alice, alice_ws, "w", ["sleep", "600"])
    planted = box.exec_run(["sh", "-c", "ln -s /etc/passwd /app/passwd && ln -s / /app/root && "
                            "ln -s /etc /app/etc && mkfifo /app/fifo && mkdir /app/dir.txt && "
                            "echo keep > /app/dir.txt/inside && echo x > /app/file && "
                            "ln -s file /app/link-to-file"])
    assert planted.exit_code == 0, planted.output
    for path in ("passwd", "root/etc/motd", "etc/hostname", "fifo", "dir.txt", "file/below",
                 "link-to-file"):
        with pytest.raises(UsageError, match="in the way") as caught:
            alice_ws.write(path, "owned")
        assert "\n" not in caught.value.message
    for path in ("passwd", "root/etc/passwd", "etc/passwd", "fifo", "dir.txt", "link-to-file",
                 "file/below"):
        assert alice_ws.read(path) is None, path
    assert alice_ws.read("dir.txt/inside") == "keep\n"
    listed = box.exec_run(["sh", "-c", "ls -la /app | tail -n +4"]).output.decode()
    assert "passwd -> /etc/passwd" in listed and "root -> /" in listed, listed
    assert box.exec_run(["cat", "/app/dir.txt/inside"]).output == b"keep\n"


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", ".hidden", "a/../../b", "~/x",
                                  "a/b/c/d/e/f/g"])
def test_paths_outside_the_workspace_are_refused_before_the_engine(
    alice_ws: EngineWorkspace, path: str
) -> None:
    """The same path rules as the host `edit`: nothing outside, nothing hidden, not too deep."""
    with pytest.raises(UsageError):
        alice_ws.write(path, "x")
    assert not alice_ws.exists()


def test_sub_folder_binds_are_refused_with_the_way_to_do_it() -> None:
    """`-v $(pwd)/sub:/m` cannot be made from a volume on this engine: say what to type."""
    refusal = refuse_sub_folder("-v", "src")
    assert isinstance(refusal, CommandRefused)
    assert "`-w /app/src`" in refusal.message and "\n" not in refusal.message


def test_the_workspace_is_hidden_from_the_learners_views_and_quotas(
    tutor: Tutor, alice: Person, bob: Person
) -> None:
    """No `docker volume ls`/`ps -a` shows it, no quota counts it, no name reaches it."""
    sandbox = tutor.sandbox
    ws = workspace_of(sandbox, alice)
    ws.write("notes.txt", "mine")
    ns = sandbox.namespace(alice)
    with ws._helper(writable=False):
        assert sandbox._volumes(ns) == [] and sandbox._containers(ns) == []
        assert tutor.handle(alice, "docker ps -a").text().count("\n") <= 1
    volumes = tutor.handle(alice, "docker volume ls").text()
    assert "workspace" not in volumes
    for text in ("docker volume rm .workspace", f"docker volume rm {volume_name(ns)}",
                 "docker run --rm -v .workspace:/x busybox true"):
        try:
            answer = tutor.handle(alice, text).text()
        except CommandRefused as refused:
            answer = refused.message
        assert any(w in answer.lower() for w in ("no such volume", "invalid", "bind")), answer
    assert ws.read("notes.txt") == "mine\n"
    bob_view = tutor.handle(bob, f"docker volume inspect {volume_name(ns)}").text()
    assert "no such volume" in bob_view.lower()
    assert [r.learner for r in list_workspaces(sandbox.client, sandbox.settings.namespace)
            if r.volume == volume_name(ns)] == [ns.learner]
    ws.remove()


def test_remove_waits_for_containers_and_takes_stale_helpers(
    sandbox: Sandbox, alice: Person, alice_ws: EngineWorkspace, docker_client: docker.DockerClient
) -> None:
    """A workspace in use is kept; once free it goes, with any helper a crash left."""
    alice_ws.write("notes.txt", "x")
    box = learner_container(sandbox, alice, alice_ws, "w", ["sleep", "600"])
    assert alice_ws.remove() is False and alice_ws.exists()
    box.remove(force=True)
    with alice_ws._helper(writable=False) as helper:
        assert remove_stale_helpers(docker_client, sandbox.settings.namespace, 3600) == 0
        assert remove_stale_helpers(docker_client, sandbox.settings.namespace, -1) >= 1
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(helper.id)
    alice_ws.write("again.txt", "y")  # a helper is made again as needed
    assert alice_ws.remove() is True and not alice_ws.exists()
    assert docker_client.containers.list(all=True, filters={"label": [
        f"{LABEL_NAMESPACE}={sandbox.settings.namespace}",
        f"{LABEL_HELPER}={sandbox.namespace(alice).learner}"]}) == []


# -- the race of finding 1 ---------------------------------------------------------------------

WATCHED = ("open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.symlink", "os.link",
           "os.chmod", "os.chown", "os.listdir", "os.scandir", "os.truncate", "os.utime",
           "os.chdir", "shutil.rmtree", "shutil.copyfile", "os.walk", "pathlib.Path.glob")


class HostFileWatch:
    """Records the file-system calls this thread makes while it is armed (an audit hook)."""

    installed: HostFileWatch | None = None

    def __init__(self) -> None:
        self.armed_thread: int | None = None
        self.seen: list[tuple[str, str]] = []

    @classmethod
    def get(cls) -> HostFileWatch:
        """The process's one watch (audit hooks cannot be removed, so it is installed once)."""
        if cls.installed is None:
            cls.installed = HostFileWatch()
            sys.addaudithook(cls.installed._hook)
        return cls.installed

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if self.armed_thread == threading.get_ident() and event in WATCHED:
            self.seen.append((event, repr(args[:1])))


def test_a_container_swapping_links_cannot_make_the_tutor_touch_the_host(
    sandbox: Sandbox, alice: Person, bob: Person, alice_ws: EngineWorkspace,
    tmp_path: Path
) -> None:
    """Finding 1 replayed: writes and mounts race a container swapping `d` for links.

    Alice's container loops `ln -s / d; rm d; mkdir d; ln -s /etc d; ln -s <bob's
    volume folder> d ...` in her workspace while the tutor writes `d/OUTSIDE/x/y/notes.txt`
    eighty times and starts containers that mount the workspace. The bot process makes
    no file-system call at all meanwhile (an audit hook watches), nothing named OUTSIDE
    appears on the host or in Bob's workspace, and Alice's workspace holds only `d`.
    """
    bob_ws = workspace_of(sandbox, bob)
    bob_ws.write("notes.txt", "bob's notes")
    bob_folder = sandbox.client.volumes.get(bob_ws.name).attrs["Mountpoint"]
    alice_ws.write("warm.txt", "up")  # imports and connections happen before the watch
    alice_ws.read("warm.txt")
    swapper = learner_container(sandbox, alice, alice_ws, "swap", ["sh", "-c", (
        "while :; do rm -rf /app/d; ln -s / /app/d; rm -f /app/d; mkdir /app/d; rm -rf /app/d; "
        f"ln -s /etc /app/d; rm -f /app/d; ln -s {bob_folder} /app/d; rm -f /app/d; "
        f"ln -s {tmp_path} /app/d; rm -f /app/d; mkdir -p /app/d/OUTSIDE; done")])
    watch = HostFileWatch.get()
    watch.armed_thread = threading.get_ident()
    os.listdir(tmp_path)  # the control: the watch does see a host file-system call
    watch.armed_thread = None
    assert watch.seen == [("os.listdir", repr((str(tmp_path),)))]
    watch.seen.clear()
    written = refused = 0
    watch.armed_thread = threading.get_ident()
    try:
        for attempt in range(80):
            try:
                alice_ws.write("d/OUTSIDE/x/y/notes.txt", f"attempt {attempt}")
                written += 1
            except UsageError:
                refused += 1
            if attempt % 16 == 0:
                mounted = sandbox.client.containers.run(
                    "busybox:latest", ["sh", "-c", "ls /m; true"], name=None, remove=True,
                    mounts=[alice_ws.mount_spec("/m", read_only=True)],
                    labels=sandbox.namespace(alice).labels(f"m{attempt}"),
                    **sandbox._host_limits())
                assert isinstance(mounted, bytes)
    finally:
        watch.armed_thread = None
    swapper.reload()
    assert swapper.status == "running"  # the swapping ran the whole time
    swapper.remove(force=True)
    assert watch.seen == []
    assert written + refused == 80 and refused > 0, (written, refused)
    for place in ("/OUTSIDE", "/etc/OUTSIDE", f"{tmp_path}/OUTSIDE", f"{bob_folder}/OUTSIDE"):
        assert not os.path.lexists(place), place
    assert list(tmp_path.iterdir()) == []
    assert bob_ws.listing() == (bob_ws.listing()[0], True)
    assert [e.path for e in bob_ws.listing()[0]] == ["notes.txt"]
    assert bob_ws.read("notes.txt") == "bob's notes\n"
    entries, complete = alice_ws.listing()
    assert complete
    assert all(e.path in {"warm.txt", "d"} or e.path.startswith("d/") for e in entries)
    bob_ws.remove()


# -- a setuid file made by container root ------------------------------------------------------


def test_a_setuid_file_made_by_container_root_is_out_of_reach_of_other_host_users(
    sandbox: Sandbox, alice: Person, alice_ws: EngineWorkspace
) -> None:
    """Finding 3: root in a container makes a setuid-root program in the workspace.

    The volume's folder lies under the engine's data root, which only root may enter
    (``/var/lib/docker`` is 0710 root:root), so the host user ``nobody`` can neither run
    nor even stat the program. Needs the engine on this machine and root to switch users.
    """
    box = learner_container(sandbox, alice, alice_ws, "w", ["sh", "-c", (
        "cp /bin/busybox /app/rootid && chmod 4755 /app/rootid && sleep 600")])
    deadline = time.monotonic() + 20
    while alice_ws.read("rootid", limit=1) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    folder = Path(sandbox.client.volumes.get(alice_ws.name).attrs["Mountpoint"])
    program = folder / "rootid"
    if os.geteuid() != 0 or not folder.is_dir():
        box.remove(force=True)
        pytest.skip("the engine's data root is not on this machine, or the tests are not root")
    info = program.stat()
    assert info.st_uid == 0 and info.st_mode & 0o4000, "the setuid program was made (control)"
    ancestors = [p for p in [*reversed(program.parents)] if str(p) != "/"]
    closed = [p for p in ancestors if not (p.stat().st_mode & 0o001) and p.stat().st_gid == 0]
    assert closed, [(str(p), oct(p.stat().st_mode)) for p in ancestors]
    as_nobody = {"user": 65534, "group": 65534, "extra_groups": []}
    ran = subprocess.run(["/bin/sh", "-c", '"$0" id', str(program)], capture_output=True,
                         text=True, check=False, **as_nobody)  # type: ignore[call-overload]
    assert ran.returncode != 0 and "uid=0" not in ran.stdout, ran
    looked = subprocess.run(["stat", str(program)], capture_output=True, text=True,
                            check=False, **as_nobody)  # type: ignore[call-overload]
    assert looked.returncode != 0 and "Permission denied" in looked.stderr, looked
    box.remove(force=True)
