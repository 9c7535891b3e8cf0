"""`docker-tutor serve` and `worker` reach the Slack app through the front-end registry.

The core never imports :mod:`handlers`: ``pyproject.toml`` declares the front ends as
entry points (group ``docker_tutor.frontends``) and :mod:`bot.frontends` loads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import frontends
from bot.cli import main
from bot.config import Settings
from bot.errors import UsageError
from tests.conftest import NO_ENGINE


@pytest.fixture
def registry() -> Iterator[None]:
    """The registry as it was, restored after the test."""
    saved = dict(frontends._registered)
    yield
    frontends._registered.clear()
    frontends._registered.update(saved)


def test_the_declared_front_ends_load_the_slack_programs(registry: None) -> None:
    """`serve` and `worker` load handlers.serve.serve and handlers.worker.run_worker."""
    from handlers.serve import serve
    from handlers.worker import run_worker

    frontends._registered.clear()
    assert set(frontends.declared()) >= {"serve", "worker"}
    assert frontends.front_end("serve") is serve
    assert frontends.front_end("worker") is run_worker


def test_the_command_line_runs_the_registered_front_end(
    registry: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`docker-tutor worker` and `serve` call the front end of that name with the settings."""
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.delenv("TUTOR_ENGINES", raising=False)
    called: list[tuple[str, Settings]] = []
    frontends.register("worker", lambda settings: called.append(("worker", settings)) or 3)
    frontends.register("serve", lambda settings: called.append(("serve", settings)) or 4)
    assert main(["worker"]) == 3
    assert main(["serve"]) == 4
    assert [name for name, _ in called] == ["worker", "serve"]
    assert called[0][1].docker_host == NO_ENGINE


def test_a_front_end_nobody_declared_is_a_clear_error(registry: None) -> None:
    """An unknown name says which entry-point group is missing it and how to reinstall."""
    with pytest.raises(UsageError, match=r"docker_tutor\.frontends.*make setup"):
        frontends.front_end("web-console")


def test_a_source_checkout_reads_the_group_from_its_pyproject(tmp_path: Path) -> None:
    """Without installed metadata the same table comes from pyproject.toml; another project's: none."""
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "docker-tutor"\n'
                    '[project.entry-points."docker_tutor.frontends"]\n'
                    'serve = "handlers.serve:serve"\n', encoding="utf-8")
    [entry] = frontends._from_pyproject(path).values()
    assert (entry.name, entry.value, entry.group) == ("serve", "handlers.serve:serve",
                                                      frontends.GROUP)
    path.write_text(path.read_text(encoding="utf-8").replace("docker-tutor", "other"),
                    encoding="utf-8")
    assert frontends._from_pyproject(path) == {}
