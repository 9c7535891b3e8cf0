"""A class doing the Immortal Database challenge at once, on one engine and on two.

Two private engines are started with the ``tests.engines`` launcher (the hardened profile:
vfs, no bridge, user-namespace remapping; runc, no gVisor) and the lesson images are copied
into both. Then a class of learners (50; 6 with ``--quick``) each types the challenge's
commands at the same moment (one thread per learner, all released by one barrier):

* run Redis with the named volume ``my-redis-data``, ``SET`` a key, ``stop`` and ``rm`` the
  container, run a new one on the same volume and ``GET`` the key.

Measured four ways on the same engines, one after the other:

* **tutor, 1 engine**: one shared :class:`~bot.tutor.core.Tutor` (as ``serve`` and the console
  build it, :meth:`Tutor.from_settings`) with ``TUTOR_ENGINES`` = the first engine. Each
  learner first walks to the challenge step (``start data-persistence``, ``next``...;
  untimed, before the barrier); a learner is *confirmed* when the tutor recorded the
  challenge as completed.
* **tutor, 2 engines**: the same with ``TUTOR_ENGINES`` = both; placement spreads them.
* **CLI, 1 engine** and **CLI, 2 engines**: scripted users of the plain ``docker`` CLI, each
  its own process per command with ``DOCKER_HOST=unix:///...`` of an engine (half the class
  on each with two), the same commands with ``--network none`` and the tutor's limits; a
  user is *confirmed* when ``GET`` printed the value.

The engines run with debug logs, which list every request they answer: the class's
engine requests are counted there, by kind, the same way for the tutor and the CLI.

Both kinds of user re-type a ``redis-cli`` command while Redis is still starting (the tutor
first waits up to 5 s itself); a command's latency is from its first attempt to the answer
that counts. Errors are commands that failed (non-zero exit, a refusal, an exception).
Every setup removes what it made; the engines are stopped by pid at the end, always.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker

import bench
from bench.bench_engine import CLI_LIMITS
from bot.config import Limits, Settings
from bot.errors import TutorError
from bot.identity import Person
from bot.reply import Code, Event, Reply
from bot.sandbox.engine.request_counts import kind, summary
from bot.sandbox.pool.janitor import purge_prefix
from bot.sandbox.pool.sandbox_pool import SandboxPool
from bot.sandbox.redis.cli import not_ready
from bot.tutor.core import Tutor
from tests.check_helpers import (
    CHALLENGE_LESSON,
    CHALLENGE_SOLUTION,
    CHALLENGE_VALUE,
    completed,
    to_challenge,
)
from tests.engines import (
    Engine,
    EngineError,
    EngineOptions,
    EngineSkip,
    fuse_overlayfs_runs,
    start_engine,
)

LEARNERS = 50
QUICK_LEARNERS = 6
VALUE = CHALLENGE_VALUE
CHALLENGE = CHALLENGE_SOLUTION
"""The Immortal Database challenge, as a learner types it (``tests/check_helpers.py``)."""

REDIS_WAIT_SECONDS = 30.0
"""How long a scripted user keeps re-typing a ``redis-cli`` command Redis is not ready for."""

BARRIER_SECONDS = 900.0
"""How long the learners wait for each other at the start line before giving up."""

CLI_LABEL = "dte.bench.pool"

CLI_FLAGS = tuple(CLI_LIMITS)
"""The tutor's limits for a CLI user (those of the engine bench, capabilities included)."""


@dataclass
class LearnerRun:
    """What one learner (or scripted CLI user) did and met.

    Attributes:
        engine: The engine they worked on.
        latencies: Seconds per challenge command, first attempt to the answer that counts.
        errors: What failed (one line each).
        retries: ``redis-cli`` commands re-typed because Redis was still starting.
        confirmed: The challenge check passed (tutor) or ``GET`` printed the value (CLI).
        finished: ``time.perf_counter()`` when their last command answered.
        spans: ``(start, end)`` of each command (``time.perf_counter()``).
    """

    engine: str = ""
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    confirmed: bool = False
    finished: float = 0.0
    spans: list[tuple[float, float]] = field(default_factory=list)

    def timed(self, began: float) -> None:
        """Record a command that began at ``began`` and answered now."""
        ended = time.perf_counter()
        self.latencies.append(ended - began)
        self.spans.append((began, ended))


