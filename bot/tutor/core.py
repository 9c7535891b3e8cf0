"""The tutor service: one place that turns what a person types into a :class:`Reply`.

Both front ends (Slack handlers and the terminal console) call :meth:`Tutor.handle`
with the words a learner typed after ``/tutor`` or a ``docker ...`` line, through
:class:`bot.service.TutorService`. The service walks the lesson; its hands-on side
(:class:`bot.tutor.hands_on.HandsOn`) runs learner commands in the sandbox, logs them, and
verifies the current step after every command unasked.
Every line handled is also logged for operators as one structured line on this module's
logger at INFO (see :mod:`bot.tutor.oplog`): ``serve`` shows it, the console does not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.checks import CheckResult, quiz
from bot.checks.diagnoses import QUIZ_MISS
from bot.checks.hints import KIND as HINT_KIND
from bot.config import Settings
from bot.errors import TutorError, UsageError
from bot.identity import Person
from bot.lessons import view
from bot.lessons.model import Catalog, Lesson, Step
from bot.progress import LessonState
from bot.reply import (
    Context,
    Event,
    Markdown,
    Notice,
    Part,
    Reply,
    Tone,
    code_span,
)
from bot.sandbox import LearnerSandbox, Namespace, learner_line
from bot.sandbox.policy import clean_path, suggest
from bot.service import LessonCard, Stoppable
from bot.tutor.course import CourseWalk
from bot.tutor.desk import InstructorDesk
from bot.tutor.hands_on import HandsOn
from bot.tutor.oplog import LineTrace, exit_status_of, log_line
from bot.tutor.ratelimit import CommandRate
from bot.wording import edit_usage, front_end, help_text

if TYPE_CHECKING:
    from bot.progress import ProgressStore

log = logging.getLogger(__name__)


class Tutor(InstructorDesk):
    """The core service behind every front end.

    Args:
        settings: Process settings.
        store: The progress store.
        sandbox: The sandbox learners' commands run in, or a function that makes it on
            first use (a tutor that only walks lessons then never loads docker-py).
        catalog: The lessons.
        clock: Monotonic clock, for the per-minute command limit.
    """

    def __init__(
        self,
        settings: Settings,
        store: ProgressStore,
        sandbox: LearnerSandbox | Callable[[], LearnerSandbox],
        catalog: Catalog,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self._sandbox: LearnerSandbox | None = None
        self._make_sandbox: Callable[[], LearnerSandbox] | None = None
        if callable(sandbox):
            self._make_sandbox = sandbox
        else:
            self._sandbox = sandbox
        self._sandbox_lock = threading.Lock()
        self._rate = CommandRate(settings.limits.commands_per_minute, clock=clock)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.hands_on = HandsOn(store, catalog, lambda: self.sandbox, self._rate)
        self.course = CourseWalk(store, catalog)

    @classmethod
    def from_settings(cls, settings: Settings) -> Tutor:
        """Build the tutor with its real store, sandbox and lessons.

        Raises:
            TutorError: The database or the lessons could not be opened.
        """
        from bot.progress.store import ProgressStore

        catalog = Catalog(settings.lessons_dir)
        store = ProgressStore(settings.database_url)

        def sandbox() -> LearnerSandbox:  # docker-py loads with the first command
            if settings.engines:  # TUTOR_ENGINES: each learner on their engine of the pool
                from bot.sandbox import SandboxPool

                return SandboxPool(settings, store, allowed_images=catalog.images)
            from bot.sandbox import Sandbox

            return Sandbox(settings, allowed_images=catalog.images)

        return cls(settings, store, sandbox, catalog)

    @property
    def sandbox(self) -> LearnerSandbox:
        """The sandbox learners' commands run in (made on first use when given a factory)."""
        with self._sandbox_lock:
            if self._sandbox is None:
                assert self._make_sandbox is not None  # noqa: S101 - one of the two is given
                self._sandbox = self._make_sandbox()
            return self._sandbox

    def close(self) -> None:
        """Release the database and engine connections."""
        self.store.close()
        with self._sandbox_lock:
            if self._sandbox is not None:
                self._sandbox.close()

    # -- what the front ends ask besides lines (see bot.service.TutorService) -------------

    def words(self) -> frozenset[str]:
        """The tutor words :meth:`handle` understands."""
        return TUTOR_WORDS

    def lesson_cards(self, person: Person | None) -> list[LessonCard]:
        """Every lesson with the person's progress in it (``None``: the lessons alone).

        Raises:
            StoreError: The person's progress could not be read.
        """
        return view.course_cards(self.course.rows(person))

    def claim_request(self, key: str) -> bool:
        """Claim a front end's request key in the store, across replicas."""
        return self.store.claim_request(key)

    def start_housekeeping(self) -> Stoppable:
        """Start the housekeeping thread: reconcile the engine now, then reap idle learners."""
        from bot.tutor.housekeeping import HousekeepingThread, HousekeepingThreads

        # One thread per engine (a pool has several), each with its own learners.
        threads = HousekeepingThreads([HousekeepingThread(janitor, self.store)
                                       for janitor in self.sandbox.janitors()])
        threads.start()
        return threads

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
        trace = LineTrace(time.monotonic())
        try:
            with self._serial(person), learner_line(trace.requests):
                if text == "docker" or text.startswith(("docker ", "docker\t")):
                    return self.hands_on.docker(person, text, trace)  # touches them too
                self.store.touch(person)  # last activity: the reaper spares active learners
                word, _, rest = text.partition(" ")
                word = word.lower() or "help"
                command = _WORDS.get(word)
                if command is None and word.isdigit() and not rest and self._on_quiz(person):
                    word, rest, command = "answer", word, Tutor.answer  # a bare `2` answers
                if command is None:
                    trace.verb = "unknown"
                    raise UsageError(_unknown_word(word, rest))
                trace.verb = word
                if word not in _NO_ENGINE_WORDS:  # every word that reaches the engine counts
                    self._rate.take(person.key)
                reply = command(self, person, rest.strip())
                trace.settle(0)
                return reply
        except TutorError as error:
            trace.settle(exit_status_of(error))
            raise
        finally:  # the operators' line (bot.tutor.oplog); the learner is the hash on their objects
            if log.isEnabledFor(logging.INFO):
                learner = Namespace.for_key(self.settings.namespace, person.key).learner
                log_line(log, trace, learner=learner,
                         engine=self._sandbox.engine_address(person) if self._sandbox
                         else self.settings.docker_host or "default")

    # -- tutor words ----------------------------------------------------------------------

    def help(self, person: Person, rest: str) -> Reply:
        """The list of tutor words."""
        return Reply().add(Markdown(help_text(front_end(person))))

    def lessons(self, person: Person, rest: str) -> Reply:
        """The course in order, with the person's state in each lesson."""
        course = self.catalog.course
        return view.lessons_reply(self.course.rows(person), course.title if course else "")

    def start(self, person: Person, rest: str) -> Reply:
        """Start (or resume) a lesson; alone, the one in progress or the course's next.

        Prerequisites are advice: an unfinished one is named after the section, never enforced.
        """
        lesson = self.course.chosen(person, rest)
        state = self.store.start_lesson(person, lesson.id, lesson.steps[0].id)
        reply = Reply()
        welcome_back = any(s.completed_at for s in state.steps.values())
        if welcome_back:
            reply.add(Notice(f"Welcome back to {lesson.title}. Here is where you left off.",
                             Tone.INFO))
        reply.extend(self._section(lesson, lesson.step(state.current_step), person))
        missing = self.course.missing(person, lesson)
        if missing and not welcome_back and state.completed_at is None:
            reply.extend(view.prerequisite_note(missing))
        return reply

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
        elif step.hands_on and not state.completed(step.id):  # allowed; said, and recorded
            reply.extend(self.hands_on.skipped(person, lesson, step))
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
        result = self.hands_on.run(person, lesson, step, state)
        self.store.record_check(person, lesson.id, step.id, passed=result.passed)
        self.store.log(person, kind="check", text="check", exit_status=0 if result.passed else 1,
                       output=result.message, lesson_id=lesson.id, step_id=step.id,
                       diagnosis=None if result.passed else result.state or None)
        if result.passed:
            return self.hands_on.completed(person, lesson, step, result)
        reply = Reply().add(Notice(result.message, Tone.WARNING))
        if step.quiz:
            right = quiz.answered_right(self.hands_on.history(person, lesson, state), step.id)
            question = quiz.current(step, right)
            if question is not None:
                return reply.add(*quiz.question_parts(step, question, front_end(person)))
        return reply.add(Context("Type `hint` for a hint."))

    def hint(self, person: Person, rest: str) -> Reply:
        """The hint for where the learner is now, else the next of the step's (up to three)."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        special = self.hands_on.state_hint(person, lesson, step, state)
        if special is not None:
            return special
        if not step.hints:
            return Reply().add(Notice("No hints here: this section is for reading. "
                                      "Type `next` when you're ready.", Tone.INFO))
        index = self.store.next_hint(person, lesson.id, step.id, len(step.hints))
        self.store.log(person, kind=HINT_KIND, text="hint", exit_status=0, lesson_id=lesson.id,
                       step_id=step.id, facts={"step": step.id, "hint": index + 1})
        return view.hint_reply(step, index, front=front_end(person))

    def answer(self, person: Person, rest: str) -> Reply:
        """Answer the current quiz question (``answer 2``; a Slack button sends ``answer q1:2``)."""
        lesson, state = self._current(person)
        step = lesson.step(state.current_step)
        graded = quiz.grade(step, rest, self.hands_on.history(person, lesson, state),
                            front_end(person))
        if graded.fresh:
            self.store.log(person, kind=quiz.KIND, text=graded.text,
                           exit_status=0 if graded.correct else 1, lesson_id=lesson.id,
                           step_id=step.id, facts={"quiz": graded.fact},
                           diagnosis=None if graded.correct else QUIZ_MISS)
        reply = Reply().add(*graded.parts)
        return reply.extend(self.hands_on.after_command(person, lesson, state))

    def edit(self, person: Person, rest: str) -> Reply:
        """Write a file in the workspace ``$(pwd)`` binds, standing in for an editor on the host."""
        raw_path, text = [*rest.strip().split(None, 1), "", ""][:2]  # a newline ends the path too
        text = text.strip()
        if text.startswith("```") and text.endswith("```") and len(text) >= 6:
            text = text[3:-3].strip()  # a Dockerfile sent in a Slack code block
        if not raw_path or not text:
            raise UsageError(edit_usage(front_end(person)))
        self._rate.take(person.key)
        path = clean_path(raw_path)
        size = self.sandbox.write_workspace_file(person, path, text)  # through the engine
        lesson_id = self.store.current_lesson(person)
        lesson = self.catalog.get(lesson_id) if lesson_id else None
        state = self.store.lesson_state(person, lesson.id) if lesson else None
        entry = self.store.log(person, kind="edit", text=f"edit {path} {text}", exit_status=0,
                               lesson_id=lesson_id, step_id=state.current_step if state else None,
                               facts={"edit": {"path": path, "text": text[:500], "bytes": size}})
        reply = Reply().add(Notice(f"Saved `{path}` in your workspace (`$(pwd)/{path}` on the "
                                   f"host, {size} bytes).", Tone.INFO))
        if lesson is not None and state is not None:
            reply.extend(self.hands_on.after_command(person, lesson, state, entry))
        return reply

    def status(self, person: Person, rest: str) -> Reply:
        """Where the person is: lesson, step, what is done."""
        lesson, state = self._current(person)
        completed = [when for step in lesson.challenge_steps
                     if (when := self.store.challenge_completed_at(person, lesson.id, step.id))]
        return view.status_reply(lesson, state, completed)

    def reset(self, person: Person, rest: str) -> Reply:
        """Start the current lesson over and remove all the person's containers and volumes."""
        lesson_id = self.store.current_lesson(person)
        if rest == "?":  # what it would do, removing nothing (the console asks before a reset)
            what = f" and starts {self.catalog.get(lesson_id).title} over" if lesson_id else ""
            return Reply().add(Notice(f"This removes all your containers and volumes{what}.",
                                      Tone.WARNING))
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

    def _run_checks(self, person: Person, lesson: Lesson, step: Step,
                    state: LessonState | None = None) -> CheckResult:
        """The step's checks now (see :meth:`bot.tutor.hands_on.HandsOn.run`)."""
        return self.hands_on.run(person, lesson, step, state)

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

    def _on_quiz(self, person: Person) -> bool:
        try:
            lesson, state = self._current(person)
            return bool(lesson.step(state.current_step).quiz)
        except TutorError:  # no lesson, or one that changed: not a quiz answer
            return False

    def _section(self, lesson: Lesson, step: Step, person: Person) -> Reply:
        front = front_end(person)
        parts: list[Part] = []
        if step.quiz:
            right = quiz.answered_right(self.hands_on.history(person, lesson), step.id)
            question = quiz.current(step, right)
            if question is not None:
                parts = quiz.question_parts(step, question, front)
        return view.section(lesson, step, parts, front=front)

    def _finish(self, person: Person, lesson: Lesson) -> Reply:
        state = self.store.lesson_state(person, lesson.id)
        missing = [s for s in lesson.steps if s.hands_on and not (state and state.completed(s.id))]
        if missing:
            return view.still_to_do(lesson, missing)
        reply = Reply()
        if self.store.complete_lesson(person, lesson.id):
            reply.events.append(Event.LESSON_COMPLETED)
        reply.add(Notice(f"\U0001f393 You finished {lesson.title}. Well done!", Tone.SUCCESS))
        following = self.course.following(person, lesson)
        return reply.extend(view.offer_next(following)) if following else reply


def _unknown_word(word: str, rest: str) -> str:
    """The answer to a first word the tutor does not know, with the likely intended one."""
    meant = suggest(word, [*sorted(_WORDS), "docker"])
    guess = f" Did you mean {code_span(' '.join(filter(None, (meant, rest.strip()))))}?" if meant else ""
    return (f"I don't know {code_span(word)}.{guess} Type `help` for what I understand, or a "
            "docker command starting with `docker`.")


_NO_ENGINE_WORDS = frozenset({"help", "lessons", "edit"})  # edit counts itself
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
    "progress": Tutor.progress,
}
"""Tutor words and the methods that answer them."""

TUTOR_WORDS = frozenset(_WORDS)
"""The tutor words :meth:`Tutor.handle` understands (what a DM routes to the tutor)."""

__all__ = ["TUTOR_WORDS", "Tutor"]
