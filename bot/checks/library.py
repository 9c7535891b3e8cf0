"""What the lesson validator knows about each primitive beyond its parameters.

:func:`bot.checks.framework.primitive` registers a primitive's function and parameters. The
:func:`check` decorator here does that too, and also records the failure *states* the
primitive can report (``CheckResult.state``, the keys of a step's state hints) and an
optional validator for parameter values that a type alone cannot express.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.checks.framework import CheckFn, ParamSpec, primitive

ParamValidator = Callable[[dict[str, Any]], list[str]]
"""Takes a check's parameters (types already checked) and returns every problem."""

STATES: dict[str, frozenset[str]] = {}
"""Failure states each primitive can report, by primitive name."""

VALIDATORS: dict[str, ParamValidator] = {}
"""Extra parameter validators, by primitive name."""

IMPLICIT = frozenset({"quiz_answered"})
"""Primitives the loader adds by itself; a lesson file never names them."""


def declare_states(name: str, *states: str) -> None:
    """Record the failure states a primitive can report (for validating state hints)."""
    STATES[name] = STATES.get(name, frozenset()) | frozenset(states)


def check(
    name: str,
    *params: ParamSpec,
    states: tuple[str, ...] = (),
    validate: ParamValidator | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check primitive with its parameters, failure states and validator.

    Args:
        name: The name a lesson file uses (``type = "..."``).
        *params: Its parameters.
        states: Every ``CheckResult.state`` it may return on failure.
        validate: Checks parameter values beyond their types.
    """
    register = primitive(name, *params)

    def decorate(fn: CheckFn) -> CheckFn:
        declare_states(name, *states)
        if validate is not None:
            VALIDATORS[name] = validate
        return register(fn)

    return decorate


def one_of(param: str, allowed: tuple[str, ...]) -> ParamValidator:
    """A validator: ``param``, when given, must be one of ``allowed``."""

    def validate(params: dict[str, Any]) -> list[str]:
        value = params.get(param)
        if value is None or value in allowed:
            return []
        return [f"{param!r} must be one of {', '.join(allowed)} (got {value!r})"]

    return validate


def absolute(*names: str) -> ParamValidator:
    """A validator: each named path parameter, when given, must be absolute."""

    def validate(params: dict[str, Any]) -> list[str]:
        return [
            f"{name!r} must be an absolute path inside the container, like /data "
            f"(got {params[name]!r})"
            for name in names
            if isinstance(params.get(name), str) and not params[name].startswith("/")
        ]

    return validate


def all_of(*validators: ParamValidator) -> ParamValidator:
    """A validator that runs several and collects every problem."""

    def validate(params: dict[str, Any]) -> list[str]:
        return [problem for v in validators for problem in v(params)]

    return validate
