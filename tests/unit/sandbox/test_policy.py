"""The sandbox policy without the engine: parser refusals, mount rules, value checks.

Every test here is pure (no Docker engine): the rules that refuse a command are
decided before anything is sent to the engine, so they can be proved on their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_mock import MockerFixture

from bot.config import Limits, Settings
from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.sandbox import VERBS, Sandbox, check_verbs
from bot.sandbox.policy import mounts
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.parser import WORKSPACE, parse, tokenize
from bot.sandbox.policy.verbs import VERB_OPTIONS
from bot.sandbox.resources.run import CAPABILITIES

ALLOWED = frozenset({"redis", "busybox"})


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    """A sandbox whose engine is never contacted (vetting only)."""
    settings = Settings(database_url="sqlite://", namespace="pure")
    return Sandbox(settings, allowed_images=ALLOWED)


@pytest.fixture
def person() -> Person:
    """A learner for vetting."""
    return Person("console", "vetted")


def refusal(text: str) -> CommandRefused:
    """The refusal the parser raises for ``text``."""
    with pytest.raises(CommandRefused) as caught:
        parse(text)
    return caught.value


# -- host access -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("docker run --privileged busybox", "--privileged"),
        ("docker run --privileged=true busybox", "--privileged"),
        ("docker run --cap-add SYS_ADMIN busybox", "--cap-add"),
        ("docker run --cap-add=ALL busybox", "--cap-add"),
        ("docker run --device /dev/sda busybox", "--device"),
        ("docker run --device-cgroup-rule 'a *:* rwm' busybox", "--device-cgroup-rule"),
        ("docker run --security-opt seccomp=unconfined busybox", "--security-opt"),
        ("docker run --security-opt apparmor=unconfined busybox", "--security-opt"),
        ("docker run --pid host busybox", "--pid"),
        ("docker run --pid=container:x busybox", "--pid"),
        ("docker run --ipc host busybox", "--ipc"),
        ("docker run --uts host busybox", "--uts"),
        ("docker run --userns host busybox", "--userns"),
        ("docker run --cgroupns host busybox", "--cgroupns"),
        ("docker run --cgroup-parent / busybox", "--cgroup-parent"),
        ("docker run --ulimit nofile=1048576 busybox", "--ulimit"),
        ("docker run --volumes-from other busybox", "--volumes-from"),
        ("docker run --sysctl kernel.shmmax=1 busybox", "--sysctl"),
        ("docker run --runtime runc busybox", "--runtime"),
        ("docker run --group-add 0 busybox", "--group-add"),
        ("docker run --env-file /etc/shadow busybox", "--env-file"),
        ("docker run --cidfile /tmp/x busybox", "--cidfile"),
        ("docker run --label docker-tutor.learner=x busybox", "--label"),
        ("docker run -l docker-tutor.managed=1 busybox", "-l"),
        ("docker run --gpus all busybox", "--gpus"),
        ("docker exec --privileged r sh", "--privileged"),
        ("docker exec --env-file /etc/passwd r env", "--env-file"),
    ],
)
def test_host_access_options_are_refused_by_name(text: str, option: str) -> None:
    """Each option that could reach the host is refused in one line that names it."""
    refused = refusal(text)
    assert option in refused.message
    assert "\n" not in refused.message


@pytest.mark.parametrize(
    "text",
    [
        "docker run -p 6379:6379 redis",
        "docker run -p6379:6379 redis",
        "docker run --publish 80:80 busybox",
        "docker run -P redis",
        "docker run --publish-all redis",
        "docker run -dp 80:80 busybox",
        "docker run --add-host x:1.2.3.4 busybox",
        "docker run --dns 8.8.8.8 busybox",
        "docker run --link other busybox",
        "docker run --expose 80 busybox",
    ],
)
def test_network_options_are_refused_and_explain_there_is_no_network(text: str) -> None:
    """Port publishing and every network but `none` are refused with the no-network reason."""
    assert "no network" in refusal(text).message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("docker run --network host busybox", "share the host's network"),
        ("docker run --net=host busybox", "share the host's network"),
        ("docker run --network bridge busybox", "shared by everyone"),
        ("docker run --network container:abc busybox", "never share a network namespace"),
        ("docker run --network default busybox", "create your own network"),
        ("docker run --network ../x busybox", "Invalid network name"),
        ("docker network create -d overlay web", "use the `bridge` driver"),
        ("docker network create host", "share the host's network"),
    ],
)
def test_engine_wide_networks_are_refused_with_their_reason(text: str, reason: str) -> None:
    """Host, the shared bridge, another container's namespace and other drivers are refused."""
    from bot.sandbox.engine.client import SandboxBase

    with pytest.raises(CommandRefused) as caught:
        SandboxBase(Settings(database_url="sqlite://")).vet(Person("console", "ada"), parse(text))
    assert reason in caught.value.message


