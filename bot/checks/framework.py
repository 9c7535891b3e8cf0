"""The check framework: context, result, registry and the runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.checks.reader import EngineReader
from bot.errors import LessonError
from bot.identity import Person
from bot.lessons.model import CheckSpec
from bot.progress import CommandEntry


@dataclass(frozen=True)
class CheckContext:
    """What a check may look at.

    Attributes:
        person: The learner.
        sandbox: What checks may read of their engine objects (:class:`EngineReader`).
        history: The learner's successful and failed ``docker`` commands since they
            started the lesson, oldest first, with the facts the sandbox recorded.
        step_id: The step the learner is on (``None`` when the check runs outside a
            lesson): lets a primitive tell a container made for this step from one left
            over from an earlier step.
    """

    person: Person
    sandbox: EngineReader
    history: Sequence[CommandEntry]
    step_id: str | None = None

    def facts(self) -> list[dict[str, Any]]:
        """The facts of every command that succeeded, oldest first."""
        return [e.facts for e in self.history if e.facts and e.exit_status == 0]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a check.

    Attributes:
        passed: Whether the check holds.
        message: On success, what the tutor confirms; on failure, why, in the learner's
            terms (and how to fix it where the tutor knows).
        volunteer: On failure, whether the tutor should say it without being asked
            (after every command). ``False`` for "you have not got there yet".
        evidence: What was seen, stored with a completion.
        state: A short machine-readable label of the failure, for state-dependent hints.
    """

    passed: bool
    message: str
    volunteer: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    state: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A primitive's parameter: its name, whether required, and its type."""

    name: str
    required: bool = True
    kind: type = str


CheckFn = Callable[[CheckContext, dict[str, Any]], CheckResult]


@dataclass(frozen=True)
class Primitive:
    """A registered check primitive."""

    name: str
    fn: CheckFn
    params: tuple[ParamSpec, ...]
    doc: str


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name: str, *params: ParamSpec) -> Callable[[CheckFn], CheckFn]:
    """Register a check primitive under ``name`` with its parameter specs."""

    def register(fn: CheckFn) -> CheckFn:
        PRIMITIVES[name] = Primitive(name, fn, params, (fn.__doc__ or "").strip())
        return fn

    return register


def validate_params(spec: CheckSpec) -> list[str]:
    """Every problem with a check spec's type and parameters (empty when fine)."""
    prim = PRIMITIVES.get(spec.type)
    if prim is None:
        known = ", ".join(sorted(PRIMITIVES))
        return [f"unknown check type {spec.type!r} (known: {known})"]
    errors = []
    names = {p.name for p in prim.params}
    for param in prim.params:
        if param.name not in spec.params:
            if param.required:
                errors.append(f"check {spec.type!r} needs parameter {param.name!r}")
            continue
        value = spec.params[param.name]
        if not isinstance(value, param.kind):
            errors.append(
                f"check {spec.type!r}: {param.name!r} must be a {param.kind.__name__}"
            )
    errors.extend(
        f"check {spec.type!r} has no parameter {extra!r}" for extra in spec.params
        if extra not in names
    )
    return errors


def run_checks(ctx: CheckContext, specs: Sequence[CheckSpec]) -> CheckResult:
    """Run a step's checks in order; the first failure is the result.

    Raises:
        LessonError: A check type is unknown (the lesson file is broken).
    """
    passed: list[CheckResult] = []
    for spec in specs:
        prim = PRIMITIVES.get(spec.type)
        if prim is None:
            raise LessonError(f"Unknown check type {spec.type!r} in the lesson.")
        result = prim.fn(ctx, spec.params)
        if not result.passed:
            return result
        passed.append(result)
    evidence: dict[str, Any] = {}
    for result in passed:
        evidence.update(result.evidence)
    message = " ".join(r.message for r in passed if r.message)
    return CheckResult(True, message, evidence=evidence)
