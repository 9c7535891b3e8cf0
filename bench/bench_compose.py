"""A class bringing a two-service Compose app up and down: the tutor against the docker CLI.

Each of N learners (12; 4 with ``--quick``), at once, in their own thread: ``docker compose
up -d`` then ``docker compose down`` through the whole tutor (parse, vetting of every
service's ``docker run``, the engine API, the progress log), on a ``compose.yaml`` written
beforehand with ``edit`` (untimed): a Redis with a named volume and a busybox, on the
project's network. The same class then does it with the ``docker`` CLI.

This machine has no ``docker compose`` plugin (``docker compose version`` fails), so the
CLI side is the lines Compose itself would run, with the tutor's limits:
``docker network create --internal``, ``docker volume create``, two ``docker run -d``
(``--network``, ``--network-alias``, the labels), then ``docker rm -f`` of both and
``docker network rm``. Each step is its own CLI process, as a learner typing them would
start. The ratio is tutor / CLI for the learner's up, their down and the class's wall time.
"""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable

import docker

import bench
from bench.bench_engine import CLI_LIMITS
from bot.config import Limits, Settings
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.pool.janitor import purge_prefix
from bot.tutor.core import Tutor

COMPOSE = ("{services: {cache: {image: redis, volumes: ['data:/data']}, "
           "web: {image: busybox, command: sleep 600, depends_on: [cache]}}, "
           "volumes: {data: {}}}")
"""The class's ``compose.yaml``: two services, the project network, one named volume."""


def _cli_lines(prefix: str, learner: int) -> tuple[list[list[str]], list[list[str]]]:
    """What Compose would run for one learner's project, as docker CLI lines (up, down)."""
    p = f"{prefix}-l{learner}"
    label = ["--label", f"{LABEL_NAMESPACE}={prefix}", "--label", f"com.docker.compose.project={p}"]
    up = [
        ["network", "create", "--internal", *label, f"{p}_default"],
        ["volume", "create", *label, f"{p}_data"],
        ["run", "-d", "--name", f"{p}-cache-1", *label, *CLI_LIMITS[2:], "--network",
         f"{p}_default", "--network-alias", "cache", "-v", f"{p}_data:/data", "redis"],
        ["run", "-d", "--name", f"{p}-web-1", *label, *CLI_LIMITS[2:], "--network",
         f"{p}_default", "--network-alias", "web", "busybox", "sleep", "600"],
    ]
    down = [["rm", "-f", "-v", f"{p}-web-1", f"{p}-cache-1"], ["network", "rm", f"{p}_default"]]
    return up, down


def _cli(lines: list[list[str]]) -> None:
    for line in lines:
        subprocess.run(["docker", *line], check=True, capture_output=True, timeout=120)


def _class(n: int, up: Callable[[int], object], down: Callable[[int], object]
           ) -> tuple[list[float], list[float], float, int]:
    """N learners at once: each `up` then `down`; (up seconds, down seconds, wall, errors)."""
    ups: list[float] = []
    downs: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def learner(i: int) -> None:
        try:
            t0 = time.perf_counter()
            up(i)
            t1 = time.perf_counter()
            down(i)
            t2 = time.perf_counter()
            with lock:
                ups.append(t1 - t0)
                downs.append(t2 - t1)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ups, downs, time.perf_counter() - start, len(errors)


def run(session: bench.BenchSession) -> None:
    """A class through the tutor, then the same class with the CLI; medians and ratios."""
    prefix = "dtbc" + secrets.token_hex(2)
    settings = Settings(
        database_url=session.database_url or f"sqlite:///{session.scratch / 'compose.db'}",
        namespace=prefix, limits=Limits(commands_per_minute=1_000_000))
    catalog = Catalog(settings.lessons_dir)
    tutor = Tutor(settings, ProgressStore(settings.database_url),
                  Sandbox(settings, allowed_images=catalog.images), catalog)
    n = 4 if session.quick else 12
    people = [Person("bench", f"compose-{i}") for i in range(n)]
    compose_plugin = shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    client = docker.from_env()
    load = os.getloadavg()
    session.note(f"Load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} at the start on "
                 "this shared 2-core machine: both sides see it alike, the ratio is the figure.")

    def tutor_up(i: int) -> None:
        reply = tutor.handle(people[i], "docker compose up -d")
        assert "app-web-1  Started" in str(reply), reply

    def tutor_down(i: int) -> None:
        reply = tutor.handle(people[i], "docker compose down")
        assert "Network app_default  Removed" in str(reply), reply

    try:
        for person in people:
            tutor.handle(person, f"edit compose.yaml {COMPOSE}")
        tutor_up(0)  # warm-up: images and the first workspace read
        tutor_down(0)
        t_up, t_down, t_wall, t_err = _class(n, tutor_up, tutor_down)
        cli = {i: _cli_lines(prefix, i) for i in range(n)}
        _cli(cli[0][0])
        _cli(cli[0][1])
        c_up, c_down, c_wall, c_err = _class(n, lambda i: _cli(cli[i][0]),
                                             lambda i: _cli(cli[i][1]))
    finally:
        purge_prefix(client, prefix)
        for person in people:
            tutor.sandbox.remove_all(person)
        client.close()
        tutor.close()
    session.results.append(bench.Measurement(
        session.suite, f"tutor `compose up -d`, {n} learners at once", t_up,
        notes=f"ratio tutor/CLI {statistics.median(t_up) / statistics.median(c_up):.2f}"))
    session.results.append(bench.Measurement(
        session.suite, f"CLI equivalent of `compose up -d`, {n} learners", c_up))
    session.results.append(bench.Measurement(
        session.suite, f"tutor `compose down`, {n} learners at once", t_down,
        notes=f"ratio tutor/CLI {statistics.median(t_down) / statistics.median(c_down):.2f}"))
    session.results.append(bench.Measurement(
        session.suite, f"CLI equivalent of `compose down`, {n} learners", c_down))
    session.note(f"{n} learners at once, each `docker compose up -d` then `docker compose down` "
                 f"of a Redis (named volume) and a busybox on the project network; errors: "
                 f"tutor {t_err}, CLI {c_err}.")
    session.note(f"Class wall time: tutor {t_wall:.1f} s, CLI {c_wall:.1f} s, ratio "
                 f"{t_wall / c_wall:.2f}; per learner p50 up {statistics.median(t_up) * 1000:.0f} "
                 f"vs {statistics.median(c_up) * 1000:.0f} ms, down "
                 f"{statistics.median(t_down) * 1000:.0f} vs "
                 f"{statistics.median(c_down) * 1000:.0f} ms.")
    session.note("docker compose plugin: " + (
        "installed, but the CLI side still runs the equivalent lines" if compose_plugin else
        "not installed on this machine, so the CLI side is the equivalent `docker network "
        "create --internal` + `docker volume create` + 2 `docker run -d` (+ `docker rm -f`, "
        "`docker network rm`) lines, one process each, with the tutor's limits."))
