"""The tutor's per-command time against the plain ``docker`` CLI doing the same thing.

Each round runs ``run -d``, ``exec redis-cli ping`` and ``rm -f`` once through the tutor
(parse, policy, engine API, progress log) and once with the ``docker`` CLI given the same
limits, interleaved so both see the same machine. The ratio is tutor / CLI (aim: <= 1.0:
the tutor talks to the engine's API without starting a process).

Then one container serves 60 ``docker exec ... redis-cli get k`` through the sandbox
(parse, policy, ownership, engine API), 60 through the whole tutor (plus the learner's
position read and the progress log), 60 through the tutor for a learner on the lesson's
challenge step (``lesson``: plus the step's checks after each command), and 60 with the
``docker`` CLI, interleaved, with the engine requests of one such command counted (aim:
sandbox and tutor <= 0.85x the CLI, at most 4 requests).

Last, the engine requests of each line of the Immortal Database challenge, by kind: the
tutor's (its meter, on the challenge step) against the CLI's (a logging proxy), with the
requests each sends that the other does not (aim: tutor <= 1.3x the CLI).
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable

import docker

import bench
from bench.engine_proxy import RequestLog
from bot.config import Limits, Settings
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox import count_engine_requests
from bot.sandbox.engine.client import CAPABILITIES
from bot.sandbox.engine.request_counts import summary
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import purge_prefix
from bot.sandbox.redis.cli import not_ready
from bot.tutor.core import Tutor
from tests.check_helpers import CHALLENGE_SOLUTION, CHALLENGE_VALUE, to_challenge

CLI_LIMITS = [
    "--network", "none", "--memory", "256m", "--memory-swap", "256m", "--pids-limit", "128",
    "--cpus", "0.5", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--init",
    *(f"--cap-add={name}" for name in CAPABILITIES),
]
"""The tutor's limits for a CLI user, with the capabilities the tutor keeps: without
DAC_OVERRIDE root in the container cannot write Redis's ``/data`` (``stop`` then waits 10 s)."""


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cli(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=60)


def run(session: bench.BenchSession) -> None:
    """Interleave tutor and CLI rounds and record medians and ratios."""
    prefix = "dtbench" + secrets.token_hex(2)
    settings = Settings(
        database_url=session.database_url or f"sqlite:///{session.scratch / 'engine.db'}",
        namespace=prefix,
        limits=Limits(commands_per_minute=1_000_000),  # measure the engine path, not the limiter
    )
    catalog = Catalog(settings.lessons_dir)
    tutor = Tutor(settings, ProgressStore(settings.database_url),
                  Sandbox(settings, allowed_images=catalog.images), catalog)
    person = Person("bench", "learner")
    rounds = 3 if session.quick else 15
    verbs = ("run", "exec", "rm")
    times: dict[str, dict[str, list[float]]] = {"tutor": {v: [] for v in verbs},
                                                 "cli": {v: [] for v in verbs}}
    client = docker.from_env()
    try:
        for i in range(rounds + 1):  # the first round is a warm-up
            name = f"b{i}"
            cli_name = f"{prefix}-cli-{i}"
            steps: dict[str, dict[str, Callable[[], object]]] = {
                "tutor": {
                    "run": lambda n=name: tutor.handle(person, f"docker run -d --name {n} redis"),
                    "exec": lambda n=name: tutor.handle(person, f"docker exec {n} redis-cli ping"),
                    "rm": lambda n=name: tutor.handle(person, f"docker rm -f {n}"),
                },
                "cli": {
                    "run": lambda n=cli_name: _cli("run", "-d", "--name", n, "--label",
                                                   f"{LABEL_NAMESPACE}={prefix}", *CLI_LIMITS,
                                                   "redis"),
                    "exec": lambda n=cli_name: _cli("exec", n, "redis-cli", "ping"),
                    "rm": lambda n=cli_name: _cli("rm", "-f", "-v", n),
                },
            }
            for verb in verbs:
                for who in ("tutor", "cli") if i % 2 else ("cli", "tutor"):
                    seconds = _timed(steps[who][verb])
                    if i:
                        times[who][verb].append(seconds)
        _exec_side_by_side(session, tutor, person)
        challenge_requests(session, tutor, prefix)
    finally:
        purge_prefix(client, prefix)
        client.close()
        tutor.close()
    for verb in verbs:
        tutor_ms = statistics.median(times["tutor"][verb]) * 1000
        cli_ms = statistics.median(times["cli"][verb]) * 1000
        ratio = tutor_ms / cli_ms
        session.results.append(bench.Measurement(
            session.suite, f"tutor `docker {verb}`", times["tutor"][verb],
            notes=f"ratio tutor/CLI {ratio:.2f} (aim <= 1.0)"))
        session.results.append(bench.Measurement(
            session.suite, f"CLI `docker {verb}`", times["cli"][verb]))
        session.note(f"`{verb}`: tutor {tutor_ms:.0f} ms, docker CLI {cli_ms:.0f} ms, "
                     f"ratio {ratio:.2f}")


