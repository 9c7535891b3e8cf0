"""The terminal console, driven with piped input like a scripted lesson."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.console.repl import run_console
from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import CHALLENGE_SOLUTION

pytestmark = pytest.mark.docker

NEXT_TO_CHALLENGE = ["start data-persistence"] + ["next"] * 6

FOLLOWS_THE_LESSON = [*NEXT_TO_CHALLENGE, *CHALLENGE_SOLUTION]

SEEDS_SOLUTION = [
    *NEXT_TO_CHALLENGE,
    "docker run -d --name redis-1 -v my-redis-data:/data redis",
    'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
    "docker rm -f redis-1",
    "docker run -d --name redis-2 -v my-redis-data:/data redis",
    "docker exec redis-2 redis-cli get mykey",
]


def console(tutor: Tutor, user: str, lines: list[str]) -> str:
    """Run the console on piped lines and return everything it printed."""
    out = io.StringIO()
    assert run_console(tutor, user, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out) == 0
    return out.getvalue()


def test_piped_lesson_ends_with_confirmation_and_completion(tutor: Tutor) -> None:
    """Following the lesson's instructions literally ends in a recorded completion."""
    output = console(tutor, "carol", FOLLOWS_THE_LESSON)
    assert "Challenge complete" in output and "survived" in output
    assert "Traceback" not in output
    person = Person("console", "carol")
    assert tutor.store.challenge_completed_at(person, "data-persistence", "challenge")


def test_seeds_printed_solution_ends_with_the_explanation(tutor: Tutor) -> None:
    """The seed's `rm -f` solution gets the trap explained and no completion."""
    output = console(tutor, "dave", SEEDS_SOLUTION)
    assert "trap" in output and "SIGKILL" in output
    assert "Challenge complete" not in output
    assert tutor.store.challenge_completed_at(Person("console", "dave"), "data-persistence",
                                              "challenge") is None


def test_errors_are_one_line_and_the_session_goes_on(tutor: Tutor) -> None:
    """A refused command and an unknown word print a reason; later lines still run."""
    output = console(tutor, "erin", ["start", "docker run --privileged redis", "frobnicate",
                                     "docker ps"])
    assert "`--privileged` is refused" in output
    assert "I don't know `frobnicate`" in output
    assert "CONTAINER ID" in output
    assert "Traceback" not in output


def test_the_installed_command_runs_a_piped_session(settings: Settings, tmp_path: Path) -> None:
    """`docker-tutor console --user NAME` reads stdin to its end and exits 0."""
    env = {
        **os.environ,
        "TUTOR_DATA_DIR": str(tmp_path / "data"),
        "TUTOR_NAMESPACE": settings.namespace,
    }
    env.pop("SLACK_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "frank"],
        input="start data-persistence\nnext\ndocker volume ls\nstatus\n",
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Your first container" in result.stdout  # `start` begins the course
    assert "DRIVER" in result.stdout
    assert (tmp_path / "data" / "tutor.db").is_file()


def test_the_console_has_no_flood_limit_by_default(settings: Settings, tmp_path: Path) -> None:
    """A scripted console lesson may send more than the class-wide 30 commands a minute."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_NAMESPACE": settings.namespace}
    env.pop("TUTOR_COMMANDS_PER_MINUTE", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "gina"],
        input="docker volume ls\n" * 35, capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("DRIVER") == 35
    assert "commands in a minute" not in result.stdout


def test_the_console_keeps_a_limit_when_one_is_set(settings: Settings, tmp_path: Path) -> None:
    """TUTOR_COMMANDS_PER_MINUTE set explicitly applies to the console too."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_NAMESPACE": settings.namespace, "TUTOR_COMMANDS_PER_MINUTE": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "hal"],
        input="docker volume ls\n" * 5, capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )
    assert result.stdout.count("DRIVER") == 3
    assert result.stdout.count("more than 3 commands in a minute") == 2


# -- reading like a terminal program ------------------------------------------------------------

SGR = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a learner's TTY does (what the console asks)."""

    def isatty(self) -> bool:
        """Yes: this stream stands for a terminal."""
        return True


def terminal(tutor: Tutor, user: str, lines: list[str]) -> str:
    """Run the console as in a terminal (styled, asking before reset); its output unstyled."""
    out = Terminal()
    assert run_console(tutor, user, stdin=Terminal("\n".join(lines) + "\n"), stdout=out) == 0
    return SGR.sub("", out.getvalue())


def test_a_piped_console_has_no_markup_and_no_blank_line_after_each_answer(tutor: Tutor) -> None:
    """Plain text for scripts: bold without asterisks, no escape codes, answers back to back."""
    output = console(tutor, "ida", ["lessons", "start", "docker volume ls", "status"])
    assert "*Data Persistence*" not in output and "Data Persistence (`data-persistence`)" in output
    assert "\x1b" not in output
    lines = output.splitlines()
    echoes = [n for n, line in enumerate(lines) if line.startswith("> ")]
    assert len(echoes) == 4
    assert all(lines[n - 1].strip() for n in echoes[1:]), output
    assert lines[-1].strip()