def test_a_learners_own_network_and_aliases_are_accepted() -> None:
    """`--network NAME --network-alias db` parses; an alias without a network is refused."""
    from bot.sandbox.engine.client import SandboxBase

    base = SandboxBase(Settings(database_url="sqlite://"))
    ada = Person("console", "ada")
    plan = base.vet(ada, parse("docker run -d --network app --network-alias db redis"))
    assert plan.network == "app" and plan.aliases == ["db"]
    with pytest.raises(CommandRefused) as caught:
        base.vet(ada, parse("docker run -d --network-alias db redis"))
    assert "needs `--network NAME`" in caught.value.message
    assert parse("docker network connect --alias cache app redis-1").verb == "network connect"
    assert parse("docker network list").verb == "network ls"


def test_network_none_is_accepted() -> None:
    """`--network none` is what the sandbox does anyway, so it is accepted."""
    assert parse("docker run --network none busybox true").value("network") == "none"


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("docker run --memory 8g busybox", "--memory"),
        ("docker run -m 8g busybox", "-m"),
        ("docker run --cpus 4 busybox", "--cpus"),
        ("docker run --pids-limit -1 busybox", "--pids-limit"),
        ("docker run --memory-swap -1 busybox", "--memory-swap"),
        ("docker run --oom-kill-disable busybox", "--oom-kill-disable"),
        ("docker run --shm-size 8g busybox", "--shm-size"),
        ("docker run --storage-opt size=100G busybox", "--storage-opt"),
        ("docker run --cpuset-cpus 0-1 busybox", "--cpuset-cpus"),
        ("docker run --log-opt max-size=10g busybox", "--log-opt"),
    ],
)
def test_limit_options_are_refused(text: str, option: str) -> None:
    """A learner cannot change the limits the sandbox sets."""
    assert option in refusal(text).message


# -- verbs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("docker buildx build .", "buildx"),
        ("docker pull alpine", "pull"),
        ("docker push redis", "push"),
        ("docker login", "login"),
        ("docker system prune -af", "system"),
        ("docker swarm init", "swarm"),
        ("docker plugin install x", "plugin"),
        ("docker cp r:/etc/passwd /tmp/x", "cp"),
        ("docker cp /etc/passwd r:/x", "cp"),
        ("docker container cp r:/x /tmp", "cp"),
        ("docker image save redis", "save"),
        ("docker image pull alpine", "pull"),
        ("docker builder prune -f", "builder"),
        ("docker system prune -f", "system"),
        ("docker image push redis", "push"),
        ("docker commit r evil", "commit"),
        ("docker save redis", "save"),
        ("docker export r", "export"),
        ("docker update --memory 8g r", "update"),
        ("docker pause r", "pause"),
        ("docker container attach r", "attach"),
        ("docker events", "events"),
        ("docker info", "info"),
        ("docker compose push", "push"),
        ("docker context use x", "context"),
        ("docker frobnicate", "frobnicate"),
    ],
)
def test_verbs_off_the_allow_list_are_refused(text: str, verb: str) -> None:
    """Every verb not on the allow-list is refused with a reason naming it."""
    refused = refusal(text)
    assert f"docker {verb}" in refused.message or f"`{verb}`" in refused.message


def test_every_allowed_verb_has_exactly_one_handler(mocker: MockerFixture) -> None:
    """The verb table covers the parser's allow-list exactly, and a gap fails loudly."""
    assert set(VERBS) == set(VERB_OPTIONS)
    for verb, handler in VERBS.items():
        assert callable(handler), verb
        assert handler.__name__ == "_do_" + verb.replace(" ", "_")
    mocker.patch.dict(VERB_OPTIONS, {"volume frob": ()})
    with pytest.raises(ImportError, match="volume frob"):
        check_verbs()


def test_sandbox_is_exported_by_the_package() -> None:
    """``from bot.sandbox import Sandbox`` gives the composed sandbox."""
    from bot.sandbox import Sandbox as Exported

    assert Exported is Sandbox


@pytest.mark.parametrize("text", ["docker -H tcp://10.0.0.1 ps", "docker --host unix:///x ps",
                                  "docker --context x ps", "docker --config /tmp ps"])
