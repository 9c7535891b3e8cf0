"""A message Slack refuses (invalid_blocks, msg_too_long) reaches the learner as a short notice.

Through the real ``WebClient`` against a strict fake Slack that refuses what Slack
refuses, and through a ``response_url`` poster answering HTTP 400 (pytest-mock: Slack's
response URLs cannot run here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_mock import MockerFixture
from slack_sdk import WebClient

from bot.reply import Code, Markdown, Reply
from handlers.delivery import DELIVERY_NOTICE, send_all
from handlers.render.blocks import render
from handlers.runtime import Conversation, ResponseUrl, SlackDeliveryError
from tests.payload_check import StrictFakeSlack, check_message


@pytest.fixture
def strict() -> Iterator[StrictFakeSlack]:
    """A fake Slack that refuses what Slack would refuse."""
    with StrictFakeSlack(token="xoxb-test") as fake:
        yield fake


def _too_long() -> dict[str, Any]:
    """What the old renderer made of 674 `&`: a 3,373-character section."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn",
                                           "text": "```\n" + "&amp;" * 673 + "\n```"}}]
    return {"text": "output", "blocks": blocks}


def test_a_refused_dm_message_becomes_a_short_notice(strict: StrictFakeSlack) -> None:
    """chat.postMessage refused with invalid_blocks: the learner gets the notice, then the rest."""
    client = WebClient(token="xoxb-test", base_url=strict.url)
    destination = Conversation(client, "U0ALICE", "D0ALICE")
    fine = render(Reply().add(Markdown("after"))).messages[0]
    refused = send_all(destination, [_too_long(), fine], ephemeral=False)
    assert refused == 1
    calls = strict.calls("chat.postMessage")
    assert [c.body.get("_refused") for c in calls] == ["invalid_blocks", None, None]
    assert DELIVERY_NOTICE.split(":warning: ")[1][:40] in calls[1].texts()
    assert "after" in calls[2].texts()
    for call in calls[1:]:
        check_message(call.body)


def test_a_refused_response_url_post_becomes_a_short_notice(mocker: MockerFixture) -> None:
    """A response_url answering 400 invalid_blocks: the notice goes to the same response_url."""
    answers = [mocker.Mock(status_code=400, body="invalid_blocks"),
               mocker.Mock(status_code=200, body="ok")]
    respond = mocker.Mock(side_effect=answers)
    assert send_all(ResponseUrl(respond, "U0ALICE", "C0CLASS"), [_too_long()],
                    ephemeral=True) == 1
    notice = respond.call_args_list[1].kwargs
    assert notice["response_type"] == "ephemeral"
    check_message({"text": notice["text"], "blocks": notice["blocks"]})
    assert "did not accept" in notice["text"]


def test_other_delivery_failures_still_raise(mocker: MockerFixture) -> None:
    """An expired response_url is not a refusal of the message: it raises as before."""
    respond = mocker.Mock(return_value=mocker.Mock(status_code=404, body="expired_url"))
    with pytest.raises(SlackDeliveryError):
        send_all(ResponseUrl(respond, "U0ALICE"), [_too_long()], ephemeral=True)
    assert respond.call_count == 1


def test_the_strict_fake_refuses_the_old_payload_and_takes_the_new(
        strict: StrictFakeSlack) -> None:
    """The strict fake answers invalid_blocks to the old 3,373 section, ok to today's render."""
    client = WebClient(token="xoxb-test", base_url=strict.url)
    with pytest.raises(Exception, match="invalid_blocks"):
        client.chat_postMessage(channel="D1", **_too_long())
    for message in render(Reply().add(Code("&" * 674))).messages:
        client.chat_postMessage(channel="D1", **message)
    assert [c.ok for c in strict.calls("chat.postMessage")] == [False, True]
