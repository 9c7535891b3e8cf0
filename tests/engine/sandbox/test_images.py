"""Tests of the lesson images: the offline build, and that redis behaves like the real one.

The engine tests build (or reuse) ``redis:latest`` and ``busybox:latest`` and leave them
for other tests; every container and volume they create carries ``docker-tutor.test=1``
and is removed by the ``lab`` fixture, also when a test fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from bot.errors import EngineUnavailable, ImageUnavailable
from bot.sandbox.images import host_files, rootfs
from bot.sandbox.images import lesson_images as images
from bot.sandbox.images.lesson_images import IMAGES, ImageReport, ensure_images

TEST_LABEL = {"docker-tutor.test": "1"}
NIL_WITHOUT_TTY = b"\n"  # what `redis-cli get missingkey` prints when stdout is no tty


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    """The real engine; the engine tests are skipped when it cannot be reached."""
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def built(client: docker.DockerClient) -> list[ImageReport]:
    """Both lesson images, built offline when missing (never pulled)."""
    return ensure_images(client, ["redis", "busybox"], pull=False, log=lambda line: None)


class Lab:
    """Creates labelled containers and volumes and remembers them for removal."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.containers: list[Any] = []
        self.volumes: list[Any] = []

    def volume(self) -> Any:
        """A fresh named volume."""
        volume = self.client.volumes.create(
            name=f"dt-test-{uuid.uuid4().hex[:12]}", labels=TEST_LABEL
        )
        self.volumes.append(volume)
        return volume

    def start(self, image: str, command: list[str] | None = None, volume: Any = None) -> Any:
        """Create and start a container of ``image`` without network, ``volume`` at /data."""
        container = self.client.containers.create(
            image,
            command,
            labels=TEST_LABEL,
            network_mode="none",
            volumes={volume.name: {"bind": "/data", "mode": "rw"}} if volume else None,
        )
        self.containers.append(container)
        container.start()
        return container

    def redis(self, volume: Any = None, *args: str) -> Any:
        """A running redis container that answers PING; ``args`` go to the entrypoint."""
        container = self.start("redis:latest", list(args) or None, volume)
        deadline = time.monotonic() + 20
        while container.exec_run(["redis-cli", "ping"]).output != b"PONG\n":
            if time.monotonic() > deadline:
                raise AssertionError(container.logs().decode(errors="replace"))
            time.sleep(0.05)
        return container

    def output(self, image: str, command: list[str] | None = None) -> bytes:
        """Run a container to its end and return its output (stdout and stderr)."""
        container = self.start(image, command)
        assert container.wait(timeout=30)["StatusCode"] == 0
        return bytes(container.logs())

    def remove_all(self) -> None:
        """Remove every container (with its anonymous volumes), then every volume."""
        for container in self.containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for volume in self.volumes:
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)


@pytest.fixture
def lab(client: docker.DockerClient, built: list[ImageReport]) -> Iterator[Lab]:
    """A Lab whose containers and volumes are removed after the test, pass or fail."""
    made = Lab(client)
    try:
        yield made
    finally:
        made.remove_all()


def cli(container: Any, *args: str, tty: bool = False) -> bytes:
    """Run ``redis-cli args`` in ``container`` and return its output."""
    result = container.exec_run(["redis-cli", *args], tty=tty)
    assert result.exit_code == 0, result.output
    return bytes(result.output)


# --- building -----------------------------------------------------------------------


@pytest.mark.docker
def test_ensure_images_provides_both_images(
    client: docker.DockerClient, built: list[ImageReport]
) -> None:
    """Both lesson images end up on the engine with the official images' metadata."""
    assert [(report.name, report.tag) for report in built] == [
        ("redis", "redis:latest"),
        ("busybox", "busybox:latest"),
    ]
    assert {report.action for report in built} <= {"present", "built"}
    redis = client.images.get("redis:latest")
    config = redis.attrs["Config"]
    assert config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert config["Cmd"] == ["redis-server"]
    assert config["Volumes"] == {"/data": {}}
    assert config["WorkingDir"] == "/data"
    assert "6379/tcp" in config["ExposedPorts"]
    assert client.images.get("redis:7").id == redis.id
    assert client.images.get("busybox:latest").attrs["Config"]["Cmd"] == ["sh"]


@pytest.mark.docker
def test_ensure_images_is_idempotent(client: docker.DockerClient, built: list[ImageReport]) -> None:
    """A second call finds every image present and builds nothing."""
    lines: list[str] = []
    again = ensure_images(client, ["redis", "busybox", "redis:7"], pull=False, log=lines.append)
    assert [(report.tag, report.action) for report in again] == [
        ("redis:latest", "present"),
        ("busybox:latest", "present"),
        ("redis:7", "present"),
    ]
    assert lines == ["redis:latest: present", "busybox:latest: present", "redis:7: present"]


