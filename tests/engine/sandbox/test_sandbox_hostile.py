"""Hostile learners against the real engine: refusals, isolation, symlink tricks, and an audit.

The module shares one tutor (and its engine objects) across its tests, so that its last
test can inspect every container left under the test namespace and prove that none is
privileged, networked, unlimited or bound to any host path. The
module fixture removes everything afterwards.

Every hostile input is counted in :data:`TALLY`, together with the engine API calls it
caused; the audit test prints the totals and asserts that refused inputs made none.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from pytest_mock import MockerFixture

from bot.config import Limits, Settings
from bot.errors import CommandRefused, QuotaExceeded, TutorError
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.reply import Event, Reply
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.policy.parser import parse
from bot.sandbox.resources.run import CAPABILITIES
from bot.sandbox.workspace.names import volume_name
from bot.tutor.core import Tutor
from tests.conftest import ROOT, _purge
from tests.engine.sandbox.test_engine_workspace import HostFileWatch
from tests.engine_requests import MUTATING, EngineRequests

pytestmark = pytest.mark.docker

TALLY: dict[str, int] = {
    "refusal_inputs": 0,
    "refusal_engine_calls": 0,
    "isolation_probes": 0,
    "isolation_mutating_calls": 0,
}
"""What the hostile inputs did, summed over the module (printed by the audit)."""


Calls = Callable[[], dict[str, int]]


@dataclass
class World:
    """The module's tutor and what it runs on."""

    settings: Settings
    store: ProgressStore
    sandbox: Sandbox
    tutor: Tutor


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, namespace_prefix: str,
    docker_client: docker.DockerClient,
) -> Iterator[World]:
    """One tutor for the module (high command rate: the rate limit is tested elsewhere)."""
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings(
        database_url=f"sqlite:///{root / 'tutor.db'}",
        lessons_dir=ROOT / "lessons",
        namespace=namespace_prefix,
        limits=Limits(foreground_seconds=4.0, commands_per_minute=100_000),
        offline=True,
    )
    catalog = Catalog(settings.lessons_dir)
    store = ProgressStore(settings.database_url)
    sandbox = Sandbox(settings, allowed_images=catalog.images)
    yield World(settings, store, sandbox, Tutor(settings, store, sandbox, catalog))
    sandbox.close()
    store.close()
    _purge(docker_client, namespace_prefix)


@pytest.fixture
def calls(mocker: MockerFixture, world: World) -> Calls:
    """Counts of engine API requests (GET, POST, PUT, DELETE) this test's lines made.

    Only requests made on the test's own thread count: the tutor's background threads (the
    disk watcher's look, its lease) share the client and are not the learner's doing.
    """
    assert world.sandbox.client.ping()  # connect first: the connection itself is not counted
    return EngineRequests(mocker, this_thread=True).by_method


def learner(name: str) -> Person:
    """A fresh learner."""
    return Person("slack", f"U{name.upper()}{secrets.token_hex(3).upper()}", name)


def say(world: World, person: Person, text: str) -> Reply:
    """Send one line as the person."""
    return world.tutor.handle(person, text)


def refused(world: World, person: Person, text: str) -> CommandRefused:
    """The refusal the tutor raises for ``text``."""
    with pytest.raises(CommandRefused) as caught:
        say(world, person, text)
    return caught.value


# -- refused before the engine ---------------------------------------------------------------

