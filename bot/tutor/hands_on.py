"""The hands-on side of a lesson: learners' docker commands and the checks of their steps.

:class:`HandsOn` runs a learner's ``docker ...`` line in their sandbox, adds what the
tutor observes around it (:mod:`bot.checks.observe`), logs it, and verifies the current
step unasked (:meth:`HandsOn.after_command`, also after quiz answers and edits). The
tutor (:class:`bot.tutor.core.Tutor`) asks it too when the learner types ``check``
(:meth:`HandsOn.run`) or ``hint`` (:meth:`HandsOn.state_hint`). A step is only ever
completed by its checks passing on the engine's state and the learner's logged history,
never by what they typed alone.

A command costs one progress read as it begins (:meth:`ProgressStore.enter`: activity,
lesson and state together), one log write, and, on a step with checks still to pass,
one history read and the checks' own engine reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.checks import CheckContext, CheckResult, observe, run_checks
from bot.checks.diagnoses import FORGOT_DETACH, OTHER_STEP, SAID, SKIPPED_STEP, should_say
from bot.checks.hints import KIND as HINT_KIND
from bot.checks.hints import pick_state_hint
from bot.checks.history import HISTORY_LIMIT, checked_history
from bot.errors import CommandRefused, EngineUnavailable
from bot.identity import Person
from bot.lessons import view
from bot.lessons.model import Catalog, Lesson, Step
from bot.progress import CommandEntry, LessonState
from bot.reply import Actions, Context, Event, Heading, Notice, Reply, Tone
from bot.sandbox import LearnerSandbox, note_line_seq, parse
from bot.tutor import steps
from bot.tutor.cli_client import answered_locally
from bot.tutor.oplog import LineTrace
from bot.tutor.ratelimit import CommandRate

if TYPE_CHECKING:
    from bot.progress import ProgressStore


class HandsOn:
    """Runs learners' docker commands and verifies their steps.

    Args:
        store: The progress store (positions read, the log and completions written).
        catalog: The lessons.
        sandbox: Gives the sandbox (called when first needed, so a tutor that only walks
            lessons never makes it).
        rate: The per-minute command limit each docker command takes from.
    """

    def __init__(self, store: ProgressStore, catalog: Catalog,
                 sandbox: Callable[[], LearnerSandbox], rate: CommandRate) -> None:
        self.store = store
        self.catalog = catalog
        self._sandbox = sandbox
        self._rate = rate

    def docker(self, person: Person, text: str, trace: LineTrace) -> Reply:
        """Run a learner's docker command in their sandbox, log it, and verify the step.

        Raises:
            TutorError: The command was refused (``CommandRefused``, logged with exit
                status -1), the engine did not answer (``EngineUnavailable``, -2), or the
                per-minute limit was reached.
        """
        position = self.store.enter(person)  # last activity, and where they are: one read
        note_line_seq(position.line_seq)  # the sandbox may use what the learner's last line read
        lesson_id = position.lesson_id
        lesson = self.catalog.get(lesson_id) if lesson_id else None
        state = position.state if lesson else None
        step_id = state.current_step if state else None
        learner_id = position.learner_id  # the log's writes need not look the learner up again
        started = time.monotonic()
        try:
            self._rate.take(person.key)
            command = parse(text)
            trace.verb = f"docker {command.verb}"
            sandbox = self._sandbox()
            before = observe.before_command(sandbox, person, command)
            outcome = answered_locally(command) or sandbox.run_command(person, command)
        except CommandRefused as refused:
            self.store.log(person, kind="docker", text=text, exit_status=-1,
                           lesson_id=lesson_id, step_id=step_id, output=refused.message,
                           facts={"refused": refused.option}, learner_id=learner_id)
            raise
        except EngineUnavailable as failure:
            self.store.log(person, kind="docker", text=text, exit_status=-2,
                           lesson_id=lesson_id, step_id=step_id, output=failure.message,
                           learner_id=learner_id)
            raise
        outcome.facts.update(observe.after_command(sandbox, person, lesson, outcome.facts, before))
        duration = int((time.monotonic() - started) * 1000)
        left = steps.left_stopped(sandbox, person, outcome.facts)
        entry = self.store.log(
            person, kind="docker", text=text, exit_status=outcome.exit_code, duration_ms=duration,
            output=outcome.output, lesson_id=lesson_id, step_id=step_id, facts=outcome.facts,
            learner_id=learner_id, diagnosis=FORGOT_DETACH if left else None,
        )
        trace.settle(outcome.exit_code)
        reply = view.command_reply(outcome)
        if left:
            reply.add(Notice(left, Tone.WARNING))
        if lesson is not None and state is not None:
            reply.extend(self.after_command(person, lesson, state, entry, text))
        return reply

    def history(self, person: Person, lesson: Lesson,
                state: LessonState | None = None) -> list[CommandEntry]:
        """What checks see: docker commands, edits and quiz answers since the lesson began.

        ``state`` is the person's state in ``lesson`` when the caller read it this turn
        (only its start time is used, which a command never changes); else it is read.
        """
        if state is None:
            state = self.store.lesson_state(person, lesson.id)
        since = state.started_at if state else None
        entries = self.store.history(person, limit=HISTORY_LIMIT, since=since)
        return checked_history(entries, since)

    def run(self, person: Person, lesson: Lesson, step: Step,
            state: LessonState | None = None) -> CheckResult:
        """Run the step's checks now, on the engine and the history since the lesson began.

        Raises:
            EngineUnavailable: The engine could not be reached.
            LessonError: The lesson names a check type that does not exist.
        """
        ctx = CheckContext(person=person, sandbox=self._sandbox(),
                           history=self.history(person, lesson, state), step_id=step.id)
        return run_checks(ctx, step.checks)

    def after_command(self, person: Person, lesson: Lesson, state: LessonState,
                      entry: int | None = None, text: str = "") -> Reply:
        """Verify the current step unasked: its completion, a volunteered warning, or nothing.

        ``entry`` is the line's log entry (the state found, and any diagnosis said, are
        recorded on it) and ``text`` what the learner typed. A failure is said once for
        each change of state (:func:`bot.checks.diagnoses.should_say`); a command that
        belongs to another step's hands-on part gets one short word saying so.
        """
        step = lesson.step(state.current_step)
        reply = Reply()
        elsewhere = steps.belongs_elsewhere(lesson, step, text)
        if elsewhere is not None and entry is not None:
            said = (f"This step (\u201c{step.title}\u201d) does not judge that command: it "
                    f"belongs to \u201c{elsewhere.title}\u201d.")
            history = self.history(person, lesson, state)
            if not any(e.step_id == step.id and e.diagnosis == OTHER_STEP
                       and elsewhere.title in str((e.facts or {}).get(SAID, "")) for e in history):
                self.store.note_diagnosis(entry, found="", diagnosis=OTHER_STEP, said=said)
                reply.add(Context(said))
        if not step.checks or state.completed(step.id):
            return reply
        ctx = CheckContext(person=person, sandbox=self._sandbox(),
                           history=self.history(person, lesson, state), step_id=step.id)
        result = run_checks(ctx, step.checks)
        if result.passed:
            return self.completed(person, lesson, step, result)
        say = should_say(ctx.history, step.id, result)
        if entry is not None:
            self.store.note_diagnosis(entry, found=result.state,
                                      diagnosis=result.state if say else None,
                                      said=result.message)
        if say:
            reply.add(Notice(result.message, Tone.WARNING))
        return reply

    def completed(self, person: Person, lesson: Lesson, step: Step, result: CheckResult) -> Reply:
        """Record the step (and a challenge's evidence) done; say so and what comes next."""
        reply = Reply()
        if self.store.complete_step(person, lesson.id, step.id):
            reply.events.append(Event.STEP_COMPLETED)
        if step.challenge and self.store.record_challenge(
            person, lesson.id, step.id, result.evidence
        ):
            reply.events.append(Event.CHALLENGE_COMPLETED)
            reply.add(Heading("\U0001f389 Challenge complete"))
        reply.add(Notice(result.message or f"\u201c{step.title}\u201d is done.", Tone.SUCCESS))
        if step.challenge:  # allowed, and said (instructors see the skipped-step records)
            state = self.store.lesson_state(person, lesson.id)
            skipped = [s.title for s in lesson.steps[:lesson.index(step.id)]
                       if s.hands_on and not (state and state.completed(s.id))]
            if skipped:
                names = ", ".join(f"\u201c{title}\u201d" for title in skipped)
                reply.add(Context(f"You skipped {names}; `back` returns to them."))
        index = lesson.index(step.id)
        if index + 1 < len(lesson.steps):
            reply.add(Context(f"Next: {lesson.steps[index + 1].title}. Type `next` to go on."),
                      Actions(("next",)))
        return reply

    def skipped(self, person: Person, lesson: Lesson, step: Step) -> Reply:
        """``next`` past a hands-on step not done: allowed, said, and recorded for instructors."""
        said = (f"You skipped the hands-on part of \u201c{step.title}\u201d (not done yet); "
                "`back` returns to it whenever you like.")
        self.store.log(person, kind="tutor", text="next", exit_status=0, lesson_id=lesson.id,
                       step_id=step.id, facts={"said": said}, diagnosis=SKIPPED_STEP)
        return Reply().add(Context(said))

    def state_hint(self, person: Person, lesson: Lesson, step: Step,
                   state: LessonState) -> Reply | None:
        """The state hint for what the step's checks find now (once per situation)."""
        if not step.state_hints or state.completed(step.id):
            return None
        try:
            result = self.run(person, lesson, step, state)
        except EngineUnavailable:
            return None
        hint = pick_state_hint(step, result, self.store.history(person, limit=50))
        if hint is None:
            return None
        self.store.log(person, kind=HINT_KIND, text="hint", exit_status=0, lesson_id=lesson.id,
                       step_id=step.id, facts={"step": step.id, "state": hint.state},
                       diagnosis=hint.state)
        return Reply().add(Notice(f"Hint: {hint.text}", Tone.INFO),
                           Context("That hint is about where you are right now; type `hint` "
                                   "again for the step's general hints."))


__all__ = ["HandsOn"]
