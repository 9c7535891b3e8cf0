"""The terminal console, driven with piped input like a scripted lesson."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.console import run_console
from bot.identity import Person
from bot.tutor import Tutor

pytestmark = pytest.mark.docker

NEXT_TO_CHALLENGE = ["start data-persistence"] + ["next"] * 6

FOLLOWS_THE_LESSON = [
    *NEXT_TO_CHALLENGE,
    "docker run -d --name redis-1 -v my-redis-data:/data redis",
    'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
    "docker stop redis-1",
    "docker rm redis-1",
    "docker run -d --name redis-2 -v my-redis-data:/data redis",
    "docker exec redis-2 redis-cli get mykey",
]

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
        input="start\nnext\ndocker volume ls\nstatus\n",
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "The ephemeral writable layer" in result.stdout
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
