"""The comparison quiz: buttons in Slack, numbers in the console, answers recorded and verified."""

from __future__ import annotations

import pytest

from bot.console.render import render
from bot.errors import UsageError
from bot.identity import Person
from bot.reply import Actions, Event, Reply
from bot.tutor.core import Tutor
from tests.check_helpers import verify

pytestmark = pytest.mark.docker

LESSON = "data-persistence"
STEP = "comparison"
QUESTIONS = ["keep", "live-code", "restart"]


def to_quiz(tutor: Tutor, person: Person) -> Reply:
    """Start the lesson and walk with `next` to the quiz step; return that section."""
    tutor.handle(person, f"start {LESSON}")
    reply = Reply()
    for _ in range(5):
        reply = tutor.handle(person, "next")
    assert tutor.store.lesson_state(person, LESSON).current_step == STEP  # type: ignore[union-attr]
    return reply


def choices(reply: Reply) -> list[tuple[str, str]]:
    """The quiz buttons of a reply, as (value, label) pairs."""
    return [c for part in reply.parts if isinstance(part, Actions) for c in part.choices]


def quiz_log(tutor: Tutor, person: Person) -> list[dict[str, object]]:
    """The quiz facts recorded in the command log."""
    return [e.facts["quiz"] for e in tutor.store.history(person, kind="quiz") if e.facts]


def test_the_section_shows_the_first_question_with_buttons(tutor: Tutor, alice: Person) -> None:
    """The quiz step shows question 1: Slack buttons `keep:N`, numbered lines in the console."""
    reply = to_quiz(tutor, alice)
    buttons = choices(reply)
    assert [value for value, _ in buttons] == ["keep:1", "keep:2", "keep:3", "keep:4"]
    assert "Question 1 of 3" in reply.text()
    assert "  2. A named volume" in render(reply)
    assert "answer N" in render(reply)


def test_console_numbers_complete_the_quiz_and_record_each_answer(
    tutor: Tutor, alice: Person
) -> None:
    """Right answers by number complete the step; a wrong one is explained and logged as wrong."""
    to_quiz(tutor, alice)
    wrong = tutor.handle(alice, "answer 1")
    assert "Not quite" in wrong.text() and "`docker rm` deletes" in wrong.text()
    assert Event.STEP_COMPLETED not in wrong.events
    assert choices(wrong)[0][0] == "keep:1"
    second = tutor.handle(alice, "answer 2")
    assert "Right" in second.text() and "Question 2 of 3" in second.text()
    tutor.handle(alice, "answer 3")
    last = tutor.handle(alice, "answer 4")
    assert Event.STEP_COMPLETED in last.events
    assert "All 3 questions answered right (2 on the first try)" in last.text()
    assert tutor.store.lesson_state(alice, LESSON).completed(STEP)  # type: ignore[union-attr]
    assert quiz_log(tutor, alice) == [
        {"step": STEP, "question": "keep", "choice": 1, "correct": False},
        {"step": STEP, "question": "keep", "choice": 2, "correct": True},
        {"step": STEP, "question": "live-code", "choice": 3, "correct": True},
        {"step": STEP, "question": "restart", "choice": 4, "correct": True},
    ]
    entries = tutor.store.history(alice, kind="quiz")
    assert [e.exit_status for e in entries] == [1, 0, 0, 0]
    assert entries[0].text == "answer keep:1" and entries[0].step_id == STEP


def test_buttons_and_labels_answer_a_named_question(tutor: Tutor, alice: Person) -> None:
    """A button's `answer q:N` and a choice's label both work; a stale button changes nothing."""
    to_quiz(tutor, alice)
    tutor.handle(alice, "answer keep:2")
    stale = tutor.handle(alice, "answer keep:1")
    assert "already answered" in stale.text()
    assert "Question 2 of 3" in stale.text()
    tutor.handle(alice, "answer a bind mount")
    done = tutor.handle(alice, "answer restart:4")
    assert Event.STEP_COMPLETED in done.events
    assert len(quiz_log(tutor, alice)) == 3


def test_bad_answers_are_usage_errors(tutor: Tutor, alice: Person) -> None:
    """Out of range, not a number, an unknown question, or no quiz here: one-line errors."""
    tutor.handle(alice, f"start {LESSON}")
    with pytest.raises(UsageError, match="no question to answer"):
        tutor.handle(alice, "answer 1")
    to_quiz(tutor, alice)
    with pytest.raises(UsageError, match="from 1 to 4"):
        tutor.handle(alice, "answer 7")
    with pytest.raises(UsageError, match="number of your choice"):
        tutor.handle(alice, "answer maybe")
    with pytest.raises(UsageError, match="no question `nope`"):
        tutor.handle(alice, "answer nope:1")
    assert quiz_log(tutor, alice) == []


def test_next_does_not_complete_a_quiz_and_check_shows_the_question(
    tutor: Tutor, alice: Person
) -> None:
    """A quiz step is hands-on: `next` leaves it undone; `check` shows where the quiz stands."""
    to_quiz(tutor, alice)
    tutor.handle(alice, "answer 2")
    check = tutor.handle(alice, "check")
    assert "1 of 3 questions answered right" in check.text()
    assert choices(check)[0][0] == "live-code:1"
    moved = tutor.handle(alice, "next")
    assert "not done yet" in moved.text()
    assert not tutor.store.lesson_state(alice, LESSON).completed(STEP)  # type: ignore[union-attr]


def test_quiz_answered_fails_until_every_question_is_right(tutor: Tutor, alice: Person) -> None:
    """The `quiz_answered` primitive: unanswered, then wrong, then passed."""
    params = {"step": STEP, "questions": QUESTIONS}
    to_quiz(tutor, alice)
    assert verify(tutor, alice, "quiz_answered", **params).state == "quiz-unanswered"
    tutor.handle(alice, "answer 3")
    assert verify(tutor, alice, "quiz_answered", **params).state == "quiz-wrong"
    for line in ("answer 2", "answer 3", "answer 4"):
        tutor.handle(alice, line)
    result = verify(tutor, alice, "quiz_answered", **params)
    assert result.passed and result.evidence == {"quiz_first_try": 2, "quiz_questions": 3}


def test_reset_forgets_the_answers(tutor: Tutor, alice: Person) -> None:
    """After `reset`, the quiz starts over from question 1."""
    to_quiz(tutor, alice)
    tutor.handle(alice, "answer 2")
    tutor.handle(alice, "reset")
    again = to_quiz(tutor, alice)
    assert "Question 1 of 3" in again.text()
