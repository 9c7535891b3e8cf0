"""The progress store on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture
from sqlalchemy import event, select

from bot.errors import StoreError
from bot.identity import Person
from bot.progress import ProgressStore
from bot.progress.models import Learner


def test_progress_survives_a_restart(database_url: str) -> None:
    """Positions, completions, challenge records and the log are still there after reopening."""
    url = database_url
    person = Person("slack", "U1", "Una")
    store = ProgressStore(url)
    store.start_lesson(person, "data-persistence", "intro")
    store.move_to(person, "data-persistence", "challenge")
    assert store.complete_step(person, "data-persistence", "intro")
    assert store.record_challenge(person, "data-persistence", "challenge", {"value": "v"})
    store.log(person, kind="docker", text="docker ps", exit_status=0, duration_ms=12,
              output="CONTAINER ID", lesson_id="data-persistence")
    store.close()

    reopened = ProgressStore(url)
    state = reopened.lesson_state(person, "data-persistence")
    assert state is not None
    assert state.current_step == "challenge"
    assert state.completed("intro") and not state.completed("challenge")
    assert reopened.challenge_completed_at(person, "data-persistence", "challenge") is not None
    [entry] = reopened.history(person)
    assert (entry.text, entry.exit_status, entry.duration_ms) == ("docker ps", 0, 12)
    assert reopened.current_lesson(person) == "data-persistence"
    reopened.close()


def test_completions_are_recorded_once(store: ProgressStore) -> None:
    """A step or a challenge completed twice keeps its first time."""
    person = Person("console", "c")
    store.start_lesson(person, "l", "a")
    assert store.complete_step(person, "l", "a") is True
    assert store.complete_step(person, "l", "a") is False
    assert store.record_challenge(person, "l", "ch", {}) is True
    assert store.record_challenge(person, "l", "ch", {}) is False


def test_hints_advance_and_stop_at_the_last(store: ProgressStore) -> None:
    """Hint indexes go 0, 1, 2 and then stay at the last one."""
    person = Person("console", "h")
    assert [store.next_hint(person, "l", "s", 3) for _ in range(5)] == [0, 1, 2, 2, 2]


def test_reset_forgets_position_but_keeps_the_log(store: ProgressStore) -> None:
    """Resetting a lesson removes its progress rows; the command log is append-only."""
    person = Person("console", "r")
    store.start_lesson(person, "l", "a")
    store.complete_step(person, "l", "a")
    store.log(person, kind="docker", text="docker ps", exit_status=0)
    store.reset_lesson(person, "l")
    assert store.lesson_state(person, "l") is None
    assert len(store.history(person)) == 1


def test_output_is_truncated_in_the_log(store: ProgressStore) -> None:
    """Only a short prefix of a command's output is kept."""
    person = Person("console", "o")
    store.log(person, kind="docker", text="x", exit_status=0, output="y" * 10_000)
    assert len(store.history(person)[0].output) == 500


def test_enter_records_activity_and_reads_the_position(store: ProgressStore) -> None:
    """One read at a command's start makes a new learner, marks them active and says where they are."""
    person = Person("console", "e")
    fresh = store.enter(person)
    assert (fresh.lesson_id, fresh.state) == (None, None)
    first_seen = store.learner_activity()[person.key]
    store.start_lesson(person, "l", "a")
    store.complete_step(person, "l", "a")
    store.move_to(person, "l", "b")
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]).split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", seen)
    position = store.enter(person)
    event.remove(store.engine, "before_cursor_execute", seen)
    assert statements == ["UPDATE", "SELECT"]  # touched and counted, then the lesson: one read
    assert position.learner_id == fresh.learner_id
    assert position.lesson_id == "l" and position.state is not None
    assert position.state.current_step == "b" and position.state.completed("a")
    assert position.state == store.lesson_state(person, "l")
    assert position.line_seq == fresh.line_seq + 1
    assert store.learner_activity()[person.key] > first_seen
    store.reset_lesson(person, "l")  # the lesson stays current, its progress is gone
    assert store.enter(person).state is None
    renamed = Person("console", "e", "Eve")
    assert store.enter(renamed).learner_id == fresh.learner_id
    with store.session() as session:
        assert session.scalars(select(Learner.display_name)
                               .where(Learner.key == person.key)).one() == "Eve"


