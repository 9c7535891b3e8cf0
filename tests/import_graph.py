"""The import graph of ``bot`` and ``handlers``, read from the source with :mod:`ast`.

Every ``import`` counts, wherever it stands: at module level, inside a function (a lazy
import) or under ``if TYPE_CHECKING:``; a cycle through any of them is still a cycle in
the design. ``from package import name`` points at ``package.name`` when that is a
module, else at ``package``. Code loaded by name (``importlib.import_module``, entry
points) would be an edge the graph cannot see: only the front-end registry
(:data:`FRONT_END_REGISTRY`) may do it, and only for the front ends ``pyproject.toml``
declares (:data:`FRONT_END_GROUP`), which are read here too.

Run ``python -m tests.import_graph`` for the layers and any cycle (exit 1 on a cycle or a
broken rule); ``tests/unit/project/test_layers.py`` asserts the same.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")

HANDLERS_MAY_IMPORT = frozenset({
    "bot.config", "bot.errors", "bot.factory", "bot.identity", "bot.jobs.durable", "bot.reply",
    "bot.service", "bot.jobs.ordered", "bot.markdown",
})
"""The core modules the Slack front end may use: it reaches the tutor through bot.service
and the durable queue through bot.jobs.durable (both built by bot.factory), besides settings,
errors, the plain reply and person types, and bot.markdown, the one reading of Markdown
that Slack and the terminal both render."""

FRONT_END_REGISTRY = "bot.frontends"
"""The one module of the project that loads code by name: the front ends, as entry points."""

FRONT_END_GROUP = "docker_tutor.frontends"
"""The entry-point group of ``pyproject.toml`` that declares the front ends."""

LOADERS = frozenset({"import_module", "__import__", "entry_points", "EntryPoint",
                     "spec_from_file_location", "exec_module"})
"""Calls that load code by name (by their function or attribute name)."""

THIRD_PARTY_HOMES = {
    "slack_bolt": ("handlers",),
    "slack_sdk": ("handlers",),
    "docker": ("bot.sandbox",),
    "requests": ("bot.sandbox",),
    "sqlalchemy": ("bot.progress",),
    "alembic": ("bot.progress",),
    "matplotlib": ("bot.reports.chart",),
}
"""Which packages may import each heavy or front-end library (a module or package prefix)."""

SANDBOX_FACES = frozenset({"bot.sandbox", "bot.sandbox.policy"})
"""What the rest of the project imports of the sandbox: its public face (the package, which
loads docker-py only when an engine class is first asked for) and the docker-free command
side (the lessons' validator and the checks reason about commands with it, no engine)."""

DOCKER_FREE = ("bot.sandbox.policy", "bot.sandbox.compose.spec", "bot.sandbox.compose.keys",
               "bot.sandbox.compose.reading")
"""Packages that import no ``docker`` (nor ``requests``), not even for type hints, and
nothing of the sandbox outside themselves: the command side refuses before the engine."""


@dataclass
class Graph:
    """Modules of ``bot`` and ``handlers`` and what each imports.

    Attributes:
        modules: Dotted module name -> its file.
        edges: Module -> the modules of this project it imports.
        external: Module -> the top-level names of other libraries it imports.
        loads: Module -> the calls of :data:`LOADERS` it makes (code loaded by name).
        defines: Module -> the names its top level defines.
        front_ends: Front end name -> ``module:attribute``, as ``pyproject.toml`` declares.
    """

    modules: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)
    loads: dict[str, set[str]] = field(default_factory=dict)
    defines: dict[str, set[str]] = field(default_factory=dict)
    front_ends: dict[str, str] = field(default_factory=dict)


def module_name(path: Path, root: Path = ROOT) -> str:
    """``bot/progress/__init__.py`` -> ``bot.progress``; ``bot/tutor/core.py`` -> ``bot.tutor.core``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, here: str, is_package: bool) -> Iterable[tuple[str, str | None]]:
    """(module, imported name or None) for every import statement in the tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".") if is_package else here.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield base, alias.name