HOSTILE: list[tuple[str, str]] = [
    # the host, through privileges and devices
    ("docker run --privileged busybox", "--privileged"),
    ("docker run --privileged=true -d busybox sleep 1", "--privileged"),
    ("docker run -d --privileged busybox", "--privileged"),
    ("docker run --cap-add ALL busybox", "--cap-add"),
    ("docker run --cap-add=SYS_ADMIN busybox", "--cap-add"),
    ("docker run --cap-add NET_ADMIN busybox", "--cap-add"),
    ("docker run --device /dev/sda busybox", "--device"),
    ("docker run --device=/dev/mem:/dev/mem busybox", "--device"),
    ("docker run --device-cgroup-rule 'a *:* rwm' busybox", "--device-cgroup-rule"),
    ("docker run --security-opt seccomp=unconfined busybox", "--security-opt"),
    ("docker run --security-opt apparmor=unconfined busybox", "--security-opt"),
    ("docker run --security-opt label=disable busybox", "--security-opt"),
    ("docker run --security-opt no-new-privileges=false busybox", "--security-opt"),
    ("docker run --pid host busybox", "--pid"),
    ("docker run --pid=host busybox ps", "--pid"),
    ("docker run --ipc host busybox", "--ipc"),
    ("docker run --ipc=shareable busybox", "--ipc"),
    ("docker run --uts host busybox", "--uts"),
    ("docker run --userns host busybox", "--userns"),
    ("docker run --cgroupns host busybox", "--cgroupns"),
    ("docker run --cgroup-parent / busybox", "--cgroup-parent"),
    ("docker run --ulimit nofile=1048576 busybox", "--ulimit"),
    ("docker run --sysctl net.ipv4.ip_forward=1 busybox", "--sysctl"),
    ("docker run --runtime runc busybox", "--runtime"),
    ("docker run --isolation hyperv busybox", "--isolation"),
    ("docker run --group-add 0 busybox", "--group-add"),
    ("docker run --gpus all busybox", "--gpus"),
    ("docker run --init busybox", "--init"),
    ("docker exec --privileged box sh", "--privileged"),
    ("docker exec -u 0 --privileged box sh", "--privileged"),
    ("docker exec --env-file /etc/shadow box env", "--env-file"),
    ("docker container exec --privileged box id", "--privileged"),
    # the network
    ("docker run --network host busybox", "--network"),
    ("docker run --net=host busybox", "--network"),
    ("docker run --network bridge busybox", "--network"),
    ("docker run --network=default busybox", "--network"),
    ("docker run --network container:box busybox", "--network"),
    ("docker run -p 6379:6379 redis", "-p"),
    ("docker run -p6379:6379 redis", "-p"),
    ("docker run -p 127.0.0.1:80:80 busybox", "-p"),
    ("docker run --publish 80:80 busybox", "--publish"),
    ("docker run --publish=80:80 busybox", "--publish"),
    ("docker run -P redis", "-P"),
    ("docker run --publish-all redis", "--publish-all"),
    ("docker run -dp 80:80 busybox", "-p"),
    ("docker run -dP redis", "-P"),
    ("docker run --expose 80 busybox", "--expose"),
    ("docker run --add-host evil:10.0.0.1 busybox", "--add-host"),
    ("docker run --dns 8.8.8.8 busybox", "--dns"),
    ("docker run --link box busybox", "--link"),
    ("docker run --ip 10.0.0.9 busybox", "--ip"),
    ("docker run --mac-address 02:42:ac:11:00:02 busybox", "--mac-address"),
    # host folders
    ("docker run -v /:/host busybox", "-v"),
    ("docker run -v /etc:/etc busybox", "-v"),
    ("docker run -v /etc/shadow:/x busybox", "-v"),
    ("docker run -v /var/run/docker.sock:/var/run/docker.sock busybox", "-v"),
    ("docker run -v /var/run/docker.sock:/s:ro busybox", "-v"),
    ("docker run -v /var/lib/docker:/d busybox", "-v"),
    ("docker run -v /root:/r:ro busybox", "-v"),
    ("docker run -v /proc:/p busybox", "-v"),
    ("docker run -v ~:/x busybox", "-v"),
    ("docker run -v ~/.ssh:/x busybox", "-v"),
    ("docker run -v ..:/x busybox", "-v"),
    ("docker run -v ../other-learner:/x busybox", "-v"),
    ("docker run -v $(pwd)/..:/x busybox", "-v"),
    ("docker run -v $(pwd)/../..:/x busybox", "-v"),
    ("docker run -v $PWD/../x:/x busybox", "-v"),
    ("docker run -v ${PWD}/a/../../x:/x busybox", "-v"),
    ('docker run -v "$(pwd)/..":/x busybox', "-v"),
    ("docker run -v ./../..:/x busybox", "-v"),
    ("docker run -v $(pwd)x:/x busybox", "-v"),
    ("docker run -v $(pwd)/$(pwd):/x busybox", "-v"),
    ("docker run -v relative/path:/x busybox", "-v"),
    ("docker run -v $HOME:/x busybox", "volume"),
    ("docker run -v vol:/proc busybox", "-v"),
    ("docker run -v vol:/sys/fs/cgroup busybox", "-v"),
    ("docker run -v vol:/dev busybox", "-v"),
    ("docker run -v vol:/ busybox", "-v"),
    ("docker run -v vol:/x:rshared busybox", "-v"),
    ("docker run -v vol:/x:z busybox", "-v"),
    ("docker run --mount type=bind,source=/etc,target=/etc busybox", "--mount"),
    ("docker run --mount type=bind,src=/,dst=/host busybox", "--mount"),
    ("docker run --mount type=bind,source=/var/run/docker.sock,target=/s busybox", "--mount"),
    ("docker run --mount type=bind,source=$(pwd)/..,target=/x busybox", "--mount"),
    ("docker run --mount type=bind,source=~,target=/x busybox", "--mount"),
    ("docker run --mount type=bind,target=/x busybox", "--mount"),
    ("docker run --mount type=bind,source=.,target=/x,bind-propagation=rshared busybox",
     "--mount"),
    ("docker run --mount type=volume,source=v,target=/x,volume-opt=device=/etc busybox",
     "--mount"),
    ("docker run --mount type=volume,source=v,target=/x,volume-opt=o=bind busybox", "--mount"),
    ("docker run --mount type=volume,source=v,target=/x,volume-driver=local busybox", "--mount"),
    ("docker run --mount type=npipe,source=x,target=/x busybox", "--mount"),
    ("docker run --mount type=tmpfs,target=/proc busybox", "--mount"),
    ("docker run --volumes-from box busybox", "--volumes-from"),
    ("docker run --volumes-from=box:ro busybox", "--volumes-from"),
    ("docker run --volume-driver local -v v:/x busybox", "--volume-driver"),
    ("docker volume create --opt device=/etc --opt o=bind --opt type=none v", "--opt"),
    ("docker volume create -o device=/ v", "-o"),
    ("docker volume create --driver local v", "--driver"),
    ("docker volume create ../../etc", "volume name"),
    ("docker volume create /etc", "volume name"),
    # images
    # (`docker run alpine` is looked up among the learner's own images first: see
    # test_build_hostile.py::test_an_image_neither_the_lessons_nor_built_is_refused_after_reads_only)
    ("docker run docker.io/library/alpine", "alpine"),
    ("docker run evil/redis", "evil/redis"),
    ("docker run registry.example.com/redis", "registry.example.com"),
    ("docker run localhost:5000/redis", "localhost:5000"),
    ("docker run redis@sha256:" + "0" * 64, "redis@sha256"),
    ("docker run redis:../../containers/create", "redis:../../"),
    ("docker run REDIS", "REDIS"),
    ("docker run 7e1926ab1bcd", "7e1926ab1bcd"),
    # limits the sandbox sets
    ("docker run --restart always --rm -d busybox sleep 1", "--restart"),
    ("docker run --restart=sometimes busybox", "--restart"),
    ("docker run --restart on-failure:5000 busybox", "--restart"),
    ("docker run --restart always:3 busybox", "--restart"),
    ("docker run --memory 8g busybox", "--memory"),
    ("docker run -m 8g busybox", "-m"),
    ("docker run --memory-swap -1 busybox", "--memory-swap"),
    ("docker run --kernel-memory 1g busybox", "--kernel-memory"),
    ("docker run --oom-kill-disable busybox", "--oom-kill-disable"),
    ("docker run --oom-score-adj -1000 busybox", "--oom-score-adj"),
    ("docker run --cpus 2 busybox", "--cpus"),
    ("docker run --cpu-shares 100000 busybox", "--cpu-shares"),
    ("docker run --cpuset-cpus 0-1 busybox", "--cpuset-cpus"),
    ("docker run --cpu-quota -1 busybox", "--cpu-quota"),
    ("docker run --pids-limit -1 busybox", "--pids-limit"),
    ("docker run --pids-limit=100000 busybox", "--pids-limit"),
    ("docker run --shm-size 8g busybox", "--shm-size"),
    ("docker run --storage-opt size=100G busybox", "--storage-opt"),
    ("docker run --blkio-weight 1000 busybox", "--blkio-weight"),
    ("docker run --log-driver syslog busybox", "--log-driver"),
    ("docker run --log-opt max-size=10g busybox", "--log-opt"),
    ("docker run --tmpfs /t:size=10g busybox", "--tmpfs"),
    ("docker run --tmpfs /t:size=65m busybox", "--tmpfs"),
    ("docker run --tmpfs /t:size=0 busybox", "--tmpfs"),
    ("docker run --tmpfs /t:suid busybox", "--tmpfs"),
    ("docker run --tmpfs /a:size=40m --tmpfs /b:size=40m busybox", "--tmpfs"),
    ("docker run --mount type=tmpfs,target=/t,tmpfs-size=1g busybox", "--mount"),
    ("docker run " + " ".join(f"-v v{i}:/d{i}" for i in range(9)) + " busybox", "8 mounts"),
    # labels, host files, identity
    ("docker run --label docker-tutor.learner=0123456789ab busybox", "--label"),
    ("docker run -l docker-tutor.namespace=dt busybox", "-l"),
    ("docker run --label-file /etc/passwd busybox", "--label-file"),
    ("docker run --env-file /etc/shadow busybox", "--env-file"),
    ("docker run --cidfile /etc/cron.d/x busybox", "--cidfile"),
    ("docker run -e HOME busybox", "-e"),
    ("docker run -e 'A B=1' busybox", "-e"),
    ("docker run -u 'root;id' busybox", "--user"),
    ("docker run --user ../../x busybox", "--user"),
    ("docker run -w relative busybox", "--workdir"),
    ("docker run -h 'evil host' busybox", "--hostname"),
    ("docker run --entrypoint '' busybox", "--entrypoint"),
    ("docker run --name ../../x busybox", "container name"),
    ("docker run --name 'a b' busybox", "container name"),
    ("docker run --platform linux/arm64 busybox", "--platform"),
    ("docker run --pull always redis", "--pull"),
    # verbs off the allow-list
    ("docker build -t evil --network host .", "--network"),
    ("docker pull alpine", "docker pull"),
    ("docker push redis", "docker push"),
    ("docker login -u x -p y", "docker login"),
    ("docker logout", "docker logout"),
    ("docker system prune -af", "docker system"),
    ("docker system info", "docker system"),
    ("docker network create -d overlay evil", "--driver"),
    ("docker network create -d host evil", "--driver"),
    ("docker network create host", "host's network"),
    ("docker network connect --alias 'a b' app box", "--alias"),
    ("docker network connect bridge box", "--network bridge"),
    ("docker run --network-alias db busybox", "--network NAME"),
    ("docker swarm init", "docker swarm"),
    ("docker service create redis", "docker service"),
    ("docker node ls", "docker node"),
    ("docker plugin install vieux/sshfs", "docker plugin"),
    ("docker cp box:/etc/passwd /tmp/x", "docker cp"),
    ("docker cp /etc/passwd box:/x", "docker cp"),
    ("docker container cp box:/x /tmp", "docker cp"),
    ("docker commit box evil", "docker commit"),
    ("docker save redis -o /tmp/x", "docker save"),
    ("docker load -i /tmp/x", "docker load"),
    ("docker export box", "docker export"),
    ("docker import /tmp/x", "docker import"),
    ("docker tag redis evil/redis", "evil/redis"),
    ("docker image save redis", "docker save"),
    ("docker image load", "docker load"),
    ("docker builder prune -af", "docker builder"),
    ("docker image pull alpine", "docker pull"),
    ("docker attach box", "docker attach"),
    ("docker compose build", "docker build"),
    ("docker compose --verbose up", "--verbose"),
    ("docker compose -p ../x up", "project name"),
    ("docker context use other", "docker context"),
    ("docker events", "docker events"),
    ("docker info", "docker info"),
    ("docker update --memory 8g box", "docker update"),
    ("docker create busybox", "docker create"),
    ("docker stats", "docker stats"),
    ("docker pause box", "docker pause"),
    ("docker port box", "docker port"),
    ("docker secret ls", "docker secret"),
    ("docker trust inspect redis", "docker trust"),
    ("docker buildx build .", "docker buildx"),
    ("docker search redis", "docker search"),
    ("docker history --format x redis", "--format"),
    ("docker version", "docker version"),
    ("docker -H tcp://127.0.0.1:2375 ps", "-H"),
    ("docker --host unix:///var/run/docker.sock ps", "--host"),
    ("docker --context other ps", "--context"),
    ("docker --config /tmp ps", "--config"),
    ("docker -D ps", "-D"),
    # options that would watch or reveal more than the learner's own
    ("docker logs -f box", "-f"),
    ("docker logs --follow box", "--follow"),
    ("docker ps --filter label=docker-tutor.learner=0123456789ab", "--filter"),
    ("docker ps -f label=docker-tutor.managed=1", "-f"),
    ("docker volume ls --filter dangling=true", "--filter"),
    ("docker inspect --type container box", "--type"),
    ("docker stop -t 99999 box", "-t"),
    ("docker restart -t -5 box", "-t"),
    ("docker logs --tail lots box", "--tail"),
    # shell syntax
    ("docker ps; rm -rf /", ";"),
    ("docker ps;id", ";"),
    ("docker ps && id", "&&"),
    ("docker ps || id", "||"),
    ("docker ps | sh", "|"),
    ("docker ps & id", "&"),
    ("docker ps > /etc/passwd", ">"),
    ("docker ps >> /etc/passwd", ">>"),
    ("docker ps < /etc/passwd", "<"),
    ("docker ps 2>&1", ">&"),
    ("docker exec box echo hi > /etc/passwd", ">"),
    ("docker run busybox echo $(id)", "$(...)"),
    ("docker run busybox echo `id`", "`...`"),
    ('docker run busybox echo "$(cat /etc/shadow)"', "$(...)"),
    ("docker run -v $(cat /etc/hostname):/x busybox", "$(...)"),
    ("docker ps $((1+1))", "$(...)"),
    ("docker ps\nid", "several lines"),
    ("docker ps\r\nid", "several lines"),
    ("docker ps\x00", "control character"),
    ("docker run busybox echo \x1b[2J", "control character"),
    ("docker exec box sh -c 'unclosed", "quotes"),
    ("docker " + "x" * 5000, "characters long"),
]


