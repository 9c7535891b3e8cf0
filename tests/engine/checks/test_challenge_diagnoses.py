"""Every diagnosis of the Immortal Database challenge is true to the state it found.

Each test plays a learner on the real engine with real Redis, into one situation, and
checks what the tutor says (unasked after the learner's read, and on `check` and `hint`).
"""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.reply import Event, Reply
from bot.tutor.core import Tutor
from tests.check_helpers import completed, do, to_challenge, until_exited

pytestmark = pytest.mark.docker

REDIS_1 = "docker run -d --name redis-1 -v my-redis-data:/data redis"
REDIS_2 = "docker run -d --name redis-2 -v my-redis-data:/data redis"
SET_1 = 'docker exec redis-1 redis-cli set mykey "Hello Persistence"'
GET_2 = "docker exec redis-2 redis-cli get mykey"
SAVED = [REDIS_1, SET_1, "docker stop redis-1", "docker rm redis-1"]
"""redis-1 wrote the key and stopped cleanly (Redis saved it), then was removed."""


def state(tutor: Tutor, person: Person) -> str:
    """The challenge check's failure state now (``""`` when it passes)."""
    lesson = tutor.catalog.get("data-persistence")
    return tutor._run_checks(person, lesson, lesson.step("challenge")).state


def warned(reply: Reply) -> str:
    """What the tutor said unasked after a command (its warnings), as text."""
    lines = reply.text().splitlines()
    return "\n".join(line for line in lines if "`" in line)


def test_appendonly_on_redis_2_only_after_a_clean_stop(tutor: Tutor, alice: Person) -> None:
    """redis-2 with AOF ignores dump.rdb: the tutor says so, not "docker stop redis-1"."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED,
                  "docker run -d --name redis-2 -v my-redis-data:/data redis --appendonly yes",
                  GET_2)
    said = warned(replies[-1])
    assert "--appendonly yes" in said and "ignores `dump.rdb`" in said
    assert "docker stop redis-1" not in said and "never reached" not in said
    assert state(tutor, alice) == "aof-reader-only"
    hint = tutor.handle(alice, "hint").text()
    assert "dump.rdb" in hint and "docker stop redis-1" not in hint
    assert not completed(tutor, alice)


def test_appendonly_on_redis_2_after_a_saving_shutdown(tutor: Tutor, alice: Person) -> None:
    """`redis-cli shutdown` saves; an AOF redis-2 still ignores the snapshot, and is told so."""
    to_challenge(tutor, alice)
    do(tutor, alice, REDIS_1, SET_1, "docker exec redis-1 redis-cli shutdown")
    until_exited(tutor, alice, "redis-1")
    replies = do(tutor, alice, "docker rm redis-1",
                 "docker run -d --name redis-2 -v my-redis-data:/data redis --appendonly yes",
                 GET_2)
    assert "ignores `dump.rdb`" in warned(replies[-1])
    assert state(tutor, alice) == "aof-reader-only"


def test_a_stop_of_the_aof_reader_overwrites_the_snapshot(tutor: Tutor, alice: Person) -> None:
    """An AOF redis-2 stopped cleanly saves its empty data over dump.rdb: the next reader is told."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED,
                  "docker run -d --name redis-2 -v my-redis-data:/data redis --appendonly yes",
                  GET_2, "docker stop redis-2", "docker rm redis-2", REDIS_2, GET_2)
    said = warned(replies[-1])
    assert "saved its own data over `dump.rdb`" in said
    assert state(tutor, alice) == "overwritten"


def test_shutdown_nosave_is_named(tutor: Tutor, alice: Person) -> None:
    """`redis-cli shutdown nosave` quits without saving: the tutor names that, not the rm -f trap."""
    to_challenge(tutor, alice)
    do(tutor, alice, REDIS_1, SET_1, "docker exec redis-1 redis-cli shutdown nosave")
    until_exited(tutor, alice, "redis-1")
    replies = do(tutor, alice, "docker rm redis-1", REDIS_2, GET_2)
    said = warned(replies[-1])
    assert "shutdown nosave" in said and "docker rm -f` sends SIGKILL" not in said
    assert state(tutor, alice) == "nosave"


