"""What checks may read of a learner's engine: the engine-reader interface.

It lives beside the sandbox's own seam (:class:`bot.sandbox.EngineReader`, the read half of
:class:`bot.sandbox.LearnerSandbox`) and is named here for the checks.
"""

from __future__ import annotations

from bot.sandbox import EngineReader

__all__ = ["EngineReader"]