@pytest.mark.parametrize(("text", "fragment"), HOSTILE)
def test_hostile_input_is_refused_before_the_engine(
    world: World, calls: Calls, text: str, fragment: str
) -> None:
    """Each hostile line is refused in one line naming what was wrong, with no engine request."""
    mallory = learner("mallory")
    error = refused(world, mallory, text)
    made = calls()
    TALLY["refusal_inputs"] += 1
    TALLY["refusal_engine_calls"] += sum(made.values())
    assert fragment in error.message, error.message
    assert "\n" not in error.message
    assert sum(made.values()) == 0, made
    logged = world.store.history(mallory, kind="docker")[-1]
    assert logged.exit_status == -1


def test_sudo_is_not_a_way_in(world: World, calls: Calls) -> None:
    """`sudo docker ...` is not a docker command; nothing reaches the engine."""
    with pytest.raises(TutorError):
        say(world, learner("mallory"), "sudo docker run --privileged busybox")
    TALLY["refusal_inputs"] += 1
    TALLY["refusal_engine_calls"] += sum(calls().values())
    assert sum(calls().values()) == 0


# -- symlink tricks in the workspace ---------------------------------------------------------


def test_sub_folder_binds_are_refused_before_the_engine_whatever_links_exist(
    world: World, mocker: MockerFixture
) -> None:
    """Links planted in the workspace change nothing: a sub-folder bind is refused unasked.

    The workspace is a volume in the engine; `-v $(pwd)/sub:/m` is refused with the way to
    do it (`-w`), before any engine request, whether `sub` is a link, a folder or missing.
    """
    eve = learner("eve")
    say(world, eve, "docker run -d --name w -v $(pwd):/app busybox sleep 600")
    say(world, eve, "docker exec w sh -c 'ln -s / /app/escape && ln -s /etc /app/etc2 && "
                    "ln -s ../.. /app/up && ln -s /var/run/docker.sock /app/sock && "
                    "mkdir /app/real && ln -s real /app/link'")
    spies = EngineRequests(mocker)
    for text in [
        "docker run --rm -v $(pwd)/escape:/x busybox ls /x",
        "docker run --rm -v $(pwd)/escape/etc:/x busybox cat /x/shadow",
        "docker run --rm -v ./etc2:/x busybox cat /x/passwd",
        "docker run --rm -v $(pwd)/up:/x busybox ls /x",
        "docker run --rm -v $(pwd)/up/up/etc:/x busybox ls /x",
        "docker run --rm -v $(pwd)/sock:/var/run/docker.sock busybox true",
        "docker run --rm --mount type=bind,source=$(pwd)/escape,target=/x busybox ls /x",
        "docker run --rm --mount type=bind,src=./etc2,dst=/x,readonly busybox ls /x",
        "docker run -d --name c -v $(pwd)/real:/x busybox sleep 600",
        "docker run -d --name c -v $(pwd)/new/deep:/x busybox sleep 600",
    ]:
        error = refused(world, eve, text)
        TALLY["refusal_inputs"] += 1
        assert "only your whole workspace" in error.message and "-w /app/" in error.message
    made = spies()
    TALLY["refusal_engine_calls"] += made
    assert made == 0
    assert not (Path("/etc") / "x").exists()
    listed = say(world, eve, "docker exec w ls /app").text().split()
    assert sorted(listed) == ["escape", "etc2", "link", "real", "sock", "up"]
    say(world, eve, "docker rm -f w")