def test_global_docker_options_are_refused(text: str) -> None:
    """Options before the verb (another engine, another config) are refused."""
    assert refusal(text).option.startswith("-")


# -- shell syntax ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "docker ps; rm -rf /",
        "docker ps && id",
        "docker ps || id",
        "docker ps | sh",
        "docker ps & id",
        "docker ps > /etc/passwd",
        "docker ps < /etc/passwd",
        "docker ps 2>&1",
        "docker ps #; id",
        "docker run busybox echo $(id)",
        "docker run busybox echo `id`",
        'docker run busybox echo "$(id)"',
        "docker run -v $(cat /etc/hostname):/x busybox",
        "docker ps $((1+1))",
        "docker ps\nid",
        "docker ps\x00",
        "docker ps\x1b[2J",
    ],
)
def test_shell_syntax_is_refused_and_never_run(text: str) -> None:
    """Operators, command substitution, several lines and control characters are refused."""
    refusal(text)


def test_substitution_in_single_quotes_is_text_for_the_container() -> None:
    """`$(...)` in single quotes is passed, as text, to the container's own shell."""
    command = parse("docker exec r sh -c 'echo $(hostname) $PWD'")
    assert command.args == ["r", "sh", "-c", "echo $(hostname) $PWD"]


def test_workspace_shorthand_outside_mounts_is_plain_text() -> None:
    """`$(pwd)` outside `-v`/`--mount` reaches the container as the text `$(pwd)`."""
    command = parse("docker run -e W=$(pwd) busybox echo $(pwd)")
    assert command.args == ["busybox", "echo", "$(pwd)"]
    assert command.values("env") == ["W=$(pwd)"]
    assert WORKSPACE not in command.text


def test_line_continuation_joins_lines() -> None:
    """A backslash before a newline continues the command, as in a shell."""
    assert tokenize("docker run \\\n -d busybox") == ["docker", "run", "-d", "busybox"]


def test_overlong_commands_are_refused() -> None:
    """A command line longer than the sandbox reads is refused, not parsed."""
    refusal("docker ps " + "a" * 5000)


# -- mounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "/:/host",
        "/etc:/etc",
        "/var/run/docker.sock:/var/run/docker.sock",
        "/root/.ssh:/x:ro",
        "~:/x",
        "~/.ssh:/x",
        "..:/x",
        "../x:/x",
        f"{WORKSPACE}/..:/x",
        f"{WORKSPACE}/../other:/x",
        f"{WORKSPACE}/a/../../x:/x",
        "./../..:/x",
        f"{WORKSPACE}x:/y",
        "relative/path:/x",
        "$HOME:/x",
        "v:/proc",
        "v:/sys/kernel",
        "v:/dev",
        "v:/",
        "v:relative",
        "v:/x:rshared",
    ],
)
def test_volume_flags_outside_the_workspace_are_refused(spec: str) -> None:
    """`-v` of any host path outside the workspace, or onto a system folder, is refused."""
    with pytest.raises(CommandRefused):
        mounts.parse_volume_flag(spec)


@pytest.mark.parametrize(
    "spec",
    [
        "type=bind,source=/etc,target=/etc",
        "type=bind,src=/,dst=/host",
        "type=bind,source=/var/run/docker.sock,target=/s",
        f"type=bind,source={WORKSPACE}/..,target=/x",
        "type=bind,target=/x",
        "type=bind,source=.,target=/x,bind-propagation=rshared",
        "type=volume,source=v,target=/x,volume-opt=device=/etc",
        "type=volume,source=v,target=/x,volume-driver=local",
        "type=npipe,source=x,target=/x",
        "type=tmpfs,target=/t,tmpfs-size=1g",
        "type=tmpfs,source=x,target=/t",
        "type=volume,source=v",
    ],
)
def test_mount_flags_outside_the_rules_are_refused(spec: str) -> None:
    """`--mount` binds of host paths, driver options and oversized tmpfs are refused."""
    with pytest.raises(CommandRefused):
        mounts.parse_mount_flag(spec)


@pytest.mark.parametrize("spec", ["/t:size=10g", "/t:size=0", "/t:size=65m", "/t:size=x",
                                  "/t:suid", "/proc", "/dev/shm"])
def test_tmpfs_flags_past_the_caps_are_refused(spec: str) -> None:
    """`--tmpfs` larger than 64 MiB, of zero size, with odd options or on system folders is refused."""
    with pytest.raises(CommandRefused):
        mounts.parse_tmpfs_flag(spec)


