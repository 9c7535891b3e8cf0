"""A pool of two real engines: learners spread over both, one engine killed and restarted.

The module starts two private ``dockerd`` processes (``tests/engines/``, the hardened
profile, the lesson images copied in) that the tutor reaches only through their API, and a
tutor whose ``TUTOR_ENGINES`` lists both. Four learners are placed (two on each), each runs a container
and execs in it on their own engine. Then one daemon is SIGKILLed: its learners get the one
clear message, the others go on; ``reset`` moves a learner to the healthy engine; the daemon
is restarted at the same socket and its remaining learners work again. Skipped, with the
reason, where the suite is not root or ``dockerd`` is missing. Every engine started is stopped
(with everything in it) at the end of the module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.config import Settings
from bot.errors import EngineDown
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox.pool.janitor import Janitor
from bot.sandbox.pool.report import engine_rows
from bot.sandbox.pool.sandbox_pool import DOWN, PING_TIMEOUT, STALL_SECONDS, SandboxPool, socket_accepts
from bot.tutor.core import Tutor
from bot.tutor.housekeeping import reconcile
from tests.engines import Engine, EngineError, engine_pair

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, Engine]]:
    """Two private hardened engines with the lesson images; stopped (and emptied) after the module."""
    with engine_pair("pool") as pair:
        yield pair


@pytest.fixture
def pool_tutor(settings: Settings, store: ProgressStore, catalog: Catalog,
               engines: tuple[Engine, Engine]) -> Iterator[Tutor]:
    """The real tutor on a pool of the two engines, three learners per engine at most."""
    # The disk watcher polls every engine often, the killed one included: it must skip a dead
    # engine without leaking a socket (a ResourceWarning the suite makes an error).
    limits = replace(settings.limits, disk_check_seconds=0.5)
    pooled = replace(settings, engines=tuple(e.docker_host for e in engines), engine_capacity=3,
                     limits=limits)
    pool = SandboxPool(pooled, store, allowed_images=catalog.images)
    yield Tutor(pooled, store, pool, catalog)
    pool.close()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _end_orphaned_containerd(engine: Engine) -> None:
    """End the containerd a SIGKILLed dockerd left behind, and forget its pid file.

    A new dockerd that finds the old pid still alive (a containerd on its way out, or a
    zombie nobody reaped yet) dials its socket instead of starting one, and gives up after
    its timeout. With the old one gone the new dockerd starts its own, which takes the
    running containers' shims back; so a restart does not depend on how fast the old
    containerd dies.
    """
    pidfile = engine.root / "exec" / "containerd" / "containerd.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        command = b""
    if b"containerd" not in command or str(engine.root).encode() not in command:
        pidfile.unlink(missing_ok=True)  # gone already, or the pid is someone else's now
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), f"containerd {pid} of the killed engine would not end"
    pidfile.unlink(missing_ok=True)


def restart(engine: Engine, timeout: float = 60.0) -> None:
    """Start the engine's daemon again on its own folder and socket, after it was killed."""
    _end_orphaned_containerd(engine)
    log = engine.log.open("ab")
    process = subprocess.Popen(
        [shutil.which("dockerd") or "dockerd", "--config-file", str(engine.root / "daemon.json")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    engine.pid, engine._process = process.pid, process  # Engine.stop() ends this one now
    engine.save()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineError(f"dockerd exited on restart:\n{engine.logtail()}")
        if not socket_accepts(engine.docker_host):  # docker-py would leak the socket
            time.sleep(0.1)
            continue
        try:
            client = engine.client(timeout=5)
            try:
                if client.ping():
                    return
            finally:
                client.close()
        except Exception:  # any failure means "not yet"
            time.sleep(0.1)
    raise EngineError(f"dockerd did not answer after a restart:\n{engine.logtail()}")


def kill(engine: Engine) -> None:
    """SIGKILL the engine's daemon by its pid (its containers' processes are left as they are)."""
    os.kill(engine.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while engine.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not engine.alive()


def once_it_answers(tutor: Tutor, person: Person, line: str, within: float = 30.0) -> str:
    """The reply to ``line`` once the learner's engine answers again (health is trusted a few seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return tutor.handle(person, line).text()
        except EngineDown:
            assert time.monotonic() < deadline, "the engine that came back was never used again"
            time.sleep(0.5)


def works(tutor: Tutor, person: Person, name: str) -> None:
    """The learner starts a container and execs in it, on their own engine."""
    ran = tutor.handle(person, f"docker run -d --name {name} busybox sleep 600").text()
    assert "Error" not in ran, ran
    said = tutor.handle(person, f"docker exec {name} echo hello-{name}").text()
    assert f"hello-{name}" in said


def names_on(engine: Engine) -> set[str]:
    """The names of every container on the engine (learners' engine names)."""
    client = engine.client(timeout=10)
    try:
        return {c.name or "" for c in client.containers.list(all=True)}
    finally:
        client.close()


def test_a_hung_engine_is_told_within_seconds_and_holds_up_nobody_else(
    pool_tutor: Tutor, store: ProgressStore, engines: tuple[Engine, Engine],
) -> None:
    """A frozen daemon accepts and never answers: its learner is told it is down, the other works on."""
    first, second = engines
    learners = [Person("console", f"hung-learner-{i}-{os.getpid()}", f"H{i}") for i in range(2)]
    for index, person in enumerate(learners):
        works(pool_tutor, person, f"h{index}")
    on_first = next(p for p in learners if store.engine_of(p.key) == first.docker_host)
    on_second = next(p for p in learners if store.engine_of(p.key) == second.docker_host)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        time.sleep(STALL_SECONDS / 2)  # past the pool's trust in its last health answer
        began = time.monotonic()
        failures: list[BaseException] = []

        def meanwhile() -> None:
            try:
                works(pool_tutor, on_second, "during")
            except BaseException as failure:  # handed to the test's thread below
                failures.append(failure)

        other = threading.Thread(target=meanwhile)
        other.start()
        with pytest.raises(EngineDown) as down:
            pool_tutor.handle(on_first, "docker ps")
        told = time.monotonic() - began
        assert str(down.value).startswith(DOWN)
        assert told < STALL_SECONDS + 3 * PING_TIMEOUT, f"told after {told:.1f} s"
        other.join(timeout=60)
        assert not other.is_alive() and not failures, failures  # the other learner went on
    finally:
        os.kill(first.pid, signal.SIGCONT)
    listed = once_it_answers(pool_tutor, on_first, "docker ps")
    assert "h" in listed
    for person in learners:  # leave the engines as the next test expects them
        assert "Removed" in pool_tutor.handle(person, "reset").text()


def test_learners_spread_and_survive_an_engine_killed_and_restarted(
    pool_tutor: Tutor, store: ProgressStore, engines: tuple[Engine, Engine],
) -> None:
    """Kill one daemon mid-class: its learners get one clear message, the rest go on, reset moves one."""
    first, second = engines
    pool = pool_tutor.sandbox
    assert isinstance(pool, SandboxPool)
    learners = [Person("console", f"pool-learner-{i}-{os.getpid()}", f"L{i}") for i in range(4)]
    for index, person in enumerate(learners):
        works(pool_tutor, person, f"c{index}")
    placed = {p.key: store.engine_of(p.key) for p in learners}
    assert sorted(placed.values()) == sorted([first.docker_host] * 2 + [second.docker_host] * 2)
    for index, person in enumerate(learners):  # each container is on its learner's engine only
        home = first if placed[person.key] == first.docker_host else second
        away = second if home is first else first
        engine_name = pool.namespace(person).engine_name(f"c{index}")
        assert engine_name in names_on(home) and engine_name not in names_on(away)

    kill(first)
    noticed = time.monotonic()
    on_first = [p for p in learners if placed[p.key] == first.docker_host]
    on_second = [p for p in learners if placed[p.key] == second.docker_host]
    for person in on_first:
        with pytest.raises(EngineDown) as down:
            pool_tutor.handle(person, "docker ps")
        assert str(down.value).startswith(DOWN) and "`reset`" in str(down.value)
        with pytest.raises(EngineDown):  # check and edit say the same, not a failure
            pool_tutor.handle(person, "edit notes.txt hello")
    noticed = time.monotonic() - noticed
    assert noticed < 15, f"the tutor took {noticed:.1f} s to tell the learners"
    for index, person in enumerate(on_second):
        works(pool_tutor, person, f"after{index}")

    moving = on_first[0]
    reply = pool_tutor.handle(moving, "reset").text()
    assert "Removed 0 container(s)" in reply
    assert store.engine_of(moving.key) == second.docker_host
    works(pool_tutor, moving, "moved")
    assert store.engine_loads() == {first.docker_host: 1, second.docker_host: 3}

    rows = {row.address: row for row in engine_rows(pool.settings, store)}  # docker-tutor engines
    assert not rows[first.docker_host].up and rows[first.docker_host].containers is None
    assert rows[first.docker_host].learners == 1
    assert rows[second.docker_host].up and rows[second.docker_host].learners == 3
    assert rows[second.docker_host].containers == 5  # c-, after0-1 and moved: 5 on this engine
    assert rows[first.docker_host].disk is None and rows[first.docker_host].state == "DOWN"
    assert rows[second.docker_host].disk is not None and rows[second.docker_host].state == "up"

    restart(first)
    staying = on_first[1]
    listed = once_it_answers(pool_tutor, staying, "docker ps -a")
    index = learners.index(staying)
    assert f"c{index}" in listed  # their container is still there (stopped by the restart)
    works(pool_tutor, staying, "again")
    assert store.engine_of(staying.key) == first.docker_host

    left = pool.namespace(moving).engine_name(f"c{learners.index(moving)}")
    assert left in names_on(first)  # what the moved learner left on the dead engine ...
    report = reconcile(Janitor(pool.engines[first.docker_host]), store, grace=timedelta(0))
    assert report.reasons["placed-elsewhere"] >= 1  # ... goes once it answers again
    assert left not in names_on(first)
    assert pool.namespace(staying).engine_name(f"c{index}") in names_on(first)


def test_engines_command_and_images_build_cover_every_engine(
    settings: Settings, engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`docker-tutor engines` lists both engines up; `images build` visits each engine of the pool."""
    for name, value in {"TUTOR_ENGINES": ",".join(e.docker_host for e in engines),
                        "DATABASE_URL": settings.database_url, "TUTOR_NAMESPACE": settings.namespace,
                        "TUTOR_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["engines"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["ENGINE", "STATE", "LEARNERS", "CONTAINERS", "VOLUMES", "DISK"]
    assert sorted(line.split()[:2][0] for line in listed[1:]) == sorted(e.docker_host for e in engines)
    assert all(line.split()[1] == "up" for line in listed[1:])
    assert cli.main(["images", "build", "--only", "busybox"]) == 0
    built = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in built) == sorted(f"{e.docker_host}:" for e in engines)
    assert all(line.split()[1:4:2] == ["busybox", "present"] for line in built)