def test_the_workspace_is_a_volume_in_the_engine_shown_as_the_bind_of_pwd(world: World) -> None:
    """`-v $(pwd):/app` mounts the learner's workspace volume; views show the bind `$(pwd)`."""
    eve = learner("eve")
    started = say(world, eve, "docker run -d --name w -v $(pwd):/app busybox sleep 600")
    assert Event.COMMAND_RAN in started.events and len(started.text().strip()) == 64, started.text()
    ns = world.sandbox.namespace(eve)
    inspected = world.sandbox.client.api.inspect_container(ns.engine_name("w"))
    assert [(m["Type"], m["Name"], m["Destination"]) for m in inspected["Mounts"]] == [
        ("volume", volume_name(ns), "/app")]
    assert not inspected["HostConfig"].get("Binds")
    shown = say(world, eve, "docker inspect -f '{{json .Mounts}}' w").text()
    assert '"Type":"bind"' in shown and '"Source":"$(pwd)"' in shown, shown  # Go's compact JSON
    assert ns.learner not in shown and "workspace" not in shown
    view = world.sandbox.container(eve, "w")
    assert view is not None and [(m.kind, m.target) for m in view.mounts] == [("bind", "/app")]
    say(world, eve, "edit notes.txt hello from the host")
    assert say(world, eve, "docker exec w cat /app/notes.txt").text().strip() == "hello from the host"
    say(world, eve, "docker exec w sh -c 'echo from the container > /app/back.txt'")
    assert world.sandbox.read_workspace_file(eve, "back.txt") == "from the container\n"
    # The whole wired path touches no host file: `edit`, a `run` that mounts the
    # workspace, an exec and a check's read (an audit hook watches this thread).
    say(world, eve, "docker ps")  # imports and connections happen before the watch
    watch = HostFileWatch.get()
    watch.armed_thread = threading.get_ident()
    Path(__file__).read_bytes()  # the control: the watch sees a host file being opened
    watch.armed_thread = None
    assert [event for event, _ in watch.seen] == ["open"]
    watch.seen.clear()
    watch.armed_thread = threading.get_ident()
    try:
        world.sandbox.write_workspace_file(eve, "d/e/watched.txt", "watched")
        for line in ("docker run --rm -v $(pwd):/m busybox cat /m/d/e/watched.txt",
                     "docker exec w ls -R /app", "docker start w", "docker restart -t 0 w"):
            world.sandbox.run_command(eve, parse(line))
        assert world.sandbox.read_workspace_file(eve, "d/e/watched.txt") == "watched\n"
    finally:
        watch.armed_thread = None
    assert watch.seen == []
    # A second container sees the same workspace, read-only if asked.
    ro = say(world, eve, "docker run --rm -v $(pwd):/ro:ro busybox sh -c "
                         "'cat /ro/notes.txt; touch /ro/x'").text()
    assert "hello from the host" in ro and "Read-only file system" in ro, ro
    say(world, eve, "docker rm -f w")