def test_container_output_with_escape_sequences_is_shown_escaped(tutor: Tutor) -> None:
    """A container printing OSC and CSI sequences reaches the console as visible text."""
    command = "docker run --rm busybox printf '\\033]0;pwned\\007\\033[2Jafter'"
    for output in (console(tutor, "jon", [command]), terminal(tutor, "jon", [command])):
        assert "\\x1b]0;pwned\\x07\\x1b[2Jafter" in output
        assert "\x1b" not in output and "\x07" not in output


def test_a_bare_number_answers_the_current_quiz(tutor: Tutor) -> None:
    """On a quiz step `2` is `answer 2`; elsewhere a bare number is an unknown word."""
    output = console(tutor, "kai", ["start data-persistence", "1", *["next"] * 5, "1", "2"])
    assert "I don't know `1`" in output
    assert "Not quite." in output and "Right: " in output
    graded = tutor.store.history(Person("console", "kai"), kind="quiz")
    assert [e.exit_status for e in graded] == [1, 0]


def test_a_piped_reset_goes_on_without_asking(tutor: Tutor) -> None:
    """Scripts keep working: in a pipe `reset` removes at once, no question asked."""
    output = console(tutor, "lou", ["start", "docker volume create keepme", "reset"])
    assert "Type yes" not in output
    assert "removed 0 container(s) and 1 volume(s)" in output


def test_in_a_terminal_reset_asks_and_only_yes_goes_on(tutor: Tutor) -> None:
    """On a TTY `reset` says what it removes; `no` keeps everything, `yes` removes it."""
    output = terminal(tutor, "max", ["start data-persistence", "docker volume create keepme", "reset", "y",
                                     "docker volume ls", "reset", "yes", "docker volume ls"])
    question = ("This removes all your containers and volumes and starts Containers over.\n"
                "Type yes to go on: ")
    assert output.count(question) == 2
    first, second = output.split(question)[1:]
    assert first.startswith("Nothing was removed.") and "keepme" in first
    assert "removed 0 container(s) and 1 volume(s)" in second
    last_listing = second.split("max> ")[-2]
    assert last_listing.startswith("DRIVER") and "keepme" not in last_listing


def _read_until(fd: int, marker: bytes, seen: bytearray, count: int = 1) -> None:
    deadline = time.monotonic() + 60
    while seen.count(marker) < count:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        assert ready, f"no {marker!r} within 60 s: {bytes(seen)[-400:]!r}"
        seen += os.read(fd, 65536)


def test_on_a_real_terminal_replies_are_styled_and_reset_asks(settings: Settings,
                                                               tmp_path: Path) -> None:
    """A pseudo-terminal: bold and code styled, no markup or raw controls, `reset` asks first."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_NAMESPACE": settings.namespace, "TERM": "xterm-256color"}
    for name in ("SLACK_BOT_TOKEN", "DATABASE_URL", "NO_COLOR"):
        env.pop(name, None)
    argv = [sys.executable, "-m", "bot", "console", "--user", "pat"]
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)  # noqa: S606 - our own command
    seen = bytearray()
    try:
        _read_until(fd, b"pat> ", seen)
        os.write(fd, b"lessons\n")
        _read_until(fd, b"pat> ", seen, 2)
        os.write(fd, b"reset\n")
        _read_until(fd, b"Type yes to go on: ", seen)
        os.write(fd, b"no\n")
        _read_until(fd, b"pat> ", seen, 3)
        os.write(fd, b"quit\n")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    text = bytes(seen).decode()
    assert "\x1b[1m04 Data Persistence\x1b[0m" in text  # Slack's *bold*, in bold
    plain = SGR.sub("", text)
    assert "*Data Persistence*" not in plain and "\x1b" not in plain
    assert "Type `start LESSON`" not in plain and "Type start LESSON to begin" in plain
    assert "docker-tutor console. Type start to begin" in plain
    assert "This removes all your containers and volumes." in plain
    assert "Nothing was removed." in plain
    assert "\n\n" not in plain.replace("\r", "")


def test_an_instructors_progress_shows_a_learners_escape_sequences_escaped(
    settings: Settings, tmp_path: Path
) -> None:
    """`progress @learner` in an instructor's terminal never replays a learner's ESC bytes."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_NAMESPACE": settings.namespace, "TUTOR_INSTRUCTORS": "boss"}
    env.pop("SLACK_BOT_TOKEN", None)
    hostile = "\x1b]0;pwned\x07\x1b[2J"
    for user, lines in (("nia", f"start\nedit notes.txt a{hostile}b\ndocker ps {hostile}\n"),
                        ("boss", "progress @nia\n")):
        result = subprocess.run([sys.executable, "-m", "bot", "console", "--user", user],
                                input=lines, capture_output=True, text=True, env=env,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stderr
    assert "Progress of nia" in result.stdout
    assert "docker ps \\x1b]0;pwned\\x07\\x1b[2J" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
