"""Life-cycle primitives and restart policies on the real engine: exit codes, env, RestartCount."""

from __future__ import annotations

import time

import docker
import pytest

from bot.checks import CheckContext, run_checks
from bot.checks.history import HISTORY_LIMIT, checked_history
from bot.errors import CommandRefused
from bot.identity import Person
from bot.lessons.model import CheckSpec
from bot.sandbox.policy.parser import parse
from bot.tutor.core import Tutor
from tests.check_helpers import do, printed, verify

pytestmark = pytest.mark.docker


def until(tutor: Tutor, person: Person, name: str, *, running: bool, restarts: int = 0,
          within: float = 20.0) -> None:
    """Wait until the container ``name`` runs (or not) with at least ``restarts`` restarts."""
    deadline = time.monotonic() + within
    while True:
        view = tutor.sandbox.container(person, name)
        if (view is not None and view.running == running and view.status != "restarting"
                and view.restart_count >= restarts):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {view}")
        time.sleep(0.1)


def test_container_exited_reads_the_exit_code(tutor: Tutor, alice: Person) -> None:
    """`container_exited` fails while the container runs, and tells a wrong code from the right one."""
    do(tutor, alice, "docker run -d --name sleeper busybox sleep 600")
    running = verify(tutor, alice, "container_exited", name="sleeper", exit_code=143)
    assert not running.passed and running.state == "container-running"
    do(tutor, alice, "docker stop sleeper")
    assert verify(tutor, alice, "container_exited", name="sleeper", exit_code=143).passed
    wrong = verify(tutor, alice, "container_exited", name="sleeper", exit_code=0)
    assert not wrong.passed and wrong.state == "wrong-exit-code" and "SIGTERM" in wrong.message
    do(tutor, alice, "docker run --name oops busybox sh -c 'exit 3'")
    result = verify(tutor, alice, "container_exited", name="oops", exit_code=3)
    assert result.passed and "status 3" in result.message


def test_container_exited_without_a_name_looks_at_this_steps_containers(
    tutor: Tutor, alice: Person
) -> None:
    """Without `name`, only containers the learner ran on the check's own step count."""
    do(tutor, alice, "start containers", "next", "docker run busybox echo hello")
    history = checked_history(tutor.store.history(alice, limit=HISTORY_LIMIT), None)
    spec = [CheckSpec("container_exited", {"exit_code": 0})]
    elsewhere = run_checks(CheckContext(alice, tutor.sandbox, history, "detached"), spec)
    assert not elsewhere.passed and elsewhere.state == "container-missing"
    here = run_checks(CheckContext(alice, tutor.sandbox, history, "first-run"), spec)
    assert here.passed and "exited with status 0 (success)" in here.message


def test_container_env_reads_the_engines_record(tutor: Tutor, alice: Person) -> None:
    """`container_env` sees `-e` as the engine recorded it: missing, wrong value, right value."""
    do(tutor, alice, "docker run -d --name plain busybox sleep 600",
       "docker run -d --name greeter -e GREETING=hola busybox sleep 600")
    missing = verify(tutor, alice, "container_env", container="plain", variable="GREETING")
    assert not missing.passed and missing.state == "env-missing"
    assert "-e GREETING=VALUE" in missing.message
    wrong = verify(tutor, alice, "container_env", container="greeter", variable="GREETING",
                   value="hello")
    assert not wrong.passed and wrong.state == "env-wrong-value" and wrong.volunteer
    assert verify(tutor, alice, "container_env", container="greeter", variable="GREETING",
                  value="hola").passed