# -- isolation between learners --------------------------------------------------------------


@dataclass
class Victim:
    """Alice's objects, which Mallory probes."""

    person: Person
    ids: dict[str, str]
    engine_names: list[str]
    secrets: list[str]


@pytest.fixture(scope="module")
def alice(world: World) -> Victim:
    """Alice with a Redis holding a key, a busybox with her workspace, and a volume."""
    person = learner("alice")
    say(world, person, "docker run -d --name redis-1 -v data:/data redis")
    say(world, person, "docker run -d --name box -v $(pwd):/app busybox sleep 600")
    say(world, person, "docker volume create keep")
    say(world, person, "docker exec box sh -c 'echo alice-secret > /app/secret.txt'")
    for _ in range(40):
        if "OK" in say(world, person, "docker exec redis-1 redis-cli set k alice").text():
            break
    ns = world.sandbox.namespace(person)
    ids = {v.name: v.id for v in world.sandbox.containers(person)}
    engine = [ns.engine_name(n) for n in ("redis-1", "box", "data", "keep")]
    return Victim(person, ids, engine, [ns.learner, *ids.values(), *engine])


def alice_untouched(world: World, victim: Victim) -> None:
    """Alice's containers run with the same ids, her volumes and data are there."""
    views = {v.name: v for v in world.sandbox.containers(victim.person)}
    assert {n: v.id for n, v in views.items()} == victim.ids
    assert all(v.running for v in views.values())
    assert {v.name for v in world.sandbox.volumes(victim.person)} >= {"data", "keep"}
    assert world.sandbox.redis_get(victim.person, "redis-1", "k") == (True, "alice")
    assert world.sandbox.read_workspace_file(victim.person, "secret.txt") == "alice-secret\n"


