"""How the tutor shows lessons: a section, a hint, a lesson's card; no store, no engine.

Pure functions of a lesson and a learner's state, used by :class:`bot.tutor.core.Tutor` to
build its replies and by the App Home's overview (:class:`bot.service.LessonCard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.errors import TutorError
from bot.lessons.model import Lesson, Step
from bot.progress import LessonState
from bot.reply import (
    Actions,
    Code,
    Context,
    Event,
    Heading,
    Markdown,
    Notice,
    Part,
    Reply,
    Tone,
    code_span,
)
from bot.sandbox import Outcome
from bot.service import LessonCard
from bot.wording import FrontEnd, for_front_end

STEP_ACTIONS = ("back", "next", "check", "hint")


def command_reply(outcome: Outcome) -> Reply:
    """What a learner's docker command printed, as the docker CLI would show it."""
    reply = Reply(events=[Event.COMMAND_RAN])
    shown = outcome.output if outcome.output.strip() else ""
    if shown or outcome.cut:
        reply.add(Code(shown.rstrip("\n"), cut=outcome.cut))
    if outcome.exit_code not in (0,) and not shown:
        reply.add(Context(f"exit status {outcome.exit_code}"))
    for note in outcome.notes:
        reply.add(Context(note))
    return reply


def hint_reply(step: Step, index: int, *, front: FrontEnd) -> Reply:
    """The step's hint number ``index`` (0-based), said for ``front``, and how many are left."""
    left = len(step.hints) - index - 1
    more = f"{left} more hint{'s' if left != 1 else ''} left." if left else "That was the last hint."
    hint = for_front_end(step.hints[index], front)
    return Reply().add(Notice(f"Hint {index + 1}/{len(step.hints)}: {hint}", Tone.INFO),
                       Context(more))


def still_to_do(lesson: Lesson, missing: Sequence[Step]) -> Reply:
    """The end of a lesson reached with hands-on steps not done yet."""
    names = ", ".join(f"\u201c{s.title}\u201d" for s in missing)
    return Reply().add(Notice(f"You've reached the end of {lesson.title}. Still to do: {names}. "
                              "Use `back` to return to them.", Tone.INFO))


def lessons_reply(lessons: Sequence[tuple[Lesson, LessonState | None]]) -> Reply:
    """Every lesson with the learner's progress in it (``lessons``)."""
    reply = Reply().add(Heading("Lessons"))
    for lesson, state in lessons:
        done = done_count(lesson, state)
        mark = "done" if state and state.completed_at else f"{done}/{len(lesson.steps)} steps"
        started = "" if state else " (not started)"
        reply.add(Markdown(f"*{lesson.title}* ({code_span(lesson.id)}): {lesson.summary}\n"
                           f"Progress: {mark}{started}"))
    return reply.add(Context("Type `start LESSON` to begin or resume."))


def status_reply(lesson: Lesson, state: LessonState, challenges_completed: Sequence[datetime]) -> Reply:
    """Where the learner is in a lesson (``status``): each step, done or not, and the challenge."""
    index = lesson.index(state.current_step)
    lines = []
    for i, step in enumerate(lesson.steps):
        done = state.completed(step.id)
        marker = "\u2705" if done else ("\u25b6\ufe0f" if i == index else "\u25ab\ufe0f")
        lines.append(f"{marker} {i + 1}. {step.title}")
    reply = Reply().add(Heading(f"{lesson.title}: step {index + 1} of {len(lesson.steps)}"),
                        Markdown("\n".join(lines)))
    for when in challenges_completed:
        reply.add(Context(f"Challenge completed {when:%Y-%m-%d %H:%M} UTC."))
    return reply


def section(lesson: Lesson, step: Step, quiz_parts: Sequence[Part] = (), *,
            front: FrontEnd) -> Reply:
    """A lesson section: its title, text said for ``front``, place, quiz question and buttons."""
    index = lesson.index(step.id)
    reply = Reply(ephemeral=True).add(
        Heading(step.title),
        Markdown(for_front_end(step.body, front).strip()),
        Context(f"{lesson.title} \u00b7 step {index + 1} of {len(lesson.steps)}"),
    )
    reply.add(*quiz_parts)
    actions = tuple(a for a in STEP_ACTIONS
                    if not (a == "back" and index == 0)
                    and not (a in ("check", "hint") and not step.hands_on and not step.hints))
    return reply.add(Actions(actions))


def done_count(lesson: Lesson, state: LessonState | None) -> int:
    """How many of the lesson's steps the learner completed."""
    if state is None:
        return 0
    return sum(1 for s in lesson.steps if state.completed(s.id))


def card(lesson: Lesson, state: LessonState | None) -> LessonCard:
    """A lesson and the person's state in it, as an overview shows it."""
    card = LessonCard(lesson.id, lesson.title, lesson.summary, len(lesson.steps),
                      steps_done=done_count(lesson, state))
    if state is None:
        return card
    number: int | None = None
    title: str | None = None
    try:
        step = lesson.step(state.current_step)
        number, title = lesson.index(step.id) + 1, step.title
    except TutorError:  # a step the lesson no longer has
        pass
    return replace(card, started=True, completed=state.completed_at is not None,
                   current_number=number, current_title=title)


__all__ = [
    "STEP_ACTIONS",
    "card",
    "command_reply",
    "done_count",
    "hint_reply",
    "lessons_reply",
    "section",
    "status_reply",
    "still_to_do",
]
