"""The check library as a whole: every primitive is declared, documented and registered."""

from __future__ import annotations

import re

from bot.checks import PRIMITIVES
from bot.checks.library import STATES
from tests.paths import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "authoring.md"


def test_every_primitive_declares_its_failure_states() -> None:
    """State hints can only be validated against states each primitive declares."""
    assert set(STATES) >= set(PRIMITIVES)
    assert all(STATES[name] for name in PRIMITIVES)


def test_every_primitive_docstring_names_its_parameters() -> None:
    """A primitive's docstring mentions each of its parameters (it is the reference text)."""
    for name, prim in PRIMITIVES.items():
        for param in prim.params:
            assert re.search(rf"\b{param.name}\b", prim.doc), (name, param.name)


def test_the_authoring_guide_lists_every_primitive_with_its_parameters_and_states() -> None:
    """docs/authoring.md has a table row per primitive naming every parameter and state."""
    text = DOCS.read_text(encoding="utf-8")
    for name, prim in PRIMITIVES.items():
        row = re.search(rf"^\| `{name}` \|(.*)$", text, flags=re.MULTILINE)
        assert row, name
        for param in prim.params:
            assert f"`{param.name}`" in row.group(1), (name, param.name)
        for state in STATES[name]:
            assert f"`{state}`" in row.group(1), (name, state)
