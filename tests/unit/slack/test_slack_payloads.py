"""Every payload the renderer makes is one Slack accepts, and learner text stays text.

Each payload goes through slack_sdk's own models and Slack's documented limits
(:mod:`tests.payload_check`), including adversarial command output and learner lines:
thousands of ``&<>``, backtick runs, mentions, emoji, long lines, CRLF, NUL/ESC,
non-BMP characters and outputs of exactly the limit and one either side.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.reply import Actions, Code, Context, File, Heading, Image, Markdown, Notice, Reply
from handlers.listeners.commands import running_note
from handlers.render.blocks import (
    CODE_BUDGET,
    FALLBACK_LIMIT,
    MAX_CODE_SECTIONS,
    code_blocks,
    fallback_text,
    render,
    reply_blocks,
)
from handlers.render.mrkdwn import (
    GRAVE,
    SECTION_LIMIT,
    ZWSP,
    clean,
    clip_mrkdwn,
    escape,
    message_mrkdwn,
    slack_len,
    split_mrkdwn,
    to_mrkdwn,
)
from tests.payload_check import (
    TALLY,
    PayloadError,
    check_block,
    check_message,
    check_rendered,
    mrkdwn_problems,
)

# -- helpers ------------------------------------------------------------------------------



def _rendered(*parts: Any) -> list[dict[str, Any]]:
    """Render parts, check every message and upload, return the messages."""
    rendered = render(Reply().add(*parts))
    check_rendered(rendered)
    return rendered.messages


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    """Every section and context text of some messages, in order."""
    out = []
    for message in messages:
        for block in message["blocks"]:
            if block["type"] == "section":
                out.append(block["text"]["text"])
            elif block["type"] == "context":
                out.extend(e["text"] for e in block["elements"])
    return out


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _bodies(blocks: list[dict[str, Any]]) -> list[str]:
    """The output each fenced section shows, as the learner would copy it (fences removed)."""
    bodies = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    for body in bodies:
        assert body.startswith("```\n") and body.endswith("\n```"), body[:40]
        assert body.count("```") == 2, body[:40]
    # the renderer puts one zero-width space after a backtick before a backtick or a
    # zero-width space: drop exactly that one (a zero-width space of the output stays)
    return [_unescape(b[4:-4].replace("`" + ZWSP, "`")) for b in bodies]


def _note(blocks: list[dict[str, Any]]) -> str | None:
    notes = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    return notes[-1] if notes else None


_LINES_NOTE = re.compile(r"\u2026 ([\d,]+) more lines \(([\d,]+) characters\) not shown")
_CHARS_NOTE = re.compile(r"\u2026 ([\d,]+) more characters not shown")


def _account(text: str, cut: int, blocks: list[dict[str, Any]]) -> int:
    """Check that the sections show the output's head in order and the note counts the rest.

    Sections may only skip the newline where output goes on in the next section (and
    blank-only stretches). The note counts the cleaned output's tail to its very end,
    final newlines included; its lines are the tail's newlines plus a last line without
    one. Returns how many characters of the cleaned output were shown.
    """
    cleaned = clean(text)
    cursor = 0
    for body in _bodies(blocks):
        at = cleaned.find(body, cursor)
        assert at != -1 and not cleaned[cursor:at].strip(), (cursor, body[:40])
        cursor = at + len(body)
    note = _note(blocks)
    if note is None:
        assert cut == 0 and not cleaned[cursor:].strip()
        return cursor
    if match := _LINES_NOTE.fullmatch(note):
        lines, characters = (int(g.replace(",", "")) for g in match.groups())
        assert cut == 0
        tail = cleaned[len(cleaned) - characters:]
        assert tail.count("\n") + (not tail.endswith("\n")) == lines
    else:
        match = _CHARS_NOTE.fullmatch(note)
        assert match is not None, note
        characters = int(match.group(1).replace(",", "")) - cut
    assert 0 <= characters <= len(cleaned) - cursor
    assert not cleaned[cursor:len(cleaned) - characters].strip()
    return cursor


@pytest.fixture(scope="module", autouse=True)
def _report_tally() -> Iterator[None]:
    """Print what the module validated (run with -s to see it)."""
    yield
    print(f"\npayload checks so far: {TALLY}")


# -- the checker itself refuses what Slack refuses ------------------------------------------


@pytest.mark.parametrize(("block", "why"), [
    ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}, "exceed 3000"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "\U0001f600" * 1501}}, "3002 > 3000"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "&" * 10}}, "entity"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "&am"}}, "entity"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "hi <!channel>"}}, "did not make"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "```\nopen"}}, "fence"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "a > b"}}, "unescaped"),
    ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "150"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "x", "verbtim": True}}, "verbtim"),
    ({"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "acessory": {}}, "differently"),
])
def test_the_checker_refuses_what_slack_refuses(block: dict[str, Any], why: str) -> None:
    """The checker is not vacuous: each known-bad block is refused for the right reason."""
    with pytest.raises(Exception, match=why):
        check_block(block)


def test_the_old_renderers_payloads_are_refused() -> None:
    """The sections the issue reported (3,373 and 10,004 characters) fail the checks."""
    for text in ("```\n" + "&amp;" * 673 + "\n```", "```\n" + "&lt;&gt;" * 1250 + "\n```"):
        assert any("> 3000" in p for p in mrkdwn_problems(text, SECTION_LIMIT))


# -- command output: exact, filled, split, bounded ------------------------------------------


@pytest.mark.parametrize("text", ["&" * 674, "<>" * 1250, "a<b\n" * 900, "&" * 2500])
def test_escaped_output_fits_and_is_shown_whole(text: str) -> None:
    """The issue's outputs: every section at most 3,000 after escaping, and nothing lost."""
    blocks = code_blocks(Code(text))
    for block in blocks:
        check_block(block)
    assert _note(blocks) is None
    assert _account(text, 0, blocks) == len(text.rstrip("\n"))


