"""Packaging: every imported library is declared with a range, and the lock pins what ships.

pyproject.toml declares each library the code imports (runtime, the ``charts`` and
``postgres`` extras, ``dev`` for tests and benchmarks) with a lower and an upper bound;
``make test-lowest`` runs the suite on the lower bounds, and requirements.lock (what the
deployment image installs, and what ``make setup`` constrains the .venv to) must satisfy
every range. Optional parts degrade to a clear sentence when their extra is missing.
"""

from __future__ import annotations

import ast
import functools
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.errors import StoreError, UsageError
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {name: [Requirement(r) for r in reqs]
          for name, reqs in PROJECT["optional-dependencies"].items()}
SHIPPED_EXTRAS = ("charts", "postgres")
"""The extras the deployment image installs (and ``dev`` includes)."""


def _names(requirements: list[Requirement]) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements}


def _imports(*folders: str) -> dict[str, set[str]]:
    """Top-level third-party module name -> files importing it, in the folders given."""
    found: dict[str, set[str]] = {}
    local = {"bot", "handlers", "tests", "bench", "__future__"}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def _distributions(module: str) -> set[str]:
    return {canonicalize_name(d) for d in _installed().get(module, [])}


def test_every_library_the_code_imports_is_a_declared_dependency() -> None:
    """bot/ and handlers/ import only what the runtime dependencies or the extras declare."""
    declared = _names(RUNTIME) | _names([r for e in SHIPPED_EXTRAS for r in EXTRAS[e]])
    missing = {module: files for module, files in _imports("bot", "handlers").items()
               if not _distributions(module) & declared}
    assert missing == {}


def test_every_library_the_tests_and_benchmarks_import_is_declared_for_dev() -> None:
    """tests/ and bench/ import only what the project or its dev extra declares."""
    dev = {r for r in EXTRAS["dev"] if not r.name.startswith("docker-tutor")}
    declared = (_names(RUNTIME) | _names(dev)
                | _names([r for e in SHIPPED_EXTRAS for r in EXTRAS[e]]))
    missing = {module: files for module, files in _imports("tests", "bench").items()
               if not _distributions(module) & declared}
    assert missing == {}


def test_dev_installs_the_shipped_extras() -> None:
    """`make setup` installs '.[dev]': it must bring the charts and the PostgreSQL driver."""
    [self_ref] = [r for r in EXTRAS["dev"] if canonicalize_name(r.name) == "docker-tutor"]
    assert set(SHIPPED_EXTRAS) <= self_ref.extras


@pytest.mark.parametrize("requirement", [
    *RUNTIME, *(r for reqs in EXTRAS.values() for r in reqs if r.name != "docker-tutor")],
    ids=str)
def test_every_requirement_has_a_lower_and_an_upper_bound(requirement: Requirement) -> None:
    """Each declared library has a tested range: a `>=` floor and a `<` ceiling."""
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators and "<" in operators, str(requirement)


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [spec] = list(requirement.specifier)
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def test_the_lock_pins_everything_that_ships_within_the_declared_ranges() -> None:
    """requirements.lock pins every runtime and shipped-extra library inside its range."""
    pins = _lock()
    shipped = [*RUNTIME, *(r for e in SHIPPED_EXTRAS for r in EXTRAS[e])]
    for requirement in shipped:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    assert "psycopg-binary" in pins  # psycopg[binary]: the driver's compiled part


def test_the_lock_ships_no_development_tool() -> None:
    """Test and lint tools stay out of the deployment image."""
    pins = _lock()
    tools = {"pytest", "pytest-mock", "hypothesis", "mypy", "ruff", "types-pyyaml"}
    assert not tools & set(pins)


def test_the_image_installs_the_lock_and_adds_nothing() -> None:
    """The Dockerfile installs requirements.lock, then the project without resolving more."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-deps -r requirements.lock" in text
    assert "pip install --no-deps '.[charts,postgres]'" in text
    assert "pip install ." not in text.replace("pip install --no-deps", "")


def test_the_image_holds_what_an_offline_lesson_image_build_copies() -> None:
    """Every Debian package the offline build copies binaries from is installed in the bot's image."""
    from bot.sandbox.images.specs import IMAGES

    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    install = next(line for line in text.splitlines() if "apt-get install" in line)
    needed = {package for spec in IMAGES.values() for package in spec.packages}
    assert needed == {"redis-tools", "busybox-static"}
    assert needed <= set(install.split())


# -- optional parts without their extra ---------------------------------------------------------


def test_without_the_charts_extra_the_summary_says_how_to_get_the_chart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No matplotlib: the summary has no image but one line naming the extra; --chart refuses."""
    from datetime import UTC, datetime

    from bot.progress import LessonOutline, LessonSummary, StuckRules
    from bot.reply import Image
    from bot.reports import cli as report_cli
    from bot.reports import replies as reports
    from bot.reports.exports import LessonInfo

    monkeypatch.setattr(reports, "charts_available", lambda: False)
    monkeypatch.setattr(report_cli, "charts_available", lambda: False)
    info = LessonInfo("l", "Lesson", (("a", "A"),), ())
    summary = LessonSummary(LessonOutline("l", ("a",)), datetime.now(UTC), StuckRules(), 1,
                            {"a": 1}, None, 0, 0, None, "a", 1)
    reply = reports.summary_reply([(info, summary)])
    assert not [p for p in reply.parts if isinstance(p, Image)]
    assert reports.NO_CHARTS in reply.text()
    with pytest.raises(UsageError, match=r"docker-tutor\[charts\]"):
        report_cli.run_cli(None, None, sys.stdout, chart=Path("x.png"))  # type: ignore[arg-type]


def test_charts_are_available_in_the_dev_install() -> None:
    """The dev install has the charts extra, so the suite draws real charts."""
    from bot.reports.replies import charts_available

    assert charts_available()


def test_without_the_postgres_driver_the_store_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PostgreSQL URL without psycopg installed: one line naming the extra, no traceback."""
    from bot.progress.store import ProgressStore

    for module in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError) as error:
        ProgressStore("postgresql+psycopg://tutor:secret@127.0.0.1:1/tutor")
    message = str(error.value)
    assert message.startswith("Cannot open the progress database postgresql+psycopg://tutor:***@")
    assert "docker-tutor[postgres]" in message and "secret" not in message
