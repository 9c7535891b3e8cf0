"""How the tutor shows lessons: a section, a hint, a lesson's card; no store, no engine.

Pure functions of a lesson and a learner's state, used by :class:`bot.tutor.core.Tutor` to
build its replies and by the App Home's overview (:class:`bot.service.LessonCard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.errors import TutorError
from bot.lessons.course import CourseEntry
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
    shown = outcome.output  # an empty line is output too (`redis-cli get` of no key)
    if shown or outcome.cut:
        reply.add(Code(shown[:-1] if shown.endswith("\n") else shown, cut=outcome.cut))
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


CourseRow = tuple[CourseEntry, Lesson | None, LessonState | None]
"""One lesson of the course as ``lessons`` shows it: its entry, the lesson (``None``
while it is still to come) and the learner's state in it (``None``: not started)."""


def _finished(state: LessonState | None) -> bool:
    return bool(state and state.completed_at)


def waiting_on(rows: Sequence[CourseRow], entry: CourseEntry) -> list[str]:
    """Titles of the written lessons ``entry`` builds on that are not finished."""
    by_id = {e.id: (lesson, state) for e, lesson, state in rows}
    return [lesson.title for required in entry.requires
            if (found := by_id.get(required)) and (lesson := found[0]) is not None
            and not _finished(found[1])]


def recommended(rows: Sequence[CourseRow]) -> Lesson | None:
    """The lesson to do next: the first written one in course order not finished yet."""
    return next((lesson for _, lesson, state in rows
                 if lesson is not None and not _finished(state)), None)


def lessons_reply(rows: Sequence[CourseRow], title: str = "") -> Reply:
    """The course in order with the learner's state in each lesson (``lessons``)."""
    written = [lesson for _, lesson, _ in rows if lesson is not None]
    done = sum(1 for _, lesson, state in rows if lesson is not None and _finished(state))
    reply = Reply().add(Heading(title or "Lessons"))
    if len(written) > 1:
        reply.add(Context(f"Your progress: {done} of {len(written)} lessons finished."))
    for entry, lesson, state in rows:
        head = f"*{entry.label} {lesson.title if lesson else entry.title}*"
        if lesson is None:
            reply.add(Markdown(f"{head}: coming soon."))
            continue
        steps = done_count(lesson, state)
        if _finished(state):
            mark = "\u2705 done"
        elif state is None:
            mark = "not started"
        else:
            mark = f"in progress, {steps}/{len(lesson.steps)} steps done"
        missing = waiting_on(rows, entry) if not _finished(state) else []
        advice = (f" \u00b7 builds on {', '.join(missing)}: recommended first, not required"
                  if missing else "")
        reply.add(Markdown(f"{head} ({code_span(lesson.id)}): {lesson.summary}".rstrip(": ")
                           + f"\nState: {mark}{advice}"))
    following = recommended(rows)
    if following is not None:
        reply.add(Context(f"Next for you: `start {following.id}`. Type `start LESSON` to begin "
                          "or resume any lesson."))
    else:
        reply.add(Context("You have finished every lesson there is. Type `start LESSON` to "
                          "review one."))
    return reply


def prerequisite_note(missing: Sequence[Lesson]) -> Reply:
    """What ``start`` says on a lesson whose prerequisites are not finished (it starts anyway)."""
    names = " and ".join(f"{m.title} (`start {m.id}`)" for m in missing)
    return Reply().add(Context(f"This lesson builds on {names}, which you haven't finished: "
                               "we recommend it first, but nothing is locked."))


def offer_next(following: Lesson) -> Reply:
    """The line (and button) offering the next lesson of the course once one is finished."""
    return Reply().add(Context(f"Next in the course: {following.title}. Type "
                               f"`start {following.id}` to begin."),
                       Actions((f"start {following.id}",)))


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


def card(lesson: Lesson, state: LessonState | None, *, number: int = 0,
         waiting: Sequence[str] = ()) -> LessonCard:
    """A lesson and the person's state in it, as an overview shows it."""
    card = LessonCard(lesson.id, lesson.title, lesson.summary, len(lesson.steps),
                      steps_done=done_count(lesson, state), number=number,
                      waiting_on=tuple(waiting))
    if state is None:
        return card
    number_: int | None = None
    title: str | None = None
    try:
        step = lesson.step(state.current_step)
        number_, title = lesson.index(step.id) + 1, step.title
    except TutorError:  # a step the lesson no longer has
        pass
    return replace(card, started=True, completed=state.completed_at is not None,
                   current_number=number_, current_title=title)


def course_cards(rows: Sequence[CourseRow]) -> list[LessonCard]:
    """The whole course as overview cards, lessons still to come included."""
    return [card(lesson, state, number=entry.number, waiting=waiting_on(rows, entry))
            if lesson is not None else
            LessonCard(entry.id, entry.title, "", 0, number=entry.number, coming=True)
            for entry, lesson, state in rows]


__all__ = [
    "STEP_ACTIONS",
    "card",
    "command_reply",
    "course_cards",
    "done_count",
    "hint_reply",
    "lessons_reply",
    "offer_next",
    "prerequisite_note",
    "recommended",
    "section",
    "status_reply",
    "still_to_do",
    "waiting_on",
]
