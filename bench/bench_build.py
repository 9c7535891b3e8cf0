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
from collections.abc import Callable, Iterator
from pathlib import Path

import docker

import bench
from bot.config import Settings
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import purge_prefix
from bot.sandbox.resources.build import BUILD_SLOTS

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
    """The builders compared, then a class of learners building at once (tutor and CLI)."""
    run_builders(session)
    run_class(session)


def run_class(session: bench.BenchSession) -> None:
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

        tutor: list[float] = []
        cli: list[float] = []
        for _ in range(2 if not session.quick else 1):  # alternate: the engine is shared
            tutor += _at_once(count, tutor_build)
            cli += _at_once(count, cli_build)
    finally:
        purge_prefix(client, prefix)
        for image in client.api.images(all=True, filters={"label": [label]}):
            for ref in [*(t for t in image.get("RepoTags") or [] if t != "<none>:<none>"),
                        image["Id"]]:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_image(ref, force=True)
        client.close()
        sandbox.close()
    assert not failures, failures
    for who, seconds in (("tutor", tutor), ("CLI", cli)):
        session.results.append(bench.Measurement(
            session.suite, f"{who} `docker build`, {count} learners at once (x2 rounds)",
            seconds))
    p50 = statistics.median(tutor) / statistics.median(cli)
    p95 = _percentile(tutor, 0.95) / _percentile(cli, 0.95)
    session.note(
        f"{count} builds released together, tutor and CLI rounds alternated twice. "
        f"tutor p50 {statistics.median(tutor):.2f} s, "
        f"p95 {_percentile(tutor, 0.95):.2f} s; CLI p50 {statistics.median(cli):.2f} s, "
        f"p95 {_percentile(cli, 0.95):.2f} s; ratio tutor/CLI p50 {p50:.2f}, p95 {p95:.2f}. "
        f"The tutor runs at most {BUILD_SLOTS} builds at once per process (the rest wait); "
        "its build also reads the workspace through a helper container, pins FROM and adds "
        "a LABEL step.")


PROBE = ("FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
         "&& echo {marker}\n")


def _context(marker: str) -> bytes:
    import io
    import tarfile

    data = PROBE.format(marker=marker).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _api_build(client: docker.DockerClient, version: str, tag: str, marker: str) -> str:
    """One build through the engine API (1: classic, 2: BuildKit); its raw output."""
    import json

    api = client.api
    response = api._post(api._url("/build"), params={
        "version": version, "t": tag, "nocache": 1, "rm": 1, "forcerm": 1,
        "networkmode": "none", "memory": 64 * 2**20, "memswap": 64 * 2**20,
    }, data=_context(marker), headers={"Content-Type": "application/x-tar"}, stream=True)
    text = []
    for line in response.iter_lines():
        event = json.loads(line)
        if "stream" in event:
            text.append(str(event["stream"]))
        elif event.get("id") == "moby.buildkit.trace":
            import base64

            text.append(base64.b64decode(event["aux"]).decode("latin-1"))
        elif "error" in event:
            raise RuntimeError(event["error"])
    return "".join(text)


def run_builders(session: bench.BenchSession) -> None:
    """The classic builder against BuildKit, through the same API call on this engine."""
    import json

    client = docker.from_env()
    runs = 3 if session.quick else 7
    prefix = "dtbk" + secrets.token_hex(3)
    before = {b["ID"] for b in client.api.df().get("BuildCache") or []}
    limits: dict[str, str] = {}
    try:
        for version, name in (("1", "classic"), ("2", "BuildKit")):
            counter = iter(range(1000))

            def build(version: str = version, name: str = name,
                      count: Iterator[int] = counter) -> str:
                n = next(count)
                return _api_build(client, version, f"{prefix}-{name.lower()}:{n}",
                                  f"{prefix}-{n}")

            out = session.time(f"{name} builder, 2-step build, no cache (API)", build,
                               runs=runs, memory=False)
            limits[name] = "64 MiB" if str(64 * 2**20) in out else "unlimited"
    finally:
        for image in client.api.images(all=True):
            for tag in image.get("RepoTags") or []:
                if tag.startswith(prefix):
                    with contextlib.suppress(docker.errors.APIError):
                        client.api.remove_image(tag, force=True)
        for _ in range(3):  # the BuildKit cache this suite made (one id per prune call)
            for entry in client.api.df().get("BuildCache") or []:
                if entry["ID"] not in before:
                    client.api._post(client.api._url("/build/prune"),
                                     params={"filters": json.dumps({"id": [entry["ID"]]})})
        client.close()
    session.note(f"Memory limit a RUN step saw with `memory=64 MiB`: classic {limits['classic']}, "
                 f"BuildKit {limits['BuildKit']}. BuildKit ignores the build's container limits "
                 "on this engine; the sandbox uses the classic builder.")
