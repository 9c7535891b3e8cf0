"""The App Home tab: the course's progress, every lesson with a progress bar, and Resume.

Opening the Home tab publishes a fresh view (``views.publish``). The Resume / Start
button runs ``start <lesson>`` and answers in the learner's DM (opened with
``conversations.open``), then republishes the Home tab. Instructors also see the class
summary (``TutorService.class_summary``, without charts). Everything comes from the
tutor service: its lesson cards and its class summary.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import TutorError
from bot.identity import Person
from bot.service import LessonCard, TutorService
from handlers.inbound import slack_person
from handlers.render.blocks import Block, cap_blocks, context, header, reply_blocks, section
from handlers.render.mrkdwn import escape, to_mrkdwn
from handlers.runtime import Conversation, Runtime, delivering, error_reply

RESUME_ACTION = "home_resume"
"""The Resume / Start button; its value is the lesson id."""

HOME_BLOCK_LIMIT = 100
"""Most blocks Slack accepts in a Home tab view."""

FILLED, EMPTY = "\u25b0", "\u25b1"

HOME_CUT_NOTE = ("\u2026 more lessons than fit here: `/tutor lessons` lists them all "
                 "(`lessons` in the Messages tab).")
HOME_CUT_NOTE_INSTRUCTOR = ("\u2026 more than fits here: `/tutor lessons` lists every lesson, "
                            "`/tutor progress` the whole class.")


def progress_bar(done: int, total: int, width: int | None = None) -> str:
    """A bar such as ``▰▰▰▱▱▱ 3/9`` (one mark per step unless ``width`` is given)."""
    width = total if width is None else width
    filled = round(width * done / total) if total else 0
    return f"{FILLED * filled}{EMPTY * (width - filled)} {done}/{total}"


def _lesson_blocks(card: LessonCard) -> list[Block]:
    number = f"{card.number:02d} " if card.number else ""
    if card.coming:
        return [context(f"*{escape(number + card.title)}*: coming soon.")]
    lines = [f"*{escape(number + card.title)}*", progress_bar(card.steps_done, card.steps_total)]
    if not card.started:
        lines.append("Not started yet.")
        if card.waiting_on:
            lines.append(f"Builds on {escape(', '.join(card.waiting_on))}: recommended first.")
        label = "Start"
    elif card.completed:
        lines.append(":mortar_board: Completed.")
        label = "Review"
    else:
        if card.current_number is not None:
            lines.append(f"Now: step {card.current_number} of {card.steps_total}, "
                         f"\u201c{escape(card.current_title or '')}\u201d")
        else:
            lines.append("Now: somewhere new in this lesson.")
        label = "Resume"
    block = section("\n".join(lines))
    block["accessory"] = {
        "type": "button",
        "action_id": RESUME_ACTION,
        "text": {"type": "plain_text", "text": label},
        "value": card.lesson_id,
        **({"style": "primary"} if label == "Resume" else {}),
    }
    blocks: list[Block] = [block]
    if card.summary:
        blocks.append(context(to_mrkdwn(card.summary)))
    return blocks


def _course_blocks(cards: list[LessonCard]) -> list[Block]:
    """The course at a glance: lessons finished of those written, and the next one."""
    written = [c for c in cards if not c.coming]
    if len(cards) < 2 or not written:
        return []
    done = sum(1 for c in written if c.completed)
    following = next((c for c in written if not c.completed), None)
    lines = [f"*Your course:* {progress_bar(done, len(written))} lessons finished"]
    if following is not None:
        verb = "continue with" if following.started else "next up:"
        lines.append(f"{verb.capitalize()} *{escape(following.title)}*.")
    else:
        lines.append(":mortar_board: You finished every lesson there is so far.")
    return [section("\n".join(lines))]


def _class_summary(tutor: TutorService, person: Person) -> list[Block]:
    try:
        result = tutor.class_summary(person)
    except TutorError as error:
        result = error_reply(error)
    blocks = [header("Your class")]
    blocks.extend(b for b in reply_blocks(result)[0] if b["type"] != "actions")
    return blocks


def home_view(tutor: TutorService, person: Person) -> dict[str, Any]:
    """The Home tab for one person (``type: home``)."""
    blocks: list[Block] = [
        header("docker-tutor"),
        section("Learn Docker by doing it: real commands on your own sandboxed engine. "
                "Use `/tutor` and `/docker` in any channel, or type in the *Messages* tab."),
    ]
    try:
        cards = tutor.lesson_cards(person)
    except TutorError as error:
        blocks.extend(reply_blocks(error_reply(error))[0])
        cards = tutor.lesson_cards(None)
    instructor = tutor.is_instructor(person)
    if instructor:  # first, so the 100-block cut takes lessons, not the class
        blocks.append({"type": "divider"})
        blocks.extend(_class_summary(tutor, person))
    blocks.append({"type": "divider"})
    blocks.extend(_course_blocks(cards))
    for card in cards:
        blocks.extend(_lesson_blocks(card))
    note = context(HOME_CUT_NOTE_INSTRUCTOR if instructor else HOME_CUT_NOTE)
    return {"type": "home", "blocks": cap_blocks(blocks, note, HOME_BLOCK_LIMIT)}


def publish_home(runtime: Runtime, person: Person) -> None:
    """Publish a fresh Home tab for a person.

    Raises:
        SlackDeliveryError: Slack refused the view or could not be reached.
    """
    view = home_view(runtime.tutor, person)
    with delivering("views.publish"):
        runtime.client.views_publish(user_id=person.user_id, view=view)


def _home_key(person: Person) -> str:
    """Home tab refreshes queue apart from commands: reading progress needs no wait."""
    return f"{person.key}#home"


def register(app: App, runtime: Runtime) -> None:
    """Listen to ``app_home_opened`` and the Resume button."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        person = slack_person(event["user"])
        runtime.submit(_home_key(person), lambda: publish_home(runtime, person))

    @app.action(RESUME_ACTION)
    def resume(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body.get("user") or {}
        person = slack_person(user["id"], user.get("username") or user.get("name"))
        line = f"start {str(action.get('value') or '').strip()}".strip()
        runtime.run_line(person, line, Conversation(runtime.client, person.user_id),
                         after=lambda: publish_home(runtime, person))
        ack()


__all__ = ["RESUME_ACTION", "home_view", "progress_bar", "publish_home", "register"]