def test_tmpfs_sizes_add_up_against_one_cap() -> None:
    """Two tmpfs of 40 MiB each exceed the 64 MiB a container may have in all."""
    with pytest.raises(CommandRefused, match="64 MiB"):
        mounts.requested_mounts([], [], ["/a:size=40m", "/b:size=40m"])
    accepted = mounts.requested_mounts([], ["type=tmpfs,target=/c,tmpfs-size=32m"], ["/a:size=32m"])
    assert sum(m.tmpfs_size for m in accepted) == 64 * 2**20


def test_too_many_mounts_are_refused() -> None:
    """More than eight mounts in one run are refused."""
    with pytest.raises(CommandRefused, match="at most 8"):
        mounts.requested_mounts([f"v{i}:/d{i}" for i in range(9)], [], [])


def test_workspace_binds_are_accepted() -> None:
    """`$(pwd)`, `.` and sub-folders of them are binds inside the workspace."""
    assert mounts.parse_volume_flag(f"{WORKSPACE}:/app") == mounts.MountRequest("bind", "", "/app")
    assert mounts.parse_volume_flag("./src:/app:ro").source == "src"
    assert mounts.parse_mount_flag(f"type=bind,source={WORKSPACE}/a/./b,target=/x").source == "a/b"


def test_sub_folder_binds_are_refused_with_the_way_to_do_it_before_the_engine(
    box: Sandbox, person: Person
) -> None:
    """`-v $(pwd)/sub`, `./sub`, `--mount ...src=./sub` are refused by vetting, naming `-w`.

    The workspace is a volume in the engine: no host path is resolved, so a link planted
    in it (`escape -> /`) cannot matter; only the whole workspace is mounted.
    """
    for spec in ("-v $(pwd)/escape:/x", "-v $(pwd)/escape/etc:/x", "-v ./etc2:/x:ro",
                 "-v $(pwd)/up/up:/x", "--mount type=bind,source=$(pwd)/a,target=/x",
                 "--mount type=bind,src=./new/deep,dst=/x"):
        with pytest.raises(CommandRefused, match="only your whole workspace") as caught:
            box.vet(person, parse(f"docker run {spec} busybox true"))
        assert "-w /app/" in caught.value.message
    plan = box.vet(person, parse("docker run -v $(pwd):/app -v .:/ro:ro busybox true"))
    assert [(m.kind, m.source, m.target, m.read_only) for m in plan.mounts] == [
        ("bind", "", "/app", False), ("bind", "", "/ro", True)]
    assert box._client is None  # vetting never opened an engine connection


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    ["alpine", "ubuntu:22.04", "docker.io/library/alpine", "evil/redis", "registry.example.com/redis",
     "localhost:5000/redis", "redis@sha256:" + "a" * 64, "redis:../../containers/create", "REDIS",
     "redis:", "busybox:-x", ""],
)
def test_images_the_lesson_does_not_use_are_refused(ref: str) -> None:
    """Only the lesson's images, by plain name and tag, may be run."""
    with pytest.raises(CommandRefused):
        option_values.check_image(ref, ALLOWED)


def test_lesson_images_are_accepted_in_their_usual_spellings() -> None:
    """`redis`, `redis:7` and `docker.io/library/redis` all mean the lesson's redis."""
    assert option_values.check_image("redis", ALLOWED) == ("redis", "redis:latest")
    assert option_values.check_image("redis:7", ALLOWED) == ("redis", "redis:7")
    assert option_values.check_image("docker.io/library/busybox", ALLOWED) == ("busybox", "busybox:latest")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (option_values.check_user, "root;id"),
        (option_values.check_user, "a b"),
        (option_values.check_user, "../x"),
        (option_values.check_workdir, "relative"),
        (option_values.check_workdir, "/" + "a" * 300),
        (option_values.check_hostname, "bad host"),
        (option_values.check_hostname, "-x"),
        (option_values.check_entrypoint, "  "),
    ],
)
def test_malformed_values_are_refused(check: object, value: str) -> None:
    """`-u`, `-w`, `-h` and `--entrypoint` values are checked before the engine sees them."""
    assert callable(check)
    with pytest.raises(CommandRefused):
        check(value)


def test_env_items_copy_nothing_from_the_host() -> None:
    """`-e NAME` (copy from the host) and malformed names are refused; `-e A=1` is fine."""
    assert option_values.check_env(["A=1", "B="]) == ["A=1", "B="]
    for bad in (["HOME"], ["A B=1"], ["=x"], [f"V{i}=1" for i in range(65)]):
        with pytest.raises(CommandRefused):
            option_values.check_env(bad)


