"""What the hardened engine profile costs (``tests/engines/``, ``deploy/sandbox/daemon.json``).

Starts a private ``dockerd`` with user-namespace remapping and gVisor registered as ``runsc``
(needs root; skipped with a note otherwise), then times: the daemon's start-up, copying the
lesson images into it, ``exec`` into a running container and ``run --rm`` with ``runc`` and
with ``runsc``, and ``exec redis-cli ping`` into Redis with each. The system engine's
``exec`` is timed too, as the baseline without remapping (it runs on another storage driver).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import docker

import bench
from tests.engines import Engine, EngineOptions, EngineSkip, start_engine

LABEL = {"dte.bench": "1"}


def _exec_timer(container: docker.models.containers.Container, command: list[str]) -> Callable[[], None]:
    def once() -> None:
        result = container.exec_run(command)
        if result.exit_code != 0:
            raise RuntimeError(f"{command} failed: {result.output!r}")
    return once


def _time_runtime(session: bench.BenchSession, engine: Engine, runtime: str, runs: int) -> None:
    client = engine.client()
    try:
        box = client.containers.run("busybox", ["sleep", "600"], runtime=runtime, detach=True,
                                    network_mode="none", labels=LABEL)
        redis = client.containers.run("redis", runtime=runtime, detach=True, network_mode="none",
                                      labels=LABEL)
        deadline = time.monotonic() + 60
        while redis.exec_run(["redis-cli", "ping"]).output.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on {runtime} did not answer")
            time.sleep(0.2)
        session.time(f"hardened engine: exec `true`, {runtime}", _exec_timer(box, ["true"]),
                     runs=runs, memory=False)
        session.time(f"hardened engine: exec `redis-cli ping`, {runtime}",
                     _exec_timer(redis, ["redis-cli", "ping"]), runs=runs, memory=False)
        session.time(f"hardened engine: run --rm busybox true, {runtime}",
                     lambda: client.containers.run("busybox", ["true"], runtime=runtime,
                                                   network_mode="none", remove=True, labels=LABEL),
                     runs=max(runs // 3, 2), memory=False)
    finally:
        for container in client.containers.list(all=True, filters={"label": "dte.bench"}):
            container.remove(force=True, v=True)
        client.close()


def run(session: bench.BenchSession) -> None:
    runs = 5 if session.quick else 20
    try:
        engine = start_engine(EngineOptions(label="bench"))
    except EngineSkip as exc:
        session.note(f"skipped: {exc}")
        return
    try:
        session.record("hardened engine: dockerd start-up", engine.startup_seconds,
                       notes="launch to first answer on its socket")
        session.record("hardened engine: copy lesson images", engine.load_seconds,
                       notes="docker save | docker load")
        for runtime in ("runc", "runsc"):
            if runtime in engine.runtimes:
                _time_runtime(session, engine, runtime, runs)
            else:
                session.note(f"{runtime} is not installed: not timed")
        system = docker.from_env()
        try:
            box = system.containers.run("busybox", ["sleep", "600"], detach=True,
                                        network_mode="none", labels=LABEL)
            try:
                session.time("system engine: exec `true`, runc", _exec_timer(box, ["true"]),
                             runs=runs, memory=False)
            finally:
                box.remove(force=True)
        finally:
            system.close()
    finally:
        began = time.monotonic()
        engine.stop()
        session.record("hardened engine: stop and clean-up", time.monotonic() - began)
