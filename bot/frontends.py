"""The front ends the command line starts (``serve``, ``worker``), found as entry points.

The core never imports a front end (``tests/import_graph.py`` enforces it): the Slack
app (:mod:`handlers`) declares its programs in ``pyproject.toml``, in the entry-point
group :data:`GROUP`::

    [project.entry-points."docker_tutor.frontends"]
    serve = "handlers.serve:serve"
    worker = "handlers.worker:run_worker"

and ``docker-tutor serve`` runs ``front_end("serve")(settings)``. This module is the only
one of ``bot`` that loads code by name, and only what that table declares (the import
graph checks both, and that each entry names a module of ``handlers``). Another front end
(a web console, say) is added the same way, without the core knowing it; a test may
:func:`register` one directly.

The table is read from the installed distribution's metadata; from a source checkout
whose metadata lacks the group (not installed, or installed before the group was
declared) it is read from the ``pyproject.toml`` beside the ``bot`` package.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from bot.config import Settings
from bot.errors import UsageError

GROUP = "docker_tutor.frontends"
"""The entry-point group front ends are declared in."""

DISTRIBUTION = "docker-tutor"
"""The project whose ``pyproject.toml`` a source checkout reads the group from."""

FrontEnd = Callable[[Settings], int]
"""A front end's program: runs until stopped, returns the process's exit status."""

_registered: dict[str, FrontEnd] = {}
_lock = threading.Lock()


def register(name: str, run: FrontEnd) -> None:
    """Make ``run`` the front end called ``name`` (replacing a declared one of that name)."""
    with _lock:
        _registered[name] = run


def declared() -> dict[str, EntryPoint]:
    """The front ends declared in :data:`GROUP`, by name (installed metadata, else pyproject)."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    return found or _from_pyproject(Path(__file__).resolve().parent.parent / "pyproject.toml")


def _from_pyproject(path: Path) -> dict[str, EntryPoint]:
    """The group as ``pyproject.toml`` at ``path`` declares it (empty if not this project's)."""
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    if project.get("name") != DISTRIBUTION:
        return {}
    table = project.get("entry-points", {}).get(GROUP, {})
    return {str(name): EntryPoint(str(name), str(value), GROUP) for name, value in table.items()}


def front_end(name: str) -> FrontEnd:
    """The front end called ``name``: a registered one, else the declared one, loaded now.

    Raises:
        UsageError: No front end of that name is registered or declared (the Slack app
            is not installed, or its entry points are missing: reinstall the project).
    """
    with _lock:
        run = _registered.get(name)
    if run is not None:
        return run
    entry = declared().get(name)
    if entry is None:
        raise UsageError(f"No front end called {name!r} is installed (entry-point group "
                         f"{GROUP!r}). Reinstall docker-tutor: `make setup`, or "
                         "`pip install -e .` in a checkout.")
    loaded: FrontEnd = entry.load()
    register(name, loaded)
    return loaded


__all__ = ["GROUP", "FrontEnd", "declared", "front_end", "register"]
