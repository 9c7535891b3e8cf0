"""Where things are, for tests at any depth under ``tests/``."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (``pyproject.toml``, ``lessons/``, ``docs/``)."""

TEST_DATA = REPO_ROOT / "tests" / "data"
"""Lesson folders made to be wrong, for the validator's and the selftest's tests."""
