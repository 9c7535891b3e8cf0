"""The console's renderer: plain text for pipes, styled text for a terminal, nothing raw."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from bot.checks import quiz
from bot.console.render import inline, render, render_error, render_styled
from bot.errors import UsageError
from bot.lessons import view as lesson_view
from bot.lessons.model import Catalog
from bot.reply import (
    Actions,
    Code,
    Context,
    Heading,
    Markdown,
    Notice,
    Part,
    Reply,
    Tone,
    code_span,
)
from bot.wording import FrontEnd

SGR = re.compile(r"\x1b\[[0-9;]*m")
"""The only escape sequences the tutor itself writes: colours and bold."""

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
"""A container output that would retitle the window and clear the screen if shown raw."""


def _raw_controls(text: str) -> list[str]:
    """Control characters left in ``text`` once the tutor's own styling is taken out."""
    return [ch for ch in SGR.sub("", text) if (ord(ch) < 0x20 and ch not in "\n\t")
            or 0x7F <= ord(ch) <= 0x9F or 0xD800 <= ord(ch) <= 0xDFFF]


def test_plain_text_shows_bold_without_its_asterisks() -> None:
    """Slack's `*bold*` and Markdown's `**bold**` lose their markers in a pipe; no escape codes."""
    text = render(Reply().add(Markdown("*docker-tutor* teaches **real** commands"),
                              Notice("Saved *notes*", Tone.SUCCESS)))
    assert text == "docker-tutor teaches real commands\n\u2714 Saved notes"
    assert "\x1b" not in text


def test_a_terminal_gets_bold_and_code_styled() -> None:
    """On a TTY, bold text is bold and code is coloured, with no markers left."""
    text = render_styled(Reply().add(Markdown("*docker-tutor* runs `docker ps`")), 80)
    assert "\x1b[1mdocker-tutor\x1b[0m" in text
    assert SGR.sub("", text) == "docker-tutor runs docker ps"


def test_container_output_with_escape_sequences_is_shown_escaped() -> None:
    """OSC and CSI sequences in output are printed as visible text, in pipes and on a TTY."""
    reply = Reply().add(Code(f"before{HOSTILE}after"))
    plain = render(reply)
    assert plain == "before\\x1b]0;pwned\\x07\\x1b[2Jafter"
    styled = render_styled(reply, 80)
    assert _raw_controls(styled) == []
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in SGR.sub("", styled)


def test_every_kind_of_part_is_made_printable() -> None:
    """C1 controls, lone surrogates and ESC in headings, prose, notices, context and choices."""
    bad = "x\x9b2J\udcff\x1b[31my\u202e"
    reply = Reply().add(Heading(bad), Markdown(bad), Notice(bad, Tone.ERROR), Context(bad),
                        Actions(("next",), (("1", bad),)), Code(bad))
    for text in (render(reply), render_styled(reply, 80), render_styled(reply, 80, color=False)):
        assert _raw_controls(text) == []
        assert text.count("x\\x9b2J\\xff\\x1b[31my\\u202e") == 6
        text.encode("utf-8")
    assert render_error(UsageError(bad)) == "\u2718 x\\x9b2J\\xff\\x1b[31my\\u202e"


def test_without_colour_a_terminal_gets_no_escape_codes() -> None:
    """NO_COLOR or a dumb terminal: wrapping and tables only, never an escape sequence."""
    text = render_styled(Reply().add(Heading("Title"), Markdown("**b** `c`"),
                                     Notice("ok", Tone.SUCCESS)), 80, color=False)
    assert "\x1b" not in text and "b c" in text


def test_tables_are_aligned_columns_in_pipes_and_boxed_on_a_tty() -> None:
    """A Markdown table reads as columns, without pipes or separator dashes of the source."""
    table = ("| Storage | After `docker rm` |\n| --- | --- |\n| Writable layer | Gone |\n"
             "| Named volume | Kept |")
    plain = render(Reply().add(Markdown(table)))
    assert plain.splitlines() == [
        "Storage         After `docker rm`",
        "--------------  -----------------",
        "Writable layer  Gone",
        "Named volume    Kept",
    ]
    styled = SGR.sub("", render_styled(Reply().add(Markdown(table)), 80))
    assert "|" not in styled and "\u2500" in styled
    assert re.search(r"Writable layer\s+Gone", styled)


def test_code_blocks_keep_their_text_and_lose_their_fences() -> None:
    """Fenced code shows verbatim (asterisks kept), without the fence lines."""
    text = render(Reply().add(Markdown("Run:\n```\ndocker ps *x*\n```\nDone.")))
    assert text == "Run:\ndocker ps *x*\nDone."


def test_actions_are_words_to_type_not_buttons() -> None:
    """Step buttons become the words to type; quiz choices a numbered list."""
    text = render(Reply().add(Actions(("back", "next", "hint"), (("1", "A volume"),
                                                                  ("2", "A *bind* mount")))))
    assert text == "  1. A volume\n  2. A bind mount\n(Type `back`, `next` or `hint`.)"


def test_no_lesson_section_or_quiz_asks_the_console_for_a_button(catalog: Catalog) -> None:
    """Every section and quiz question of every lesson, worded for the console, has no button."""
    seen = 0
    for lesson in catalog:
        for step in lesson.steps:
            parts: list[Part] = []
            for question in step.quiz:
                parts.extend(quiz.question_parts(step, question, FrontEnd.CONSOLE))
            reply = lesson_view.section(lesson, step, parts, front=FrontEnd.CONSOLE)
            for text in (render(reply), SGR.sub("", render_styled(reply, 100))):
                assert "button" not in text.lower() and "press" not in text.lower(), text
                seen += 1
    assert seen >= 18


def test_a_learner_backtick_cannot_break_out_of_its_code_span() -> None:
    """Quoted with code_span, a learner's text with backticks and a link stays one code span."""
    word = "x`[Reset_password](https://evil.example)`"
    spans = inline(f"I don't know {code_span(word)}. Type `help`.")
    assert spans == [("", "I don't know "), ("code", word), ("", ". Type "), ("code", "help"),
                     ("", ".")]
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    assert code_span("```") == "```` ``` ````"


@given(st.text(alphabet=st.sampled_from("`` a*b_|\\<&"), min_size=1, max_size=20))
def test_code_span_round_trips_any_text(word: str) -> None:
    """Whatever the learner typed, the renderer reads back exactly that text as code."""
    assert inline(f"say {code_span(word)} now") == [("", "say "), ("code", word), ("", " now")]


def test_unclosed_backticks_are_text() -> None:
    """A backtick run with no run of the same length after it is shown as it is."""
    assert inline("a ``b` c") == [("", "a ``b` c")]


def test_the_prompt_path_never_loads_rich() -> None:
    """Rich loads behind the console's prompt: importing the console and renderer does not."""
    code = ("import sys, bot.cli, bot.console.repl, bot.console.render\n"
            "assert not [m for m in sys.modules if m == 'rich' or m.startswith('rich.')]\n"
            "from bot.console.render import preload\n"
            "preload()\n"
            "assert 'rich.console' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
