"""The hardened engine profile: user-namespace remapping and gVisor, on a private dockerd.

A module fixture starts one extra ``dockerd`` (``tests/engines/``) beside the system
engine, with ``userns-remap=default``, btrfs (a loop file), no bridge or iptables, and gVisor registered as
``runsc`` when it is installed (CI installs it: ``.ci/engine.sh install``). The tests prove
on that real engine what the profile is for: root in a container is not root on the host
(finding 3 of the security issue ends at the source), a ``runsc`` container runs on gVisor's
kernel with no network, and the Redis challenge still works. Skipped, with the reason, where
the suite is not root or ``dockerd`` is missing; the gVisor tests also where ``runsc`` is.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml
from pytest_mock import MockerFixture

from tests import engines
from tests.engines import (
    Engine,
    EngineError,
    EngineOptions,
    EngineSkip,
    engine_or_skip,
    missing,
    mounts_under,
    profile,
    start_engine,
    sweep,
)
from tests.paths import REPO_ROOT

LABEL = "dte.test"
RUNTIMES = ["runc", "runsc"]


@pytest.fixture(scope="module")
def hardened() -> Iterator[Engine]:
    """One hardened engine, with the lesson images, started once; stopped after this module."""
    engine = engine_or_skip(EngineOptions(label="hardened", storage="btrfs"))
    yield engine
    engine.stop()


@pytest.fixture
def client(hardened: Engine) -> Iterator[docker.DockerClient]:
    """A client of the hardened engine; the test's labelled containers and volumes go after."""
    engine_client = hardened.client()
    yield engine_client
    for container in engine_client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True, v=True)
    for volume in engine_client.volumes.list(filters={"label": LABEL}):
        volume.remove(force=True)
    engine_client.close()


@pytest.fixture
def workspace(hardened: Engine) -> Iterator[Path]:
    """A workspace as a deployment makes it: owned by the remapped root, inside an o+x path."""
    assert hardened.remap is not None
    path = hardened.root / f"ws-{secrets.token_hex(3)}"
    path.mkdir(mode=0o755)
    os.chown(path, *hardened.remap)
    yield path
    shutil.rmtree(path)


def runtime_or_skip(engine: Engine, runtime: str) -> str:
    """``runtime`` when the engine has it, else skip (gVisor not installed here)."""
    if runtime not in engine.runtimes:
        pytest.skip(f"the engine has no {runtime} runtime (install gVisor: .ci/engine.sh install)")
    return runtime


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, hardened: Engine) -> str:
    """Each runtime in turn (test ids ``runc``, ``runsc``); skipped where the engine lacks it."""
    return runtime_or_skip(hardened, request.param)


def run(client: docker.DockerClient, runtime: str, command: list[str], **kwargs: object) -> str:
    """Run busybox to completion with ``runtime`` and no network; its output."""
    output = client.containers.run("busybox", command, runtime=runtime, network_mode="none",
                                   labels={LABEL: "1"}, remove=True, **kwargs)
    return bytes(output).decode()


