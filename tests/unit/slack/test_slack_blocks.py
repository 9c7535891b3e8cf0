"""Block Kit rendering, mrkdwn conversion, inbound text clean-up and dedupe keys (no I/O)."""

from __future__ import annotations

import re

import pytest

from bot.lessons.model import Catalog
from bot.reply import Actions, Code, Context, Heading, Markdown, Notice, Reply, Tone
from bot.tutor.core import TUTOR_WORDS
from handlers.inbound import command_text, docker_line, message_text
from handlers.listeners.dedupe import SeenCache, dedupe_key
from handlers.listeners.home import progress_bar
from handlers.listeners.messages import route
from handlers.render.blocks import MAX_BLOCKS, fallback_text, render, reply_blocks
from handlers.render.mrkdwn import SECTION_LIMIT, split_mrkdwn, to_mrkdwn
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT


def _sections(reply: Reply) -> list[str]:
    blocks, _ = reply_blocks(reply)
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def _balanced(text: str) -> bool:
    return text.count("```") % 2 == 0


# -- mrkdwn -----------------------------------------------------------------------------


def test_commonmark_becomes_slack_mrkdwn() -> None:
    """Bold, headings, links, italics, lists and quotes take Slack's syntax.

    The line after the quote continues it, as CommonMark reads a paragraph's lazy line.
    """
    source = ("## A *big* heading\n**Goal:** read [the docs](https://docs.docker.com) "
              "and *think*.\n- one\n* two\n> quoted\n~~old~~")
    assert to_mrkdwn(source) == (
        "*A _big_ heading*\n*Goal:* read <https://docs.docker.com|the docs> and _think_.\n"
        "\u2022 one\n\u2022 two\n&gt;quoted\n&gt;~old~"
    )


def test_special_characters_are_escaped_but_code_keeps_its_text() -> None:
    """&, < and > are escaped everywhere; code spans and fences are not reformatted."""
    source = "Use `-v <name>:/data` & **not** `**this**`\n```bash\necho a > b && cat <b\n```"
    assert to_mrkdwn(source) == (
        "Use `-v &lt;name&gt;:/data` &amp; *not* `**this**`\n```\n"
        "echo a &gt; b &amp;&amp; cat &lt;b\n```"
    )


def test_a_table_becomes_an_aligned_block() -> None:
    """A GFM table is shown as aligned plain text in a code fence (a blank line ends it)."""
    text = to_mrkdwn("| Storage | After `rm` |\n| --- | --- |\n| **Volume** | Kept |\n"
                     "| tmpfs | Gone |\n\nafter")
    assert text.splitlines() == ["```", "Storage  After rm", "-------  --------",
                                 "Volume   Kept", "tmpfs    Gone", "```", "", "after"]


def test_an_unclosed_fence_is_closed() -> None:
    """A fence left open by the author is closed so the rest of the message is not code."""
    assert _balanced(to_mrkdwn("```\ncode"))


# -- 3,000-character sections -------------------------------------------------------------


def test_long_markdown_is_split_on_paragraphs_under_3000() -> None:
    """Forty 200-character paragraphs: several sections, none over 3,000, nothing lost."""
    paragraphs = [f"Paragraph {n}: " + "word " * 38 for n in range(40)]
    reply = Reply().add(Markdown("\n\n".join(paragraphs)))
    sections = _sections(reply)
    assert len(sections) > 2
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    joined = "\n\n".join(sections)
    assert [p.strip() for p in joined.split("\n\n")] == [p.strip() for p in paragraphs]


def test_a_fence_is_not_split_when_it_fits_in_the_next_section() -> None:
    """A 1,000-character fence after 2,500 characters of prose moves whole to the next one."""
    prose = "x" * 2500
    fence = "```\n" + "\n".join(f"line {n:03d} " + "y" * 40 for n in range(20)) + "\n```"
    sections = split_mrkdwn(to_mrkdwn(prose + "\n\n" + fence))
    assert sections == [prose, fence]


def test_a_huge_fence_is_closed_and_reopened() -> None:
    """A 9,000-character code fence is cut between lines; every piece is a valid fence."""
    lines = [f"{n:04d} " + "z" * 85 for n in range(100)]
    sections = _sections(Reply().add(Markdown("intro\n\n```\n" + "\n".join(lines) + "\n```")))
    assert len(sections) >= 4
    assert all(len(s) <= SECTION_LIMIT and _balanced(s) for s in sections)
    shown = [line for s in sections for line in s.splitlines() if line.startswith(("0", "1"))]
    assert shown == [line for line in lines]