def probe_refs(victim: Victim) -> list[str]:
    """Every way Mallory might name one of Alice's objects."""
    full = victim.ids["redis-1"]
    ns_hash = victim.secrets[0]
    return [
        "redis-1", "box", "data", "keep", full, full[:12], full[:4], full[:1],
        *victim.engine_names, "/" + victim.engine_names[0],
        f"docker-tutor.learner={ns_hash}", ns_hash, "*", ".", "..",
        *"0123456789abcdef",
    ]


VERBS = [
    "docker rm -f {}", "docker rm {}", "docker stop -t 0 {}", "docker start {}",
    "docker restart -t 0 {}", "docker logs {}", "docker exec {} cat /app/secret.txt",
    "docker exec -u 0 {} redis-cli get k", "docker inspect {}", "docker container inspect {}",
    "docker volume rm {}", "docker volume rm -f {}", "docker volume inspect {}",
    "docker kill {}", "docker kill -s HUP {}", "docker rename {} stolen", "docker diff {}",
    "docker top {}", "docker inspect -f '{{{{json .}}}}' {}",
]


def test_another_learner_can_do_nothing_to_alices_objects(
    world: World, alice: Victim, calls: Calls
) -> None:
    """By name, id, id prefix, engine name or label, every verb answers as if nothing existed."""
    mallory = learner("mallory")
    hidden = [s for s in alice.secrets if len(s) > 4]
    probes = 0
    for ref in probe_refs(alice):
        for verb in VERBS:
            text = verb.format(ref)
            try:
                output = say(world, mallory, text).text()
            except CommandRefused as error:
                output = error.message
            probes += 1
            visible = output.replace(ref, "<ref>")
            assert not any(secret in visible for secret in hidden), (text, output)
            assert "alice" not in visible, (text, output)
            assert ("No such" in output or "no such" in output or "Invalid" in output
                    or output == "" or verb.startswith("docker volume rm -f")), (text, output)
    for text in ("docker ps -a", "docker ps -aq --no-trunc", "docker volume ls",
                 "docker volume ls -q", "docker volume prune -a -f", "docker images",
                 "docker container prune -f", "docker ps -a --format '{{json .}}'",
                 "docker ps -a --format '{{.Labels}} {{.Mounts}} {{.Names}}'"):
        output = say(world, mallory, text).text()
        probes += 1
        assert not any(secret in output for secret in hidden), (text, output)
    made = calls()
    TALLY["isolation_probes"] += probes
    TALLY["isolation_mutating_calls"] += sum(made.get(m, 0) for m in MUTATING)
    assert sum(made.get(m, 0) for m in MUTATING) == 0, made
    assert made.get("GET", 0) > 0  # the probes did read the engine: the spy sees what they send
    alice_untouched(world, alice)


