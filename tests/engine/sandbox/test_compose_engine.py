"""``docker compose`` on the real engine: up, ps, exec, logs, stop/start, down and down -v.

Each service is created by the same ``docker run`` path a typed command takes, so the
objects carry the learner's labels and Compose's; another learner sees none of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.compose import spec
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.views import Outcome

pytestmark = pytest.mark.docker

APP = ("{services: {cache: {image: redis, command: redis-server --appendonly yes, "
       "volumes: ['data:/data']}, web: {image: busybox, command: sleep 600, "
       "depends_on: [cache], environment: {CACHE: cache}, networks: [default, back]}}, "
       "networks: {back: {}}, volumes: {data: {}}}")
"""Two services over two networks and a named volume, on one line (as `edit` writes it)."""


def run(sandbox: Sandbox, person: Person, text: str) -> Outcome:
    """One learner line through the sandbox."""
    return sandbox.run_command(person, parse(text))


def ok(sandbox: Sandbox, person: Person, text: str) -> str:
    """Run a line that must succeed; its output."""
    outcome = run(sandbox, person, text)
    assert outcome.exit_code == 0, (text, outcome.output)
    return outcome.output


@pytest.fixture
def app(sandbox: Sandbox, alice: Person) -> Iterator[Sandbox]:
    """Alice's workspace holds :data:`APP` as ``compose.yaml``, and she ran ``up -d``."""
    sandbox.write_workspace_file(alice, "compose.yaml", APP)
    ok(sandbox, alice, "docker compose up -d")
    yield sandbox
    sandbox.remove_all(alice)


def test_up_creates_what_real_compose_would_under_its_labels(app: Sandbox, alice: Person) -> None:
    """Containers `app-<service>-1`, networks `app_default`/`app_back`, volume `app_data`."""
    names = {v.name for v in app.containers(alice)}
    assert names == {"app-cache-1", "app-web-1"}
    container = app.client.containers.get(app.namespace(alice).engine_name("app-web-1"))
    labels = container.labels
    assert labels[spec.LABEL_PROJECT] == "app" and labels[spec.LABEL_SERVICE] == "web"
    assert labels[spec.LABEL_NUMBER] == "1" and labels[spec.LABEL_ONEOFF] == "False"
    assert set(container.attrs["NetworkSettings"]["Networks"]) == {
        app.namespace(alice).engine_name("app_default"), app.namespace(alice).engine_name("app_back")}
    assert "CACHE=cache" in container.attrs["Config"]["Env"]
    assert app.volume(alice, "app_data") is not None
    networks = ok(app, alice, "docker network ls")
    assert "app_default" in networks and "app_back" in networks
    assert "app-web-1" in ok(app, alice, "docker ps")


def test_services_reach_each_other_by_service_name(app: Sandbox, alice: Person) -> None:
    """`web` asks `cache` by its service name over the project network."""
    out = ok(app, alice, "docker compose exec web sh -c 'echo PING | nc -w 2 cache 6379'")
    assert "+PONG" in out


def test_ps_logs_and_a_second_up(app: Sandbox, alice: Person) -> None:
    """`ps` lists the services; `logs` prefixes each line; `up` again leaves them running."""
    table = ok(app, alice, "docker compose ps")
    assert table.splitlines()[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED",
                                             "STATUS", "PORTS"]
    assert "app-cache-1" in table and "web" in table
    logs = ok(app, alice, "docker compose logs cache")
    assert logs.startswith("app-cache-1  | ")
    again = ok(app, alice, "docker compose up -d")
    assert "app-web-1  Running" in again


def test_stop_start_and_data_surviving_down_without_v(app: Sandbox, alice: Person) -> None:
    """A key written survives `down` then `up` (the volume stays); `down -v` removes it."""
    ok(app, alice, "docker compose exec cache redis-cli set visits 7")
    assert "Stopped" in ok(app, alice, "docker compose stop web")
    assert not next(v for v in app.containers(alice) if v.name == "app-web-1").running
    ok(app, alice, "docker compose start")
    down = ok(app, alice, "docker compose down")
    assert "Container app-web-1  Removed" in down and "Network app_default  Removed" in down
    assert app.containers(alice) == [] and app.volume(alice, "app_data") is not None
    ok(app, alice, "docker compose up -d")
    assert ok(app, alice, "docker compose exec cache redis-cli get visits") == "7\n"
    gone = ok(app, alice, "docker compose down -v")
    assert "Volume app_data  Removed" in gone and app.volume(alice, "app_data") is None


def test_another_learner_sees_nothing_of_the_project(app: Sandbox, bob: Person) -> None:
    """Bob's `compose ps` and `down` find no file and touch nothing of Alice's."""
    assert run(app, bob, "docker compose ps").output == "no configuration file provided: not found\n"
    ok(app, bob, "docker compose down")
    assert ok(app, bob, "docker ps -a").count("\n") == 1


def test_refused_keys_reach_no_engine(sandbox: Sandbox, alice: Person) -> None:
    """`ports:` is refused with its reason; nothing is created; `build` is refused up front."""
    sandbox.write_workspace_file(alice, "compose.yaml",
                                 "services: {web: {image: redis, ports: ['8080:80']}}")
    try:
        with pytest.raises(CommandRefused, match=r"services\.web\.ports"):
            run(sandbox, alice, "docker compose up -d")
        assert sandbox.containers(alice) == []
        with pytest.raises(CommandRefused, match="docker build"):
            run(sandbox, alice, "docker compose build")
        sandbox.write_workspace_file(alice, "compose.yaml",
                                     "services: {web: {image: registry.example/nginx}}")
        with pytest.raises(CommandRefused, match=r"registry\.example/nginx"):
            run(sandbox, alice, "docker compose up -d")
    finally:
        sandbox.remove_all(alice)


def test_a_changed_file_recreates_only_what_changed_and_names_orphans(
        app: Sandbox, alice: Person) -> None:
    """A service whose config changed is recreated; one no longer in the file is an orphan."""
    before = {v.name: v.id for v in app.containers(alice)}
    app.write_workspace_file(alice, "compose.yaml", APP.replace(
        "web: {image: busybox, command: sleep 600, depends_on: [cache], environment: "
        "{CACHE: cache}, networks: [default, back]}", "web: {image: busybox, command: sleep 900}"
    ).replace("networks: {back: {}}, ", ""))
    out = ok(app, alice, "docker compose up -d")
    assert "app-web-1  Recreated" in out and "app-cache-1  Running" in out
    after = {v.name: v.id for v in app.containers(alice)}
    assert after["app-cache-1"] == before["app-cache-1"]
    assert after["app-web-1"] != before["app-web-1"]
    app.write_workspace_file(alice, "compose.yaml", "services: {cache: {image: redis, command: "
                             "redis-server --appendonly yes, volumes: ['data:/data']}}\n"
                             "volumes: {data: {}}")
    assert "Found orphan containers ([app-web-1])" in ok(app, alice, "docker compose up -d")
    assert "Container app-web-1  Removed" in ok(app, alice, "docker compose down")
    assert app.containers(alice) == []
