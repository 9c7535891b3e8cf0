"""Check primitives: small, named tests of real engine state and command history.

A lesson file combines primitives by name (``type = "redis_key_survived"``); each
primitive returns a :class:`CheckResult` that says *why* it failed. New primitives
register themselves with :func:`primitive`.
"""

from __future__ import annotations

from bot.checks.framework import (
    PRIMITIVES,
    CheckContext,
    CheckResult,
    ParamSpec,
    primitive,
    run_checks,
)

# Importing the modules registers their primitives.
from bot.checks.immortal import challenge as _challenge  # noqa: F401  isort: skip
from bot.checks.primitives import containers as _containers  # noqa: F401  isort: skip
from bot.checks.primitives import files as _files  # noqa: F401  isort: skip
from bot.checks import history as _history  # noqa: F401  isort: skip
from bot.checks.primitives import images as _images  # noqa: F401  isort: skip
from bot.checks.primitives import networks as _networks  # noqa: F401  isort: skip
from bot.checks import quiz as _quiz  # noqa: F401  isort: skip
from bot.checks.primitives import redis_keys as _redis_keys  # noqa: F401  isort: skip
from bot.checks.primitives import volumes as _volumes  # noqa: F401  isort: skip
from bot.checks.primitives import lifecycle as _lifecycle  # noqa: F401  isort: skip

__all__ = ["PRIMITIVES", "CheckContext", "CheckResult", "ParamSpec", "primitive", "run_checks"]
