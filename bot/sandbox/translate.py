"""docker-py's errors become the tutor's, in one place (as docker-py's own ``errors.py``).

Every call the sandbox makes to the engine runs inside :func:`engine_calls`. A failure
to reach the engine becomes :class:`~bot.errors.EngineUnavailable`; an answer of the
engine (:class:`docker.errors.APIError`) is left to the caller, which words it for the
learner as the docker CLI would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests.exceptions

from bot.errors import EngineUnavailable

UNREACHABLE = "The Docker engine is not reachable right now; your progress is safe."
"""What an operator or learner reads when no connection to the engine can be made."""

NO_ANSWER = "The Docker engine did not answer; your progress is safe. Try again in a moment."
"""What an operator or learner reads when the engine stopped answering mid-request."""


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
