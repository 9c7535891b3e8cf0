"""The tutor's answer to a first word it does not know (no engine needed)."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from bot.identity import Person
from bot.tutor.core import Tutor


@pytest.mark.parametrize(("line", "meant"), [
    ("dcoker ps", "`docker ps`"),
    ("docekr run -d redis", "`docker run -d redis`"),
    ("nxet", "`next`"),
    ("hnit", "`hint`"),
])
def test_a_misspelt_first_word_gets_a_did_you_mean(tutor_no_engine: Tutor, alice: Person,
                                                   line: str, meant: str) -> None:
    """A slip of the fingers names the word the learner most likely meant, with the rest."""
    with pytest.raises(UsageError) as refused:
        tutor_no_engine.handle(alice, line)
    assert f"Did you mean {meant}?" in refused.value.message


def test_a_word_far_from_any_gets_no_guess(tutor_no_engine: Tutor, alice: Person) -> None:
    """A word close to nothing gets the plain answer, with no made-up suggestion."""
    with pytest.raises(UsageError) as refused:
        tutor_no_engine.handle(alice, "frobnicate")
    assert "I don't know `frobnicate`" in refused.value.message
    assert "Did you mean" not in refused.value.message
