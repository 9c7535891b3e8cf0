"""The tutor service: one place that turns what a person types into a :class:`Reply`.

Both front ends (Slack handlers and the terminal console) call :meth:`Tutor.handle`
with the words a learner typed after ``/tutor`` or a ``docker ...`` line. The service
walks the lesson, runs learner commands in the sandbox, logs them, and verifies the
current step after every command without being asked.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot import reports, workspace
from bot.checks import CheckContext, CheckResult, quiz, run_checks
from bot.checks.hints import KIND as HINT_KIND
from bot.checks.hints import pick_state_hint
from bot.checks.history import HISTORY_LIMIT, checked_history
from bot.config import Settings
from bot.errors import CommandRefused, EngineUnavailable, QuotaExceeded, TutorError, UsageError
from bot.identity import Person
from bot.lessons import Catalog, Lesson, Step
from bot.progress import CommandEntry, LessonState, ProgressStore
from bot.reply import Actions, Code, Context, Event, Heading, Markdown, Notice, Reply, Tone
from bot.reports import progress_word
from bot.sandbox.engine import Sandbox
from bot.sandbox.parser import parse

STEP_ACTIONS = ("back", "next", "check", "hint")

HELP = """*docker-tutor* teaches Docker with real commands on your own sandbox.

Tutor words (after `/tutor` in a channel, or on their own in a DM or the console):
• `lessons`: the lessons and your progress
• `start [lesson]`: start or resume a lesson
• `show`: show the current section again
• `next` / `back`: move through the lesson
• `check`: ask whether the current step is done
• `hint`: a hint for the current step (up to three)
• `answer N`: answer a quiz question with the number of your choice
• `edit FILE TEXT`: write TEXT into FILE in your workspace (`$(pwd)`), as an editor would
• `status`: where you are
• `reset`: start the lesson over and remove your containers and volumes
• `help`: this text