@dataclass
class ClassRun:
    """One setup's class: every learner's run and the whole class's wall time.

    Attributes:
        setup: ``tutor, 1 engine``, ``CLI, 2 engines``...
        learners: Each learner's run.
        wall: Seconds from the barrier's release to the last learner's last answer.
        client_cpu: CPU seconds of the client side from the start line to the end: the
            tutor's process (every thread), or the ``docker`` CLI processes.
        engine_cpu: CPU seconds of the engines' ``dockerd`` processes over the class.
        requests: The engine requests of the class by kind, as the engines' debug logs
            list them (:class:`RequestLogs`): the same count for the tutor and the CLI.
    """

    setup: str
    learners: list[LearnerRun]
    wall: float
    client_cpu: float = 0.0
    engine_cpu: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)

    def in_flight(self) -> tuple[float, int]:
        """Commands in flight at once: the mean over the wall time, and the peak.

        Something that ran the learners' commands one at a time would show 1 and 1.
        """
        edges = sorted([(start, 1) for learner in self.learners for start, _ in learner.spans]
                       + [(end, -1) for learner in self.learners for _, end in learner.spans])
        peak = now = 0
        for _, step in edges:
            now += step
            peak = max(peak, now)
        busy = sum(end - start for learner in self.learners for start, end in learner.spans)
        return (busy / self.wall if self.wall > 0 else 0.0), peak

    @property
    def confirmed(self) -> int:
        """Learners whose challenge was confirmed."""
        return sum(learner.confirmed for learner in self.learners)

    @property
    def errors(self) -> list[str]:
        """Every failed command of the class."""
        return [error for learner in self.learners for error in learner.errors]

    @property
    def latencies(self) -> list[float]:
        """Every challenge command's latency, all learners together."""
        return [seconds for learner in self.learners for seconds in learner.latencies]

    @property
    def retries(self) -> int:
        """``redis-cli`` commands re-typed while Redis was starting."""
        return sum(learner.retries for learner in self.learners)

    def per_engine(self, engines: Sequence[str]) -> list[int]:
        """Learners per engine, in the order of ``engines``."""
        return [sum(learner.engine == engine for learner in self.learners) for engine in engines]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (``q`` in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median_ms(values: Sequence[float]) -> float:
    """The median in milliseconds (the p50 of the results table), NaN for no values."""
    return statistics.median(values) * 1000 if values else float("nan")


def rows(run: ClassRun, suite: str) -> list[bench.Measurement]:
    """The results-table rows of one setup: command latencies and the class's wall time."""
    latencies = run.latencies
    p95 = percentile(latencies, 95) * 1000
    summary = (f"{run.confirmed}/{len(run.learners)} confirmed, {len(run.errors)} errors, "
               f"{run.retries} redis-cli retries")
    return [
        bench.Measurement(suite, f"{run.setup}: docker command latency", latencies or [float("nan")],
                          notes=f"p50 = median; p95 {p95:.0f} ms over {len(latencies)} commands; "
                                f"{summary}"),
        bench.Measurement(suite, f"{run.setup}: whole class wall time", [run.wall],
                          notes=f"{len(run.learners)} learners at once; {summary}; "
                                f"{sum(run.requests.values())} engine requests, dockerd CPU "
                                f"{run.engine_cpu:.1f} s"),
    ]


STEP_NAMES = ("run redis-1", "SET", "stop", "rm", "run redis-2", "GET")
"""Short names of the :data:`CHALLENGE` commands, in order."""


def by_step(run: ClassRun) -> dict[str, list[float]]:
    """Each challenge command's latencies over the class (learners who ran them all)."""
    complete = [learner.latencies for learner in run.learners
                if len(learner.latencies) == len(STEP_NAMES)]
    if not complete:
        return {}
    return {name: [latencies[i] for latencies in complete] for i, name in enumerate(STEP_NAMES)}


def note(run: ClassRun) -> str:
    """One line of the suite's notes about a setup."""
    latencies = run.latencies
    line = (f"{run.setup}: {run.confirmed}/{len(run.learners)} confirmed, "
            f"{len(run.errors)} errors, command latency p50 {median_ms(latencies):.0f} ms "
            f"p95 {percentile(latencies, 95) * 1000:.0f} ms, class wall time {run.wall:.1f} s")
    mean, peak = run.in_flight()
    line += (f"; commands in flight mean {mean:.1f} peak {peak}; CPU s: client {run.client_cpu:.1f}, "
             f"dockerd {run.engine_cpu:.1f}")
    total = sum(run.requests.values())
    if total:
        line += (f"; engine requests {total} ({total / max(1, len(run.learners)):.1f} a learner: "
                 f"{summary(run.requests)})")
    steps = by_step(run)
    if steps:
        line += "; p50 by command: " + ", ".join(f"{name} {statistics.median(values) * 1000:.0f}"
                                                   for name, values in steps.items()) + " ms"
    if run.errors:
        line += f"; first error: {run.errors[0][:160]}"
    return line


def together(learners: int, work: Callable[[int, threading.Barrier], LearnerRun],
             on_release: Callable[[], None] = lambda: None) -> tuple[list[LearnerRun], float]:
    """Run ``work(i, barrier)`` for every learner in its own thread; the class's wall time.

    ``work`` prepares untimed, then waits on the barrier; the wall time runs from the
    barrier's release to the last learner's ``finished``; ``on_release`` runs as it opens.
    """
    released: list[float] = []

    def release() -> None:
        on_release()
        released.append(time.perf_counter())

    barrier = threading.Barrier(learners, action=release, timeout=BARRIER_SECONDS)
    runs: list[LearnerRun] = [LearnerRun() for _ in range(learners)]

    def one(i: int) -> None:
        try:
            runs[i] = work(i, barrier)
        except Exception as exc:  # a learner's crash is a result, not the end of the bench
            runs[i].errors.append(f"{type(exc).__name__}: {exc}")
            runs[i].finished = time.perf_counter()
            barrier.abort()

    threads = [threading.Thread(target=one, args=(i,), name=f"learner-{i}") for i in range(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not released:
        raise RuntimeError(f"the class never started: {next((e for r in runs for e in r.errors), '?')}")
    return runs, max(run.finished for run in runs) - released[0]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engines_cpu(engines: Sequence[Engine]) -> float:
    """CPU seconds the engines' ``dockerd`` processes used so far."""
    return sum(process_cpu(engine.pid) for engine in engines)


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the ``docker`` CLI processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_CALLING = re.compile(r'msg="Calling (\S+) (\S+)"')


class RequestLogs:
    """The requests the engines answered, read from their debug logs (``"debug": true``).

    ``mark()`` notes where each log ends; ``since()`` counts, by kind
    (:func:`bot.sandbox.engine.request_counts.kind`), the ``Calling METHOD PATH`` lines written after
    the mark: every request a client made, whatever the client (tutor or CLI).
    """

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)
        self.offsets = [0] * len(self.engines)

    def mark(self) -> None:
        """Count from the logs' current ends."""
        self.offsets = [engine.log.stat().st_size for engine in self.engines]

    def since(self) -> Counter[str]:
        """The requests logged since :meth:`mark`, by kind."""
        found: Counter[str] = Counter()
        for engine, offset in zip(self.engines, self.offsets, strict=True):
            with engine.log.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
            found.update(kind(m.group(1), m.group(2)) for m in _CALLING.finditer(text))
        return found


@contextlib.contextmanager
def tidy(engine: Engine) -> Iterator[docker.DockerClient]:
    """A client to remove a setup's objects with; a failure is not the bench's result.

    Whatever is left goes with the engine when it stops (its folder is removed).
    """
    client = engine.client()
    try:
        yield client
    except Exception as exc:  # the engine stops and is removed at the end anyway
        print(f"pool bench: clean-up on {engine.docker_host} failed: {exc}", file=sys.stderr)
    finally:
        client.close()


def _printed(reply: Reply) -> str:
    return "\n".join(part.text for part in reply.parts if isinstance(part, Code))


# -- the tutor ------------------------------------------------------------------------------


def tutor_class(session: bench.BenchSession, engines: Sequence[Engine], learners: int) -> ClassRun:
    """The class through one shared tutor whose ``TUTOR_ENGINES`` lists ``engines``."""
    prefix = "dtpool" + secrets.token_hex(2)
    database = session.database_url or f"sqlite:///{session.scratch / (prefix + '.db')}"
    settings = Settings(
        database_url=database, namespace=prefix, offline=True,
        engines=tuple(engine.docker_host for engine in engines), engine_capacity=learners,
        # the limiter is per learner and off, as on the console: 13 lines each stay far
        # below it anyway, and the bench measures the engines, not the limiter
        limits=replace(Limits(), commands_per_minute=0),
    )
    tutor = Tutor.from_settings(settings)
    setup = f"tutor, {len(engines)} engine{'s' if len(engines) > 1 else ''}"
    try:
        def learner(i: int, barrier: threading.Barrier) -> LearnerRun:
            person = Person("console", f"learner{i:02d}")
            run = LearnerRun()
            try:
                to_challenge(tutor, person)
            finally:
                barrier.wait()
            attempts = 0
            for line in CHALLENGE:
                began = time.perf_counter()
                while True:
                    attempts += 1
                    try:
                        reply = tutor.handle(person, line)
                    except TutorError as error:
                        run.errors.append(f"{line}: {error.message}")
                        break
                    if ("redis-cli" in line and not_ready(_printed(reply))
                            and time.perf_counter() - began < REDIS_WAIT_SECONDS):
                        run.retries += 1
                        continue
                    run.confirmed = run.confirmed or Event.CHALLENGE_COMPLETED in reply.events
                    break
                run.timed(began)
            run.finished = time.perf_counter()
            # after the clock: what the tutor logged and recorded
            logged = tutor.store.history(person, kind="docker", limit=attempts)
            final = {entry.text: entry for entry in logged}  # the attempt that counted
            run.errors += [f"{entry.text}: exit {entry.exit_status}: {entry.output.strip()[:120]}"
                           for entry in final.values() if entry.exit_status > 0]
            run.confirmed = run.confirmed and completed(tutor, person)
            if not run.confirmed:  # why, from the log: each line, its status and diagnosis
                trail = "; ".join(
                    f"{entry.text} -> {entry.exit_status}"
                    f" [{(entry.facts or {}).get('found') or entry.diagnosis or ''}]"
                    f" {entry.output.strip()[:60]!r}"
                    for entry in tutor.store.history(person, kind="docker", limit=attempts))
                run.errors.append(f"not confirmed: {trail}")
            sandbox = tutor.sandbox
            run.engine = (sandbox.engine_for(person) if isinstance(sandbox, SandboxPool)
                          else engines[0].docker_host)
            return run

        cpu: list[float] = []  # at the start line, after the untimed walk
        logs = RequestLogs(engines)

        def release() -> None:
            logs.mark()
            cpu.extend((time.process_time(), engines_cpu(engines)))

        runs, wall = together(learners, learner, release)
        return ClassRun(setup, runs, wall, client_cpu=time.process_time() - cpu[0],
                        engine_cpu=engines_cpu(engines) - cpu[1], requests=logs.since())
    finally:
        tutor.close()
        for engine in engines:
            with tidy(engine) as client:
                purge_prefix(client, prefix)


# -- the docker CLI -------------------------------------------------------------------------


def _docker(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, env=engine.env(),
                          timeout=300, check=False)


def cli_class(engines: Sequence[Engine], learners: int) -> ClassRun:
    """The class as scripted users of the ``docker`` CLI, spread evenly over ``engines``."""
    prefix = "dtpoolcli" + secrets.token_hex(2)
    setup = f"CLI, {len(engines)} engine{'s' if len(engines) > 1 else ''}"

    def user(i: int, barrier: threading.Barrier) -> LearnerRun:
        engine = engines[i % len(engines)]
        first, second, volume = (f"{prefix}-{i:02d}-redis-1", f"{prefix}-{i:02d}-redis-2",
                                 f"{prefix}-{i:02d}-data")
        run_flags = ["run", "-d", "--label", f"{CLI_LABEL}={prefix}", *CLI_FLAGS,
                     "-v", f"{volume}:/data"]
        commands = (
            [*run_flags, "--name", first, "redis"],
            ["exec", first, "redis-cli", "set", "mykey", VALUE],
            ["stop", first],
            ["rm", first],
            [*run_flags, "--name", second, "redis"],
            ["exec", second, "redis-cli", "get", "mykey"],
        )
        run = LearnerRun(engine=engine.docker_host)
        barrier.wait()
        answer = ""
        for argv in commands:
            began = time.perf_counter()
            while True:
                result = _docker(engine, *argv)
                if ("redis-cli" in argv and not_ready(result.stdout + result.stderr)
                        and time.perf_counter() - began < REDIS_WAIT_SECONDS):
                    run.retries += 1
                    time.sleep(0.05)
                    continue
                break
            run.timed(began)
            if result.returncode != 0:
                run.errors.append(f"docker {' '.join(argv[:2])}: exit {result.returncode}: "
                                  f"{result.stderr.strip()[:120]}")
            answer = result.stdout.strip()
        run.finished = time.perf_counter()
        run.confirmed = answer == VALUE
        return run

    try:
        cpu, engine_cpu = children_cpu(), engines_cpu(engines)
        logs = RequestLogs(engines)
        runs, wall = together(learners, user, logs.mark)
        return ClassRun(setup, runs, wall, client_cpu=children_cpu() - cpu,
                        engine_cpu=engines_cpu(engines) - engine_cpu, requests=logs.since())
    finally:
        for engine in engines:
            with tidy(engine) as client:
                for container in client.containers.list(
                        all=True, filters={"label": f"{CLI_LABEL}={prefix}"}):
                    container.remove(force=True, v=True)
                for found in client.volumes.list(filters={"name": prefix}):
                    found.remove(force=True)


# -- the suite ------------------------------------------------------------------------------


def _default_storage() -> str:
    """``fuse-overlayfs`` where it can run here (copy-on-write, as a production overlay2), else ``vfs``."""
    return "fuse-overlayfs" if fuse_overlayfs_runs() else "vfs"


STORAGE = os.environ.get("BENCH_POOL_STORAGE") or _default_storage()
"""The engines' storage (``BENCH_POOL_STORAGE``: ``fuse-overlayfs``, the default where it
runs, ``vfs`` or ``btrfs``). fuse-overlayfs is copy-on-write like a production engine's
overlay2. vfs copies a whole image for every container it creates, and its layers can
only be sized by the engine: the disk watcher then asks ``size=1`` listings, which walk
every learner container's whole copy (dockerd 2.7x the CLI's CPU in a class of 50 on
vfs, 1.0x on fuse-overlayfs). btrfs is copy-on-write too, but its loop file's writes load
this machine's disk."""


OPTIONS = (EngineOptions(label="bpool1", runsc=False, extra={"debug": True}, storage=STORAGE),
           EngineOptions(label="bpool2", runsc=False, extra={"debug": True}, storage=STORAGE))
"""Debug logs list every request the engines answer (:class:`RequestLogs`)."""


def start_engines(session: bench.BenchSession) -> list[Engine]:
    """Both private engines with the lesson images; on failure the started ones are stopped."""
    engines: list[Engine] = []
    try:
        for options in OPTIONS:
            engine = start_engine(options)
            engines.append(engine)
            session.record(f"engine {len(engines)}: dockerd start-up + image copy",
                           engine.startup_seconds + engine.load_seconds,
                           notes=f"start-up {engine.startup_seconds:.1f} s, "
                                 f"copy {engine.load_seconds:.1f} s")
    except BaseException:
        stop_engines(engines)
        raise
    return engines


def stop_engines(engines: Sequence[Engine]) -> list[str]:
    """Stop every engine by its pid, each whatever the others did; the problems met."""
    problems = []
    for engine in engines:
        try:
            engine.stop()
        except EngineError as exc:
            problems.append(str(exc))
    return problems


def machine_note() -> str:
    """The machine the class ran on, said plainly (the engines share its cores)."""
    cores = os.cpu_count() or 1
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"The two engines, the tutor and the CLI processes all share this machine's {cores} "
            f"cores (and other work on it: load average {load} at the start), so a second engine "
            f"adds no CPU here. What two engines show on this machine is whether anything in the "
            f"tutor serialises learners across engines: compare its commands in flight, and its "
            f"ratios to the CLI, on one engine and on two.")


def comparison(runs: Sequence[ClassRun]) -> str | None:
    """Tutor / CLI ratios per engine count: wall time, dockerd CPU, commands in flight."""
    by_setup = {run.setup: run for run in runs}
    parts = []
    for engines in ("1 engine", "2 engines"):
        tutor, cli = by_setup.get(f"tutor, {engines}"), by_setup.get(f"CLI, {engines}")
        if tutor is None or cli is None or not cli.wall or not cli.engine_cpu:
            continue
        asked = sum(tutor.requests.values()), sum(cli.requests.values())
        parts.append(f"{engines}: wall {tutor.wall / cli.wall:.2f}x, dockerd CPU "
                     f"{tutor.engine_cpu / cli.engine_cpu:.2f}x, engine requests "
                     f"{asked[0]} vs {asked[1]} ({asked[0] / max(1, asked[1]):.2f}x), commands "
                     f"in flight {tutor.in_flight()[0]:.1f} vs {cli.in_flight()[0]:.1f}")
    return "Tutor / CLI: " + "; ".join(parts) if parts else None


def run(session: bench.BenchSession) -> None:
    learners = QUICK_LEARNERS if session.quick else LEARNERS
    try:
        engines = start_engines(session)
    except EngineSkip as exc:
        session.note(f"skipped: {exc}")
        return
    session.note(machine_note())
    problems: list[str] = []
    failed: list[str] = []
    measured: list[ClassRun] = []
    try:
        hosts = [engine.docker_host for engine in engines]
        one, two = engines[:1], engines
        setups: list[tuple[str, Callable[[], ClassRun]]] = [
            # ABBA: a drift of the shared machine's load favours neither side
            ("tutor, 1 engine", lambda: tutor_class(session, one, learners)),
            ("CLI, 1 engine", lambda: cli_class(one, learners)),
            ("CLI, 2 engines", lambda: cli_class(two, learners)),
            ("tutor, 2 engines", lambda: tutor_class(session, two, learners)),
        ]
        for setup, measure in setups:
            try:
                result = measure()
            except Exception as exc:  # the other setups still run; the suite fails below
                failed.append(f"{setup}: {type(exc).__name__}: {exc}")
                continue
            measured.append(result)
            session.results.extend(rows(result, session.suite))
            line = note(result)
            if result.setup.endswith("2 engines"):
                line += f"; learners per engine {result.per_engine(hosts)}"
            session.note(line)
    finally:
        began = time.monotonic()
        problems = stop_engines(engines)
        session.record("engines: stop and clean-up", time.monotonic() - began)
    ratios = comparison(measured)
    if ratios:
        session.note(ratios)
    session.note(f"{learners} learners, each: {'; '.join(f'`{c}`' for c in CHALLENGE)}. Tutor "
                 f"learners first walk to the challenge step ({CHALLENGE_LESSON}), untimed.")
    session.note(f"Engines: tests.engines launcher, hardened profile ({STORAGE}, no bridge, "
                 "userns-remap), "
                 "runc; CLI users get the tutor's limits (`" + " ".join(CLI_FLAGS) + "`).")
    for problem in problems:
        session.note(f"clean-up problem: {problem}")
    if failed or problems:
        raise RuntimeError("; ".join(failed + problems))
