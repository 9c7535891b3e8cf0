"""Console start-up and the operators' log, without a Docker engine.

The prompt comes before the tutor is built (the heavy parts load behind it); a tutor
that only walks lessons never loads docker-py; every learner line is one structured log
line for operators, which a learner's console never shows.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cli import log_level
from bot.console.repl import BANNER, ServiceStartup, run_console
from bot.errors import StoreError, TutorError
from bot.identity import Person
from bot.service import TutorService
from bot.tutor.core import Tutor
from bot.tutor.oplog import EXIT_ENGINE_UNAVAILABLE, EXIT_REFUSED, EXIT_TUTOR_ERROR
from tests.conftest import NO_ENGINE

HEAVY = ("sqlalchemy", "alembic", "docker", "requests", "matplotlib", "slack_bolt", "bot.tutor.core",
         "bot.progress.store")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"), "DOCKER_HOST": NO_ENGINE,
           **extra}
    for name in ("SLACK_BOT_TOKEN", "DATABASE_URL", "TUTOR_COMMANDS_PER_MINUTE"):
        if name not in extra:
            env.pop(name, None)
    return env


# -- what loads before the prompt ---------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """What one fresh interpreter had loaded after the prompt path, then after a lesson walk.

    The walk is a tutor built from settings answering tutor words. One interpreter gives
    both facts in turn: walking starts where the prompt path ends, so it can only have
    more loaded than a walk on its own.
    """
    database = tmp_path_factory.mktemp("walk") / "t.db"
    code = ("import json, sys\n"
            "import bot.cli, bot.console.repl, bot.factory, bot.service\n"
            f"prompt = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "from bot.config import Settings\n"
            "from bot.identity import Person\n"
            "from bot.factory import build_service\n"
            f"tutor = build_service(Settings(database_url='sqlite:///{database}'))\n"
            "ada = Person('console', 'ada')\n"
            "for line in ('start', 'next', 'status', 'lessons', 'back'):\n"
            "    tutor.handle(ada, line)\n"
            "tutor.close()\n"
            "walk = [m for m in ('docker', 'matplotlib') if m in sys.modules]\n"
            "print(json.dumps({'prompt': prompt, 'walk': walk}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    facts: dict[str, list[str]] = json.loads(result.stdout.splitlines()[-1])
    return facts


def test_the_prompt_path_imports_nothing_heavy(loaded: dict[str, list[str]]) -> None:
    """The command line and the console load no database, engine, chart or Slack library."""
    assert loaded["prompt"] == []


def test_walking_a_lesson_never_loads_the_engine_client(loaded: dict[str, list[str]]) -> None:
    """A tutor built from settings answers tutor words without importing docker-py (nor matplotlib)."""
    assert loaded["walk"] == []


# -- building behind the prompt -----------------------------------------------------------------


def test_the_startup_builds_once_in_the_background_and_closes_what_it_built(
    tutor_no_engine: Tutor,
) -> None:
    """start() builds on another thread; get() waits and returns it; close() closes it once."""
    built: list[str] = []
    closed: list[str] = []
    release = threading.Event()

    class Recorded(Tutor):
        def close(self) -> None:
            closed.append(threading.current_thread().name)

    def build() -> TutorService:
        built.append(threading.current_thread().name)
        assert release.wait(10)
        return Recorded(tutor_no_engine.settings, tutor_no_engine.store, tutor_no_engine.sandbox,
                        tutor_no_engine.catalog)

    startup = ServiceStartup(build)
    startup.start()
    startup.start()
    release.set()
    first = startup.get()
    assert startup.get() is first
    assert built == ["tutor-startup"]
    startup.close()
    startup.close()
    assert closed == [threading.current_thread().name]


def test_a_failed_build_is_raised_where_the_service_is_needed() -> None:
    """A tutor error while building (a database that will not open) reaches get()'s caller."""
    def build() -> TutorService:
        raise StoreError("Cannot open the progress database sqlite:///nowhere: no such folder")

    startup = ServiceStartup(build)
    startup.start()
    with pytest.raises(StoreError, match="Cannot open the progress database"):
        startup.get()
    startup.close()


def test_a_piped_console_builds_first_and_runs_the_script(tutor_no_engine: Tutor) -> None:
    """Without a terminal, the console builds the tutor before the first line; no prompt shows."""
    out = io.StringIO()
    startup = ServiceStartup(lambda: tutor_no_engine)
    assert run_console(startup, "ivy", stdin=io.StringIO("start\nstatus\n"), stdout=out) == 0
    startup.close()
    text = out.getvalue()
    assert "> start" in text and "What is a container?" in text
    assert "ivy> " not in text and BANNER not in text


def _read_until(fd: int, marker: bytes, seen: bytearray, count: int = 1) -> None:
    deadline = time.monotonic() + 60
    while seen.count(marker) < count:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        assert ready, f"no {marker!r} within 60 s: {bytes(seen)!r}"
        try:
            seen += os.read(fd, 65536)
        except OSError:  # the console exited
            break