def test_log_with_the_learner_read_this_turn_writes_the_same_entry(store: ProgressStore) -> None:
    """An entry logged with the learner id from enter() reads back like one logged without it."""
    person = Person("console", "i")
    learner_id = store.enter(person).learner_id
    facts = {"verb": "exec", "container": {"name": "c", "mounts": []}}
    for given in (None, learner_id):
        store.log(person, kind="docker", text="docker exec c ls\ud800", exit_status=3,
                  duration_ms=7, output="y" * 600, lesson_id="l", step_id="s", facts=facts,
                  learner_id=given)
    store.log(person, kind="quiz", text="answer 1", exit_status=0, learner_id=learner_id)
    plain, fast, without_facts = store.history(person)
    assert fast.id > plain.id
    assert [getattr(fast, f) for f in ("lesson_id", "step_id", "kind", "text", "exit_status",
                                       "duration_ms", "output", "facts")] == \
        [getattr(plain, f) for f in ("lesson_id", "step_id", "kind", "text", "exit_status",
                                     "duration_ms", "output", "facts")]
    assert fast.facts == facts and len(fast.output) == 500 and "\ud800" not in fast.text
    assert without_facts.facts is None
    assert [e.kind for e in store.history(person, kind="quiz")] == ["quiz"]


def test_history_since_keeps_the_entries_logged_from_then_on(store: ProgressStore) -> None:
    """``since`` drops what was logged before a lesson's start and keeps order and limit."""
    person = Person("console", "s")
    store.log(person, kind="docker", text="before", exit_status=0)
    state = store.start_lesson(person, "l", "a")
    for n in range(3):
        store.log(person, kind="docker", text=f"after {n}", exit_status=0)
    assert [e.text for e in store.history(person)] == ["before", "after 0", "after 1", "after 2"]
    assert [e.text for e in store.history(person, since=state.started_at)] == \
        ["after 0", "after 1", "after 2"]
    assert [e.text for e in store.history(person, since=state.started_at, limit=2)] == \
        ["after 1", "after 2"]


def test_a_failed_write_changes_nothing(store: ProgressStore, mocker: MockerFixture) -> None:
    """When the database fails mid-transaction the error is a StoreError and nothing is kept."""
    from sqlalchemy.exc import OperationalError

    person = Person("console", "f")
    store.start_lesson(person, "l", "a")
    original = store._step

    def boom(*args: object, **kwargs: object) -> object:
        raise OperationalError("UPDATE", {}, Exception("disk I/O error"))

    mocker.patch.object(store, "_step", side_effect=boom)
    with pytest.raises(StoreError):
        store.complete_step(person, "l", "a")
    mocker.patch.object(store, "_step", side_effect=original)
    state = store.lesson_state(person, "l")
    assert state is not None and not state.completed("a")


def test_store_error_for_unusable_url(tmp_path: Path) -> None:
    """A database that cannot be opened gives a StoreError, not a driver traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        ProgressStore(f"sqlite:///{blocker}/sub/p.db")


def test_the_tutor_and_the_timeline_read_one_step_record(store: ProgressStore) -> None:
    """Hints, attempts and failures (all different) land in the same fields for both readers."""
    from bot.progress.queries import learner_timeline

    ada = Person("slack", "U1", "Ada")
    store.start_lesson(ada, "l", "s1")
    for _ in range(3):
        store.next_hint(ada, "l", "s1", 5)
    store.record_check(ada, "l", "s1", passed=False)
    store.record_check(ada, "l", "s1", passed=False)
    store.record_check(ada, "l", "s1", passed=True)
    state = store.lesson_state(ada, "l")
    assert state is not None
    step = state.steps["s1"]
    assert (step.hints_shown, step.check_attempts, step.failed_checks) == (3, 3, 2)
    timeline = learner_timeline(store, ada.key)
    assert timeline is not None
    assert timeline.lessons[0].steps["s1"] == step