@pytest.mark.docker
def test_offline_build_tags_every_alias_and_labels_the_image(
    client: docker.DockerClient, built: list[ImageReport], mocker: Any
) -> None:
    """A missing image is built offline under all its tags, labelled, in a few seconds."""
    name = f"dt-test-redis-{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(IMAGES["redis"], name=name, tags=(f"{name}:latest", f"{name}:7"))
    mocker.patch.dict(IMAGES, {name: spec})
    try:
        (report,) = ensure_images(client, [name], pull=False, log=lambda line: None)
        assert (report.tag, report.action) == (f"{name}:latest", "built")
        assert report.seconds < 60
        image = client.images.get(f"{name}:latest")
        assert image.labels[images.BUILD_LABEL] == "offline-build"
        assert client.images.get(f"{name}:7").id == image.id
    finally:
        for tag in spec.tags:
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(tag)


# --- redis behaves like the official image ------------------------------------------


@pytest.mark.docker
def test_redis_runs_with_builtin_defaults_as_the_redis_user(lab: Lab) -> None:
    """redis-server is PID 1, runs as uid 999 with no config file and the default save."""
    redis = lab.redis()
    assert cli(redis, "config", "get", "save") == b"save\n3600 1 300 100 60 10000\n"
    assert cli(redis, "config", "get", "appendonly") == b"appendonly\nno\n"
    assert cli(redis, "config", "get", "dir") == b"dir\n/data\n"
    assert cli(redis, "config", "get", "protected-mode") == b"protected-mode\nno\n"
    assert cli(redis, "info", "server").count(b"config_file:\r\n") == 1
    status = redis.exec_run(["cat", "/proc/1/status"]).output.decode()
    assert "Name:\tredis-server" in status
    assert "Uid:\t999\t999\t999\t999" in status


@pytest.mark.docker
def test_stop_saves_the_data_in_the_volume(lab: Lab) -> None:
    """After a graceful stop (SIGTERM) a new container on the same volume reads the key."""
    volume = lab.volume()
    first = lab.redis(volume)
    assert cli(first, "set", "k", "v") == b"OK\n"
    first.stop(timeout=10)
    second = lab.redis(volume)
    assert cli(second, "get", "k") == b"v\n"


@pytest.mark.docker
@pytest.mark.parametrize("how", ["kill", "remove_force"])
def test_kill_right_after_set_loses_the_key(lab: Lab, how: str) -> None:
    """The trap: killed right after SET, redis never snapshots, so the key is gone."""
    volume = lab.volume()
    first = lab.redis(volume)
    assert cli(first, "set", "k", "v") == b"OK\n"
    if how == "kill":
        first.kill()
    else:
        first.remove(force=True)
    second = lab.redis(volume)
    assert cli(second, "get", "k") == NIL_WITHOUT_TTY
    assert second.exec_run(["ls", "-A", "/data"]).output == b""


@pytest.mark.docker
def test_appendonly_via_entrypoint_survives_a_kill(lab: Lab) -> None:
    """`docker run redis --appendonly yes` runs redis-server with AOF, which survives kill."""
    volume = lab.volume()
    first = lab.redis(volume, "--appendonly", "yes")
    assert cli(first, "config", "get", "appendonly") == b"appendonly\nyes\n"
    assert cli(first, "set", "k", "v") == b"OK\n"
    first.kill()
    second = lab.redis(volume, "--appendonly", "yes")
    assert cli(second, "get", "k") == b"v\n"


@pytest.mark.docker
def test_redis_image_runs_shell_commands(lab: Lab) -> None:
    """A command that is not an option replaces redis-server: `sh -c` and redis-cli work."""
    out = lab.output(
        "redis:latest", ["sh", "-c", "echo $((6*7)); id -un; redis-cli --version | cut -c1-10"]
    )
    assert out == b"42\nroot\nredis-cli \n"


@pytest.mark.docker
def test_busybox_image_has_a_shell_and_applets(lab: Lab) -> None:
    """The busybox image runs applets by name, with a writable sticky /tmp."""
    assert lab.output("busybox:latest", ["echo", "hi"]) == b"hi\n"
    out = lab.output("busybox:latest", ["sh", "-c", "stat -c %a /tmp; touch /tmp/x; ls /tmp"])
    assert out == b"1777\nx\n"


@pytest.mark.docker
def test_redis_cli_output_depends_on_the_tty(lab: Lab) -> None:
    """Without a tty redis-cli prints raw replies; with one it prints the decorated form."""
    redis = lab.redis()
    assert cli(redis, "get", "missingkey") == b"\n"
    assert cli(redis, "get", "missingkey", tty=True) == b"(nil)\r\n"
    assert cli(redis, "set", "k", "v") == b"OK\n"
    assert cli(redis, "set", "k", "v", tty=True) == b"OK\r\n"
    assert cli(redis, "get", "k") == b"v\n"
    assert cli(redis, "get", "k", tty=True) == b'"v"\r\n'