def test_a_single_giant_line_is_cut_at_spaces() -> None:
    """One 7,000-character line with no blank lines still fits in sections."""
    sections = split_mrkdwn("word " * 1400)
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert "".join(sections) == "word " * 1400


def test_every_shipped_lesson_section_renders_within_limits() -> None:
    """Every step of every lesson renders with sections under 3,000 and balanced fences."""
    for lesson in Catalog(ROOT / "lessons"):
        for step in lesson.steps:
            for text in _sections(Reply().add(Markdown(step.body))):
                assert len(text) <= SECTION_LIMIT
                assert _balanced(text), (lesson.id, step.id)


# -- 50-block messages --------------------------------------------------------------------


def test_more_than_50_blocks_become_several_messages() -> None:
    """120 blocks make three messages of at most 50, in order, each with fallback text."""
    reply = Reply().add(*[Context(f"line {n}") for n in range(120)])
    rendered = render(reply)
    sizes = [len(m["blocks"]) for m in rendered.messages]
    assert sizes == [50, 50, 20]
    texts = [b["elements"][0]["text"] for m in rendered.messages for b in m["blocks"]]
    assert texts == [f"line {n}" for n in range(120)]
    assert all(m["text"].startswith("line ") for m in rendered.messages)


def test_a_split_keeps_buttons_with_what_they_belong_to() -> None:
    """The cut never leaves a header last or an actions block first when it can move back."""
    parts: list[object] = [Context(f"c{n}") for n in range(48)]
    parts += [Heading("Next part"), Markdown("body"), Actions(("next",))]
    rendered = render(Reply().add(*parts))  # type: ignore[arg-type]
    first, second = (m["blocks"] for m in rendered.messages)
    assert len(first) <= MAX_BLOCKS
    assert first[-1]["type"] != "header"
    assert [b["type"] for b in second] == ["header", "section", "actions"]


# -- parts ------------------------------------------------------------------------------


def test_headers_are_capped_at_150_characters() -> None:
    """A long heading is cut to Slack's 150-character header limit."""
    [block], _ = reply_blocks(Reply().add(Heading("h" * 400)))
    assert block["type"] == "header"
    assert len(block["text"]["text"]) == 150


def test_long_output_fills_sections_and_notes_what_the_sandbox_cut() -> None:
    """5,000 characters of output: one section filled to 3,000, the rest in a second, a note."""
    blocks, _ = reply_blocks(Reply().add(Code("o" * 5000, cut=100)))
    assert [b["type"] for b in blocks] == ["section", "section", "context"]
    first, second = (b["text"]["text"] for b in blocks[:2])
    assert len(first) == SECTION_LIMIT
    for code in (first, second):
        assert code.startswith("```\n") and code.endswith("\n```")
    assert len(first) - 8 + len(second) - 8 == 5000
    assert blocks[2]["elements"][0]["text"] == "\u2026 100 more characters not shown"


def test_output_with_backticks_cannot_break_out_of_its_fence() -> None:
    """Output containing ``` stays inside one code block."""
    [block], _ = reply_blocks(Reply().add(Code("a\n```\nb")))
    assert block["text"]["text"].count("```") == 2


def test_notices_carry_an_emoji_by_tone() -> None:
    """Each tone has its emoji in front of the (converted) text."""
    reply = Reply().add(*[Notice("**x**", tone) for tone in Tone])
    assert _sections(reply) == [":information_source: *x*", ":white_check_mark: *x*",
                                ":warning: *x*", ":x: *x*"]


def test_buttons_for_words_and_quiz_choices() -> None:
    """Tutor words become tutor_<word> buttons; choices tutor_answer_<n> sending `answer v`."""
    blocks, _ = reply_blocks(Reply().add(Actions(("back", "next", "reset"),
                                                 (("a", "A volume"), ("b", "A bind mount")))))
    [actions] = blocks
    elements = actions["elements"]
    assert [e["action_id"] for e in elements] == [
        "tutor_answer_1", "tutor_answer_2", "tutor_back", "tutor_next", "tutor_reset"]
    assert [e["value"] for e in elements] == ["answer a", "answer b", "back", "next", "reset"]
    assert elements[0]["text"]["text"] == "1. A volume"
    assert elements[3]["style"] == "primary"
    assert "confirm" in elements[4]


