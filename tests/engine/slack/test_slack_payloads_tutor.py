"""Every payload the real tutor produces is valid Slack, hostile learners included.

The real tutor (real store, real sandbox on the real engine) walks every shipped lesson
with every tutor word, runs docker commands whose output is hostile (thousands of
``&<>``, mentions, fences, control characters), takes refused lines a learner crafted
to become markup, and an instructor then reads that learner's timeline. Every reply is
rendered and checked with slack_sdk's models and Slack's limits
(:mod:`tests.payload_check`), as are the App Home views (also with a catalog of 60
lessons). Last, the same hostile lines go through bolt's real request pipeline (signed
requests) to a strict fake Slack that refuses what Slack would refuse.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from slack_bolt.request import BoltRequest

from bot.config import Settings
from bot.errors import TutorError
from bot.identity import Person
from bot.jobs.ordered import KeyedExecutor
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.reply import Code, Reply
from bot.sandbox.engine.sandbox import Sandbox
from bot.tutor.core import Tutor
from handlers.app import build_app
from handlers.listeners import home
from handlers.render.blocks import render
from handlers.runtime import error_reply
from tests.fake_slack import RESPONSE, sign
from tests.payload_check import (
    TALLY,
    StrictFakeSlack,
    check_call,
    check_message,
    check_rendered,
    check_view,
)
from tests.slack_helpers import SECRET, TOKEN, SlackSender

pytestmark = pytest.mark.docker

ALICE = Person("slack", "U0ALICE", "alice")
TEACHER = Person("slack", "UINSTRUCTOR", "teacher")

HOSTILE_DOCKER = [
    "docker run --rm busybox sh -c 'yes \"&<>\" | head -c 4000'",
    "docker run --rm busybox echo '<!channel> <!here> <@U123> ``` :skull: *b* _i_ ~s~ "
    "[x](https://evil.example)'",
    "docker run --rm busybox printf 'nul\\000 esc\\033[31m red\\r\\ncrlf\\n'",
    "docker run --rm busybox seq 1 3000",
]
"""Docker commands that really run and print hostile output."""

HOSTILE_LINES = [
    "docker " + "&" * 3000,
    "docker ps `rm -rf /`",
    "docker run x`[Reset_password](https://evil.example)`",
    "docker run ```",
    "docker run <!channel> <@U123> :skull:",
    "x`[Reset_password](https://evil.example)`",
    "```",
    "<!channel>",
    "*bold* _it_ ~s~",
    "edit notes.txt <!here> ``` [a](https://evil.example) " + "&" * 2000,
    "edit ../x`y`.txt hi",
    "answer `[x](https://evil.example)`",
    "start x`[y](https://evil.example)`",
]
"""Lines a learner could type to turn the tutor's answer into markup (all refused or literal)."""


@pytest.fixture(scope="module", autouse=True)
def _report_tally() -> Iterator[None]:
    """Print what the checks validated so far (run with -s to see it)."""
    yield
    print(f"\npayload checks so far: {TALLY}")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings without the per-minute command limit (this walk types a lot)."""
    return replace(settings, limits=replace(settings.limits, commands_per_minute=0))


def _answer(tutor: Tutor, person: Person, line: str) -> Reply:
    """The reply a front end shows: the tutor's answer, or its error as a notice."""
    try:
        return tutor.handle(person, line)
    except TutorError as error:
        return error_reply(error)


def _check(reply: Reply) -> list[dict[str, Any]]:
    rendered = render(reply)
    check_rendered(rendered)
    return rendered.messages


def _texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(m) for m in messages)


