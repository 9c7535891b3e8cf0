"""The Slack front end on the real Docker engine: docker commands over Slack, end to end.

The same pipeline as ``test_slack.py`` (signed requests in, the fake Slack Web API out),
with the real tutor on the real engine behind it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.identity import Person
from bot.tutor.core import Tutor
from tests.fake_slack import FakeSlack
from tests.slack_helpers import TOKEN, Stack, header_texts, running_stack

pytestmark = pytest.mark.docker

LESSON = "data-persistence"
CHALLENGE_STEP = "Challenge: the Immortal Database"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API that insists on the bot token."""
    with FakeSlack(token=TOKEN) as slack:
        yield slack


@pytest.fixture
def stack(settings: Settings, tutor: Tutor, fake: FakeSlack) -> Iterator[Stack]:
    """The app in front of the real tutor on the real engine."""
    with running_stack(settings, tutor, fake) as running:
        yield running


def test_docker_set_in_redis_returns_ok_in_a_code_block(stack: Stack) -> None:
    """`/docker run ... redis` then `/docker exec redis-1 redis-cli set ...` answers OK."""
    stack.tutor_line(f"start {LESSON}")
    sent = stack.sender.command("/docker", "run -d --name redis-1 -v my-redis-data:/data redis")
    assert sent.status == 200
    assert "Running `docker run -d --name redis-1" in sent.json()["text"]
    stack.fake.wait_for_response(sent.response_url, timeout=60)
    [reply] = stack.docker('exec redis-1 redis-cli set mykey "Hello Persistence"')
    sections = [b["text"]["text"] for b in reply.blocks() if b["type"] == "section"]
    assert "```\nOK\n```" in sections


def test_the_immortal_database_challenge_over_slack(stack: Stack) -> None:
    """Start, six `next`s (slash and buttons) to the challenge, the commands: "survived"."""
    stack.tutor_line(f"start {LESSON}")
    for n in range(6):
        if n % 2:
            sent = stack.sender.action("tutor_next", "next")
            [reply] = stack.fake.wait_for_response(sent.response_url)
        else:
            [reply] = stack.tutor_line("next")
    assert header_texts(reply.blocks()) == [CHALLENGE_STEP]
    texts = []
    for args in ("run -d --name redis-1 -v my-redis-data:/data redis",
                 'exec redis-1 redis-cli set mykey \u201cHello Persistence\u201d',
                 "stop redis-1", "rm redis-1",
                 "run -d --name redis-2 -v my-redis-data:/data redis",
                 "exec redis-2 redis-cli get mykey"):
        [reply] = stack.docker(args)
        texts.append(reply.texts())
    assert "OK" in texts[1]
    confirmed = [t for t in texts if "survived" in t]
    assert confirmed, texts
    assert "Challenge complete" in confirmed[0]
    assert stack.tutor.store.challenge_completed_at(Person("slack", "U0ALICE", "alice"), LESSON,
                                                 "challenge") is not None


def test_a_dm_docker_ps_is_answered_in_the_dm(stack: Stack) -> None:
    """`docker ps` typed in the bot's DM is answered there with chat.postMessage."""
    sent = stack.sender.dm("docker ps", channel="D0ALICE")
    assert sent.status == 200
    call = stack.fake.wait_for("chat.postMessage", lambda c: c.body.get("channel") == "D0ALICE")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert "CONTAINER ID" in call.texts()
    assert "```" in call.texts()
