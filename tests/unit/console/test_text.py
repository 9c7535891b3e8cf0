"""Learner text made safe for logs, storage and terminals; `edit` text is plain text."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from bot.printable import describe_char, one_line, printable
from bot.sandbox.policy import workspace_paths as workspace


@pytest.mark.parametrize(("raw", "shown"), [
    ("docker ps \udcff", "docker ps \\xff"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),
    ("\x00\x07\r\x7f\x85\x9b", "\\x00\\x07\\x0d\\x7f\\x85\\x9b"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("lone \ud800 high", "lone \\ud800 high"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("caf\u00e9 \U0001f433", "caf\u00e9 \U0001f433"),
])
def test_printable_escapes_what_a_terminal_or_encoder_would_act_on(raw: str, shown: str) -> None:
    """ESC, C0/C1 controls, bytes that were not UTF-8 and bidi overrides become escapes."""
    assert printable(raw) == shown
    printable(raw).encode("utf-8")


def test_one_line_cuts_and_escapes_line_breaks() -> None:
    """Quoted learner text stays on one line and within its length."""
    assert one_line("a\nb\tc") == "a\\nb\\tc"
    assert one_line("x" * 100, 10) == "x" * 9 + "\u2026"
    assert describe_char("\udcff") == "the byte \\xff (not UTF-8)"
    assert describe_char("\x1b") == "0x1b"


@pytest.mark.parametrize("text", ["\udcff", "a\x1b[31mred", "nul\x00", "\u202eabc", "x\r"])
def test_edit_refuses_text_that_is_not_plain(text: str) -> None:
    """`edit` refuses controls and invalid UTF-8 in one line (before the engine is asked)."""
    with pytest.raises(UsageError) as caught:
        workspace.check_text(text)
    assert "control character" in caught.value.message and "\n" not in caught.value.message


def test_edit_keeps_tabs_newlines_and_unicode() -> None:
    """Plain text, tabs, newlines and any printable character are accepted as they are."""
    assert workspace.check_text("a\tb\ncaf\u00e9 \U0001f433") == "a\tb\ncaf\u00e9 \U0001f433"