def test_stop_time_and_log_tail_are_checked() -> None:
    """`-t` must be 0..60 seconds; `--tail` a number of lines or `all`."""
    assert option_values.check_seconds("5", 10) == 5
    for bad in ("61", "-1", "x"):
        with pytest.raises(CommandRefused):
            option_values.check_seconds(bad, 10)
    assert option_values.check_tail("3") == 3
    assert option_values.check_tail("all") == "all"
    with pytest.raises(CommandRefused):
        option_values.check_tail("many")


def test_vet_refuses_before_the_engine_and_plans_accepted_runs(
    box: Sandbox, person: Person
) -> None:
    """Vetting refuses bad values and plans a run with the workspace and a tmpfs."""
    with pytest.raises(CommandRefused):
        box.vet(person, parse("docker run -u 'x y' busybox"))
    plan = box.vet(person, parse("docker run -u 0 -w /app -h web --entrypoint sh "
                                 "-v $(pwd):/app --tmpfs /t:size=1m busybox -c true"))
    assert [(m.kind, m.source, m.target) for m in plan.mounts] == [
        ("bind", "", "/app"), ("tmpfs", "", "/t")]
    assert (plan.user, plan.workdir, plan.hostname, plan.entrypoint) == ("0", "/app", "web", ["sh"])
    assert box._client is None  # vetting never opened an engine connection


def test_host_settings_of_every_container_hold_the_policy(box: Sandbox) -> None:
    """The host settings given to every learner container are the policy's, with the limits."""
    limits = Limits()
    host = box._host_limits()
    assert host["privileged"] is False and host["network_mode"] == "none"
    assert host["cap_drop"] == ["ALL"] and set(host["cap_add"]) <= set(CAPABILITIES)
    assert "no-new-privileges" in host["security_opt"]
    assert host["ipc_mode"] == "private" and host["restart_policy"] == {"Name": "no"}
    assert host["pids_limit"] == box.limits.pids and host["nano_cpus"] == box.limits.nano_cpus
    assert host["mem_limit"] == host["memswap_limit"] == box.limits.memory_bytes
    assert (limits.memory_bytes, limits.pids, limits.nano_cpus) == (256 * 2**20, 128, 500_000_000)
    assert (limits.max_containers, limits.max_volumes) == (6, 6)


def test_settings_read_the_housekeeping_limits_from_the_environment() -> None:
    """The idle limits and the reap interval have class defaults and environment overrides."""
    defaults = Settings.from_env({}).limits
    assert (defaults.idle_containers_minutes, defaults.idle_volumes_hours) == (120.0, 72.0)
    changed = Settings.from_env({"TUTOR_IDLE_CONTAINERS_MINUTES": "30",
                                 "TUTOR_IDLE_VOLUMES_HOURS": "1.5",
                                 "TUTOR_REAP_INTERVAL_SECONDS": "60"}).limits
    assert (changed.idle_containers_minutes, changed.idle_volumes_hours,
            changed.reap_interval_seconds) == (30.0, 1.5, 60.0)


# -- nested mounts ------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [
    "-v $(pwd):/app --tmpfs /app/psys/kernel",
    "-v $(pwd):/app -v vol:/app/pdev/shm",
    "-v $(pwd):/app -v /app/anon",
    "--mount type=bind,src=.,dst=/app --mount type=tmpfs,dst=/app/x",
    "--mount type=volume,src=v,dst=/v --mount type=bind,src=.,dst=/v/ws",
    "--tmpfs /t -v $(pwd):/t/ws:ro",
    "-v vol:/data -v other:/data/sub",
    "-v vol:/data/ -v other://data//sub/",
    "--tmpfs /a --tmpfs /a/b/c",
])
def test_a_mount_inside_another_mount_is_refused(flags: str) -> None:
    """No mount target is at or under another's: a link planted in one cannot move the other."""
    command = parse(f"docker run {flags} busybox true")
    with pytest.raises(CommandRefused, match="would be inside") as caught:
        mounts.requested_mounts(command.values("volume"), command.values("mount"),
                                command.values("tmpfs"))
    assert "\n" not in caught.value.message


