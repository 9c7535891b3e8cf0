"""The sandbox: runs learners' Docker commands safely on the engine."""

from __future__ import annotations
