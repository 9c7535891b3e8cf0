"""The sandbox: runs learners' Docker commands safely on the engine.

This package's public face, and the only one the rest of the project imports (besides
the docker-free command side, :mod:`bot.sandbox.policy`; ``tests/import_graph.py``
enforces both):

* the seam: :class:`LearnerSandbox`, which :class:`Sandbox` (one engine) and
  :class:`SandboxPool` (several) satisfy;
* what it hands out: :class:`Outcome`, :class:`ContainerView`, :class:`VolumeView`,
  :class:`MountView`, :class:`NetworkView`, :class:`WitnessReport`, and :class:`Namespace`;
* the learner's line parsed: :func:`parse` into a :class:`Command`;
* for the operators' log: :func:`learner_line` around each learner line (its engine
  requests by kind, and the scope of the sandbox's per-line reads), :func:`note_line_seq`
  (which of the learner's lines it is, as the store counts them: what lets the sandbox
  keep a container's unchanging facts from one line to the next), and
  :func:`count_engine_requests` (:mod:`bot.sandbox.engine.request_counts`);
* for housekeeping: :class:`Janitor`, :class:`EngineObject`, :func:`learner_hash`;
* for the operators' command line: :func:`ensure_images`, :func:`fill_in_background`,
  :func:`engine_rows` (under :data:`ENGINES_HEADER`), :func:`drain`, :func:`undrain`.

Everything that needs ``docker`` is loaded on first use, so importing this package (or
:mod:`bot.sandbox.policy`) loads no ``docker``: a tutor that only walks lessons never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.sandbox.engine.request_counts import counting as count_engine_requests
from bot.sandbox.engine.request_counts import learner_line, note_line_seq
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command, parse
from bot.sandbox.protocol import EngineReader, LearnerSandbox
from bot.sandbox.views import (
    ContainerView,
    ImageView,
    MountView,
    NetworkView,
    Outcome,
    VolumeView,
    WitnessReport,
)

if TYPE_CHECKING:
    from bot.sandbox.engine.sandbox import Sandbox
    from bot.sandbox.images.copy import fill_in_background
    from bot.sandbox.images.lesson_images import ensure_images
    from bot.sandbox.pool.drain import drain, undrain
    from bot.sandbox.pool.janitor import EngineObject, Janitor, learner_hash
    from bot.sandbox.pool.report import HEADER as ENGINES_HEADER
    from bot.sandbox.pool.report import engine_rows
    from bot.sandbox.pool.sandbox_pool import SandboxPool

__all__ = [
    "ENGINES_HEADER",
    "Command",
    "ContainerView",
    "EngineObject",
    "EngineReader",
    "ImageView",
    "Janitor",
    "LearnerSandbox",
    "MountView",
    "Namespace",
    "NetworkView",
    "Outcome",
    "Sandbox",
    "SandboxPool",
    "VolumeView",
    "WitnessReport",
    "count_engine_requests",
    "drain",
    "engine_rows",
    "ensure_images",
    "fill_in_background",
    "learner_hash",
    "learner_line",
    "note_line_seq",
    "parse",
    "undrain",
]


def __getattr__(name: str) -> Any:
    """The names that need ``docker``, imported when first asked for."""
    module: Any
    if name == "Sandbox":
        from bot.sandbox.engine import sandbox as module
    elif name == "SandboxPool":
        from bot.sandbox.pool import sandbox_pool as module
    elif name in ("EngineObject", "Janitor", "learner_hash"):
        from bot.sandbox.pool import janitor as module
    elif name == "ensure_images":
        from bot.sandbox.images import lesson_images as module
    elif name == "fill_in_background":
        from bot.sandbox.images import copy as module
    elif name in ("drain", "undrain"):
        from bot.sandbox.pool import drain as module
    elif name in ("engine_rows", "ENGINES_HEADER"):
        from bot.sandbox.pool import report as module

        return getattr(module, "HEADER" if name == "ENGINES_HEADER" else name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
