"""kill, rename, diff, top, container prune and ps --format on the real engine, confined.

Each new verb acts on the learner's own containers only: another learner's, named or by
id, answers "No such container" and is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse
from bot.sandbox.views import Outcome

pytestmark = pytest.mark.docker


def run(sandbox: Sandbox, person: Person, text: str) -> Outcome:
    """One learner line through the sandbox."""
    return sandbox.run_command(person, parse(text))


@pytest.fixture
def two(sandbox: Sandbox, alice: Person, bob: Person) -> Iterator[Sandbox]:
    """Alice and Bob each have a running busybox `box`; removed afterwards."""
    for person in (alice, bob):
        assert run(sandbox, person, "docker run -d --name box busybox sleep 300").exit_code == 0
    yield sandbox
    for person in (alice, bob):
        sandbox.remove_all(person)


def test_new_verbs_never_reach_another_learners_container(
    two: Sandbox, alice: Person, bob: Person
) -> None:
    """kill, rename, diff, top by Bob's id answer "No such container"; his box still runs."""
    bobs = two.container(bob, "box")
    assert bobs is not None
    for ref in (bobs.id, bobs.id[:12]):
        for text in (f"docker kill {ref}", f"docker rename {ref} stolen",
                     f"docker diff {ref}", f"docker top {ref}"):
            outcome = run(two, alice, text)
            assert outcome.exit_code == 1 and "No such container" in outcome.output, text
    pruned = run(two, alice, "docker container prune -f")
    assert bobs.id not in pruned.output
    after = two.container(bob, "box")
    assert after is not None and after.running and after.id == bobs.id


def test_kill_rename_and_prune_act_on_the_learners_own(two: Sandbox, alice: Person,
                                                       bob: Person) -> None:
    """Alice kills, renames and prunes her box; Bob's box of the same name is untouched."""
    killed = run(two, alice, "docker kill box")
    assert (killed.exit_code, killed.output) == (0, "box\n")
    assert killed.facts["killed"][0]["signal"] == "SIGKILL"
    assert run(two, alice, "docker inspect -f '{{.State.ExitCode}}' box").output == "137\n"
    assert run(two, alice, "docker rename box old").exit_code == 0
    renamed = two.container(alice, "old")
    assert renamed is not None and renamed.name == "old"
    assert two.container(alice, "box") is None
    assert run(two, alice, "docker ps -a --format '{{.Names}} {{.State}}'").output == (
        "old exited\n")
    pruned = run(two, alice, "docker container prune -f")
    assert pruned.output.startswith("Deleted Containers:\n" + renamed.id + "\n")
    assert two.containers(alice) == []
    bobs = two.container(bob, "box")
    assert bobs is not None and bobs.running


def test_diff_shows_the_writable_layer_and_not_the_volume(sandbox: Sandbox, alice: Person) -> None:
    """`docker diff` lists files added to the container's own layer, not those in a volume."""
    try:
        run(sandbox, alice, "docker run -d --name box -v vol:/data busybox sleep 300")
        run(sandbox, alice, "docker exec box sh -c 'mkdir /layer && touch /data/volume'")
        diff = run(sandbox, alice, "docker diff box").output.splitlines()
        assert "A /layer" in diff
        assert not any("volume" in line for line in diff)
    finally:
        sandbox.remove_all(alice)


def test_top_lists_processes_and_refuses_a_stopped_container(sandbox: Sandbox,
                                                             alice: Person) -> None:
    """`docker top` shows the container's processes in the CLI's columns."""
    try:
        run(sandbox, alice, "docker run -d --name box busybox sleep 300")
        top = run(sandbox, alice, "docker top box")
        assert top.output.split()[:8] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME",
                                          "CMD"]
        assert "sleep 300" in top.output
        run(sandbox, alice, "docker stop -t 0 box")
        stopped = run(sandbox, alice, "docker top box")
        assert stopped.exit_code == 1 and "is not running" in stopped.output
    finally:
        sandbox.remove_all(alice)


def test_redis_cli_prints_bare_values_unless_t_is_given(sandbox: Sandbox, alice: Person) -> None:
    """Without `-t` redis-cli prints the bare value and an empty line for nil, as the CLI."""
    try:
        run(sandbox, alice, "docker run -d --name r redis")
        run(sandbox, alice, 'docker exec r redis-cli set k "Hello Persistence"')
        assert run(sandbox, alice, "docker exec r redis-cli get k").output == "Hello Persistence\n"
        assert run(sandbox, alice, "docker exec r redis-cli get nokey").output == "\n"
        assert run(sandbox, alice, "docker exec -t r redis-cli get k").output == (
            '"Hello Persistence"\n')
        assert run(sandbox, alice, "docker exec -t r redis-cli get nokey").output == "(nil)\n"
    finally:
        sandbox.remove_all(alice)


def test_exec_it_of_a_shell_is_refused_before_the_engine(sandbox: Sandbox, alice: Person) -> None:
    """`exec -it NAME redis-cli` is refused at once, naming a command to run instead."""
    with pytest.raises(CommandRefused) as caught:
        run(sandbox, alice, "docker exec -it redis-1 redis-cli")
    assert "docker exec redis-1 redis-cli get mykey" in caught.value.message


def test_ps_filters_by_status_and_name(two: Sandbox, alice: Person) -> None:
    """`ps -f status=...` (implies -a) and `-f name=...` select the learner's rows."""
    run(two, alice, "docker run --name done busybox true")
    assert run(two, alice, "docker ps -f status=exited --format '{{.Names}}'").output == (
        "done\n")
    assert run(two, alice, "docker ps -a -f name=bo --format '{{.Names}}'").output == "box\n"
    table = run(two, alice, "docker ps --format 'table {{.Names}}\\t{{.State}}'").output
    assert table == "NAMES     STATE\nbox       running\n"
