"""The Immortal Database challenge, verified by the tutor on the real engine with real Redis."""

from __future__ import annotations

import docker
import pytest

from bot.identity import Person
from bot.reply import Code, Event
from bot.tutor.core import Tutor
from tests.check_helpers import completed, do, to_challenge

pytestmark = pytest.mark.docker



WRITE = [
    "docker run -d --name redis-1 -v my-redis-data:/data redis",
    'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
]
READ = [
    "docker run -d --name redis-2 -v my-redis-data:/data redis",
    "docker exec redis-2 redis-cli get mykey",
]


def test_happy_path_confirms_survival_and_records_it(tutor: Tutor, alice: Person) -> None:
    """Stop, remove, re-run on the same volume: the tutor confirms the value survived."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *WRITE, "docker stop redis-1", "docker rm redis-1", *READ)
    confirmations = [r for r in replies if Event.CHALLENGE_COMPLETED in r.events]
    assert len(confirmations) == 1
    text = confirmations[0].text()
    assert "survived" in text and "Hello Persistence" in text
    assert completed(tutor, alice)
    assert replies[-1].parts[0].text == "Hello Persistence"  # bare, as without -t


def test_redis_cli_save_also_works(tutor: Tutor, alice: Person) -> None:
    """`redis-cli save` then `rm -f` keeps the key, and the tutor confirms it."""
    to_challenge(tutor, alice)
    do(tutor, alice, *WRITE, "docker exec redis-1 redis-cli save", "docker rm -f redis-1",
        *READ)
    assert completed(tutor, alice)


def test_appendonly_on_both_containers_works(tutor: Tutor, alice: Person) -> None:
    """With `--appendonly yes` on both containers, `rm -f` loses nothing."""
    to_challenge(tutor, alice)
    do(
        tutor, alice,
        "docker run -d --name redis-1 -v my-redis-data:/data redis redis-server --appendonly yes",
        'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
        "docker rm -f redis-1",
        "docker run -d --name redis-2 -v my-redis-data:/data redis --appendonly yes",
        "docker exec redis-2 redis-cli get mykey",
    )
    assert completed(tutor, alice)


def test_the_seeds_printed_solution_gets_the_trap_explained(tutor: Tutor, alice: Person) -> None:
    """`rm -f` straight after SET loses the key: explanation, no completion."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *WRITE, "docker rm -f redis-1", *READ)
    outputs = [p.text for p in replies[-1].parts if isinstance(p, Code)]
    assert all(o.strip() == "" for o in outputs)  # nil is an empty line without -t
    assert "trap" in replies[-1].text() and "SIGKILL" in replies[-1].text()
    assert not any(Event.CHALLENGE_COMPLETED in r.events for r in replies)
    assert not completed(tutor, alice)
    check = tutor.handle(alice, "check")
    assert "trap" in check.text()


def test_appendonly_on_the_writer_only_is_explained(tutor: Tutor, alice: Person) -> None:
    """AOF on redis-1 but not redis-2: the tutor says to start redis-2 with it too."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice,
        "docker run -d --name redis-1 -v my-redis-data:/data redis redis-server --appendonly yes",
        'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
        "docker rm -f redis-1", *READ,
    )
    assert "--appendonly yes" in replies[-1].text()
    assert not completed(tutor, alice)


def test_a_recreated_volume_is_not_the_same_volume(tutor: Tutor, alice: Person) -> None:
    """Removing and re-creating `my-redis-data` is detected and explained."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice, *WRITE, "docker stop redis-1", "docker rm redis-1",
        "docker volume rm my-redis-data", "docker volume create my-redis-data", *READ,
    )
    assert "not the one" in replies[-2].text() or "not the one" in replies[-1].text()
    assert not completed(tutor, alice)


def test_writing_the_key_in_redis_2_proves_nothing(tutor: Tutor, alice: Person) -> None:
    """A learner who SETs the key in redis-2 before reading it gets no completion."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice,
        "docker run -d --name redis-1 -v my-redis-data:/data redis",
        "docker rm -f redis-1",
        "docker run -d --name redis-2 -v my-redis-data:/data redis",
        'docker exec redis-2 redis-cli set mykey "Hello Persistence"',
        "docker exec redis-2 redis-cli get mykey",
    )
    assert not completed(tutor, alice)
    assert not any(Event.CHALLENGE_COMPLETED in r.events for r in replies)
    assert "haven't seen `redis-1` write" in tutor.handle(alice, "check").text()


def test_writing_in_redis_2_after_a_real_write_is_refused(tutor: Tutor, alice: Person) -> None:
    """Even after a genuine write, a SET in redis-2 itself voids the proof."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *WRITE, "docker rm -f redis-1",
                 "docker run -d --name redis-2 -v my-redis-data:/data redis",
                 'docker exec redis-2 redis-cli set mykey "Hello Persistence"')
    assert "proves nothing" in replies[-1].text()  # said as it happens...
    reply = tutor.handle(alice, "docker exec redis-2 redis-cli get mykey")
    assert "proves nothing" not in reply.text()  # ...once: the state has not changed
    assert "proves nothing" in tutor.handle(alice, "check").text()
    assert not completed(tutor, alice)


def test_two_learners_with_the_same_names_do_not_touch(
    tutor: Tutor, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """Alice and Bob both use redis-1 and my-redis-data; each sees only their own."""
    to_challenge(tutor, alice)
    to_challenge(tutor, bob)
    do(tutor, alice, *WRITE)
    do(tutor, bob, "docker run -d --name redis-1 -v my-redis-data:/data redis",
        'docker exec redis-1 redis-cli set mykey "Bob was here"')
    assert tutor.handle(alice, "docker exec redis-1 redis-cli get mykey").parts[0].text == (
        "Hello Persistence")
    assert tutor.handle(bob, "docker exec redis-1 redis-cli get mykey").parts[0].text == (
        "Bob was here")
    tutor.handle(bob, "docker rm -f redis-1")
    tutor.handle(bob, "docker volume rm my-redis-data")
    alive = tutor.sandbox.container(alice, "redis-1")
    assert alive is not None and alive.running
    assert tutor.sandbox.volume(alice, "my-redis-data") is not None
    assert tutor.sandbox.container(bob, "redis-1") is None
    ps_bob = tutor.handle(bob, "docker ps -a").text()
    assert "redis-1" not in ps_bob
    engine_names = {n.lstrip("/") for c in docker_client.api.containers(all=True)
                    for n in c["Names"]}  # one list: no inspect that races other removals
    assert tutor.sandbox.namespace(alice).engine_name("redis-1") in engine_names


def test_redis_cli_right_after_run_meets_a_ready_server(tutor: Tutor, alice: Person) -> None:
    """`redis-cli` typed the moment `docker run -d` returns reaches Redis, not 'Connection refused'."""
    for n in range(3):
        tutor.handle(alice, f"docker run -d --name fast-{n} redis")
        reply = tutor.handle(alice, f"docker exec fast-{n} redis-cli set k{n} v")
        assert reply.text() == "OK"
        tutor.handle(alice, f"docker rm -f fast-{n}")
