"""Imports go one way: no cycle anywhere in bot/ and handlers/, and every layer rule holds.

The graph is read from the source by :mod:`tests.import_graph` (``python -m
tests.import_graph`` prints it): lazy imports and ``TYPE_CHECKING`` imports count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
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
    assert "bot.sandbox" in graph.edges["bot.tutor.core"]
    assert "bot.sandbox.engine.sandbox" in graph.edges["bot.sandbox"]  # TYPE_CHECKING and lazy
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
        "handlers/listeners/home.py": "from bot.tutor import Tutor\nfrom bot.service import X\n",
        "bot/service.py": "",
    })
    problems = broken_rules(graph)
    assert problems == [
        "bot.reports imports docker (only bot.sandbox may)",
        "bot.tutor imports slack_bolt (only handlers may)",
        "handlers.listeners.home imports bot.tutor: handlers reach the core through bot.service "
        "(and plain types)",
    ]


def test_outside_the_sandbox_only_its_public_faces_are_imported(tmp_path: Path) -> None:
    """The tutor reaches into bot.sandbox.engine: reported; bot.sandbox and its policy: fine."""
    graph = _tree(tmp_path, {
        "bot/sandbox/__init__.py": "",
        "bot/sandbox/policy/__init__.py": "",
        "bot/sandbox/engine/__init__.py": "",
        "bot/sandbox/engine/run.py": "from bot.sandbox.policy import x\n",
        "bot/tutor.py": ("from bot.sandbox import Sandbox\nfrom bot.sandbox.policy import parse\n"
                         "def f():\n    from bot.sandbox.engine import run\n"),
    })
    assert broken_rules(graph) == [
        "bot.tutor imports bot.sandbox.engine.run: outside the sandbox, import bot.sandbox or "
        "bot.sandbox.policy",
    ]


def test_the_command_side_imports_no_docker_not_even_for_type_hints(tmp_path: Path) -> None:
    """A docker type hint in bot.sandbox.policy, or an import of the engine side: both reported."""
    graph = _tree(tmp_path, {
        "bot/sandbox/__init__.py": "",
        "bot/sandbox/engine.py": "import docker\n",
        "bot/sandbox/policy/__init__.py": "",
        "bot/sandbox/policy/naming.py": ("from typing import TYPE_CHECKING\n"
                                         "if TYPE_CHECKING:\n    from docker.models import Container\n"),
        "bot/sandbox/policy/rules.py": "from bot.sandbox import engine\n",
    })
    assert broken_rules(graph) == [
        "bot.sandbox.policy.naming imports docker: the command side is docker-free",
        "bot.sandbox.policy.rules imports bot.sandbox.engine: the command side imports nothing "
        "of the engine side",
    ]


def test_importing_the_sandbox_package_and_its_command_side_loads_no_docker() -> None:
    """``import bot.sandbox`` (its seam, views, parser) and bot.sandbox.policy leave docker unloaded."""
    code = ("import sys\n"
            "import bot.sandbox, bot.sandbox.policy\n"
            "from bot.sandbox import LearnerSandbox, Outcome, parse\n"
            "parse('docker ps -a')\n"
            "print(sorted(m for m in ('docker', 'requests') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_only_the_front_end_registry_loads_code_by_name(tmp_path: Path) -> None:
    """importlib.import_module in the command line is an import the graph cannot see: reported."""
    graph = _tree(tmp_path, {
        "bot/cli.py": "import importlib\ndef serve():\n    importlib.import_module('handlers.serve')\n",
        "bot/frontends.py": ("from importlib.metadata import entry_points\n"
                             "def found():\n    return entry_points(group='g')\n"),
    })
    assert broken_rules(graph) == [
        "bot.cli loads code by name (import_module): an import the graph cannot see (only "
        "bot.frontends may, for the front ends pyproject.toml declares)",
    ]


def test_declared_front_ends_must_be_handlers_that_exist(tmp_path: Path) -> None:
    """A front end outside handlers, in no module, or naming nothing there: each reported."""
    (tmp_path / "pyproject.toml").write_text(
        '[project.entry-points."docker_tutor.frontends"]\n'
        'core = "bot.tutor:run"\nghost = "handlers.ghost:run"\n'
        'typo = "handlers.serve:serv"\nserve = "handlers.serve:serve"\n', encoding="utf-8")
    graph = _tree(tmp_path, {"bot/tutor.py": "def run(): ...\n",
                             "handlers/serve.py": "def serve(settings): ...\n"})
    assert graph.front_ends["serve"] == "handlers.serve:serve"
    assert broken_rules(graph) == [
        "front end core is bot.tutor:run: front ends live in handlers",
        "front end ghost is handlers.ghost:run: there is no module handlers.ghost",
        "front end typo is handlers.serve:serv: handlers.serve defines no serv",
    ]


def test_the_slack_front_ends_are_declared_for_the_command_line(graph: Graph) -> None:
    """pyproject.toml declares serve and worker; the core reaches them only through bot.frontends."""
    assert graph.front_ends == {"serve": "handlers.serve:serve",
                                "worker": "handlers.worker:run_worker"}
    assert "bot.frontends" in graph.edges["bot.cli"]
    assert graph.loads["bot.frontends"] == {"entry_points", "EntryPoint"}


def test_the_engine_verb_parts_build_on_the_base_alone() -> None:
    """Each verb part of bot/sandbox/resources extends SandboxBase only and never calls super().

    Sandbox composes the parts (docker-py's APIClient way); none chains into another, and
    no two define the same name (one would silently hide the other in the composition).
    """
    from bot.sandbox.engine.sandbox import Sandbox

    sandbox = import_graph.ROOT / "bot" / "sandbox"
    parts: dict[str, list[str]] = {}
    for path in sorted([*(sandbox / "engine").glob("*.py"), *(sandbox / "resources").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "super"]
        assert calls == [], f"{path.name} calls super()"
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Mixin"):
                parts[node.name] = [ast.unparse(base) for base in node.bases]
    assert len(parts) >= 6
    assert all(bases == ["SandboxBase"] for bases in parts.values()), parts
    composed = {base.__name__ for base in Sandbox.__bases__}
    assert set(parts) <= composed | {"ExecMixin"}  # exec comes with its Redis hooks
    owners: dict[str, list[str]] = {}
    for cls in Sandbox.__mro__[1:-2]:  # the parts, not Sandbox, SandboxBase and object
        for name in vars(cls):
            if not name.startswith("__"):
                owners.setdefault(name, []).append(cls.__name__)
    shadowed = {name: found for name, found in owners.items() if len(found) > 1}
    assert shadowed == {"_exec_retry": ["RedisMixin", "ExecMixin"],  # the hooks Redis fills
                        "_exec_facts": ["RedisMixin", "ExecMixin"],
                        "_exec_keeps_container": ["RedisMixin", "ExecMixin"]}


def test_the_architecture_page_states_the_rules_the_graph_checks() -> None:
    """docs/architecture.md's rules 1-3 name exactly the modules the import-graph test enforces."""
    import re

    from tests.import_graph import HANDLERS_MAY_IMPORT, SANDBOX_FACES, THIRD_PARTY_HOMES
    from tests.paths import REPO_ROOT

    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rules = dict(re.findall(r"^(\d)\. (.*?)(?=^\d\. |\Z)", text.split("## The rules", 1)[1],
                            flags=re.S | re.M))
    assert set(re.findall(r"`(bot\.[\w.]+)`", rules["1"])) == HANDLERS_MAY_IMPORT
    stated = {}
    for chunk in rules["2"].split(";"):
        libs = re.findall(r"`(\w+)`", chunk.split("only in")[0])
        home = re.findall(r"only in `([\w.]+)/?`", chunk)
        for lib in libs:
            stated[lib] = (home[0].rstrip("/"),)
    assert stated == THIRD_PARTY_HOMES
    assert set(re.findall(r"`(bot\.[\w.]+)`", rules["3"])) == SANDBOX_FACES