def test_every_reply_of_every_lesson_is_a_valid_payload(tutor: Tutor) -> None:
    """Every tutor word in every step of every lesson, for a learner and an instructor."""
    before = TALLY.payloads
    lines = ["help", "lessons", "status", "next", "hint", "progress", "nonsense"]
    for lesson in tutor.catalog:
        lines.append(f"start {lesson.id}")
        for _step in lesson.steps:
            lines += ["show", "hint", "hint", "hint", "hint", "check", "status", "answer 1",
                      "answer 9", "next"]
        lines += ["back", "edit notes.txt hello", "reset"]
    for line in lines:
        _check(_answer(tutor, ALICE, line))
    for line in ["progress", "progress help", "progress export", "progress @alice",
                 "progress nobody", *(f"progress {lesson.id}" for lesson in tutor.catalog)]:
        _check(_answer(tutor, TEACHER, line))
    assert TALLY.payloads - before >= len(lines)


def test_hostile_output_and_lines_give_valid_literal_payloads(tutor: Tutor) -> None:
    """Real hostile output and crafted lines: valid payloads, no link, mention or open fence."""
    _answer(tutor, ALICE, "start data-persistence")
    outputs = []
    for line in [*HOSTILE_DOCKER, *HOSTILE_LINES]:
        reply = _answer(tutor, ALICE, line)
        messages = _check(reply)
        outputs.append((line, reply, _texts(messages)))
    for line, _reply, text in outputs:
        assert "<https://evil" not in text and "<!channel>" not in text, line
        assert "<@U123>" not in text and "<!here>" not in text, line
    [amps] = [r for line, r, _ in outputs if "yes" in line]
    code = next(p for p in amps.parts if isinstance(p, Code))
    assert code.cut > 0 and "&<>" in code.text  # the sandbox capped it; the renderer showed it


def test_an_instructors_timeline_of_a_hostile_learner_is_deliverable(tutor: Tutor) -> None:
    """`progress @alice` after her hostile lines: valid payloads showing her lines as text."""
    _answer(tutor, ALICE, "start data-persistence")
    for line in HOSTILE_LINES:
        _answer(tutor, ALICE, line)
    reply = _answer(tutor, TEACHER, "progress @alice")
    assert "Progress of alice" in reply.text()
    messages = _check(reply)
    text = _texts(messages)
    assert "&amp;" * 100 in text  # her 3,000 `&` shown escaped, in sections that fit
    assert "<https://evil" not in text and "<!channel>" not in text


def _home_blocks(tutor: Tutor, person: Person) -> list[dict[str, Any]]:
    view = home.home_view(tutor, person)
    check_view(view)
    blocks: list[dict[str, Any]] = view["blocks"]
    return blocks


def test_home_views_are_valid_and_put_the_class_first(tutor: Tutor) -> None:
    """A learner's and an instructor's Home: valid views; the class summary above the lessons."""
    _answer(tutor, ALICE, "start data-persistence")
    learner = _home_blocks(tutor, ALICE)
    assert not any(b.get("text", {}).get("text") == "Your class" for b in learner)
    teacher = _home_blocks(tutor, TEACHER)
    kinds = [(b["type"], b.get("text", {}).get("text", "")) for b in teacher]
    your_class = kinds.index(("header", "Your class"))
    first_lesson = next(i for i, b in enumerate(teacher) if "accessory" in b)
    assert your_class < first_lesson


@pytest.fixture
def big_tutor(settings: Settings, store: ProgressStore, sandbox: Sandbox,
              catalog: Catalog) -> Tutor:
    """The tutor with 60 lessons (copies of the shipped one under new ids)."""
    shipped = catalog.get("data-persistence")
    lessons = [replace(shipped, id=f"copy-{n:02d}", number=100 + n, title=f"Copy {n} & <more>")
               for n in range(60)]
    return Tutor(settings, store, sandbox, Catalog.of(shipped, *lessons))


