"""Diagnoses as data: said once per change of state, recorded by id, counted as failed attempts."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.checks.diagnoses import FOUND, SAID, should_say
from bot.checks.framework import CheckResult
from bot.identity import Person
from bot.progress import CommandEntry
from bot.progress.figures import LessonOutline
from bot.progress.queries import learner_rows
from bot.progress.store import ProgressStore


def entry(step: str, found: str | None = None, diagnosis: str | None = None,
          said: str = "") -> CommandEntry:
    """A checked line of the log, with the state found after it and any diagnosis said."""
    facts = {} if found is None else {FOUND: found}
    if diagnosis:
        facts[SAID] = said
    return CommandEntry(0, datetime.now(UTC), "l", step, "docker", "docker ps", 0, 0, "", facts,
                        diagnosis)


TRAP = CheckResult(False, "That's the trap.", volunteer=True, state="trap")


def test_a_diagnosis_is_said_once_until_the_state_changes() -> None:
    """Same state, same words: said once; after another state was found, said again."""
    now = entry("c")
    assert should_say([now], "c", TRAP)
    said = entry("c", "trap", "trap", "That's the trap.")
    assert not should_say([said, entry("c", "trap"), now], "c", TRAP)
    assert should_say([said, entry("c", "writer-alive"), now], "c", TRAP)
    other_words = CheckResult(False, "That's the trap, again.", volunteer=True, state="trap")
    assert should_say([said, now], "c", other_words)
    assert should_say([entry("other", "trap", "trap", "That's the trap."), now], "c", TRAP)
    assert not should_say([now], "c", CheckResult(False, "not yet", state="no-write"))


def test_traps_and_quiz_misses_count_as_failed_attempts(store: ProgressStore) -> None:
    """A trap after a successful command and a wrong quiz answer are two failed attempts."""
    person = Person("console", "u1", "U1")
    store.start_lesson(person, "l", "c")
    store.log(person, kind="docker", text="docker exec redis-2 redis-cli get mykey",
              exit_status=0, lesson_id="l", step_id="c", diagnosis="trap")
    store.log(person, kind="quiz", text="answer 1", exit_status=1, lesson_id="l", step_id="c",
              diagnosis="quiz-miss")
    store.log(person, kind="docker", text="docker ps", exit_status=0, lesson_id="l", step_id="c",
              diagnosis="other-step")
    row = learner_rows(store, LessonOutline("l", ("c",)))[0]
    assert row.failed_commands == 2
    assert [e.diagnosis for e in store.history(person)] == ["trap", "quiz-miss", "other-step"]


def test_a_noted_diagnosis_keeps_the_lines_facts(store: ProgressStore) -> None:
    """`note_diagnosis` adds the state found and the words said to the line's own facts."""
    person = Person("console", "u2", "U2")
    line = store.log(person, kind="docker", text="docker rm -f redis-1", exit_status=0,
                     facts={"verb": "rm"})
    store.note_diagnosis(line, found="trap", diagnosis="trap", said="That's the trap.")
    got = store.history(person)[-1]
    assert got.diagnosis == "trap"
    assert got.facts == {"verb": "rm", FOUND: "trap", SAID: "That's the trap."}
