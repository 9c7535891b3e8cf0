"""The course deployment: docker-compose.yml is valid and keeps learners off the host engine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO_ROOT

ROOT = REPO_ROOT


def compose_command() -> list[str]:
    """`docker-compose`, or `docker compose` where only the plugin is installed."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor the docker compose plugin is installed")


POOL = "tcp://sandbox:2376,tcp://sandbox-b:2376"
"""The ``TUTOR_ENGINES`` the compose file's header tells a course to set for the pool profile."""


def resolve(folder: Path, *extra_env: str, profile: str | None = None) -> dict[str, object]:
    """The compose file as docker-compose resolves it, with the example env file (and more)."""
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    env = (ROOT / "deploy" / "env.example").read_text()
    (folder / ".env").write_text(env + "".join(f"{line}\n" for line in extra_env))
    shutil.copytree(ROOT / "deploy", folder / "deploy")  # build contexts (deploy/sandbox)
    profiles = ["--profile", profile] if profile else []
    result = subprocess.run(
        [*compose_command(), *profiles, "config"], cwd=folder, capture_output=True, text=True,
        check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The compose file as docker-compose resolves it, with the example env file (read-only)."""
    return resolve(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The compose file resolved with the pool profile and its ``TUTOR_ENGINES`` (read-only)."""
    return resolve(tmp_path_factory.mktemp("pool"), f"TUTOR_ENGINES={POOL}", profile="pool")


def mounts(service: dict[str, object]) -> dict[str, str]:
    """A service's named volumes by the path they are mounted at."""
    found = {}
    for volume in service.get("volumes", []):  # type: ignore[attr-defined]
        if isinstance(volume, dict):
            found[volume["target"]] = volume["source"]
        else:
            source, target = str(volume).split(":")[:2]
            found[target] = source
    return found


def test_compose_file_is_valid_and_has_its_services(resolved: dict[str, object]) -> None:
    """`docker-compose config` accepts the file; it defines bot, db, sandbox and the pool's second engine."""
    services = resolved["services"]
    assert isinstance(services, dict)
    assert set(services) == {"bot", "db", "sandbox", "sandbox-b"}
    assert services["sandbox-b"]["profiles"] == ["pool"]
    assert all("profiles" not in services[name] for name in ("bot", "db", "sandbox"))


def test_one_engine_by_default(resolved: dict[str, object]) -> None:
    """Without the pool settings the bot's TUTOR_ENGINES is empty: the one engine of DOCKER_HOST."""
    bot = resolved["services"]["bot"]  # type: ignore[index]
    assert bot["environment"]["TUTOR_ENGINES"] in ("", None)
    sandbox = resolved["services"]["sandbox"]  # type: ignore[index]
    assert sandbox["hostname"] == "sandbox"  # the certificate docker:dind makes names tcp://sandbox
    assert "DNS:sandbox" in sandbox["environment"]["DOCKER_TLS_SAN"].split(",")


def test_every_pool_engine_is_reachable_over_verified_tls(pooled: dict[str, object]) -> None:
    """Each pool engine is a service whose certificate names it, its client certs mounted for the bot."""
    services = pooled["services"]
    bot = services["bot"]  # type: ignore[index]
    assert bot["environment"]["TUTOR_ENGINES"] == POOL
    assert bot["environment"]["DOCKER_TLS_VERIFY"] == "1"
    certs = bot["environment"]["TUTOR_ENGINE_CERTS"]
    engines = [address.removeprefix("tcp://").split(":")[0] for address in POOL.split(",")]
    data_volumes = set()
    for host in engines:
        engine = services[host]  # type: ignore[index]
        names = {f"DNS:{engine.get('hostname')}", *engine["environment"]["DOCKER_TLS_SAN"].split(",")}
        assert f"DNS:{host}" in names  # docker:dind signs its hostname and DOCKER_TLS_SAN
        assert engine["privileged"] is True
        assert set(engine["networks"]) == {"sandbox"}
        engine_mounts = mounts(engine)
        assert mounts(bot)[f"{certs}/{host}"] == engine_mounts["/certs/client"]
        data_volumes.add(engine_mounts["/var/lib/docker-store"])  # its btrfs file (btrfs-root.sh)
    assert len(data_volumes) == len(engines)  # no two engines share a data root


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
