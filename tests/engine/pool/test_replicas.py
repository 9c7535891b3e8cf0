"""Two `docker-tutor serve` processes on one database serve the same class.

Each test starts two real serve processes (HTTP mode) sharing one database (the suite's
SQLite file, or a PostgreSQL schema in CI's second pass) and one fake Slack, and sends
signed requests for the same learner to both.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from bot.config import Settings
from bot.identity import Person
from bot.progress import ProgressStore
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.pool.janitor import purge_prefix
from tests.fake_slack import FakeSlack
from tests.slack_helpers import SECRET, TOKEN, SlackSender

pytestmark = pytest.mark.docker

USER = "U0REPLICA"


def free_port() -> int:
    """A TCP port on loopback that nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    """One serve process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path


@dataclass
class Class:
    """Two replicas, the fake Slack they talk to, and the shared database."""

    a: SlackSender
    b: SlackSender
    fake: FakeSlack
    database_url: str
    namespace: str


def _start(port: int, env: dict[str, str], log: Path) -> Replica:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env={**env, "PORT": str(port)},
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return Replica(process, base + "/slack/events", log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"serve did not come up: {log.read_text()[-2000:]}")


@pytest.fixture
def replicas(settings: Settings, tmp_path: Path,
             docker_client: docker.DockerClient) -> Iterator[Class]:
    """Two serve processes on one database; everything they made is removed afterwards."""
    namespace = settings.namespace + "r"
    ProgressStore(settings.database_url).close()  # migrate once, as a deployment would
    with FakeSlack() as fake:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url,
            "DATABASE_URL": settings.database_url,
            "TUTOR_NAMESPACE": namespace,
            "TUTOR_DATA_DIR": str(tmp_path / "data"),
            "TUTOR_REAP_INTERVAL_SECONDS": "3600",
        }
        env.pop("SLACK_APP_TOKEN", None)
        started = [_start(free_port(), env, tmp_path / f"replica-{n}.log") for n in "ab"]
        try:
            yield Class(SlackSender(started[0].url, fake), SlackSender(started[1].url, fake),
                        fake, settings.database_url, namespace)
        finally:
            for replica in started:
                replica.process.send_signal(signal.SIGTERM)
            for replica in started:
                try:
                    replica.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
            purge_prefix(docker_client, namespace)


def history(database_url: str) -> list[str]:
    """The learner's logged docker commands, oldest first."""
    store = ProgressStore(database_url)
    try:
        return [e.text for e in store.history(Person("slack", USER), kind="docker")]
    finally:
        store.close()


def test_a_retry_sent_to_the_other_replica_runs_once(
    replicas: Class, docker_client: docker.DockerClient
) -> None:
    """The same DM event delivered to both replicas at once creates one container."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def deliver(sender: SlackSender, retry: str) -> None:
        barrier.wait()
        sent = sender.dm("docker run -d --name once busybox sleep 300", user=USER,
                         event_id="Ev0SAMEEVENT",
                         headers={"X-Slack-Retry-Num": retry} if retry else None)
        statuses.append(sent.status)

    threads = [threading.Thread(target=deliver, args=(replicas.a, "")),
               threading.Thread(target=deliver, args=(replicas.b, "1"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200]
    replicas.fake.wait_for("chat.postMessage", timeout=30)
    time.sleep(1.0)  # a second run, if any, would have posted by now
    selector = {"label": [f"{LABEL_NAMESPACE}={replicas.namespace}"]}
    containers = docker_client.containers.list(all=True, filters=selector)
    assert len(containers) == 1
    assert history(replicas.database_url) == ["docker run -d --name once busybox sleep 300"]
    assert len(replicas.fake.calls("chat.postMessage")) == 1


def test_progress_and_commands_survive_alternating_replicas(
    replicas: Class, docker_client: docker.DockerClient
) -> None:
    """Lesson steps and commands sent to both replicas in turn are all kept, each once."""
    senders = [replicas.a, replicas.b]
    for n, word in enumerate(["start data-persistence", "next", "next", "next"]):
        sent = senders[n % 2].command("/tutor", word, user=USER)
        assert sent.status == 200
        replicas.fake.wait_for_response(sent.response_url, timeout=30)
    store = ProgressStore(replicas.database_url)
    try:
        state = store.lesson_state(Person("slack", USER), "data-persistence")
        assert state is not None and state.current_step == "bind-mounts"
        assert state.completed("intro")  # a reading step counts as done once moved past
    finally:
        store.close()

    # Six commands for one learner, fired at both replicas at once.
    names = [f"v{n}-{secrets.token_hex(2)}" for n in range(6)]
    sent_all = []
    lock = threading.Lock()

    def fire(n: int) -> None:
        sent = senders[n % 2].command("/docker", f"volume create {names[n]}", user=USER)
        with lock:
            sent_all.append(sent)

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [s.status for s in sent_all] == [200] * 6
    for sent in sent_all:
        replicas.fake.wait_for_response(sent.response_url, timeout=60)
    selector = {"label": [f"{LABEL_NAMESPACE}={replicas.namespace}"]}
    volumes = docker_client.volumes.list(filters=selector)
    assert len(volumes) == 6
    logged = history(replicas.database_url)
    assert sorted(logged) == sorted(f"docker volume create {name}" for name in names)