def cli(engine: Engine, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The plain ``docker`` CLI against ``engine``."""
    return subprocess.run(["docker", *args], env=engine.env(), capture_output=True, text=True,
                          timeout=120, check=check)


# -- the profile ------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_the_engine_remaps_root_and_has_no_bridge_network(
    hardened: Engine, client: docker.DockerClient
) -> None:
    """The private engine reports userns and btrfs, has no bridge, and runs beside the system one."""
    info = client.info()
    assert any("userns" in option for option in info["SecurityOptions"])
    assert info["Driver"] == "btrfs"
    assert info["DockerRootDir"].startswith(str(hardened.root))
    assert hardened.remap is not None and hardened.remap[0] != 0
    assert "bridge" not in {n.name for n in client.networks.list()}
    assert {t for image in client.images.list() for t in image.tags} >= {"redis:latest",
                                                                       "busybox:latest"}
    system = docker.from_env()
    try:
        assert system.info()["DockerRootDir"] != info["DockerRootDir"]
    finally:
        system.close()


@pytest.mark.docker
@pytest.mark.slow
def test_the_engine_runs_the_documented_profile(hardened: Engine, client: docker.DockerClient) -> None:
    """Every setting of deploy/sandbox/daemon.json is in the engine's config and takes effect."""
    documented = profile()
    running = json.loads((hardened.root / "daemon.json").read_text())
    for key, value in documented.items():
        if key != "runtimes":
            assert running[key] == value, key
    if "runsc" in hardened.runtimes:
        assert running["runtimes"]["runsc"]["runtimeArgs"] == \
            documented["runtimes"]["runsc"]["runtimeArgs"] == ["--platform=ptrace", "--network=none"]
    # no-new-privileges is the engine's default: a container that did not ask has it.
    assert re.search(r"NoNewPrivs:\s*1", run(client, "runc", ["cat", "/proc/self/status"]))


@pytest.mark.docker
@pytest.mark.slow
def test_a_file_made_by_container_root_in_a_bind_mount_is_not_host_roots(
    hardened: Engine, client: docker.DockerClient, workspace: Path, runtime: str
) -> None:
    """Container root writes a file in its bind mount: on the host it belongs to the remapped uid."""
    assert hardened.remap is not None
    inside = run(client, runtime, ["sh", "-c", "touch /app/made && id -u && stat -c %u /app/made"],
                 volumes={str(workspace): {"bind": "/app", "mode": "rw"}})
    assert inside.split() == ["0", "0"]  # root, and its file is root's, as the container sees it
    owner = (workspace / "made").stat()
    assert (owner.st_uid, owner.st_gid) == hardened.remap
    assert owner.st_uid != 0


@pytest.mark.docker
@pytest.mark.slow
def test_a_setuid_root_file_made_in_a_bind_mount_gives_no_host_root(
    hardened: Engine, client: docker.DockerClient, workspace: Path, runtime: str
) -> None:
    """Finding 3 replayed: a setuid-root copy of `id` made by container root runs as the remapped uid."""
    assert hardened.remap is not None
    host_id = shutil.which("id")
    assert host_id is not None
    shutil.copy(host_id, workspace / "id-source")  # a host binary the host can run
    (workspace / "id-source").chmod(0o644)
    inside = run(client, runtime, [
        "sh", "-c", "cp /app/id-source /app/rootid && chown 0:0 /app/rootid && "
                    "chmod 4755 /app/rootid && stat -c '%u %a' /app/rootid",
    ], volumes={str(workspace): {"bind": "/app", "mode": "rw"}})
    assert inside.split() == ["0", "4755"]  # inside: a setuid-root file, as in the finding
    made = (workspace / "rootid").stat()
    assert made.st_mode & stat.S_ISUID
    assert made.st_uid == hardened.remap[0] != 0
    as_nobody = subprocess.run([str(workspace / "rootid"), "-u"], user=65534, group=65534,
                               capture_output=True, text=True, timeout=30, check=True)
    assert as_nobody.stdout.strip() == str(hardened.remap[0])  # setuid to nobody-in-particular


@pytest.mark.docker
@pytest.mark.slow
def test_a_runsc_container_runs_on_gvisors_kernel_with_no_network(
    hardened: Engine, client: docker.DockerClient
) -> None:
    """`--runtime=runsc`: dmesg is gVisor's boot log, /proc/version is not the host's, only `lo`."""
    runtime_or_skip(hardened, "runsc")
    host_version = Path("/proc/version").read_text().strip()
    dmesg = run(client, "runsc", ["dmesg"])
    assert "Starting gVisor" in dmesg
    version = run(client, "runsc", ["cat", "/proc/version"]).strip()
    assert version != host_version
    assert run(client, "runc", ["cat", "/proc/version"]).strip() == host_version
    interfaces = re.findall(r"^\s*(\w+):", run(client, "runsc", ["cat", "/proc/net/dev"]), re.M)
    assert interfaces == ["lo"]
    container = client.containers.run("busybox", ["sleep", "60"], runtime="runsc",
                                      network_mode="none", labels={LABEL: "1"}, detach=True)
    assert container.attrs["HostConfig"]["Runtime"] == "runsc"
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"


@pytest.mark.docker
@pytest.mark.slow
def test_the_redis_challenge_works_on_the_hardened_engine(hardened: Engine, runtime: str) -> None:
    """The persistence challenge with the plain CLI: SET, `docker stop`, rm, a new container GETs it."""
    tag = secrets.token_hex(3)
    volume, first, second = f"data-{tag}", f"redis-1-{tag}", f"redis-2-{tag}"
    common = ["--runtime", runtime, "--network", "none", "--label", f"{LABEL}=1"]
    cli(hardened, "volume", "create", "--label", f"{LABEL}=1", volume)
    cli(hardened, "run", "-d", "--name", first, *common, "-v", f"{volume}:/data", "redis")
    wait_for_redis(hardened, first)
    assert cli(hardened, "exec", first, "redis-cli", "set", "mykey", tag).stdout.strip() == "OK"
    cli(hardened, "stop", first)
    cli(hardened, "rm", first)
    cli(hardened, "run", "-d", "--name", second, *common, "-v", f"{volume}:/data", "redis")
    wait_for_redis(hardened, second)
    assert cli(hardened, "exec", second, "redis-cli", "get", "mykey").stdout.strip() == tag
    # The volume lives in the remapped data root; what Redis saved there is no host root's.
    assert hardened.remap is not None
    mountpoint = Path(cli(hardened, "volume", "inspect", "-f", "{{.Mountpoint}}", volume).stdout.strip())
    assert mountpoint.is_relative_to(hardened.root)
    assert (mountpoint / "dump.rdb").stat().st_uid >= hardened.remap[0]


def wait_for_redis(engine: Engine, name: str, seconds: float = 60) -> None:
    """Until ``redis-cli ping`` answers PONG in container ``name``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cli(engine, "exec", name, "redis-cli", "ping", check=False).stdout.strip() == "PONG":
            return
        time.sleep(0.2)
    pytest.fail(f"redis in {name} did not answer within {seconds:.0f} s")


# -- the launcher itself -----------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "after a SIGKILL"])
def test_stopping_an_engine_leaves_no_process_mount_cgroup_or_folder(how: str) -> None:
    """With containers running (runc and gVisor), stop ends the daemon by pid and removes all."""
    try:
        engine = start_engine(EngineOptions(label="stoptest", images=("busybox",)))
    except EngineSkip as exc:
        pytest.skip(str(exc))
    try:
        client = engine.client()
        for runtime in ("runc", "runsc"):
            if runtime in engine.runtimes:
                client.containers.run("busybox", ["sleep", "600"], runtime=runtime,
                                      network_mode="none", detach=True)
        client.close()
        assert engine.alive() and mounts_under(engine.root)  # remapped root, netns files
        if how == "after a SIGKILL":
            os.kill(engine.pid, 9)  # containerd, shims and containers are left running
    finally:
        engine.stop()
    assert not engine.alive()
    assert not Path(f"/proc/{engine.pid}").exists()
    assert not engine.root.exists()
    assert mounts_under(engine.root) == []
    assert engine._leftover_processes() == []
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{engine.cgroup_parent}"))


@pytest.mark.docker
@pytest.mark.slow
def test_sweep_stops_the_engine_of_a_killed_run_and_spares_a_live_ones() -> None:
    """An engine whose starting process was SIGKILLed is swept; this session's own is not."""
    try:
        mine = start_engine(EngineOptions(label="sweepmine", images=(), runsc=False))
    except EngineSkip as exc:
        pytest.skip(str(exc))
    orphan: Engine | None = None
    try:
        starter = subprocess.Popen(
            [sys.executable, "-c", "import time\nfrom tests.engines import EngineOptions, start_engine\n"
             "e = start_engine(EngineOptions(label='sweeporphan', images=(), runsc=False))\n"
             "print(e.root, flush=True)\ntime.sleep(600)\n"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        assert starter.stdout is not None
        orphan = Engine.load(Path(starter.stdout.readline().strip()))
        starter.kill()
        starter.wait()
        starter.stdout.close()
        assert orphan.alive()  # the daemon outlives the process that started it
        stopped = sweep()
        assert orphan.root in stopped and mine.root not in stopped
        assert not orphan.alive() and not orphan.root.exists()
        assert mine.alive()
    finally:
        mine.stop()
        if orphan is not None and orphan.root.exists():  # the test failed before the sweep
            orphan.stop()


@pytest.mark.docker
@pytest.mark.slow
def test_a_daemon_that_fails_to_start_shows_its_log_and_leaves_nothing() -> None:
    """A setting dockerd refuses: the error quotes its log; no folder or process is left."""
    before = set(engines.PARENT.glob("dte-badconfig-*"))
    with pytest.raises((EngineError, EngineSkip)) as caught:
        start_engine(EngineOptions(label="badconfig", images=(), extra={"icc": False}))
    if caught.type is EngineSkip:
        pytest.skip(str(caught.value))
    assert "ICC=false uses iptables" in str(caught.value)
    assert "dockerd exited" in str(caught.value)
    assert set(engines.PARENT.glob("dte-badconfig-*")) == before


@pytest.mark.docker
@pytest.mark.slow
def test_an_image_missing_on_the_source_is_named_and_the_engine_removed() -> None:
    """Copying an image the system engine lacks fails with its name; nothing is left behind."""
    before = set(engines.PARENT.glob("dte-noimage-*"))
    with pytest.raises((EngineError, EngineSkip)) as caught:
        start_engine(EngineOptions(label="noimage", images=("no-such-image-dtt",), runsc=False))
    if caught.type is EngineSkip:
        pytest.skip(str(caught.value))
    assert "'no-such-image-dtt' is not on the source engine" in str(caught.value)
    assert set(engines.PARENT.glob("dte-noimage-*")) == before
    assert not list(Path("/sys/fs/cgroup").glob("*/dte-noimage-*"))


def test_requirements_are_named_when_missing(mocker: MockerFixture) -> None:
    """Not root, no dockerd or no runsc: the reason says which, so the skip is clear."""
    absent: set[str] = set()
    mocker.patch("tests.engines.shutil.which",
                 side_effect=lambda name: None if name in absent else f"/usr/bin/{name}")
    mocker.patch("tests.engines.os.access", return_value=False)  # no runsc at the usual paths
    mocker.patch("tests.engines.os.geteuid", return_value=1000)
    assert "needs root" in (missing(EngineOptions()) or "")
    mocker.patch("tests.engines.os.geteuid", return_value=0)
    assert missing(EngineOptions()) is None
    absent.add("dockerd")
    assert "dockerd is not installed" in (missing(EngineOptions()) or "")
    absent.clear()
    absent.add("runsc")
    assert missing(EngineOptions()) is None  # gVisor is optional unless asked for
    assert "runsc is not installed" in (missing(EngineOptions(runsc=True)) or "")
    assert "runsc is not installed" in (missing(EngineOptions(default_runtime="runsc")) or "")
    absent.add("docker")
    assert "docker CLI" in (missing(EngineOptions()) or "")
    assert missing(EngineOptions(images=())) is None


# -- the deployment uses the profile ----------------------------------------------------------


def test_the_compose_sandbox_engine_is_built_with_the_hardened_profile() -> None:
    """docker-compose's sandbox builds deploy/sandbox: dind + runsc + the profile as daemon.json."""
    root = REPO_ROOT
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    sandbox = compose["services"]["sandbox"]
    assert sandbox["build"] == "./deploy/sandbox"
    assert sandbox.get("privileged") is True  # Docker-in-Docker needs it; learners never get it
    dockerfile = (root / "deploy" / "sandbox" / "Dockerfile").read_text()
    assert re.search(r"^FROM docker:\d+-dind$", dockerfile, re.M)
    assert "COPY daemon.json /etc/docker/daemon.json" in dockerfile
    assert "install -m 0755 runsc /usr/bin/runsc" in dockerfile
    assert "sha512sum -c" in dockerfile
    documented = profile()
    assert documented["userns-remap"] == "default"
    assert documented["runtimes"]["runsc"]["path"] == "/usr/bin/runsc"
    assert documented["no-new-privileges"] is True
    assert documented["bridge"] == "none" and documented["iptables"] is False
    # dind's entrypoint passes --host and the TLS flags: the same settings in daemon.json
    # would make dockerd refuse to start.
    assert not {"hosts", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey"} & set(documented)


# -- the tutor itself on the hardened engine --------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_the_tutor_teaches_the_challenge_on_the_hardened_engine(
    hardened: Engine, runtime: str, tmp_path: Path
) -> None:
    """Through the tutor (`TUTOR_RUNTIME`): the workspace, the kernel, and the challenge confirmed."""
    from bot.config import Settings
    from bot.identity import Person
    from bot.lessons.model import Catalog
    from bot.progress import ProgressStore
    from bot.reply import Event
    from bot.sandbox.engine.sandbox import Sandbox
    from bot.sandbox.pool.janitor import purge_prefix
    from bot.tutor.core import Tutor
    from tests.check_helpers import CHALLENGE_SOLUTION, CHALLENGE_VALUE, to_challenge

    root = REPO_ROOT
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'tutor.db'}",
                        docker_host=hardened.docker_host, lessons_dir=root / "lessons",
                        namespace="dth" + secrets.token_hex(3), offline=True,
                        runtime=runtime if runtime != "runc" else None)
    catalog = Catalog(settings.lessons_dir)
    store = ProgressStore(settings.database_url)
    sandbox = Sandbox(settings, allowed_images=catalog.images)
    tutor = Tutor(settings, store, sandbox, catalog)
    ada = Person("console", "ada-" + secrets.token_hex(3), "Ada")
    try:
        kernel = tutor.handle(ada, "docker run --rm busybox dmesg").text()
        assert ("Starting gVisor" in kernel) == (runtime == "runsc")
        tutor.handle(ada, "edit notes.txt written by the tutor")
        shown = tutor.handle(ada, "docker run --rm -v $(pwd):/app busybox cat /app/notes.txt")
        assert "written by the tutor" in shown.text()
        made = tutor.handle(
            ada, "docker run --rm -v $(pwd):/app busybox sh -c 'echo x > /app/m; stat -c %u /app/m'")
        assert made.text().strip().splitlines()[0] == "0"  # root inside; the engine maps it
        to_challenge(tutor, ada)
        replies = [tutor.handle(ada, line) for line in CHALLENGE_SOLUTION]
        assert CHALLENGE_VALUE in replies[-1].text()
        assert any(Event.CHALLENGE_COMPLETED in r.events for r in replies)
        if runtime == "runsc":
            engine_client = hardened.client()
            selector = {"label": f"docker-tutor.namespace={settings.namespace}"}
            ours = engine_client.containers.list(filters=selector)
            assert ours and all(c.attrs["HostConfig"]["Runtime"] == "runsc" for c in ours)
            engine_client.close()
    finally:
        engine_client = hardened.client()
        purge_prefix(engine_client, settings.namespace)
        engine_client.close()
        sandbox.close()
        store.close()
