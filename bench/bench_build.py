"""A class building at once: the tutor's ``docker build`` against the docker CLI's, same engine.

Each of the class's learners builds a small two-step image (``FROM busybox``, a ``RUN``,
a ``CMD``) from their workspace at the same moment, through the sandbox (classic builder,
vetted and pinned Dockerfile, labels after ``FROM``, learner limits, at most
``BUILD_SLOTS`` builds at once per process). Then as many ``DOCKER_BUILDKIT=0 docker build``
processes build the same Dockerfile from folders on this host, with the same limits
(``--network none``, memory, CPU quota, ``--force-rm``). Each build's wall time is
recorded; the figures are p50 and p95 over the class, and their ratio tutor/CLI.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker

import bench
from bot.config import Settings
from bot.identity import Person
from bot.sandbox.engine.build import BUILD_SLOTS
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import purge_prefix

DOCKERFILE = 'FROM busybox\nRUN echo "built for learner {n}" > /x\nCMD ["cat", "/x"]\n'


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _at_once(count: int, work: Callable[[int], None]) -> list[float]:
    """Run ``work(i)`` in ``count`` threads released together; each one's seconds."""
    gate = threading.Barrier(count)
    seconds = [0.0] * count

    def one(i: int) -> None:
        gate.wait()
        start = time.perf_counter()
        work(i)
        seconds[i] = time.perf_counter() - start

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seconds


def run(session: bench.BenchSession) -> None:
    """Time a class of learners building at once, through the tutor and through the CLI."""
    count = 6 if session.quick else 20
    prefix = "dtb" + secrets.token_hex(3)
    settings = Settings(database_url="sqlite://", namespace=prefix)
    sandbox = Sandbox(settings, allowed_images=["busybox"])
    people = [Person("bench", f"builder-{i}") for i in range(count)]
    label = f"docker-tutor-bench={prefix}"
    limits = settings.limits
    client = docker.from_env()
    failures: list[str] = []
    try:
        for i, person in enumerate(people):
            sandbox.write_workspace_file(person, "Dockerfile", DOCKERFILE.format(n=i))

        def tutor_build(i: int) -> None:
            out = sandbox.run_command(people[i], parse("docker build --no-cache -t app ."))
            if out.exit_code != 0:
                failures.append(out.output[-300:])

        tutor = _at_once(count, tutor_build)
        folders = []
        for i in range(count):
            folder = session.scratch / f"ctx{i}"
            folder.mkdir()
            (folder / "Dockerfile").write_text(DOCKERFILE.format(n=i), encoding="utf-8")
            folders.append(folder)

        def cli_build(i: int) -> None:
            done = subprocess.run(
                ["docker", "build", "-q", "--no-cache", "--network", "none", "--force-rm",
                 "--memory", str(limits.memory_bytes), "--memory-swap", str(limits.memory_bytes),
                 "--cpu-period", "100000", "--cpu-quota", str(limits.nano_cpus // 10_000),
                 "--label", label, "-t", f"{prefix}-cli-{i}", str(Path(folders[i]))],
                env={**os.environ, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True,
                check=False)
            if done.returncode != 0:
                failures.append(done.stderr[-300:])

        cli = _at_once(count, cli_build)
    finally:
        purge_prefix(client, prefix)
        for i in range(count):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(f"{prefix}-cli-{i}", force=True)
        client.close()
        sandbox.close()
    assert not failures, failures
    for who, seconds in (("tutor", tutor), ("CLI", cli)):
        session.results.append(bench.Measurement(
            session.suite, f"{who} `docker build`, {count} learners at once", seconds))
    p50 = statistics.median(tutor) / statistics.median(cli)
    p95 = _percentile(tutor, 0.95) / _percentile(cli, 0.95)
    session.note(
        f"{count} builds released together. tutor p50 {statistics.median(tutor):.2f} s, "
        f"p95 {_percentile(tutor, 0.95):.2f} s; CLI p50 {statistics.median(cli):.2f} s, "
        f"p95 {_percentile(cli, 0.95):.2f} s; ratio tutor/CLI p50 {p50:.2f}, p95 {p95:.2f}. "
        f"The tutor runs at most {BUILD_SLOTS} builds at once per process (the rest wait); "
        "its build also reads the workspace through a helper container, pins FROM and adds "
        "a LABEL step.")