def test_action_ids_are_unique_within_a_message() -> None:
    """Two Actions parts in one reply do not repeat an action_id (Slack would refuse it)."""
    rendered = render(Reply().add(Actions(("next",)), Markdown("x"), Actions(("next",))))
    ids = [e["action_id"] for b in rendered.messages[0]["blocks"] if b["type"] == "actions"
           for e in b["elements"]]
    assert ids == ["tutor_next", "tutor_next_2"]


def test_fallback_text_is_plain_and_bounded() -> None:
    """The notification text is the blocks' text, capped at 3,000 characters."""
    blocks, _ = reply_blocks(Reply().add(Heading("Title"), Markdown("y " * 4000)))
    text = fallback_text(blocks)
    assert text.startswith("Title\n") and len(text) <= 3000


def test_progress_bar() -> None:
    """The Home tab's bar has one mark per step and the count."""
    assert progress_bar(3, 9) == "\u25b0\u25b0\u25b0\u25b1\u25b1\u25b1\u25b1\u25b1\u25b1 3/9"
    assert progress_bar(0, 0) == " 0/0"


# -- inbound text -----------------------------------------------------------------------


def test_command_text_is_unescaped_in_the_right_order() -> None:
    """&amp;lt; (a typed "&lt;") stays "&lt;"; escaped < > & come back; mentions stay."""
    assert command_text(" a &lt;b&gt; &amp;&amp; &amp;lt; <@U1|bob> ") == "a <b> && &lt; <@U1|bob>"


def test_dm_text_unwraps_links_and_code_formatting() -> None:
    """Detected links become what was typed; a line in backticks or a fence is unwrapped."""
    assert message_text("docker run -p 8080:80 <http://nginx.org|nginx.org>") == (
        "docker run -p 8080:80 nginx.org")
    assert message_text("`docker ps -a`") == "docker ps -a"
    assert message_text("```docker ps\n```") == "docker ps"
    assert message_text("hi <@U123>") == "hi <@U123>"


def test_smart_quotes_and_dashes_are_reverted_in_docker_lines() -> None:
    """Curly quotes and an em dash typed by a chat client become " and --."""
    assert docker_line("run \u2014name x redis-cli set k \u201cHello\u201d \u2018a\u2019") == (
        "run --name x redis-cli set k \"Hello\" 'a'")


@pytest.mark.parametrize(("text", "line"), [
    ("docker ps", "docker ps"),
    ("docker", "docker"),
    ("Next", "Next"),
    ("start data-persistence", "start data-persistence"),
    ("answer 2", "answer 2"),
    ("edit notes.txt hello", "edit notes.txt hello"),
    ("thanks!", None),
    ("dockerfile?", None),
    ("", None),
])
def test_dm_routing(text: str, line: str | None) -> None:
    """Docker lines and the tutor's own words go to the tutor; anything else does not."""
    assert route(text, TUTOR_WORDS) == line


# -- dedupe -----------------------------------------------------------------------------


def test_dedupe_keys() -> None:
    """Events by event_id, commands and clicks by user and trigger id."""
    assert dedupe_key({"type": "event_callback", "event_id": "Ev1"}) == "event:Ev1"
    assert dedupe_key({"command": "/tutor", "user_id": "U1", "trigger_id": "t1"}) == (
        "command:U1:t1")
    assert dedupe_key({"type": "block_actions", "user": {"id": "U1"}, "trigger_id": "t2"}) == (
        "action:U1:t2")
    assert dedupe_key({"type": "block_actions", "user": {"id": "U1"},
                       "actions": [{"action_id": "tutor_next", "action_ts": "1.2"}]}) == (
        "action:U1:tutor_next:1.2")
    assert dedupe_key({"type": "url_verification"}) is None


def test_the_seen_cache_is_bounded_and_forgets_old_keys() -> None:
    """Keys are seen once; the oldest go when full, and any key goes after its TTL."""
    now = [0.0]
    cache = SeenCache(size=3, ttl=60, clock=lambda: now[0])
    assert [cache.first_time(k) for k in "abca"] == [True, True, True, False]
    assert cache.first_time("d")
    assert len(cache) == 3
    assert cache.first_time("a")  # "a" was the oldest and went when "d" came
    now[0] = 61.0
    assert cache.first_time("b") and len(cache) == 1


def test_no_block_text_uses_commonmark_bold() -> None:
    """A whole lesson section rendered for Slack has no ** left outside code."""
    for lesson in Catalog(ROOT / "lessons"):
        for step in lesson.steps:
            for text in _sections(Reply().add(Markdown(step.body))):
                prose = re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)
                assert "**" not in prose, (lesson.id, step.id)