def test_names_that_imitate_another_learner_stay_in_their_own_namespace(
    world: World, alice: Victim
) -> None:
    """Mallory naming her objects after Alice's engine names only ever touches her own."""
    mallory = learner("mallory")
    forged = alice.engine_names[0]
    say(world, mallory, f"docker run -d --name {forged} busybox sleep 600")
    say(world, mallory, "docker run -d --name redis-1 busybox sleep 600")
    say(world, mallory, f"docker volume create {alice.engine_names[2]}")
    say(world, mallory, f"docker run --rm -v {alice.engine_names[3]}:/x busybox ls /x")
    mine = {v.name for v in world.sandbox.containers(mallory)}
    assert mine == {forged, "redis-1"}
    say(world, mallory, f"docker rm -f {forged} redis-1")
    say(world, mallory, f"docker volume rm {alice.engine_names[2]} {alice.engine_names[3]}")
    TALLY["isolation_probes"] += 6
    assert world.sandbox.containers(mallory) == []
    alice_untouched(world, alice)


def test_reset_removes_only_the_learners_own_objects(world: World, alice: Victim) -> None:
    """`reset` by another learner removes their objects and none of Alice's."""
    mallory = learner("mallory")
    say(world, mallory, "docker run -d --name redis-1 -v data:/data redis")
    reply = say(world, mallory, "reset")
    assert "removed 1 container(s)" in reply.text().lower()
    assert world.sandbox.containers(mallory) == [] and world.sandbox.volumes(mallory) == []
    alice_untouched(world, alice)


def test_engine_errors_never_show_engine_names_or_host_paths(world: World, alice: Victim) -> None:
    """An engine error shows the learner's own names, never a hash, engine name or host path."""
    trudy = learner("trudy")
    say(world, trudy, "docker run -d --name f busybox true")
    say(world, trudy, "edit file x")
    outputs = [
        say(world, trudy, "docker run --rm -v $(pwd):/etc/passwd busybox true").text(),
        say(world, trudy, "docker run --rm -w /etc/passwd busybox true").text(),
        say(world, trudy, "docker run --name f busybox true").text(),
    ]
    ns = world.sandbox.namespace(trudy)
    alice_ws = volume_name(world.sandbox.namespace(alice.person))
    rewritten = world.sandbox._rewrite(
        ns, f"conflict with {alice.engine_names[0]} at /var/lib/docker/volumes/{alice_ws}/_data"
            f"/x, {volume_name(ns)} and /var/lib/docker/overlay2/{'a' * 64}/merged/etc")
    assert rewritten.count("$(pwd)") == 2, rewritten
    for text in [*outputs, rewritten]:
        assert ns.learner not in text and alice.secrets[0] not in text
        assert "workspace" not in text
        assert "/var/lib/docker" not in text
    assert "Error response from daemon" in outputs[0]
    assert 'The container name "/f" is already in use' in outputs[2]
    say(world, trudy, "docker rm -f f")


# -- accepted, but still inside the policy --------------------------------------------------


ACCEPTED = [
    "docker run -d --name u0 -u 0 busybox sleep 600",
    "docker run -d --name ent --entrypoint sh busybox -c 'sleep 600'",
    "docker run -d --name wd -w /tmp -h myhost -e A=1 --network none busybox sleep 600",
    "docker run -d --name tm --tmpfs /t:size=48m --mount type=tmpfs,target=/u busybox sleep 600",
    "docker run -d --name bnd -v $(pwd):/app --mount type=bind,source=.,target=/ro,readonly "
    "busybox sleep 600",
    "docker run -d --name rds -v data:/data redis --appendonly yes",
]


