"""Console start-up: from starting ``docker-tutor console`` to its first prompt, in a terminal.

Each run starts the installed ``docker-tutor console`` on a pseudo-terminal (so it
behaves as in a learner's terminal), waits for the prompt ``bench> `` and records the
time since the process was started (aim: < 300 ms). It then types ``lessons`` at once
and records when the answer's next prompt appears: the tutor (database, lessons) is
built behind the first prompt, so this is the longest a learner can wait for a first
answer. The database is created by an untimed warm-up run, as on any start but the first.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import time
from pathlib import Path

import bench

PROMPT = b"bench> "
TIMEOUT = 30.0


def command() -> list[str]:
    """The installed ``docker-tutor console``, or ``python -m bot console`` without it."""
    script = Path(sys.executable).with_name("docker-tutor")
    found = str(script) if script.exists() else shutil.which("docker-tutor")
    base = [found] if found else [sys.executable, "-m", "bot"]
    return [*base, "console", "--user", "bench"]


def _read_until(fd: int, marker: bytes, count: int, seen: bytearray) -> None:
    """Read the terminal until ``marker`` appeared ``count`` times in everything read."""
    deadline = time.monotonic() + TIMEOUT
    while seen.count(marker) < count:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            raise TimeoutError(f"no prompt after {TIMEOUT:.0f} s: {bytes(seen)[-300:]!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError as exc:  # the console exited (EIO on the pty)
            raise RuntimeError(f"the console ended early: {bytes(seen)[-300:]!r}") from exc
        seen += chunk


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Start the console once: seconds to the first prompt, and to the first answer's prompt."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the console
        os.execvpe(argv[0], argv, env)  # noqa: S606 - our own command, no shell
    seen = bytearray()
    try:
        _read_until(fd, PROMPT, 1, seen)
        prompt = time.perf_counter() - start
        os.write(fd, b"lessons\n")
        _read_until(fd, PROMPT, 2, seen)
        answer = time.perf_counter() - start
        os.write(fd, b"quit\n")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    if b"Lessons" not in seen or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"unexpected console session: {bytes(seen)[-300:]!r}")
    return prompt, answer


def run(session: bench.BenchSession) -> None:
    """Time the console's first prompt and first answer over several runs."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(session.scratch / "startup"), "TERM": "dumb"}
    for name in ("SLACK_BOT_TOKEN", "DATABASE_URL", "TUTOR_COMMANDS_PER_MINUTE"):
        env.pop(name, None)
    if session.database_url:
        env["DATABASE_URL"] = session.database_url
    argv = command()
    one_run(argv, env)  # warm-up: creates the database, fills the OS file cache
    runs = 3 if session.quick else 10
    timings = [one_run(argv, env) for _ in range(runs)]
    prompts = [p for p, _ in timings]
    answers = [a for _, a in timings]
    session.results.append(bench.Measurement(
        session.suite, "`docker-tutor console`: process start to first prompt", prompts,
        target_ms=300, notes="in a pseudo-terminal"))
    session.results.append(bench.Measurement(
        session.suite, "...to the answer of `lessons` typed at the first prompt", answers,
        notes="the tutor is built behind the prompt"))
    session.note(f"`{' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))}`, "
                 f"{runs} runs after a warm-up; the figures include Python's own start-up.")
