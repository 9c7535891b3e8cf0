"""docker-py's errors become the tutor's, in one place (as docker-py's own ``errors.py``).

Two boundaries, one rule: nothing from ``docker.errors`` or ``requests`` leaves the sandbox.

- :func:`engine_calls` wraps a learner's command: an answer of the engine
  (:class:`docker.errors.APIError`) is left to the command's handler, which words it
  as the docker CLI would; a failure to reach the engine becomes
  :class:`~bot.errors.EngineUnavailable`.
- :func:`boundary` marks a public method that reads or cleans for the tutor itself
  (``container()``, ``exec_capture()``, ``remove_all()``...): every docker-py or
  ``requests`` error becomes :class:`~bot.errors.EngineUnavailable`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import docker.errors
import requests.exceptions

from bot.errors import EngineUnavailable

P = ParamSpec("P")
T = TypeVar("T")

UNREACHABLE = "The Docker engine is not reachable right now; your progress is safe."
"""What an operator or learner reads when no connection to the engine can be made."""

NO_ANSWER = "The Docker engine did not answer; your progress is safe. Try again in a moment."
"""What an operator or learner reads when the engine stopped answering mid-request."""

FAILED = (
    "The Docker engine could not do that just now; your progress is safe. "
    "Try again in a moment."
)
"""What an operator or learner reads when the engine answered a read with an error."""


@contextmanager
def engine_calls() -> Iterator[None]:
    """Translate connection-level failures into :class:`~bot.errors.EngineUnavailable`.

    Raises:
        EngineUnavailable: The engine could not be reached or stopped answering.
        docker.errors.APIError: The engine answered with an error (for the caller to word).
    """
    try:
        yield
    except docker.errors.APIError:
        raise  # the engine answered: the caller words its answer for the learner
    except requests.exceptions.RequestException as exc:
        raise EngineUnavailable(NO_ANSWER) from exc
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(UNREACHABLE) from exc


@contextmanager
def engine_reads() -> Iterator[None]:
    """Translate every docker-py and ``requests`` error into :class:`~bot.errors.EngineUnavailable`.

    The engine's own answer is kept as the cause (``__cause__``), for the operator's log;
    the message never shows engine names or host paths.

    Raises:
        EngineUnavailable: The engine could not be reached, or answered with an error.
    """
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineUnavailable(FAILED) from exc
    except requests.exceptions.RequestException as exc:
        raise EngineUnavailable(NO_ANSWER) from exc
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(UNREACHABLE) from exc


def boundary(method: Callable[P, T]) -> Callable[P, T]:
    """Mark a public sandbox method as a boundary: engine errors leave it translated."""

    @functools.wraps(method)
    def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        with engine_reads():
            return method(*args, **kwargs)

    return translated