Docker commands: type them as you would in a terminal, e.g. `docker ps -a`
(in a channel: `/docker ps -a`)."""


class Tutor:
    """The core service behind every front end.

    Args:
        settings: Process settings.
        store: The progress store.
        sandbox: The sandbox learners' commands run in.
        catalog: The lessons.
        clock: Monotonic clock, for the per-minute command limit.
    """

    def __init__(
        self,
        settings: Settings,
        store: ProgressStore,
        sandbox: Sandbox,
        catalog: Catalog,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sandbox = sandbox
        self.catalog = catalog
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._recent: dict[str, deque[float]] = defaultdict(deque)

    @classmethod
    def from_settings(cls, settings: Settings) -> Tutor:
        """Build the tutor with its real store, sandbox and lessons."""
        catalog = Catalog(settings.lessons_dir)
        store = ProgressStore(settings.database_url)
        sandbox = Sandbox(settings, allowed_images=catalog.images)
        return cls(settings, store, sandbox, catalog)

    def close(self) -> None:
        """Release the database and engine connections."""
        self.store.close()
        self.sandbox.close()

    def is_instructor(self, person: Person) -> bool:
        """Whether the person may see class data."""
        return person.user_id in self.settings.instructors

    def class_summary(self, person: Person) -> Reply:
        """The class summary for an instructor's App Home (no charts).

        Raises:
            NotAllowed: When the person is not an instructor.
        """
        return reports.class_summary(self, person)

    @contextmanager
    def _serial(self, person: Person) -> Iterator[None]:
        """Run one person's requests one at a time, in this process and across replicas."""
        with self._guard:
            lock = self._locks.setdefault(person.key, threading.Lock())
        with lock, self.store.learner_lock(person):  # the store's lock spans replicas
            yield

    # -- entry point ----------------------------------------------------------------------

    def handle(self, person: Person, text: str) -> Reply:
        """Answer one line: a tutor word (``next``, ``hint``, ...) or a ``docker ...`` command.

        Raises:
            TutorError: With a message for the person (refusals, unknown words, an
                unreachable engine). Nothing else is expected.
        """
        text = text.strip()
        with self._serial(person):
            self.store.touch(person)  # last activity: the reaper spares active learners
            if text == "docker" or text.startswith(("docker ", "docker\t")):
                return self.docker(person, text)
            word, _, rest = text.partition(" ")
            word = word.lower()
            if word in _WORDS and word not in _NO_ENGINE_WORDS:  # h-wire: engine words count
                self._rate_limit(person)
            command = _WORDS.get(word or "help")
            if command is None:
                raise UsageError(
                    f"I don't know `{word}`. Type `help` for what I understand, or a docker "
                    "command starting with `docker`."
                )
            return command(self, person, rest.strip())

    # -- tutor words ----------------------------------------------------------------------

    def help(self, person: Person, rest: str) -> Reply:
        """The list of tutor words."""
        return Reply().add(Markdown(HELP))

    def lessons(self, person: Person, rest: str) -> Reply:
        """Every lesson with the person's progress in it."""
        reply = Reply().add(Heading("Lessons"))
        for lesson in self.catalog:
            state = self.store.lesson_state(person, lesson.id)
            done = _done_count(lesson, state)
            mark = "done" if state and state.completed_at else f"{done}/{len(lesson.steps)} steps"
            started = "" if state else " (not started)"
            reply.add(Markdown(f"*{lesson.title}* (`{lesson.id}`): {lesson.summary}\n"
                               f"Progress: {mark}{started}"))
        reply.add(Context("Type `start LESSON` to begin or resume."))
        return reply

    def start(self, person: Person, rest: str) -> Reply:
        """Start (or resume) a lesson and show its current section."""
        lesson = self.catalog.get(rest) if rest else self.catalog.first()
        state = self.store.start_lesson(person, lesson.id, lesson.steps[0].id)
        reply = Reply()
        if any(s.completed_at for s in state.steps.values()):
            reply.add(Notice(f"Welcome back to {lesson.title}. Here is where you left off.",
                             Tone.INFO))
        return reply.extend(self._section(lesson, lesson.step(state.current_step), person))

    def show(self, person: Person, rest: str) -> Reply:
        """Show the current section again."""
        lesson, state = self._current(person)
        return self._section(lesson, lesson.step(state.current_step), person)

    def next(self, person: Person, rest: str) -> Reply:
        """Move to the next section (a reading section counts as done once moved past)."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        index = lesson.index(step.id)
        reply = Reply()
        if not step.hands_on and self.store.complete_step(person, lesson.id, step.id):
            reply.events.append(Event.STEP_COMPLETED)
        elif step.hands_on and not state.completed(step.id):
            reply.add(Context(f"The hands-on part of \u201c{step.title}\u201d isn't done yet; "
                              "`back` returns to it whenever you like."))
        if index + 1 >= len(lesson.steps):
            return reply.extend(self._finish(person, lesson))
        following = lesson.steps[index + 1]
        self.store.move_to(person, lesson.id, following.id)
        return reply.extend(self._section(lesson, following, person))

    def back(self, person: Person, rest: str) -> Reply:
        """Move to the previous section."""
        lesson, state = self._current(person)
        index = lesson.index(state.current_step)
        if index == 0:
            return Reply().add(Notice("This is the first section already.", Tone.INFO))
        previous = lesson.steps[index - 1]
        self.store.move_to(person, lesson.id, previous.id)
        return self._section(lesson, previous, person)

    def check(self, person: Person, rest: str) -> Reply:
        """Verify the current step now and say why it is or is not done."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        if not step.checks:
            return Reply().add(Notice(
                "This section has nothing to check: read it and type `next` when ready.",
                Tone.INFO))
        if state.completed(step.id):
            return Reply().add(Notice(f"\u201c{step.title}\u201d is already done. "
                                      "Type `next` to go on.", Tone.SUCCESS))
        result = self._run_checks(person, lesson, step)
        self.store.record_check(person, lesson.id, step.id, passed=result.passed)
        if result.passed:
            return self._completed(person, lesson, step, result)
        reply = Reply().add(Notice(result.message, Tone.WARNING))
        if step.quiz:
            right = quiz.answered_right(self._history(person, lesson), step.id)
            question = quiz.current(step, right)
            if question is not None:
                return reply.add(*quiz.question_parts(step, question))
        return reply.add(Context("Type `hint` for a hint."))

    def hint(self, person: Person, rest: str) -> Reply:
        """The hint for where the learner is now, else the next of the step's (up to three)."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        special = self._state_hint(person, lesson, step, state)
        if special is not None:
            return special
        if not step.hints:
            return Reply().add(Notice("No hints here: this section is for reading. "
                                      "Type `next` when you're ready.", Tone.INFO))
        index = self.store.next_hint(person, lesson.id, step.id, len(step.hints))
        left = len(step.hints) - index - 1
        more = f"{left} more hint{'s' if left != 1 else ''} left." if left else "That was the last hint."
        return Reply().add(Notice(f"Hint {index + 1}/{len(step.hints)}: {step.hints[index]}",
                                  Tone.INFO), Context(more))

    def answer(self, person: Person, rest: str) -> Reply:
        """Answer the current quiz question (``answer 2``; a Slack button sends ``answer q1:2``)."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        graded = quiz.grade(step, rest, self._history(person, lesson))
        if graded.fresh:
            self.store.log(person, kind=quiz.KIND, text=graded.text,
                           exit_status=0 if graded.correct else 1, lesson_id=lesson.id,
                           step_id=step.id, facts={"quiz": graded.fact})
        reply = Reply().add(*graded.parts)
        return reply.extend(self._auto_check(person, lesson, state))

    def edit(self, person: Person, rest: str) -> Reply:
        """Write a file in the workspace ``$(pwd)`` binds, standing in for an editor on the host."""
        raw_path, _, text = rest.partition(" ")
        text = text.strip()
        if not raw_path or not text:
            raise UsageError("Usage: `edit FILE TEXT`, e.g. `edit notes.txt hello from the host` "
                             "(in a channel: `/tutor edit ...`). It writes TEXT into FILE in your "
                             "workspace, the folder that `-v $(pwd):/app` shows in a container.")
        self._rate_limit(person)
        path = workspace.clean_path(raw_path)
        size = self.sandbox.write_workspace_file(person, path, text)  # h-wire: through the engine
        lesson_id = self.store.current_lesson(person)
        lesson = self.catalog.get(lesson_id) if lesson_id else None
        state = self.store.lesson_state(person, lesson.id) if lesson else None
        self.store.log(person, kind="edit", text=f"edit {path} {text}", exit_status=0,
                       lesson_id=lesson_id, step_id=state.current_step if state else None,
                       facts={"edit": {"path": path, "text": text[:500], "bytes": size}})
        reply = Reply().add(Notice(f"Saved `{path}` in your workspace (`$(pwd)/{path}` on the "
                                   f"host, {size} bytes).", Tone.INFO))
        if lesson is not None and state is not None:
            reply.extend(self._auto_check(person, lesson, state))
        return reply

    def status(self, person: Person, rest: str) -> Reply:
        """Where the person is: lesson, step, what is done."""
        lesson, state = self._current(person)
        index = lesson.index(state.current_step)
        lines = []
        for i, step in enumerate(lesson.steps):
            done = state.completed(step.id)
            marker = "\u2705" if done else ("\u25b6\ufe0f" if i == index else "\u25ab\ufe0f")
            lines.append(f"{marker} {i + 1}. {step.title}")
        reply = Reply().add(Heading(f"{lesson.title}: step {index + 1} of {len(lesson.steps)}"),
                            Markdown("\n".join(lines)))
        for step in lesson.challenge_steps:
            when = self.store.challenge_completed_at(person, lesson.id, step.id)
            if when:
                reply.add(Context(f"Challenge completed {when:%Y-%m-%d %H:%M} UTC."))
        return reply

    def reset(self, person: Person, rest: str) -> Reply:
        """Start the current lesson over and remove all the person's containers and volumes."""
        lesson_id = self.store.current_lesson(person)
        containers, volumes = self.sandbox.remove_all(person)
        reply = Reply()
        if lesson_id:
            lesson = self.catalog.get(lesson_id)
            self.store.reset_lesson(person, lesson.id)
            self.store.log(person, kind="tutor", text="reset", exit_status=0, lesson_id=lesson.id)
            self.store.start_lesson(person, lesson.id, lesson.steps[0].id)
            reply.add(Notice(
                f"Start over: removed {containers} container(s) and {volumes} volume(s); "
                f"{lesson.title} is back at the beginning.", Tone.INFO))
            return reply.extend(self._section(lesson, lesson.steps[0], person))
        return reply.add(Notice(
            f"Removed {containers} container(s) and {volumes} volume(s).", Tone.INFO))

    # -- docker commands ------------------------------------------------------------------

    def _rate_limit(self, person: Person) -> None:
        if self.settings.limits.commands_per_minute <= 0:  # 0: no limit (the console)
            return
        now = self._clock()
        recent = self._recent[person.key]
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self.settings.limits.commands_per_minute:
            raise QuotaExceeded(
                f"That's more than {self.settings.limits.commands_per_minute} commands in a "
                "minute. Take a breath and try again in a few seconds.",
                option="quota:rate",
            )
        recent.append(now)

    def docker(self, person: Person, text: str) -> Reply:
        """Run a learner's docker command in their sandbox, log it, and verify the step."""
        lesson_id = self.store.current_lesson(person)
        lesson = self.catalog.get(lesson_id) if lesson_id else None
        state = self.store.lesson_state(person, lesson.id) if lesson else None
        step_id = state.current_step if state else None
        started = time.monotonic()
        try:
            self._rate_limit(person)
            command = parse(text)
            outcome = self.sandbox.run_command(person, command)
        except CommandRefused as refused:
            self.store.log(person, kind="docker", text=text, exit_status=-1,
                           lesson_id=lesson_id, step_id=step_id, output=refused.message,
                           facts={"refused": refused.option})
            raise
        except EngineUnavailable as failure:
            self.store.log(person, kind="docker", text=text, exit_status=-2,
                           lesson_id=lesson_id, step_id=step_id, output=failure.message)
            raise
        duration = int((time.monotonic() - started) * 1000)
        self.store.log(
            person, kind="docker", text=text, exit_status=outcome.exit_code, duration_ms=duration,
            output=outcome.output, lesson_id=lesson_id, step_id=step_id, facts=outcome.facts,
        )
        reply = Reply(events=[Event.COMMAND_RAN])
        shown = outcome.output if outcome.output.strip() else ""
        if shown or outcome.cut:
            reply.add(Code(shown.rstrip("\n"), cut=outcome.cut))
        if outcome.exit_code not in (0,) and not shown:
            reply.add(Context(f"exit status {outcome.exit_code}"))
        for note in outcome.notes:
            reply.add(Context(note))
        if lesson is not None and state is not None:
            reply.extend(self._auto_check(person, lesson, state))
        return reply

    def _state_hint(self, person: Person, lesson: Lesson, step: Step,
                    state: LessonState) -> Reply | None:
        """The state hint for what the step's checks find now (once per situation)."""
        if not step.state_hints or state.completed(step.id):
            return None
        try:
            result = self._run_checks(person, lesson, step)
        except EngineUnavailable:
            return None
        hint = pick_state_hint(step, result, self.store.history(person, limit=50))
        if hint is None:
            return None
        self.store.log(person, kind=HINT_KIND, text="hint", exit_status=0, lesson_id=lesson.id,
                       step_id=step.id, facts={"step": step.id, "state": hint.state})
        return Reply().add(Notice(f"Hint: {hint.text}", Tone.INFO),
                           Context("That hint is about where you are right now; type `hint` "
                                   "again for the step's general hints."))

    def _auto_check(self, person: Person, lesson: Lesson, state: LessonState) -> Reply:
        step = lesson.step(state.current_step)
        if not step.checks or state.completed(step.id):
            return Reply()
        result = self._run_checks(person, lesson, step)
        if result.passed:
            return self._completed(person, lesson, step, result)
        if result.volunteer:
            return Reply().add(Notice(result.message, Tone.WARNING))
        return Reply()

    def _run_checks(self, person: Person, lesson: Lesson, step: Step) -> CheckResult:
        ctx = CheckContext(person=person, sandbox=self.sandbox,
                           history=self._history(person, lesson))
        return run_checks(ctx, step.checks)

    def _history(self, person: Person, lesson: Lesson) -> list[CommandEntry]:
        """What checks see: docker commands, edits and quiz answers since the lesson began."""
        state = self.store.lesson_state(person, lesson.id)
        since = state.started_at if state else None
        return checked_history(self.store.history(person, limit=HISTORY_LIMIT), since)

    def _completed(self, person: Person, lesson: Lesson, step: Step, result: CheckResult) -> Reply:
        reply = Reply()
        first = self.store.complete_step(person, lesson.id, step.id)
        if first:
            reply.events.append(Event.STEP_COMPLETED)
        if step.challenge and self.store.record_challenge(
            person, lesson.id, step.id, result.evidence
        ):
            reply.events.append(Event.CHALLENGE_COMPLETED)
            reply.add(Heading("\U0001f389 Challenge complete"))
        reply.add(Notice(result.message or f"\u201c{step.title}\u201d is done.", Tone.SUCCESS))
        index = lesson.index(step.id)
        if index + 1 < len(lesson.steps):
            reply.add(Context(f"Next: {lesson.steps[index + 1].title}. Type `next` to go on."),
                      Actions(("next",)))
        return reply

    # -- helpers --------------------------------------------------------------------------

    def _current(self, person: Person) -> tuple[Lesson, LessonState]:
        lesson_id = self.store.current_lesson(person)
        if not lesson_id:
            raise UsageError("You haven't started a lesson yet. Type `start` to begin, or "
                             "`lessons` to see them all.")
        lesson = self.catalog.get(lesson_id)
        state = self.store.lesson_state(person, lesson.id)
        if state is None:
            state = self.store.start_lesson(person, lesson.id, lesson.steps[0].id)
        return lesson, state

    def _section(self, lesson: Lesson, step: Step, person: Person | None = None) -> Reply:
        index = lesson.index(step.id)
        reply = Reply(ephemeral=True).add(
            Heading(step.title),
            Markdown(step.body.strip()),
            Context(f"{lesson.title} \u00b7 step {index + 1} of {len(lesson.steps)}"),
        )
        if step.quiz and person is not None:
            right = quiz.answered_right(self._history(person, lesson), step.id)
            question = quiz.current(step, right)
            if question is not None:
                reply.add(*quiz.question_parts(step, question))
        actions = tuple(a for a in STEP_ACTIONS
                        if not (a == "back" and index == 0)
                        and not (a in ("check", "hint") and not step.hands_on and not step.hints))
        return reply.add(Actions(actions))

    def _finish(self, person: Person, lesson: Lesson) -> Reply:
        state = self.store.lesson_state(person, lesson.id)
        missing = [s for s in lesson.steps if s.hands_on and not (state and state.completed(s.id))]
        if missing:
            names = ", ".join(f"\u201c{s.title}\u201d" for s in missing)
            return Reply().add(Notice(
                f"You've reached the end of {lesson.title}. Still to do: {names}. "
                "Use `back` to return to them.", Tone.INFO))
        reply = Reply()
        if self.store.complete_lesson(person, lesson.id):
            reply.events.append(Event.LESSON_COMPLETED)
        return reply.add(Notice(f"\U0001f393 You finished {lesson.title}. Well done!",
                                Tone.SUCCESS))


def _done_count(lesson: Lesson, state: LessonState | None) -> int:
    if state is None:
        return 0
    return sum(1 for s in lesson.steps if state.completed(s.id))


_NO_ENGINE_WORDS = frozenset({"", "help", "lessons", "edit"})  # h-wire: edit counts itself
"""Tutor words that never reach the engine: the per-minute limit leaves them alone."""

_WORDS: dict[str, Callable[[Tutor, Person, str], Reply]] = {
    "help": Tutor.help,
    "lessons": Tutor.lessons,
    "start": Tutor.start,
    "show": Tutor.show,
    "next": Tutor.next,
    "back": Tutor.back,
    "check": Tutor.check,
    "hint": Tutor.hint,
    "answer": Tutor.answer,
    "edit": Tutor.edit,
    "status": Tutor.status,
    "reset": Tutor.reset,
    "progress": progress_word,
}
"""Tutor words and the methods that answer them."""

__all__ = ["HELP", "Tutor", "TutorError"]