def test_under_fill_is_gone() -> None:
    """3,600 characters of `a<b` lines show every line (the old renderer showed 291 chars)."""
    blocks = code_blocks(Code("a<b\n" * 900))
    assert sum(body.count("a<b") for body in _bodies(blocks)) == 900
    sizes = [len(b["text"]["text"]) for b in blocks]
    assert all(size > SECTION_LIMIT - 10 for size in sizes[:-1]), sizes


def test_sections_are_filled_to_the_limit_then_the_rest_is_counted() -> None:
    """Output over five sections fills five to 3,000 each and counts lines and characters left."""
    lines = [f"{n:05d} " + "x" * 94 for n in range(400)]  # 100 characters per line
    blocks = code_blocks(Code("\n".join(lines)))
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == MAX_CODE_SECTIONS
    assert all(len(s["text"]["text"]) > SECTION_LIMIT - 101 for s in sections)
    assert len(sections[-1]["text"]["text"]) == SECTION_LIMIT  # the last one filled to the end
    shown = _account("\n".join(lines), 0, blocks)
    assert _LINES_NOTE.fullmatch(_note(blocks) or "")
    assert shown > 4 * (SECTION_LIMIT - 101)


def test_the_last_section_is_filled_inside_a_line_and_the_note_is_exact() -> None:
    """A single line of 20,000 `<` fills 5 sections exactly; the note counts what is left."""
    text = "<" * 20_000
    blocks = code_blocks(Code(text, cut=7))
    assert _account(text, 7, blocks) == MAX_CODE_SECTIONS * (CODE_BUDGET // 4)
    assert _note(blocks) == f"\u2026 {20_000 - 5 * (CODE_BUDGET // 4) + 7:,} more characters not shown"


def _limit_cases() -> list[tuple[str, str]]:
    """Outputs whose escaped form is exactly one section's budget, and one either side."""
    cases = []
    for delta in (-1, 0, 1):
        cases.append((f"plain{delta:+d}", "a" * (CODE_BUDGET + delta)))
        cases.append((f"amp{delta:+d}", "a" * (CODE_BUDGET % 5 + delta + 5) + "&" * (CODE_BUDGET // 5 - 1)))
        cases.append((f"emoji{delta:+d}", "\U0001f600" * (CODE_BUDGET // 2 - 1) + "a" * (2 + delta)))
        cases.append((f"two-lines{delta:+d}", "b" * 1000 + "\n" + "c" * (CODE_BUDGET - 1001 + delta)))
        total = MAX_CODE_SECTIONS * CODE_BUDGET
        cases.append((f"five-sections{delta:+d}", "d" * (total + delta)))
    return cases


@pytest.mark.parametrize(("name", "text"), _limit_cases(), ids=[c[0] for c in _limit_cases()])
def test_outputs_at_the_limit_and_either_side(name: str, text: str) -> None:
    """Exactly the budget, one under, one over: valid, and either all shown or counted."""
    blocks = code_blocks(Code(text))
    for block in blocks:
        check_block(block)
    shown = _account(text, 0, blocks)
    sections = len(_bodies(blocks))
    if name.endswith(("-1", "+0")) and not name.startswith("five"):
        assert (sections, shown) == (1, len(text))
    elif name.startswith("five"):
        assert sections == MAX_CODE_SECTIONS and shown == min(len(text), 5 * CODE_BUDGET)


HOSTILE_OUTPUT = [
    "&" * 3000,
    "<>" * 2000,
    "<!channel> <!here> <@U123> <#C1|general> <http://x|y> <!subteam^S1>",
    "```\nclosed?\n```" * 50,
    "`" * 5000,
    "``` `` ` ````",
    ":skull: :+1: :white_check_mark:" * 40,
    "*bold* _it_ ~s~ > quote",
    "x" * 9000,
    "line\r\nwith crlf\r\n" * 200,
    "nul\x00esc\x1b[31mred\x1b[0m bell\x07 del\x7f",
    "\U0001f600\U0001f4be\U00010348" * 1500,
    "\u202eevil\u202c bidi",
    "\ud800 lone surrogate",
    "\n\n\n",
    "",
    "a\n" * 3000,
    ("&<>" * 997) + "end",
]


@pytest.mark.parametrize("text", HOSTILE_OUTPUT, ids=range(len(HOSTILE_OUTPUT)))
def test_hostile_output_renders_as_valid_literal_code(text: str) -> None:
    """Hostile container output: valid payloads; what is shown is the output, cleaned."""
    messages = _rendered(Code(text, cut=3))
    blocks = [b for m in messages for b in m["blocks"]]
    _account(text, 3, blocks)
    for body in (b["text"]["text"] for b in blocks if b["type"] == "section"):
        assert "<!" not in body and "<@" not in body and "<#" not in body and "<http" not in body


_PIECES = st.sampled_from([
    "&", "<", ">", "`", "``", "```", "````", "*", "_", "~", ":", ":skull:", "<!here>",
    "<@U1>", "<http://evil.example|click>", "[x](https://evil.example)", "\n", "\r\n", "\r",
    "\x00", "\x1b", "\t", " ", "a", "word ", "\U0001f600", "\u00e9", "&amp;", "&lt;",
    "|", "\\", "**", "__", "~~", "#", "- ", "> ", "1. ",
])
_HOSTILE_TEXT = st.one_of(
    st.lists(_PIECES, max_size=400).map("".join),
    st.lists(_PIECES, min_size=1, max_size=8).map("".join).flatmap(
        lambda unit: st.integers(1, 1500).map(lambda n: unit * n)),
    st.text(max_size=4000),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_HOSTILE_TEXT, cut=st.integers(0, 5000))
def test_any_output_is_valid_and_accounted_for(text: str, cut: int) -> None:
    """For any output: valid blocks, the shown part is the cleaned output's head, the note exact."""
    blocks = code_blocks(Code(text, cut=cut))
    for block in blocks:
        check_block(block)
    _account(text, cut, blocks)


_ACCOUNT_REGRESSIONS = [
    # outputs ending in a line end, over five sections: the final newline was not counted
    ("> _\t&amp;<@U1>\r\n" * 1361, 3106),
    ("\x1b````<@U1>\x1b><&\r" * 1488, 3685),
    ("<http://evil.example|click>[x](https://evil.example)\r" * 948, 1735),
    ("<@U1>\n" * 1361, 0),
    ("`|>:skull:~\r" * 1361, 0),
    ("a>``[x](https://evil.example)\n" * 814, 0),
    ("\r\n&\r~*&amp;\r" * 1374, 0),
    ("\n".join(f"{n:05d} " + "x" * 94 for n in range(400)) + "\n", 0),
    ("x" * 20_000 + "\n", 0),
    ("x" * 20_000 + "\n\n\n", 0),
    ("x" * 20_000 + "\n", 7),
    ("x" * 100 + "\n", 7),
    # a zero-width space of the output itself was read as the renderer's own
    ("a\u200bb", 0),
    ("`\u200b`", 0),
    ("``\u200b\u200b`\u200b", 0),
    ("`" * 3000 + "\u200b" + "`" * 3000, 5),
]


@pytest.mark.parametrize(("text", "cut"), _ACCOUNT_REGRESSIONS,
                         ids=range(len(_ACCOUNT_REGRESSIONS)))
def test_outputs_that_were_miscounted_are_accounted_for(text: str, cut: int) -> None:
    """Outputs the property test once failed on: valid blocks, shown head and note exact."""
    blocks = code_blocks(Code(text, cut=cut))
    for block in blocks:
        check_block(block)
    _account(text, cut, blocks)


@pytest.mark.parametrize(("text", "cut", "note"), [
    ("x" * 20_000 + "\n", 0, f"\u2026 {20_000 - 5 * CODE_BUDGET + 1:,} more characters not shown"),
    ("x" * 20_000 + "\n", 7, f"\u2026 {20_000 - 5 * CODE_BUDGET + 1 + 7:,} more characters not shown"),
    ("x" * 20_000 + "\n\n\n", 0,
     f"\u2026 3 more lines ({20_000 - 5 * CODE_BUDGET + 3:,} characters) not shown"),
    ("x" * 100 + "\n", 7, "\u2026 8 more characters not shown"),
    ("x" * 100 + "\n\n", 0, None),
])
def test_final_newlines_not_shown_are_counted(text: str, cut: int, note: str | None) -> None:
    """Final newlines are output not shown: counted when anything else is not shown."""
    assert _note(code_blocks(Code(text, cut=cut))) == note


@pytest.mark.parametrize("text", ["``", "`\u200b`", "`\u200b\u200b`", "a\u200bb", "```\u200b"])
def test_fenced_output_reads_back_exactly(text: str) -> None:
    """Backtick breaking is reversible: different outputs show differently, each reads back."""
    [body] = _bodies(code_blocks(Code(text)))
    assert body == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_HOSTILE_TEXT)
def test_any_text_in_any_part_makes_valid_messages(text: str) -> None:
    """Any text as lesson prose, a notice, a context line or a heading: every message is valid."""
    for part in (Markdown(text), Notice(text), Context(text), Heading(text)):
        _rendered(part, Actions(("next",)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_HOSTILE_TEXT)
def test_split_prose_loses_nothing(text: str) -> None:
    """Prose split into sections keeps every visible character (only cuts and reopens differ)."""
    converted = to_mrkdwn(text)
    pieces = split_mrkdwn(converted)
    assert all(slack_len(p) <= SECTION_LIMIT for p in pieces)

    def visible(s: str) -> str:
        return re.sub(r"[\s`]", "", s)

    assert visible("".join(pieces)) == visible(converted)


_LINKY = st.lists(st.sampled_from([
    "<http://x.y/z|a```b>", "<http://x.y/z~~|#```>", "<http://x.y/`>", "`", "```", " ", "a",
    "&", "*", "~~", "|", "\U0001f600", "\u200b", ":smile:", "word ",
]), min_size=1, max_size=60).map("".join)


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""
    def stop(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_LINKY, limit=st.integers(20, 80))
def test_splitting_links_and_code_spans_ends_and_keeps_links_whole(text: str, limit: int) -> None:
    """Any line of links and backticks splits, at any small limit, into pieces within it, links whole.

    A link longer than a piece may hold is cut as text (nothing else fits); any other stays whole.
    """
    converted = to_mrkdwn(text)
    with _within(5.0):
        pieces = split_mrkdwn(converted, limit)
    assert all(slack_len(piece) <= limit for piece in pieces)
    links = set(re.findall(r"<[^<>]*>", converted))
    if all(slack_len(link) <= limit - 2 for link in links):
        for piece in pieces:
            assert set(re.findall(r"<[^<>]*>", piece)) <= links  # never a link cut in two
            assert piece.count("<") == piece.count(">")


def test_a_line_that_once_split_forever_ends() -> None:
    """A cut landing on a link's backticks used to leave the rest as long as before: now it moves on."""
    text = to_mrkdwn("<http://x.y/z~~|#```>#\\_ _\U0001f600&-\u200b~~|)a&>**:smile:" * 5)
    with _within(5.0):
        pieces = split_mrkdwn(text, 22)
    assert pieces and all(slack_len(piece) <= 22 for piece in pieces)


# -- fallback text ------------------------------------------------------------------------


def test_the_fallback_escapes_headers() -> None:
    """A heading's `&` and `<...>` are escaped in the notification text too."""
    [message] = _rendered(Heading("Ports & <host>:<container>"), Markdown("body"))
    assert message["text"].startswith("Ports &amp; &lt;host&gt;:&lt;container&gt;\n")


@pytest.mark.parametrize("offset", range(0, 12))
def test_the_fallback_is_clipped_between_entities_with_fences_closed(offset: int) -> None:
    """At every alignment of `&amp;` against the 3,000 cut: no broken entity, fences closed."""
    blocks, _ = reply_blocks(Reply().add(Heading("t" * offset), Code("&" * 4000)))
    text = fallback_text(blocks)
    assert slack_len(text) <= FALLBACK_LIMIT
    assert mrkdwn_problems(text, FALLBACK_LIMIT) == []
    assert text.endswith("\u2026")


def test_clipping_closes_an_inline_code_span() -> None:
    """A clip that falls inside inline code closes it, so the rest is not code."""
    text = "intro " + "`" + "&lt;" * 1000 + "`"
    clipped = clip_mrkdwn(text, 100)
    assert slack_len(clipped) <= 100 and clipped.count("`") == 2
    assert mrkdwn_problems(clipped, 100) == []


# -- learner text never becomes markup --------------------------------------------------------

LEARNER_WORDS = [
    "x`[Reset_password](https://evil.example)`",
    "```",
    "x```y",
    "<!channel>",
    "<!here|here>",
    "<@U123>",
    "<#C123|general>",
    "<http://x|y>",
    "<https://evil.example>",
    "*bold*",
    "_it_",
    "~s~",
    ":skull:",
    "`",
    "``a``",
    "&lt;not an entity&gt;",
    "[a](mailto:x@evil.example)",
    "![img](https://evil.example/x.png)",
]


def _no_markup_from(rendered: str, *, code: bool = False) -> None:
    """No link, mention, fence or emoji came out of what a learner typed.

    With ``code`` the text is one fenced section: its own two fences, nothing else.
    """
    assert "evil.example|" not in rendered and "<http" not in rendered and "<mailto" not in rendered
    assert "<!" not in rendered and "<@" not in rendered and "<#" not in rendered
    assert rendered.count("```") == (2 if code else 0)
    outside_code = re.sub(r"```.*?```|`[^`]*`", "", rendered, flags=re.S)
    assert ":skull:" not in outside_code  # Slack shows code as it is, emoji names too
    assert mrkdwn_problems(rendered, SECTION_LIMIT) == []


@pytest.mark.parametrize("word", LEARNER_WORDS)
def test_a_refused_tutor_word_comes_back_as_text(word: str) -> None:
    """`/tutor WORD` answered as the core words it today ("I don't know `WORD`") has no markup."""
    reply = Reply().add(Notice(f"I don't know `{word}`. Type `help` for what I understand, or "
                               "a docker command starting with `docker`."))
    messages = _rendered(*reply.parts)
    for text in [*_texts(messages), messages[0]["text"]]:
        _no_markup_from(text)


def test_the_reported_link_is_not_a_link() -> None:
    """The issue's `/tutor x`[Reset_password](https://evil.example)`` shows its text, no link."""
    [text] = _texts(_rendered(Notice(
        "I don't know `x`[Reset_password](https://evil.example)``. Type `help`.")))
    assert "<https://evil.example" not in text
    assert "[Reset_password](https://evil.example)" in text
    assert f"{GRAVE}{GRAVE}" in text  # the stray backticks, shown as text


def _quote(text: str) -> str:
    """Learner text as CommonMark inline code no backtick inside can end (the core should)."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.strip(" ") and (text[0] in "` " or text[-1] in "` ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@settings(max_examples=300, deadline=None)
@given(word=st.text(min_size=1, max_size=200).filter(lambda w: "\n" not in w and "\r" not in w))
def test_quoted_learner_text_is_shown_exactly_as_inline_code(word: str) -> None:
    """With CommonMark-correct quoting any learner text shows exactly, as code, and nothing else."""
    rendered = message_mrkdwn(f"I don't know {_quote(word)}. Type `help`.")
    expected = escape(clean(word)).replace("`", GRAVE)
    assert rendered == f"I don't know `{expected}`. Type `help`."


@pytest.mark.parametrize("word", LEARNER_WORDS)
def test_learner_text_in_output_and_headings_is_literal(word: str) -> None:
    """The same text as command output (code), a heading (plain text) and a context line."""
    messages = _rendered(Heading(f"Progress of {word}"), Code(f"$ {word}\n{word}"),
                         Context(f"`{word}` last active"))
    header = messages[0]["blocks"][0]
    assert header["text"]["emoji"] is False
    assert header["text"]["text"] == clean(f"Progress of {word}")
    code, context = _texts(messages)
    _no_markup_from(code, code=True)
    _no_markup_from(context)
    _no_markup_from(messages[0]["text"], code=True)


def test_prose_keeps_its_own_markup_and_loses_slacks() -> None:
    """Lesson prose keeps bold, links and code; Slack-only markup in it is text."""
    text = to_mrkdwn("**Goal:** see [docs](https://docs.docker.com), `a_b`, my_volume, "
                     "5 * 3, :tada:, ~x~ <!here>")
    assert text.startswith("*Goal:* see <https://docs.docker.com|docs>, `a_b`, my_volume, 5 * 3")
    assert ":tada:" not in text and "&lt;!here&gt;" in text and "~x~" not in text


def test_the_running_note_is_valid_for_hostile_commands() -> None:
    """The immediate ack of `/docker ...` is valid and literal for any learner line."""
    for word in [*LEARNER_WORDS, "&" * 5000, "`" * 300]:
        note = running_note(f"docker run {word}")
        check_message(note)
        _no_markup_from(note["blocks"][0]["elements"][0]["text"])


# -- buttons, headers, uploads ------------------------------------------------------------------


def test_buttons_and_headers_stay_within_limits() -> None:
    """Quiz choices with huge labels and values, and a huge heading, give valid blocks."""
    choices = tuple((f"q1:{n}" + "v" * 3000, "\U0001f600" * 80 + f" {n}") for n in range(30))
    _rendered(Heading("\U0001f600" * 200), Actions(("back", "next", "reset"), choices))


def test_uploads_have_bounded_names_without_paths() -> None:
    """Hostile titles and file names become one-line, path-free, bounded names."""
    rendered = render(Reply().add(Image(b"\x89PNG", "../../etc/passwd\n" * 40),
                                  File(b"a,b\n", "../../" + "x" * 400 + ".csv", "t\x00" * 300)))
    check_rendered(rendered)
    assert [u.filename[-4:] for u in rendered.uploads] == [".png", ".csv"]


def test_payload_error_is_an_assertion() -> None:
    """A payload problem fails a test like an assert does."""
    assert issubclass(PayloadError, AssertionError)