def _requests_of(fn: Callable[[], object]) -> int:
    """How many engine HTTP requests ``fn`` makes (:mod:`bot.sandbox.engine.request_counts`)."""
    with count_engine_requests() as made:
        fn()
    return sum(made.values())


def _balanced_orders(arms: list[str]) -> list[list[str]]:
    """Orders of ``arms`` in which each arm runs right after each other arm equally often.

    A Williams design (an even number of arms): what runs just before a measurement (a
    CLI process still exiting, the engine still cleaning up its exec) weighs on every arm
    alike. Alternating one order with its reverse would put one arm after the CLI in half
    the rounds and another never.
    """
    n = len(arms)
    first = [0]
    for k in range(1, n):
        first.append((k + 1) // 2 if k % 2 else n - k // 2)
    return [[arms[(j + shift) % n] for j in first] for shift in range(n)]


def _exec_side_by_side(session: bench.BenchSession, tutor: Tutor, person: Person) -> None:
    """60 `docker exec c redis-cli get k` through the sandbox, the tutor and the CLI.

    Each arm has a learner of its own: the sandbox's calls are no learner line, and a
    learner's lines may use what their previous line read (``Identities``).
    """
    rounds = 10 if session.quick else 60
    learner = Person("bench", "in-lesson")  # on the challenge step: checks after each command
    alone = Person("bench", "sandbox-alone")  # the sandbox called directly, outside any line
    tutor.handle(learner, "start data-persistence")
    while (state := tutor.store.lesson_state(learner, "data-persistence")) is not None \
            and state.current_step != "challenge":
        tutor.handle(learner, "next")
    for who in (person, learner, alone):
        tutor.handle(who, "docker run -d --name getter redis")
        tutor.handle(who, "docker exec getter redis-cli set k v")
    engine_name = tutor.sandbox.namespace(person).engine_name("getter")
    text = "docker exec getter redis-cli get k"
    command = parse(text)
    requests = _requests_of(lambda: tutor.sandbox.run_command(alone, command))
    tutor_requests = _requests_of(lambda: tutor.handle(person, text))
    lesson_requests = _requests_of(lambda: tutor.handle(learner, text))
    steps: dict[str, Callable[[], object]] = {
        "sandbox": lambda: tutor.sandbox.run_command(alone, parse(text)),
        "tutor": lambda: tutor.handle(person, text),
        "lesson": lambda: tutor.handle(learner, text),
        "cli": lambda: _cli("exec", engine_name, "redis-cli", "get", "k"),
    }
    times: dict[str, list[float]] = {who: [] for who in steps}
    orders = _balanced_orders(list(steps))
    for i in range(rounds + 1):  # the first round is a warm-up
        for who in orders[i % len(orders)]:
            seconds = _timed(steps[who])
            if i:
                times[who].append(seconds)
    cli_total = sum(times["cli"])
    cli_ms = statistics.median(times["cli"]) * 1000
    for who in ("sandbox", "tutor", "lesson"):
        ratio = sum(times[who]) / cli_total
        median_ms = statistics.median(times[who]) * 1000
        session.results.append(bench.Measurement(
            session.suite, f"{who} `docker exec c redis-cli get k` x{rounds}", times[who],
            notes=f"ratio {who}/CLI {ratio:.2f} over {rounds} (aim <= 0.85)"))
        session.note(f"`exec redis-cli get` x{rounds}: {who} {median_ms:.0f} ms (median), "
                     f"docker CLI {cli_ms:.0f} ms, total ratio {ratio:.2f}")
    session.results.append(bench.Measurement(
        session.suite, f"CLI `docker exec c redis-cli get k` x{rounds}", times["cli"]))
    session.note(f"engine requests of one `docker exec ... redis-cli get` through the sandbox "
                 f"(no learner line): {requests}, through the whole tutor after a line that "
                 f"read the container: {tutor_requests}, on the challenge step: "
                 f"{lesson_requests} (aim <= 4; the CLI's: 5)")


def _cli_challenge(prefix: str) -> list[list[str]]:
    """The challenge's six lines for a CLI user (the tutor's limits, names under ``prefix``)."""
    first, second, volume = (f"{prefix}-cli-redis-1", f"{prefix}-cli-redis-2",
                             f"{prefix}-cli-data")
    run_flags = ["run", "-d", "--label", f"{LABEL_NAMESPACE}={prefix}", *CLI_LIMITS,
                 "-v", f"{volume}:/data"]
    return [[*run_flags, "--name", first, "redis"],
            ["exec", first, "redis-cli", "set", "mykey", CHALLENGE_VALUE],
            ["stop", first], ["rm", first],
            [*run_flags, "--name", second, "redis"],
            ["exec", second, "redis-cli", "get", "mykey"]]


def challenge_requests(session: bench.BenchSession, tutor: Tutor, prefix: str) -> None:
    """Engine requests of each line of the Immortal Database challenge: tutor against CLI.

    The tutor's are counted by its own meter (:mod:`bot.sandbox.engine.request_counts`, what the
    operators' log shows), on the challenge step, so its checks and looks count too;
    the CLI's by a logging proxy on a unix socket in front of the same engine
    (:class:`bench.engine_proxy.RequestLog`). A ``redis-cli`` line the CLI must re-type
    while Redis starts is counted once (its last, answered try); the tutor waits itself.
    A first learner does the challenge before the count: what a tutor process asks once
    per image (its facts, its Redis release for the witness's file look) is not counted.
    """
    warm = Person("bench", "first-of-the-class")  # what a process asks once per image
    to_challenge(tutor, warm)  # (its facts, its Redis release) is not a learner's cost
    for line in CHALLENGE_SOLUTION:
        tutor.handle(warm, line)
    learner = Person("bench", "challenger")
    to_challenge(tutor, learner)
    tutor_lines: list[Counter[str]] = []
    for line in CHALLENGE_SOLUTION:
        with count_engine_requests() as made:
            tutor.handle(learner, line)
        tutor_lines.append(made)
    cli_lines: list[Counter[str]] = []
    volume = f"{prefix}-cli-data"  # `-v` makes it without the label purge_prefix finds
    with RequestLog() as log:
        env = {**os.environ, "DOCKER_HOST": log.docker_host}
        for argv in _cli_challenge(prefix):
            while True:
                log.take()
                result = subprocess.run(["docker", *argv], capture_output=True, text=True,
                                        env=env, timeout=60, check=False)
                time.sleep(0.1)  # the proxy counts as the bytes pass: let the last one land
                if "redis-cli" in argv and not_ready(result.stdout + result.stderr):
                    continue
                break
            cli_lines.append(log.take())
    _cli("rm", "-f", "-v", f"{prefix}-cli-redis-2")
    _cli("volume", "rm", volume)
    tutor_total = sum(sum(c.values()) for c in tutor_lines)
    cli_total = sum(sum(c.values()) for c in cli_lines)
    session.note(f"engine requests of the challenge's six lines: tutor {tutor_total}, docker CLI "
                 f"{cli_total}, ratio {tutor_total / max(1, cli_total):.2f} (aim <= 1.3)")
    for line, mine, theirs in zip(CHALLENGE_SOLUTION, tutor_lines, cli_lines, strict=True):
        extra = mine - theirs
        missing = theirs - mine
        session.note(f"`{line}`: tutor {sum(mine.values())}, CLI {sum(theirs.values())}"
                     + (f"; the tutor's own: {summary(extra)}" if extra else "")
                     + (f"; the CLI's own: {summary(missing)}" if missing else ""))
