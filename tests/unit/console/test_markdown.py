"""One reading of Markdown for both front ends: the terminal and Slack show the same structure."""

from __future__ import annotations

import pytest

from bot.console.render import render
from bot.lessons.model import Catalog
from bot.markdown import BULLET, Kind, Span, plain, read_inline, read_message, read_prose
from bot.reply import Markdown, Notice, Reply
from handlers.render.mrkdwn import message_mrkdwn, to_mrkdwn
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT

DISAGREED = """Storage compared:

| Storage | After rm |
|--|--|
| Volume | Kept |
| tmpfs | Gone |

+ plus bullet
- dash bullet
  * nested star
\u2022 not a bullet, a sentence

```
docker ps *x*
```"""
"""Text the two old readers took apart differently: a two-dash table rule (Slack only), a
``+`` bullet (Slack only), a ``•`` line (terminal only)."""


def _console(text: str) -> list[str]:
    return render(Reply().add(Markdown(text))).split("\n")


def _slack(text: str) -> list[str]:
    return to_mrkdwn(text).split("\n")


def test_the_reading_is_commonmark_with_gfm_tables() -> None:
    """A two-dash rule makes a table, `+`, `-` and `*` make items, `•` is text."""
    kinds = [(block.kind, block.marker, block.depth) for block in read_prose(DISAGREED)]
    assert kinds == [(Kind.PARAGRAPH, "", 0), (Kind.TABLE, "", 0), (Kind.ITEM, BULLET, 0),
                     (Kind.ITEM, BULLET, 0), (Kind.ITEM, BULLET, 1), (Kind.CODE, "", 0)]
    table = read_prose(DISAGREED)[1]
    assert [[plain(cell) for cell in row] for row in table.rows] == [
        ["Storage", "After rm"], ["Volume", "Kept"], ["tmpfs", "Gone"]]
    star = read_prose(DISAGREED)[4]
    assert [plain(line) for line in star.lines] == [
        "nested star", "\u2022 not a bullet, a sentence"]


def test_both_front_ends_show_the_same_table_bullets_and_code() -> None:
    """The same text gives the same table rows, bullet lines and code lines in both."""
    table = ["Storage  After rm", "-------  --------", "Volume   Kept", "tmpfs    Gone"]
    bullets = ["\u2022 plus bullet", "\u2022 dash bullet", "  \u2022 nested star",
               "    \u2022 not a bullet, a sentence"]
    console, slack = _console(DISAGREED), _slack(DISAGREED)
    assert console == ["Storage compared:", *table, "", *bullets, "", "docker ps *x*"]
    assert slack == ["Storage compared:", "", "```", *table, "```", "", *bullets, "",
                     "```", "docker ps *x*", "```"]


def test_every_shipped_section_has_the_same_structure_in_both() -> None:
    """Each lesson section: as many bullet lines, table rows and code lines in both renderings."""
    seen = 0
    for lesson in Catalog(ROOT / "lessons"):
        for step in lesson.steps:
            console, slack = _console(step.body), _slack(step.body)
            for marker in ("\u2022 ", "1. "):
                assert (sum(line.lstrip().startswith(marker) for line in console)
                        == sum(line.lstrip().startswith(marker) for line in slack)), step.id
            code = [b.code for b in read_prose(step.body) if b.kind == Kind.CODE]
            for block in code:
                for line in block.split("\n"):
                    assert line in console, (step.id, line)
            seen += 1
    assert seen >= 9


def test_messages_read_lists_and_code_but_no_links() -> None:
    """A message's `-` items are items in both; a link in a message is text in both."""
    text = "Try:\n- `docker ps` [now](https://evil.example)\n- *again*"
    blocks = read_message(text)
    assert [b.kind for b in blocks] == [Kind.PARAGRAPH, Kind.ITEM, Kind.ITEM]
    assert blocks[1].lines[0] == (Span("docker ps", code=True),
                                  Span(" [now](https://evil.example)"))
    assert render(Reply().add(Notice(text))) == (
        "Try:\n\u2022 `docker ps` [now](https://evil.example)\n\u2022 again")
    assert message_mrkdwn(text) == (
        "Try:\n\u2022 `docker ps` [now](https://evil.example)\n\u2022 _again_")


def test_prose_links_only_to_web_and_mail_addresses() -> None:
    """A safe link is a link in both (the terminal adds its address); others are text."""
    text = "See [the docs](https://docs.docker.com) or [this](ftp://x.example/f)."
    assert to_mrkdwn(text) == ("See <https://docs.docker.com|the docs> or this "
                               "(ftp://x.example/f).")
    assert _console(text) == ["See the docs (https://docs.docker.com) or this "
                              "(ftp://x.example/f)."]


@pytest.mark.parametrize(("text", "shown"), [
    ("&amp; <b>x</b>", "&amp; <b>x</b>"),
    ("a\\*b", "a*b"),
    ("x ``y` z", "x ``y` z"),
])
def test_entities_and_html_are_text_and_escapes_work(text: str, shown: str) -> None:
    """Entities and HTML stay as typed; a backslash escape and a lone backtick read as text."""
    assert plain(read_inline(text)) == shown
