"""``docker-tutor lessons selftest LESSON``: prove every check of a lesson on the real engine.

A check that cannot fail teaches nothing. The self-test plays a throwaway learner (a
unique namespace on the engine, a temporary SQLite database and workspace) through the
whole lesson, step by step, through the real :class:`~bot.tutor.core.Tutor`:

1. it runs the step's checks on the sandbox as the earlier steps left it, and requires
   them to **fail** (the unsolved state);
2. it sends each line of the step's ``solution`` as the learner would type it
   (``docker ...`` lines and tutor words such as ``edit`` and ``answer``);
3. it requires the checks to **pass** (waiting a few seconds for slow starters such as
   Redis) and the tutor to have recorded the step as done;
4. it holds the prose to its word: each "Step N prints `...`" (or "fails with") sentence
   of the step's text must be true of the output of Try-it command N, which the solution
   ran (see :mod:`bot.lessons.prose`).

Everything the learner created is removed afterwards, even when a step fails.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.checks import CheckContext, CheckResult, run_checks
from bot.checks.history import HISTORY_LIMIT, checked_history
from bot.config import Settings
from bot.errors import TutorError
from bot.identity import Person
from bot.lessons.model import Catalog, Lesson, Step
from bot.lessons.prose import Claim, claims, solution_positions, try_items
from bot.lessons.validate import validate_lesson
from bot.progress import ProgressStore
from bot.sandbox import LearnerSandbox, Sandbox
from bot.tutor.core import Tutor

SETTLE_SECONDS = 8.0
"""How long to keep re-checking a solved step that does not pass at once."""

Log = Callable[[str], None]


@dataclass
class StepReport:
    """What the self-test found for one step.

    Attributes:
        step_id: The step.
        title: Its title.
        hands_on: Whether it has checks (reading steps are only listed).
        before: The checks' result before the solution (must be a failure).
        after: Their result after it (must be a success).
        completed: Whether the tutor itself recorded the step as done.
        commands: How many solution lines were sent.
        claims: How many sentences about a command's output were found true.
        seconds: How long the step took.
        problems: Everything wrong with the step; empty when it passed.
    """

    step_id: str
    title: str
    hands_on: bool
    before: CheckResult | None = None
    after: CheckResult | None = None
    completed: bool = False
    commands: int = 0
    claims: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the step passed (a reading step always does)."""
        return not self.problems

    def lines(self) -> list[str]:
        """The step's part of the report."""
        if not self.hands_on:
            return [f"  - {self.step_id}: reading step, nothing to check"]
        mark = "\u2714" if self.ok else "\u2718"
        said = f", {self.claims} output claim(s) true" if self.claims else ""
        head = (f"  {mark} {self.step_id}: {self.commands} solution line(s){said}, "
                f"{self.seconds:.1f}s")
        out = [head]
        if self.before is not None and not self.before.passed:
            out.append(f"      before: fails as it should [{self.before.state or 'no state'}] "
                       f"{_short(self.before.message)}")
        if self.after is not None and self.after.passed:
            out.append(f"      after:  passes{' and the tutor recorded it' if self.completed else ''}"
                       f": {_short(self.after.message)}")
        out.extend(f"      PROBLEM: {p}" for p in self.problems)
        return out