def _terminal_session(tmp_path: Path, lines: list[bytes], **env: str) -> tuple[bytes, int]:
    """Run `docker-tutor console` on a pseudo-terminal, typing each line at a prompt."""
    argv = [sys.executable, "-m", "bot", "console", "--user", "jo"]
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, _env(tmp_path, **env))  # noqa: S606 - our own command
    seen = bytearray()
    try:
        for n, line in enumerate(lines, start=1):
            _read_until(fd, b"jo> ", seen, n)
            os.write(fd, line)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return bytes(seen), os.waitstatus_to_exitcode(status)


def test_in_a_terminal_the_prompt_comes_first_and_the_first_line_is_answered(
    tmp_path: Path,
) -> None:
    """In a terminal: banner and prompt, then `start` is answered by the tutor built behind it."""
    output, status = _terminal_session(tmp_path, [b"start\n", b"quit\n"])
    assert status == 0, output
    assert output.index(b"docker-tutor console.") < output.index(b"jo> ")
    assert b"What is a container?" in output
    assert b"INFO" not in output and b"command learner=" not in output
    assert (tmp_path / "data" / "tutor.db").is_file()


def test_in_a_terminal_a_database_that_will_not_open_says_where_and_why(tmp_path: Path) -> None:
    """The prompt shows; the first line then gets the store's one-line reason and exit 1."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be", encoding="utf-8")
    url = f"sqlite:///{blocker / 'tutor.db'}"
    output, status = _terminal_session(tmp_path, [b"start\n"], DATABASE_URL=url)
    assert status == 1, output
    assert b"docker-tutor: Cannot open the progress database" in output
    assert b"Traceback" not in output


def test_a_piped_console_with_a_bad_database_says_where_and_why(tmp_path: Path) -> None:
    """With piped input the store's reason comes before any line is read, with exit 1."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "console", "--user", "kim"],
                            input="start\n", capture_output=True, text=True, timeout=120,
                            env=_env(tmp_path, DATABASE_URL=f"sqlite:///{blocker / 'tutor.db'}"),
                            check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("docker-tutor: Cannot open the progress database")
    assert result.stdout == "" and "Traceback" not in result.stderr


# -- the operators' log -------------------------------------------------------------------------


def test_each_learner_line_is_one_structured_log_line(
    tutor_no_engine: Tutor, caplog: pytest.LogCaptureFixture
) -> None:
    """Every line handled logs learner hash, verb, exit status, duration and engine; never the text."""
    ada = Person("console", "ada-secret-name")
    with caplog.at_level(logging.INFO, logger="bot.tutor.core"):
        tutor_no_engine.handle(ada, "start")
        for line in ("frobnicate my-password", "docker run --privileged busybox", "docker ps"):
            with pytest.raises(TutorError):
                tutor_no_engine.handle(ada, line)
    records = [r for r in caplog.records if r.name == "bot.tutor.core"]
    fields = [r.command for r in records]  # type: ignore[attr-defined]
    assert [(f["verb"], f["exit"]) for f in fields] == [
        ("start", 0), ("unknown", EXIT_TUTOR_ERROR), ("docker", EXIT_REFUSED),
        ("docker ps", EXIT_ENGINE_UNAVAILABLE)]
    learner = fields[0]["learner"]
    assert len(learner) == 12 and all(f["learner"] == learner for f in fields)
    assert all(f["engine"] == NO_ENGINE and f["ms"] >= 0 for f in fields)
    messages = [r.getMessage() for r in records]
    millis = fields[0]["ms"]
    assert messages[0] == (f"command learner={learner} verb=start exit=0 ms={millis} "
                           f"engine={NO_ENGINE} requests=0")
    assert fields[0]["requests_by_kind"] == {}
    assert 'verb="docker ps"' in messages[3]
    for text in messages:
        assert "ada" not in text and "password" not in text and "privileged" not in text


def test_the_console_logs_only_problems_and_serve_logs_every_command() -> None:
    """A learner's console (and `run` without Slack) logs warnings only; servers log at INFO."""
    assert log_level("console") == logging.WARNING
    assert log_level("run") == logging.WARNING
    assert log_level("serve") == logging.INFO
    assert log_level("progress") == logging.INFO
    assert log_level("console", verbose=True) == logging.DEBUG


def test_a_piped_console_prints_no_log_lines(tmp_path: Path) -> None:
    """Nothing but the answers: no command log lines, no migration lines on the terminal."""
    result = subprocess.run([sys.executable, "-m", "bot", "console", "--user", "lee"],
                            input="start\nnext\nstatus\n", capture_output=True, text=True,
                            timeout=120, env=_env(tmp_path), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Your first container" in result.stdout