def test_a_restart_policy_reaches_the_engine(tutor: Tutor, alice: Person,
                                            docker_client: docker.DockerClient) -> None:
    """`--restart on-failure:3` is the container's policy on the engine, under every other limit."""
    do(tutor, alice, "docker run -d --name flaky --restart on-failure:3 busybox sleep 600")
    view = tutor.sandbox.container(alice, "flaky")
    assert view is not None and view.restart_policy == "on-failure" and view.restart_count == 0
    host = docker_client.containers.get(view.id).attrs["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["NetworkMode"] == "none" and host["Privileged"] is False and host["Init"] is True
    [reply] = do(tutor, alice, "docker inspect -f '{{.RestartCount}}' flaky")
    assert printed(reply) == ["0"]


@pytest.mark.parametrize(("line", "why"), [
    ("docker run --restart sometimes busybox", "the policies are"),
    ("docker run --restart on-failure:11 busybox", "1 to 10"),
    ("docker run --restart always:2 busybox", "only `on-failure`"),
    ("docker run --rm --restart always busybox", "Conflicting options"),
])
def test_bad_restart_policies_are_refused_before_the_engine(line: str, why: str) -> None:
    """An unknown policy, too many retries, a count on `always`, or `--rm`: refused as parsed."""
    with pytest.raises(CommandRefused) as refused:
        parse(line)
    assert why in refused.value.message and refused.value.option == "--restart"


def test_restarted_by_policy_proves_the_engine_brought_it_back(tutor: Tutor, alice: Person) -> None:
    """A crash from inside restarts a container with a policy; its RestartCount proves it."""
    no_policy = "docker run -d --name phoenix busybox sleep 600"
    do(tutor, alice, no_policy)
    result = verify(tutor, alice, "restarted_by_policy", container="phoenix")
    assert not result.passed and result.state == "no-policy"
    do(tutor, alice, "docker rm -f phoenix",
       "docker run -d --name phoenix --restart on-failure busybox sleep 600")
    waiting = verify(tutor, alice, "restarted_by_policy", container="phoenix")
    assert not waiting.passed and waiting.state == "not-restarted"
    assert "docker exec phoenix kill 1" in waiting.message
    do(tutor, alice, "docker exec phoenix kill 1")
    until(tutor, alice, "phoenix", running=True, restarts=1)
    result = verify(tutor, alice, "restarted_by_policy", container="phoenix", policy="on-failure")
    assert result.passed and result.evidence["restarts:phoenix"] == 1
    other = verify(tutor, alice, "restarted_by_policy", container="phoenix", policy="always")
    assert not other.passed and other.state == "wrong-policy"
    do(tutor, alice, "docker restart -t 1 phoenix")  # by hand: the count starts again
    again = verify(tutor, alice, "restarted_by_policy", container="phoenix")
    assert not again.passed and again.state == "not-restarted"


def test_a_clean_exit_under_on_failure_is_explained(tutor: Tutor, alice: Person) -> None:
    """Redis exits 0 on SIGTERM: `on-failure` leaves it down, and the check says why."""
    do(tutor, alice, "docker run -d --name cache --restart on-failure redis")
    time.sleep(0.5)
    do(tutor, alice, "docker exec cache kill 1")
    until(tutor, alice, "cache", running=False)
    result = verify(tutor, alice, "restarted_by_policy", container="cache")
    assert not result.passed and result.state == "clean-exit" and result.volunteer
    assert "always" in result.message


def test_a_container_stopped_by_hand_is_never_restarted(tutor: Tutor, alice: Person) -> None:
    """`docker kill` ends a container with a policy for good, and the check says so."""
    do(tutor, alice, "docker run -d --name keeper --restart always busybox sleep 600",
       "docker kill keeper")
    until(tutor, alice, "keeper", running=False)
    result = verify(tutor, alice, "restarted_by_policy", container="keeper")
    assert not result.passed and result.state == "stopped-by-hand"
    assert "docker kill keeper" in result.message
    do(tutor, alice, "docker start keeper")
    assert verify(tutor, alice, "restarted_by_policy", container="keeper").state == "not-restarted"


def test_on_failure_n_gives_up_and_running_false_still_counts(tutor: Tutor, alice: Person) -> None:
    """`on-failure:2` stops after two restarts; `running = false` accepts the count alone."""
    do(tutor, alice, "docker run -d --name flaky --restart on-failure:2 busybox sh -c 'exit 1'")
    until(tutor, alice, "flaky", running=False, restarts=2)
    down = verify(tutor, alice, "restarted_by_policy", container="flaky")
    assert not down.passed and down.state == "gave-up"
    assert verify(tutor, alice, "restarted_by_policy", container="flaky", restarts=2,
                  running=False).passed


def test_a_crash_looping_container_is_removed_like_any_other(tutor: Tutor, alice: Person,
                                                             docker_client: docker.DockerClient
                                                             ) -> None:
    """`--restart always` on a command that fails at once: `reset`'s removal still takes it."""
    do(tutor, alice, "docker run -d --name loop --restart always busybox sh -c 'exit 1'")
    time.sleep(1)  # a few failed starts; the engine waits longer before each
    view = tutor.sandbox.container(alice, "loop")
    assert view is not None and view.restart_count >= 1
    assert tutor.sandbox.remove_all(alice) == (1, 0)
    assert tutor.sandbox.container(alice, "loop") is None
    assert not docker_client.containers.list(all=True, filters={"id": view.id})
