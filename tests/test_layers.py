"""Imports go one way: no cycle anywhere in bot/ and handlers/, and every layer rule holds.

The graph is read from the source by :mod:`tests.import_graph` (``python -m
tests.import_graph`` prints it): lazy imports and ``TYPE_CHECKING`` imports count too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import import_graph
from tests.import_graph import Graph, broken_rules, build, cycles


@pytest.fixture(scope="module")
def graph() -> Graph:
    """The import graph of this checkout's bot/ and handlers/."""
    return build()


def test_there_is_no_import_cycle_in_bot_or_handlers(graph: Graph) -> None:
    """No group of modules imports each other, directly or around a loop."""
    assert len(graph.modules) > 50
    assert cycles(graph) == []


def test_every_layer_rule_holds(graph: Graph) -> None:
    """The core never imports Slack or the handlers; docker, SQLAlchemy and matplotlib stay home.

    Handlers reach the core through the tutor service (and plain types) only.
    """
    assert broken_rules(graph) == []


def test_the_graph_sees_lazy_and_type_checking_imports(graph: Graph) -> None:
    """Imports inside functions and under TYPE_CHECKING are edges too (the check is not blind)."""
    assert "bot.tutor.core" in graph.edges["bot.factory"]  # inside build_service()
    assert "bot.sandbox.engine.sandbox" in graph.edges["bot.tutor.core"]  # TYPE_CHECKING and lazy
    assert "docker" in graph.external["bot.sandbox.engine.sandbox"]
    assert "sqlalchemy" in graph.external["bot.progress.store"]


def _tree(root: Path, files: dict[str, str]) -> Graph:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in import_graph.PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return build(root)


def test_a_cycle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    """Two modules that import each other, one only for type hints, are reported as a cycle."""
    graph = _tree(tmp_path, {
        "bot/tutor.py": "from bot import reports\n",
        "bot/reports.py": ("from typing import TYPE_CHECKING\n"
                           "if TYPE_CHECKING:\n    from bot.tutor import Tutor\n"),
        "bot/other.py": "from . import reports\n",
    })
    assert cycles(graph) == [["bot.reports", "bot.tutor"]]
    assert graph.edges["bot.other"] == {"bot.reports"}


def test_broken_layer_rules_are_reported(tmp_path: Path) -> None:
    """The core importing Slack or docker outside the sandbox, handlers around the service: found."""
    graph = _tree(tmp_path, {
        "bot/tutor.py": "import slack_bolt\n",
        "bot/reports.py": "def f():\n    import docker\n",
        "bot/progress/store.py": "import sqlalchemy\n",
        "bot/progress/__init__.py": "",
        "handlers/home.py": "from bot.tutor import Tutor\nfrom bot.service import X\n",
        "bot/service.py": "",
    })
    problems = broken_rules(graph)
    assert problems == [
        "bot.reports imports docker (only bot.sandbox may)",
        "bot.tutor imports slack_bolt (only handlers may)",
        "handlers.home imports bot.tutor: handlers reach the core through bot.service "
        "(and plain types)",
    ]
