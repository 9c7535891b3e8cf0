"""Class progress in exact words: tied steps, quiz answers as text, hints and checks counted."""

from __future__ import annotations

import re

from bot.console.render import render
from bot.identity import Person
from bot.progress.queries import hints_asked
from bot.tutor.core import Tutor

TEACHER = Person("console", "teacher")
"""An instructor at the console (the test settings name ``teacher``)."""

STAMP = re.compile(r"^\d\d-\d\d \d\d:\d\d  ")
"""The start of a line of the last commands (``12-07 01:58  ``)."""


def _walk(tutor: Tutor, name: str, nexts: int) -> Person:
    """A console learner who started the lesson and typed `next` ``nexts`` times."""
    person = Person("console", name, name.title())
    tutor.handle(person, "start data-persistence")
    for _ in range(nexts):
        tutor.handle(person, "next")
    return person


def _lines(tutor: Tutor, line: str) -> list[str]:
    return render(tutor.handle(TEACHER, line)).splitlines()


def test_tied_steps_are_said_to_tie(tutor_no_engine: Tutor) -> None:
    """Four learners on four steps, one each: the summary says the steps tie, naming them all."""
    for n, name in enumerate(["ana", "bo", "cy", "di"], start=1):
        _walk(tutor_no_engine, name, n)
    assert ("No one step has most learners still working: 2. \u201cThe ephemeral writable "
            "layer\u201d, 3. \u201cNamed volumes\u201d, 4. \u201cBind mounts\u201d and 5. "
            "\u201ctmpfs mounts\u201d tie with 1 each (of 4).") in _lines(tutor_no_engine,
                                                                         "progress")


def test_a_step_that_leads_is_named_with_its_count(tutor_no_engine: Tutor) -> None:
    """Two learners on step 3 and one on step 2: step 3 holds most; one learner alone is said so."""
    _walk(tutor_no_engine, "ana", 1)
    assert "The one learner still working is on 2. \u201cThe ephemeral writable layer\u201d." in (
        _lines(tutor_no_engine, "progress"))
    _walk(tutor_no_engine, "bo", 2)
    _walk(tutor_no_engine, "cy", 2)
    assert "Most learners still working are on 3. \u201cNamed volumes\u201d (2 of 3)." in (
        _lines(tutor_no_engine, "progress"))


def test_a_learner_timeline_shows_answers_hints_and_checks(tutor_no_engine: Tutor) -> None:
    """Quiz answers read as their choices; every hint and check counts and shows in the log."""
    ada = _walk(tutor_no_engine, "ada", 5)  # on the quiz step
    for line in ["answer 1", "answer 2", "hint", "hint", "hint", "check"]:
        tutor_no_engine.handle(ada, line)
    lines = _lines(tutor_no_engine, "progress ada")
    assert ("\u2022 now on 6. \u201cVolumes, bind mounts, tmpfs: which one when\u201d: "
            "1 failed of 1 check, 3 hints") in lines
    commands = [line[13:] for line in lines if STAMP.match(line) and "comparison" in line]
    assert commands == [
        "comparison     exit 1    answer \u201cThe writable layer\u201d (keep: wrong)",
        "comparison     exit 0    answer \u201cA named volume\u201d (keep: right)",
        "comparison     exit 0    hint",
        "comparison     exit 0    hint",
        "comparison     exit 0    hint",
        "comparison     exit 1    check",
    ]
    assert ("            \u21b3 1 of 3 questions answered right so far. Answer the next one "
            "with `answer N` (type `show` to see it again).") in lines
    assert not [line for line in lines if "keep:1" in line or "keep:2" in line]


def test_one_hint_is_one_hint(tutor_no_engine: Tutor) -> None:
    """A single hint is counted in the singular; a restart of the lesson counts from zero."""
    bo = _walk(tutor_no_engine, "bo", 5)
    tutor_no_engine.handle(bo, "hint")
    assert "1 hint" in render(tutor_no_engine.handle(TEACHER, "progress bo"))
    assert hints_asked(tutor_no_engine.store, bo.key) == {("data-persistence", "comparison"): 1}
    tutor_no_engine.store.reset_lesson(bo, "data-persistence")
    tutor_no_engine.store.start_lesson(bo, "data-persistence", "intro")
    assert hints_asked(tutor_no_engine.store, bo.key) == {}
