"""The sandbox: runs learners' Docker commands safely on the engine.

``from bot.sandbox import Sandbox`` is the entry point. It is loaded on first use, so
that the parts without an engine (parser, policy, mounts) import no ``docker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.engine.sandbox import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from bot.sandbox.engine.sandbox import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
