"""The course deployment: docker-compose.yml is valid and keeps learners off the host engine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_command() -> list[str]:
    """`docker-compose`, or `docker compose` where only the plugin is installed."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor the docker compose plugin is installed")


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`docker-compose config` of the compose file with the example env file, run once."""
    folder = tmp_path_factory.mktemp("compose")
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    shutil.copy(ROOT / "deploy" / "env.example", folder / ".env")
    shutil.copytree(ROOT / "deploy", folder / "deploy")  # build contexts (deploy/sandbox)
    result = subprocess.run(
        [*compose_command(), "config"], cwd=folder, capture_output=True, text=True,
        check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def resolved(compose_config: str) -> dict[str, object]:
    """The compose file as docker-compose resolves it (each test gets its own copy)."""
    return dict(yaml.safe_load(compose_config))


def test_compose_file_is_valid_and_has_the_three_services(resolved: dict[str, object]) -> None:
    """`docker-compose config` accepts the file; it defines bot, db and sandbox."""
    services = resolved["services"]
    assert isinstance(services, dict)
    assert set(services) == {"bot", "db", "sandbox"}


def test_bot_never_mounts_the_host_docker_socket(resolved: dict[str, object]) -> None:
    """No service mounts /var/run/docker.sock; the bot talks to the sandbox over TLS."""
    text = json.dumps(resolved)
    assert "docker.sock" not in text
    bot = resolved["services"]["bot"]  # type: ignore[index]
    assert bot["environment"]["DOCKER_HOST"] == "tcp://sandbox:2376"
    assert bot["environment"]["DOCKER_TLS_VERIFY"] == "1"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_database_keeps_its_data_in_a_named_volume(resolved: dict[str, object]) -> None:
    """PostgreSQL's data directory is the named volume `pgdata`."""
    db = resolved["services"]["db"]  # type: ignore[index]
    volumes = db["volumes"]
    assert any(
        (v.get("source") if isinstance(v, dict) else v.split(":")[0]) == "pgdata"
        for v in volumes
    )


def test_sandbox_and_data_networks_are_internal(resolved: dict[str, object]) -> None:
    """The learners' engine and the database sit on networks with no way out."""
    networks = resolved["networks"]
    assert networks["sandbox"]["internal"] is True  # type: ignore[index]
    assert networks["data"]["internal"] is True  # type: ignore[index]
    sandbox = resolved["services"]["sandbox"]  # type: ignore[index]
    assert set(sandbox["networks"]) == {"sandbox"}