def test_accepted_tricky_commands_stay_confined_inside_the_kernel(world: World) -> None:
    """Root, a new entrypoint and big tmpfs are allowed; the kernel still shows the limits."""
    grace = learner("grace")
    for text in ACCEPTED:
        say(world, grace, text)
    status = say(world, grace, "docker exec -u 0 u0 cat /proc/self/status").text()
    allowed = sum(1 << bit for bit in (0, 1, 3, 4, 5, 6, 7))  # CHOWN..SETUID (no 2: DAC_READ)
    cap_eff = int(re.search(r"CapEff:\s*([0-9a-f]+)", status).group(1), 16)  # type: ignore[union-attr]
    assert cap_eff & ~allowed == 0, hex(cap_eff)
    assert re.search(r"NoNewPrivs:\s*1", status)
    net = say(world, grace, "docker exec wd cat /proc/net/dev").text()
    assert "lo:" in net and "eth0" not in net
    cgroup = say(world, grace, "docker exec ent cat /sys/fs/cgroup/pids/pids.max "
                               "/sys/fs/cgroup/memory/memory.limit_in_bytes").text()
    assert "128" in cgroup and str(256 * 2**20) in cgroup
    mounted = say(world, grace, "docker exec tm cat /proc/mounts").text()
    assert re.search(r" /t tmpfs \S*size=49152k", mounted)
    assert re.search(r" /u tmpfs \S*size=16384k", mounted)
    with pytest.raises(QuotaExceeded, match="6 containers"):
        say(world, grace, "docker run -d --name seventh busybox sleep 1")


def test_quota_refusal_creates_nothing(world: World, mocker: MockerFixture) -> None:
    """Past the container quota the tutor refuses with a reason, before creating anything."""
    quinn = learner("quinn")
    for i in range(6):
        say(world, quinn, f"docker run -d --name q{i} busybox sleep 600")
    spies = EngineRequests(mocker)
    with pytest.raises(QuotaExceeded, match="6 containers"):
        say(world, quinn, "docker run -d --name q6 -v fresh:/x busybox sleep 600")
    assert spies.mutating() == 0
    assert len(world.sandbox.containers(quinn)) == 6
    assert world.sandbox.volumes(quinn) == []


# -- the audit -------------------------------------------------------------------------------


def test_zz_audit_every_container_under_the_namespace_holds_the_policy(
    world: World, docker_client: docker.DockerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """After every hostile input, no container of the namespace breaks a rule of the policy."""
    prefix = world.settings.namespace
    containers = docker_client.containers.list(
        all=True, filters={"label": [f"{LABEL_NAMESPACE}={prefix}"]})
    assert len(containers) >= 12  # Alice's, Grace's accepted tricks, the quota learner's
    limits = world.settings.limits
    for container in containers:
        host = container.attrs["HostConfig"]
        name = container.name
        assert host["Privileged"] is False, name
        assert host["NetworkMode"] == "none", name
        assert not host.get("PortBindings") and not host.get("PublishAllPorts"), name
        assert host["Memory"] == limits.memory_bytes == host["MemorySwap"], name
        assert host["PidsLimit"] == limits.pids and host["NanoCpus"] == limits.nano_cpus, name
        assert host["CapDrop"] == ["ALL"] and set(host["CapAdd"]) <= set(CAPABILITIES), name
        assert "no-new-privileges" in host["SecurityOpt"], name
        assert host["IpcMode"] == "private" and host["PidMode"] == "", name
        assert host["CgroupnsMode"] == "private", name
        assert host["UTSMode"] == "" and host["UsernsMode"] == "", name
        assert host["CgroupParent"] == "" and not host.get("Devices"), name
        assert host["RestartPolicy"]["Name"] in ("", "no"), name
        assert not host.get("VolumesFrom") and not host.get("Ulimits"), name
        assert not host.get("Binds"), name
        for mount in container.attrs["Mounts"]:
            assert mount["Type"] in ("volume", "tmpfs"), (name, mount)  # no host path at all
        for tmpfs in (host.get("Tmpfs") or {}).values():
            size = int(re.search(r"size=(\d+)", tmpfs).group(1))  # type: ignore[union-attr]
            assert size <= 64 * 2**20, (name, tmpfs)
    assert TALLY["refusal_engine_calls"] == 0
    assert TALLY["isolation_mutating_calls"] == 0
    with capsys.disabled():
        print(f"\nhostile-input tally: {TALLY}; containers audited: {len(containers)}")