def _loads(tree: ast.AST) -> set[str]:
    """The calls of :data:`LOADERS` anywhere in the tree."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (func.attr if isinstance(func, ast.Attribute)
                    else func.id if isinstance(func, ast.Name) else "")
            if name in LOADERS:
                found.add(name)
    return found


def _defines(tree: ast.Module) -> set[str]:
    """The names a module's top level binds (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def front_ends(root: Path = ROOT) -> dict[str, str]:
    """The front ends ``root/pyproject.toml`` declares in :data:`FRONT_END_GROUP`, by name."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    table = project.get("entry-points", {}).get(FRONT_END_GROUP, {})
    return {str(name): str(value) for name, value in table.items()}


def build(root: Path = ROOT) -> Graph:
    """Read every module of :data:`PACKAGES` under ``root``, and the declared front ends."""
    graph = Graph(front_ends=front_ends(root))
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            graph.modules[module_name(path, root)] = path
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph.loads[name] = _loads(tree)
        graph.defines[name] = _defines(tree)
        edges = graph.edges.setdefault(name, set())
        external = graph.external.setdefault(name, set())
        for module, imported in _imported(tree, name, path.name == "__init__.py"):
            top = module.split(".")[0]
            if top not in PACKAGES:
                if top and top != "__future__":
                    external.add(top)
                continue
            target = f"{module}.{imported}" if imported else module
            if target not in graph.modules:
                target = module
            if target in graph.modules and target != name:
                edges.add(target)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph.modules):
        if node not in index:
            visit(node)
    return sorted(found)


def _within(module: str, homes: Iterable[str]) -> bool:
    return any(module == home or module.startswith(home + ".") for home in homes)


def broken_rules(graph: Graph) -> list[str]:
    """Every import that crosses a layer the wrong way, one line each."""
    problems = []
    for module in sorted(graph.modules):
        for library in sorted(graph.external[module]):
            homes = THIRD_PARTY_HOMES.get(library)
            if homes is not None and not _within(module, homes):
                problems.append(f"{module} imports {library} (only {', '.join(homes)} may)")
            if library in ("docker", "requests") and _within(module, DOCKER_FREE):
                problems.append(f"{module} imports {library}: the command side is docker-free")
        for target in sorted(graph.edges[module]):
            if (_within(target, ("bot.sandbox",)) and not _within(module, ("bot.sandbox",))
                    and target not in SANDBOX_FACES):
                problems.append(f"{module} imports {target}: outside the sandbox, import "
                                f"{' or '.join(sorted(SANDBOX_FACES))}")
            if (_within(module, DOCKER_FREE) and _within(target, ("bot.sandbox",))
                    and not _within(target, DOCKER_FREE)):
                problems.append(f"{module} imports {target}: the command side imports "
                                "nothing of the engine side")
            if module.startswith("bot") and target.startswith("handlers"):
                problems.append(f"{module} imports {target}: the core never imports the front end")
            if (module.startswith("handlers") and target.startswith("bot")
                    and target not in HANDLERS_MAY_IMPORT):
                problems.append(f"{module} imports {target}: handlers reach the core through "
                                "bot.service (and plain types)")
        if graph.loads.get(module) and module != FRONT_END_REGISTRY:
            problems.append(f"{module} loads code by name ({', '.join(sorted(graph.loads[module]))}"
                            f"): an import the graph cannot see (only {FRONT_END_REGISTRY} may, "
                            "for the front ends pyproject.toml declares)")
    for name, target in sorted(graph.front_ends.items()):
        module, _, attribute = target.partition(":")
        if not _within(module, ("handlers",)):
            problems.append(f"front end {name} is {target}: front ends live in handlers")
        elif module not in graph.modules:
            problems.append(f"front end {name} is {target}: there is no module {module}")
        elif attribute not in graph.defines.get(module, set()):
            problems.append(f"front end {name} is {target}: {module} defines no {attribute}")
    return problems


def layers(graph: Graph) -> list[list[str]]:
    """Modules by layer: the first imports nothing of the project, each next only those before."""
    placed: dict[str, int] = {}
    remaining = set(graph.modules)
    result: list[list[str]] = []
    while remaining:
        ready = sorted(m for m in remaining if graph.edges[m] <= set(placed))
        if not ready:  # a cycle: nothing more can be placed
            result.append(sorted(remaining))
            break
        for module in ready:
            placed[module] = len(result)
        remaining -= set(ready)
        result.append(ready)
    return result


def main() -> int:
    """Print the layers, then every cycle and broken rule; exit 1 if there is any."""
    graph = build()
    for number, members in enumerate(layers(graph)):
        print(f"layer {number}: {' '.join(members)}")
    found = cycles(graph)
    problems = broken_rules(graph)
    for group in found:
        print(f"CYCLE: {' <-> '.join(group)}")
    for problem in problems:
        print(f"RULE: {problem}")
    edges = sum(len(targets) for targets in graph.edges.values())
    print(f"{len(graph.modules)} modules, {edges} imports, {len(found)} cycle(s), "
          f"{len(problems)} broken rule(s)")
    return 1 if found or problems else 0


if __name__ == "__main__":
    sys.exit(main())