# --- failures, with a fake engine ---------------------------------------------------


def fake_client(mocker: Any) -> Any:
    """A DockerClient stand-in on which every image is missing and pulling fails."""
    client = mocker.MagicMock(name="client")
    client.images.get.side_effect = docker.errors.ImageNotFound("No such image")
    client.images.pull.side_effect = docker.errors.APIError("registry-1.docker.io: no such host")
    client.version.return_value = {"Arch": images._ENGINE_ARCH.get(platform.machine(), "amd64")}
    return client


def test_unavailable_when_pull_fails_and_apt_cannot_help(mocker: Any) -> None:
    """No registry, no binaries and no apt-get: ImageUnavailable says what and how."""
    client = fake_client(mocker)
    mocker.patch.object(host_files, "_find_binary", return_value=None)
    mocker.patch.object(host_files, "_apt_get", return_value=None)
    lines: list[str] = []
    with pytest.raises(ImageUnavailable) as caught:
        ensure_images(client, ["redis"], pull=True, log=lines.append)
    text = str(caught.value)
    assert "redis:latest" in text
    assert "redis-server" in text
    assert "redis-tools" in text
    assert "no such host" in text
    assert "apt-get" in text
    assert "docker pull redis" in text
    client.images.pull.assert_called_once_with("redis", tag="latest")
    client.images.build.assert_not_called()
    assert any("pull failed" in line for line in lines)


def test_pull_success_is_reported_and_nothing_is_built(mocker: Any) -> None:
    """When the registry answers, the image is pulled, not built."""
    client = fake_client(mocker)
    client.images.pull.side_effect = None
    (report,) = ensure_images(client, ["busybox"], pull=True, log=lambda line: None)
    assert (report.name, report.tag, report.action) == ("busybox", "busybox:latest", "pulled")
    client.images.build.assert_not_called()


def test_failed_build_becomes_image_unavailable(mocker: Any) -> None:
    """A docker BuildError never escapes: it becomes ImageUnavailable with the log tail."""
    client = fake_client(mocker)
    client.images.build.side_effect = docker.errors.BuildError(
        "COPY failed", [{"stream": "Step 2/9 : COPY rootfs/ /"}, {"error": "COPY failed"}]
    )
    mocker.patch.object(host_files, "provide_files", return_value={})
    mocker.patch.object(rootfs, "assemble")
    with pytest.raises(ImageUnavailable, match="offline build of busybox:latest failed") as caught:
        ensure_images(client, ["busybox"], pull=False, log=lambda line: None)
    assert caught.value.hint is not None
    assert "COPY failed" in caught.value.hint


def test_engine_failure_becomes_engine_unavailable(mocker: Any) -> None:
    """An unreachable engine raises EngineUnavailable, not a docker or requests error."""
    client = fake_client(mocker)
    client.images.get.side_effect = docker.errors.DockerException("connection refused")
    with pytest.raises(EngineUnavailable, match="connection refused"):
        ensure_images(client, ["redis"], pull=False, log=lambda line: None)


def test_unknown_image_name_is_refused(mocker: Any) -> None:
    """A name that is no lesson image is refused with the list of known tags."""
    with pytest.raises(ImageUnavailable, match="no lesson image called 'postgres'") as caught:
        ensure_images(fake_client(mocker), ["postgres"], pull=True, log=lambda line: None)
    assert caught.value.hint is not None
    assert "redis:7" in caught.value.hint


def test_missing_binaries_are_installed_with_apt_get(mocker: Any) -> None:
    """As root with apt-get, missing packages are installed, after `apt-get update` if needed."""
    found: dict[str, Path] = {}
    mocker.patch.object(
        host_files, "_find_binary", side_effect=lambda candidates: found.get(candidates[0])
    )
    mocker.patch.object(host_files, "_apt_get", return_value="/usr/bin/apt-get")
    failed = mocker.MagicMock(returncode=100, stderr="E: Unable to locate package busybox-static")
    done = mocker.MagicMock(returncode=0, stderr="")

    def run(command: list[str], env: Any) -> Any:
        if command[1] == "update":
            found["/bin/busybox"] = Path("/bin/busybox")
            return done
        return done if found else failed

    runner = mocker.patch.object(host_files, "_run", side_effect=run)
    host = host_files.provide_files([IMAGES["busybox"]], {}, log=lambda line: None)
    assert host == {"/usr/bin/busybox": Path("/bin/busybox")}
    assert [call.args[0][1] for call in runner.call_args_list] == ["install", "update", "install"]
    install = runner.call_args_list[0].args[0]
    assert install[2:] == ["-y", "--no-install-recommends", "busybox-static"]
    assert runner.call_args_list[0].args[1]["DEBIAN_FRONTEND"] == "noninteractive"