@dataclass
class SelftestReport:
    """The whole self-test of a lesson."""

    lesson_id: str
    learner: Person
    steps: list[StepReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cleaned: tuple[int, int] = (0, 0)

    @property
    def ok(self) -> bool:
        """Whether every step (and the run itself) passed."""
        return not self.problems and all(s.ok for s in self.steps)

    def render(self) -> str:
        """The report as text, one block per step."""
        checked = [s for s in self.steps if s.hands_on]
        passed = sum(1 for s in checked if s.ok)
        out = [f"selftest {self.lesson_id}: {passed}/{len(checked)} hands-on steps proven "
               f"({self.seconds:.1f}s)"]
        for step in self.steps:
            out.extend(step.lines())
        out.extend(f"  PROBLEM: {p}" for p in self.problems)
        out.append(f"  cleaned up {self.cleaned[0]} container(s) and {self.cleaned[1]} volume(s)")
        out.append("OK" if self.ok else "FAILED")
        return "\n".join(out)


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def run_selftest(settings: Settings, lesson: Lesson, *, log: Log | None = None,
                 settle: float = SETTLE_SECONDS) -> SelftestReport:
    """Run the self-test of ``lesson`` on the engine ``settings`` names.

    Args:
        settings: Where the engine is and the namespace prefix; the database
            and the per-minute command limit are replaced by throwaway ones.
        lesson: The lesson to prove.
        log: Called with a line as each step starts (progress for a terminal).
        settle: Seconds to keep re-checking a solved step that does not pass at once.

    Returns:
        The report; ``report.ok`` says whether every step was proven.
    """
    say = log or (lambda _line: None)
    person = Person("selftest", f"selftest-{secrets.token_hex(4)}", "Self-test")
    report = SelftestReport(lesson.id, person)
    started = time.monotonic()
    problems = validate_lesson(lesson.path)
    if problems:
        report.problems.extend(f"invalid lesson: {p}" for p in problems)
        report.seconds = time.monotonic() - started
        return report
    with tempfile.TemporaryDirectory(prefix="docker-tutor-selftest-",
                                     ignore_cleanup_errors=True) as tmp:
        throwaway = replace(
            settings,
            database_url=f"sqlite:///{Path(tmp) / 'selftest.db'}",
            limits=replace(settings.limits, commands_per_minute=1_000_000),
        )
        store = ProgressStore(throwaway.database_url)
        sandbox: LearnerSandbox = Sandbox(throwaway, allowed_images=lesson.images)
        tutor = Tutor(throwaway, store, sandbox, Catalog.of(lesson))
        try:
            tutor.handle(person, f"start {lesson.id}")
            for step in lesson.steps:
                say(f"selftest {lesson.id}: {step.id}")
                report.steps.append(_prove(tutor, person, lesson, step, settle))
        except TutorError as error:
            report.problems.append(f"the run stopped: {error}")
        finally:
            try:
                report.cleaned = sandbox.remove_all(person)
            except TutorError as error:
                report.problems.append(f"cleaning up failed: {error}")
            store.close()
            sandbox.close()
    report.seconds = time.monotonic() - started
    return report


def _verify(tutor: Tutor, person: Person, lesson: Lesson, step: Step) -> CheckResult:
    state = tutor.store.lesson_state(person, lesson.id)
    history = checked_history(tutor.store.history(person, limit=HISTORY_LIMIT),
                              state.started_at if state else None)
    return run_checks(CheckContext(person, tutor.sandbox, history, step.id), step.checks)


def _promises(step: Step) -> dict[int, list[Claim]]:
    """The step's output claims, by the solution line that runs their Try-it command."""
    items = try_items(step.body)
    placed = solution_positions(items, step.solution)
    found: dict[int, list[Claim]] = {}
    for claim in claims(step.body):
        if claim.step in placed:
            found.setdefault(placed[claim.step], []).append(claim)
    return found


def _broken(tutor: Tutor, person: Person, line: str, claim: Claim) -> str | None:
    """Why the command just run breaks the claim about it (``None``: the claim holds)."""
    logged = tutor.store.history(person, kind="docker", limit=1)
    if not logged or logged[0].text != line:
        return f"step {claim.step} `{line}` left no output to compare with the text"
    entry = logged[0]
    verb = "fail with" if claim.fails else "print"
    if claim.text not in entry.output or (entry.exit_status != 0) != claim.fails:
        shown = _short(entry.output.strip() or "nothing")
        return (f"the text says step {claim.step} `{line}` should {verb} `{claim.text}`, but "
                f"it exited {entry.exit_status} and printed: {shown}")
    return None


def _prove(tutor: Tutor, person: Person, lesson: Lesson, step: Step, settle: float) -> StepReport:
    result = StepReport(step.id, step.title, step.hands_on)
    began = time.monotonic()
    tutor.store.move_to(person, lesson.id, step.id)
    if not step.hands_on:
        return result
    result.before = _verify(tutor, person, lesson, step)
    if result.before.passed:
        result.problems.append("the checks pass BEFORE the solution: a check that cannot fail "
                               "proves nothing (is the step's state left over from an earlier "
                               "step?)")
    promised = _promises(step)
    for index, line in enumerate(step.solution):
        result.commands += 1
        try:
            tutor.handle(person, line)
        except TutorError as error:
            result.problems.append(f"solution line {result.commands} `{line}` was refused: "
                                   f"{_short(str(error))}")
            break
        for claim in promised.get(index, []):
            problem = _broken(tutor, person, line, claim)
            if problem:
                result.problems.append(problem)
            else:
                result.claims += 1
    deadline = time.monotonic() + settle
    while True:
        state = tutor.store.lesson_state(person, lesson.id)
        result.completed = bool(state and state.completed(step.id))
        result.after = _verify(tutor, person, lesson, step)
        if result.after.passed or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if not result.after.passed:
        result.problems.append(f"the checks still fail AFTER the solution "
                               f"[{result.after.state or 'no state'}]: "
                               f"{_short(result.after.message)}")
    elif not result.completed:
        result.problems.append("the checks pass, but the tutor did not mark the step done "
                               "after the solution's last line (the learner would have to "
                               "type `check`)")
    result.seconds = time.monotonic() - began
    return result