def test_snapshots_turned_off_are_named(tutor: Tutor, alice: Person) -> None:
    """`--save ""` on redis-1: even a clean stop saves nothing, and the tutor says why."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice,
                  'docker run -d --name redis-1 -v my-redis-data:/data redis --save ""',
                  SET_1, "docker stop redis-1", "docker rm redis-1", REDIS_2, GET_2)
    assert "snapshots turned off" in warned(replies[-1])
    assert state(tutor, alice) == "save-off"


def test_stop_with_no_grace_time(tutor: Tutor, alice: Person) -> None:
    """`docker stop -t 0` kills at once: the key is lost and the tutor names `-t 0`.

    Redis notices SIGTERM on its next timer tick (10 a second by default), so with `-t 0`
    it sometimes saves just before SIGKILL. `--hz 1` makes the tick once a second, so the
    SIGKILL that `-t 0` sends at once always comes first, and the test is deterministic.
    """
    to_challenge(tutor, alice)
    replies = do(tutor, alice,
                  "docker run -d --name redis-1 -v my-redis-data:/data redis --hz 1", SET_1,
                  "docker stop -t 0 redis-1", "docker rm redis-1", REDIS_2, GET_2)
    said = warned(replies[-1])
    assert "`docker stop -t 0`" in said and "SIGKILL" in said
    assert "docker rm -f` sends SIGKILL" not in said
    assert state(tutor, alice) == "stop-now"
    assert not completed(tutor, alice)


def test_another_database_is_read_in_that_database(tutor: Tutor, alice: Person) -> None:
    """`-n 1 set`: a read of database 0 is told to use `-n 1`; `-n 1 get` confirms."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, REDIS_1,
                  'docker exec redis-1 redis-cli -n 1 set mykey "Hello Persistence"',
                  "docker stop redis-1", "docker rm redis-1", REDIS_2, GET_2)
    said = warned(replies[-1])
    assert "database 1" in said and "-n 1 get mykey" in said
    assert "never reached" not in said and "did not survive" not in said
    assert state(tutor, alice) == "wrong-db"
    reply = tutor.handle(alice, "docker exec redis-2 redis-cli -n 1 get mykey")
    assert Event.CHALLENGE_COMPLETED in reply.events
    assert "database 1" in reply.text()


def test_an_rm_container_stopped_is_right_either_way(tutor: Tutor, alice: Person) -> None:
    """`run --rm` then `docker stop`: the container is gone (as Docker does) or the tutor says remove it."""
    to_challenge(tutor, alice)
    do(tutor, alice, "docker run --rm -d --name redis-1 -v my-redis-data:/data redis", SET_1,
        "docker stop redis-1")
    if tutor.sandbox.container(alice, "redis-1") is not None:
        answer = tutor.handle(alice, "check").text()
        assert "`docker rm redis-1`" in answer and "--rm" in answer
        assert state(tutor, alice) == "writer-alive"
        tutor.handle(alice, "docker rm redis-1")
    replies = do(tutor, alice, REDIS_2, GET_2)
    assert Event.CHALLENGE_COMPLETED in replies[-1].events


def test_a_reader_with_another_name_is_pointed_at_the_name(tutor: Tutor, alice: Person) -> None:
    """A reader called `redis2` is not looked for: the tutor says it looks for `redis-2`."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED, "docker run -d --name redis2 -v my-redis-data:/data redis")
    assert "I look for a container named `redis-2`" in warned(replies[-1])
    assert state(tutor, alice) == "no-reader"


def test_the_trap_then_doing_it_right_confirms(tutor: Tutor, alice: Person) -> None:
    """After the trap, the trap hint's way out (new redis-1, stop, rm, new redis-2) confirms."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, REDIS_1, SET_1, "docker rm -f redis-1", REDIS_2, GET_2)
    assert "trap" in warned(replies[-1])
    assert "rm -f redis-2" in tutor.handle(alice, "hint").text()
    replies = do(tutor, alice, "docker rm -f redis-2", *SAVED, REDIS_2, GET_2)
    assert Event.CHALLENGE_COMPLETED in replies[-1].events


def test_stopping_the_aof_reader_is_said_to_overwrite(tutor: Tutor, alice: Person) -> None:
    """Stopping an AOF redis-2 saves its empty data over dump.rdb: the tutor says so, not "start it"."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED,
                  "docker run -d --name redis-2 -v my-redis-data:/data redis --appendonly yes",
                  GET_2, "docker stop redis-2")
    said = warned(replies[-1])
    assert "saved its own data, without `mykey`, over `dump.rdb`" in said
    assert "docker start redis-2" not in said
    assert state(tutor, alice) == "overwritten"
