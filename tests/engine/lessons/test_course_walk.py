"""README's piped console walk of lesson 01, run as written: the lesson ends done, challenge too."""

from __future__ import annotations

import io
import re
import shlex

import pytest

from bot.console.repl import run_console
from bot.identity import Person
from tests.conftest import LimitedTutor
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.docker

README = REPO_ROOT / "README.md"


def walk_lines(lesson_id: str) -> list[str]:
    """The lines README's ``<!-- walk: LESSON -->`` script pipes into the console."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- walk: {re.escape(lesson_id)} -->\n```sh\n(.*?)```", text, re.S)
    assert found, f"README has no walk for {lesson_id}"
    script = found.group(1).replace("\\\n", " ")
    words = shlex.split(script)
    assert words[:2] == ["printf", "%s\\n"] and "|" in words
    piped_into = words[words.index("|") + 1:]
    assert piped_into[0].endswith("docker-tutor") and piped_into[1:3] == ["console", "--user"]
    return words[2:words.index("|")]


def test_the_readme_walk_of_lesson_01_finishes_the_lesson(limited_tutor: LimitedTutor) -> None:
    """Piped line by line, README's walk completes every step, the Phoenix and the lesson.

    The console has no per-minute limit (`docker-tutor console`), so neither has this tutor.
    """
    tutor = limited_tutor(commands_per_minute=0)
    lines = walk_lines("containers")
    out = io.StringIO()
    assert run_console(tutor, "walker", stdin=io.StringIO("\n".join(lines) + "\n"),
                       stdout=out) == 0
    output = out.getvalue()
    assert "Traceback" not in output and "is refused" not in output
    person = Person("console", "walker")
    state = tutor.store.lesson_state(person, "containers")
    lesson = tutor.catalog.get("containers")
    assert state is not None and state.completed_at is not None, output[-3000:]
    assert [s.id for s in lesson.steps if not state.completed(s.id)] == []
    assert tutor.store.challenge_completed_at(person, "containers", "challenge")
    assert "Challenge complete" in output and "restarted `phoenix` by itself" in output
    assert "You finished Containers. Well done!" in output
    assert "Next in the course: Data Persistence. Type `start data-persistence`" in output
    assert "01 Containers (`containers`)" in output and "State: \u2705 done" in output
    assert tutor.sandbox.containers(person) == []
