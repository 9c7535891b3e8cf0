"""The Immortal Database proof cannot be faked: only redis-1's write, carried by the volume, counts.

Every test plays a learner on the real engine with real Redis. The value a test writes
by a forbidden route is the very value redis-1 wrote, so only the proof (not a value
comparison) can tell the difference.
"""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.reply import Event, Reply
from bot.tutor.core import Tutor
from tests.check_helpers import completed, do, shows_value, to_challenge

pytestmark = pytest.mark.docker

REDIS_1 = "docker run -d --name redis-1 -v my-redis-data:/data redis"
REDIS_2 = "docker run -d --name redis-2 -v my-redis-data:/data redis"
SET_1 = "docker exec redis-1 redis-cli set mykey hi"
GET_2 = "docker exec redis-2 redis-cli get mykey"
TRAP = [REDIS_1, SET_1, "docker rm -f redis-1", REDIS_2]
"""The seed's printed solution up to redis-2: `rm -f` right after SET loses the key."""



def never_confirmed(tutor: Tutor, person: Person, replies: list[Reply]) -> bool:
    """No reply announced the challenge and the store has no completion."""
    return not completed(tutor, person) and not any(
        Event.CHALLENGE_COMPLETED in r.events for r in replies
    )


def shows_hi(reply: Reply) -> bool:
    """The learner's own read printed the value `hi`."""
    return shows_value(reply, "hi")


def test_eval_in_redis_2_after_the_trap_is_not_a_survival(tutor: Tutor, alice: Person) -> None:
    """(a) The key lost to `rm -f`, then written back in redis-2 by a Lua script: no completion."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *TRAP,
                  "docker exec redis-2 redis-cli eval \"return redis.call('set','mykey','hi')\" 0",
                  GET_2)
    assert shows_hi(replies[-1])  # the forged value is really there
    assert never_confirmed(tutor, alice, replies)
    assert "redis-2" in tutor.handle(alice, "check").text()


def test_a_shell_pipe_into_redis_cli_is_a_write(tutor: Tutor, alice: Person) -> None:
    """(b) `sh -c "echo 'set mykey hi' | redis-cli"` in redis-2 writes; it cannot confirm."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *TRAP,
                  "docker exec redis-2 sh -c \"echo 'set mykey hi' | redis-cli\"", GET_2)
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)


def test_a_write_by_an_earlier_redis_2_survives_into_the_next(tutor: Tutor, alice: Person) -> None:
    """(c) The trap, SET in redis-2, a graceful stop saves it: a new redis-2 finds it, unconfirmed."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *TRAP, "docker exec redis-2 redis-cli set mykey hi",
                  "docker stop redis-2", "docker rm redis-2", REDIS_2, GET_2)
    assert shows_hi(replies[-1])  # redis-2's own write came back from the volume
    assert never_confirmed(tutor, alice, replies)
    answer = tutor.handle(alice, "check").text()
    assert "redis-2" in answer and "survived" not in answer


def test_redis_2_started_before_redis_1_was_removed(tutor: Tutor, alice: Person) -> None:
    """(d) redis-2 created while redis-1 still existed (stopped), redis-1 removed after: unconfirmed."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, REDIS_1, SET_1, "docker stop redis-1", REDIS_2,
                  "docker rm redis-1", GET_2)
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)
    assert "after" in tutor.handle(alice, "check").text()


def test_a_volume_prepared_before_the_lesson_proves_nothing(tutor: Tutor, alice: Person) -> None:
    """A key saved into my-redis-data before `start`, then the trap: the old volume cannot confirm."""
    do(tutor, alice, "docker run -d --name forger -v my-redis-data:/data redis",
        "docker exec forger redis-cli set mykey hi", "docker stop forger", "docker rm forger")
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *TRAP, GET_2)
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)
    assert "before you started this lesson" in tutor.handle(alice, "check").text()


def test_a_write_whose_command_failed_still_counts(tutor: Tutor, alice: Person) -> None:
    """`sh -c "redis-cli set ...; exit 1"` exits 1 but wrote: a restarted redis-2 cannot confirm."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *TRAP,
                  'docker exec redis-2 sh -c "redis-cli set mykey hi; exit 1"',
                  "docker restart redis-2", GET_2)
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)


def test_a_snapshot_copied_in_by_another_container(tutor: Tutor, alice: Person) -> None:
    """A dump.rdb made elsewhere and copied into the volume by busybox is not redis-1's write."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice, REDIS_1, SET_1, "docker rm -f redis-1",
        "docker run -d --name helper -v other:/data redis",
        "docker exec helper redis-cli set mykey hi", "docker exec helper redis-cli save",
        "docker run --rm -v other:/o -v my-redis-data:/data busybox cp /o/dump.rdb /data/dump.rdb",
        REDIS_2, GET_2,
    )
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)
    assert "busybox cp" in tutor.handle(alice, "check").text()


def test_a_key_saved_by_a_container_with_another_name(tutor: Tutor, alice: Person) -> None:
    """`helper` writes and saves the key on the volume before redis-1: the trap then cannot confirm."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice, "docker run -d --name helper -v my-redis-data:/data redis",
        "docker exec helper redis-cli mset mykey hi", "docker exec helper redis-cli save",
        "docker rm -f helper", *TRAP, GET_2,
    )
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)
    assert "helper" in tutor.handle(alice, "check").text()


def test_harmless_reads_in_redis_2_keep_the_proof(tutor: Tutor, alice: Person) -> None:
    """KEYS, EXISTS, INFO and a write to another database of redis-2 do not spoil a real survival."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice, REDIS_1, SET_1, "docker stop redis-1", "docker rm redis-1", REDIS_2,
        "docker exec redis-2 redis-cli keys '*'", "docker exec redis-2 redis-cli exists mykey",
        "docker exec redis-2 redis-cli info persistence", "docker exec redis-2 ls /data",
    )
    assert not completed(tutor, alice)  # no read of the value yet
    replies = do(tutor, alice, "docker exec redis-2 redis-cli --raw get mykey")
    assert Event.CHALLENGE_COMPLETED in replies[-1].events
    assert completed(tutor, alice)


def test_a_reader_restarted_after_a_new_writer_saved(tutor: Tutor, alice: Person) -> None:
    """redis-2 made, a new redis-1 writes and saves, redis-2 restarts and loads it: not made after.

    redis-2 runs with snapshots off (`--save ""`), so its restart does not save its own
    empty data over the new snapshot.
    """
    to_challenge(tutor, alice)
    replies = do(tutor, alice, REDIS_1, SET_1, "docker rm -f redis-1",
                  'docker run -d --name redis-2 -v my-redis-data:/data redis --save ""', GET_2,
                  REDIS_1, SET_1, "docker stop redis-1", "docker rm redis-1",
                  "docker restart redis-2", GET_2)
    assert shows_hi(replies[-1])
    assert never_confirmed(tutor, alice, replies)
    assert "was made after `redis-2` started" in tutor.handle(alice, "check").text()