def test_mounts_side_by_side_and_image_volumes_are_checked_together() -> None:
    """Siblings and lookalike prefixes are fine; a mount inside an image's volume is not."""
    command = parse("docker run -v $(pwd):/app --tmpfs /app2 -v vol:/data-x -v /a/b busybox")
    wanted = mounts.requested_mounts(command.values("volume"), [], command.values("tmpfs"))
    assert [w.target for w in wanted] == ["/app", "/data-x", "/a/b", "/app2"]
    mounts.check_nesting(wanted, declared=["/data"])
    mounts.check_nesting(wanted, declared=["/app"])  # covered by the learner's own mount
    with pytest.raises(CommandRefused, match="the image's volume /a"):
        mounts.check_nesting(wanted, declared=["/a"])
    inner = mounts.requested_mounts(["vol:/data/x"], [], [])
    with pytest.raises(CommandRefused, match="image's volume /data"):
        mounts.check_nesting(inner, declared=["/data/"])


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("dcoker ps", "docker ps"),
        ("docker sp", "docker ps"),
        ("docker sp -a", "docker ps -a"),
        ("docker volumes ls", "docker volume ls"),
        ("docker volume lss", "docker volume ls"),
        ("docker contaner ls", "docker container ls"),
        ("docker exce redis-1 ls", "docker exec redis-1 ls"),
        ("docker isnpect redis-1", "docker inspect redis-1"),
    ],
)
def test_misspelt_verbs_get_a_did_you_mean(text: str, meant: str) -> None:
    """A verb one slip away from an allowed one is named with the whole corrected line."""
    refused = refusal(text)
    assert f"Did you mean `{meant}`?" in refused.message
    assert "\n" not in refused.message


def test_unknown_words_far_from_any_verb_get_the_list_instead() -> None:
    """No guess for a word that resembles nothing: the verbs available are listed."""
    refused = refusal("docker frobnicate")
    assert "Did you mean" not in refused.message and "You can use" in refused.message


@pytest.mark.parametrize(
    "text",
    [
        "docker exec -it redis-1 redis-cli",
        "docker exec -it redis-1 sh",
        "docker exec -it redis-1 bash",
        "docker exec -it redis-1 /bin/sh",
        "docker exec -i redis-1 ash",
        "docker container exec -it box python3",
    ],
)
def test_exec_of_an_interactive_program_is_refused_at_once(text: str) -> None:
    """`exec -it NAME sh` would wait for typing: refused with a one-command suggestion."""
    refused = refusal(text)
    assert "no interactive terminal" in refused.message and "docker exec" in refused.message
    assert "\n" not in refused.message


def test_exec_it_of_a_command_runs_as_exec_t() -> None:
    """`exec -it NAME redis-cli get k` and `exec -t NAME sh` (no -i) are accepted."""
    assert parse("docker exec -it redis-1 redis-cli get k").flag("tty")
    assert parse("docker exec -t redis-1 sh").args == ["redis-1", "sh"]


def test_the_new_verbs_parse_with_their_options() -> None:
    """Kill -s, rename, diff, top, container prune -f, ps --format/--filter/-n/-l."""
    assert parse("docker kill -s HUP a b").value("signal") == "HUP"
    assert parse("docker container kill a").verb == "kill"
    assert parse("docker rename a b").args == ["a", "b"]
    assert parse("docker container diff a").verb == "diff"
    assert parse("docker top a").verb == "top"
    assert parse("docker container prune -f").verb == "container prune"
    command = parse("docker ps -a --format '{{.Names}}' -f status=exited --filter name=r -n 2")
    assert command.value("format") == "{{.Names}}"
    assert command.values("filter") == ["status=exited", "name=r"]
    for bad in ("docker rename a", "docker top", "docker diff a b", "docker prune"):
        refusal(bad)


def test_ps_format_templates_are_capped() -> None:
    """`ps --format` is capped like `inspect -f`: 256 characters, 8 actions."""
    assert "at most" in refusal("docker ps --format '" + "{{.ID}}" * 9 + "'").message


@pytest.mark.parametrize(("raw", "signal"), [(None, "SIGKILL"), ("TERM", "SIGTERM"),
                                             ("sigint", "SIGINT"), ("9", "9")])
def test_kill_signals_are_checked(raw: str | None, signal: str) -> None:
    """`kill -s` takes Linux signal names (with or without SIG) or numbers 1..64."""
    assert option_values.check_signal(raw) == signal


@pytest.mark.parametrize("raw", ["FOO", "0", "65", "-9", "KILL;rm"])
def test_unknown_signals_are_refused(raw: str) -> None:
    """Anything else is refused before the engine."""
    with pytest.raises(CommandRefused):
        option_values.check_signal(raw)
