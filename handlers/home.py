"""The App Home tab: every lesson with a progress bar, where you are, and Resume.

Opening the Home tab publishes a fresh view (``views.publish``). The Resume / Start
button runs ``start <lesson>`` and answers in the learner's DM (opened with
``conversations.open``), then republishes the Home tab. Instructors also see a class
summary when the tutor offers one (``Tutor.class_summary``), or a pointer to
``/tutor progress``.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import TutorError
from bot.identity import Person
from bot.lessons import Lesson
from bot.progress import LessonState
from bot.reply import Reply
from bot.tutor import Tutor
from handlers.blocks import Block, cap_blocks, context, header, reply_blocks, section
from handlers.inbound import slack_person
from handlers.mrkdwn import escape, to_mrkdwn
from handlers.runtime import Conversation, Runtime, error_reply

RESUME_ACTION = "home_resume"
"""The Resume / Start button; its value is the lesson id."""

HOME_BLOCK_LIMIT = 100
"""Most blocks Slack accepts in a Home tab view."""

FILLED, EMPTY = "\u25b0", "\u25b1"

CLASS_SUMMARY_PLACEHOLDER = "Class summary: `/tutor progress`"

HOME_CUT_NOTE = ("\u2026 more lessons than fit here: `/tutor lessons` lists them all "
                 "(`lessons` in the Messages tab).")
HOME_CUT_NOTE_INSTRUCTOR = ("\u2026 more than fits here: `/tutor lessons` lists every lesson, "
                            "`/tutor progress` the whole class.")


def progress_bar(done: int, total: int, width: int | None = None) -> str:
    """A bar such as ``▰▰▰▱▱▱ 3/9`` (one mark per step unless ``width`` is given)."""
    width = total if width is None else width
    filled = round(width * done / total) if total else 0
    return f"{FILLED * filled}{EMPTY * (width - filled)} {done}/{total}"


def _lesson_blocks(lesson: Lesson, state: LessonState | None) -> list[Block]:
    total = len(lesson.steps)
    done = sum(1 for s in lesson.steps if state is not None and state.completed(s.id))
    lines = [f"*{escape(lesson.title)}*", progress_bar(done, total)]
    if state is None:
        lines.append("Not started yet.")
        label = "Start"
    elif state.completed_at is not None:
        lines.append(":mortar_board: Completed.")
        label = "Review"
    else:
        try:
            step = lesson.step(state.current_step)
            number = lesson.index(step.id) + 1
            lines.append(f"Now: step {number} of {total}, \u201c{escape(step.title)}\u201d")
        except TutorError:
            lines.append("Now: somewhere new in this lesson.")
        label = "Resume"
    block = section("\n".join(lines))
    block["accessory"] = {
        "type": "button",
        "action_id": RESUME_ACTION,
        "text": {"type": "plain_text", "text": label},
        "value": lesson.id,
        **({"style": "primary"} if label == "Resume" else {}),
    }
    blocks: list[Block] = [block]
    if lesson.summary:
        blocks.append(context(to_mrkdwn(lesson.summary)))
    return blocks


def _class_summary(tutor: Tutor, person: Person) -> list[Block]:
    summary = getattr(tutor, "class_summary", None)
    if summary is None:
        return [header("Your class"), section(to_mrkdwn(CLASS_SUMMARY_PLACEHOLDER))]
    try:
        result = summary(person)
    except TutorError as error:
        result = error_reply(error)
    blocks = [header("Your class")]
    if isinstance(result, Reply):
        blocks.extend(b for b in reply_blocks(result)[0] if b["type"] != "actions")
    elif result:
        blocks.append(section(to_mrkdwn(str(result))[:3000]))
    return blocks


def home_view(tutor: Tutor, person: Person) -> dict[str, Any]:
    """The Home tab for one person (``type: home``)."""
    blocks: list[Block] = [
        header("docker-tutor"),
        section("Learn Docker by doing it: real commands on your own sandboxed engine. "
                "Use `/tutor` and `/docker` in any channel, or type in the *Messages* tab."),
    ]
    try:
        states = {s.lesson_id: s for s in tutor.store.all_lesson_states(person)}
    except TutorError as error:
        blocks.extend(reply_blocks(error_reply(error))[0])
        states = {}
    instructor = tutor.is_instructor(person)
    if instructor:  # first, so the 100-block cut takes lessons, not the class
        blocks.append({"type": "divider"})
        blocks.extend(_class_summary(tutor, person))
    blocks.append({"type": "divider"})
    for lesson in tutor.catalog:
        blocks.extend(_lesson_blocks(lesson, states.get(lesson.id)))
    note = context(HOME_CUT_NOTE_INSTRUCTOR if instructor else HOME_CUT_NOTE)
    return {"type": "home", "blocks": cap_blocks(blocks, note, HOME_BLOCK_LIMIT)}


def publish_home(runtime: Runtime, person: Person) -> None:
    """Publish a fresh Home tab for a person."""
    runtime.client.views_publish(user_id=person.user_id,
                                 view=home_view(runtime.tutor, person))


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