def test_a_home_with_60_lessons_keeps_the_class_summary_and_points_to_the_rest(
        big_tutor: Tutor) -> None:
    """At 100 blocks the lessons give way, never the summary; the note names a working word."""
    _answer(big_tutor, ALICE, "start data-persistence")
    summary = home._class_summary(big_tutor, TEACHER)
    assert len(summary) > 2
    teacher = _home_blocks(big_tutor, TEACHER)
    assert len(teacher) == home.HOME_BLOCK_LIMIT
    at = teacher.index(summary[0])
    assert teacher[at:at + len(summary)] == summary  # whole, before any lesson
    assert teacher[-1]["elements"][0]["text"] == home.HOME_CUT_NOTE_INSTRUCTOR
    learner = _home_blocks(big_tutor, ALICE)
    assert len(learner) == home.HOME_BLOCK_LIMIT
    assert learner[-1]["elements"][0]["text"] == home.HOME_CUT_NOTE
    listed = _answer(big_tutor, ALICE, "lessons").text()  # what the note points to works
    assert all(lesson.title in listed for lesson in big_tutor.catalog)


# -- through bolt's real pipeline, to a strict fake Slack ---------------------------------------


@pytest.fixture
def strict() -> Iterator[StrictFakeSlack]:
    """A fake Slack that refuses what Slack would refuse."""
    with StrictFakeSlack(token=TOKEN) as fake:
        yield fake


def _signed(body: str, content_type: str) -> BoltRequest:
    headers = {"content-type": content_type,
               **{k.lower(): v for k, v in sign(body, SECRET).items()}}
    return BoltRequest(body=body, headers=headers)


def test_hostile_lines_through_bolt_reach_the_learner_as_valid_messages(
        settings: Settings, tutor: Tutor, strict: StrictFakeSlack) -> None:
    """Signed /tutor, /docker and DMs full of markup: every answer arrives and is valid."""
    errors: list[BaseException] = []
    executor = KeyedExecutor(4, thread_name_prefix="test-payloads")
    slack_settings = replace(settings, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                             slack_api_url=strict.url)
    app = build_app(slack_settings, tutor, executor=executor, on_error=errors.append)
    sender = SlackSender("", strict)
    try:
        urls = []
        for command, text in [("/tutor", "start data-persistence"),
                              *(("/docker", line.removeprefix("docker ")) for line in
                                [*HOSTILE_DOCKER[:2], *HOSTILE_LINES[:5]]),
                              *(("/tutor", line) for line in HOSTILE_LINES[5:])]:
            body, url = sender.command_body(command, text)
            ack = app.dispatch(_signed(body, "application/x-www-form-urlencoded"))
            assert ack.status == 200, ack.body
            if ack.body:  # /docker acks with "Running `docker ...`"
                check_message(json.loads(ack.body))
            urls.append(url)
        for text in ["```", "x`[Reset_password](https://evil.example)`", "<!channel> hi"]:
            envelope = {"type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A0TUTOR",
                        "event_id": f"Ev{secrets.token_hex(6)}", "event_time": int(time.time()),
                        "event": {"type": "message", "channel": "D0ALICE", "user": "U0ALICE",
                                  "text": text, "ts": f"{time.time():.6f}",
                                  "channel_type": "im"}}
            ack = app.dispatch(_signed(json.dumps(envelope), "application/json"))
            assert ack.status == 200
        for url in urls:
            strict.wait_for_response(url, timeout=90)
        strict.wait_for_all("chat.postMessage", 3, timeout=30)
        app.dispatch(_signed(json.dumps({
            "type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A0TUTOR",
            "event_id": f"Ev{secrets.token_hex(6)}", "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "UINSTRUCTOR", "tab": "home"}}),
            "application/json"))
        strict.wait_for("views.publish", timeout=30)
    finally:
        executor.shutdown(wait=True)
    assert errors == []
    assert strict.problems == []
    calls = [c for c in strict.calls() if c.method in (RESPONSE, "chat.postMessage",
                                                      "views.publish")]
    assert all(c.ok for c in calls), [c.body.get("_refused") for c in calls if not c.ok]
    for call in calls:
        check_call(call)
    assert len(calls) >= len(urls) + 4
