"""Issue 20's table, each row on the real engine with the exact words the tutor says.

Diagnoses come from the engine's state and the history, are said once for each change of
state, name only what exists, and are recorded with a stable id in the command log.
"""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.reply import Code, Event, Reply
from bot.tutor.core import Tutor
from tests.check_helpers import completed, do, printed, to_challenge
from tests.conftest import LimitedTutor

pytestmark = pytest.mark.docker

REDIS_1 = "docker run -d --name redis-1 -v my-redis-data:/data redis"
REDIS_2 = "docker run -d --name redis-2 -v my-redis-data:/data redis"
SET_1 = 'docker exec redis-1 redis-cli set mykey "Hello Persistence"'
GET_2 = "docker exec redis-2 redis-cli get mykey"
SAVED = [REDIS_1, SET_1, "docker stop redis-1", "docker rm redis-1"]


def said(replies: list[Reply], words: str) -> int:
    """How many of the replies contain ``words``."""
    return sum(words in reply.text() for reply in replies)


def diagnoses(tutor: Tutor, person: Person) -> list[str]:
    """The diagnosis ids recorded in the person's command log, oldest first."""
    return [e.diagnosis for e in tutor.store.history(person)
            if e.diagnosis and e.diagnosis != "skipped-step"]


def test_a_try_with_other_names_is_said_once_and_names_only_what_exists(
        tutor: Tutor, alice: Person) -> None:
    """`myredis` read the key: acknowledged once, then never again after `stop`, `ps -a`, `rm`."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED,
                 "docker run -d --name myredis -v my-redis-data:/data redis",
                 "docker exec myredis redis-cli get mykey", "docker stop myredis", "docker ps -a",
                 "docker rm myredis", "docker ps -a")
    words = ("That proves it: `mykey` = \"Hello Persistence\" survived. `redis-1` wrote it on "
             "the volume `my-redis-data`, and `myredis`, a new container made after `redis-1` was "
             "gone, loaded it from there. For the challenge, read it in a container named "
             "`redis-2`: `docker run -d --name redis-2 -v my-redis-data:/data redis`, then "
             "`docker exec redis-2 redis-cli get mykey`.")
    assert words in replies[5].text()
    assert said(replies, "That proves it") == 1
    assert "you started `myredis`" in replies[4].text()  # true while it exists...
    assert said(replies[5:], "you started") == 0  # ...and never again once it is gone
    assert diagnoses(tutor, alice) == ["no-reader", "other-names"]


def test_start_over_advice_never_names_a_container_that_is_gone(
        tutor: Tutor, alice: Person) -> None:
    """`myredis` wrote into the volume and was removed: the advice is `docker rm -f redis-2` alone."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, *SAVED,
                 "docker run -d --name myredis -v my-redis-data:/data redis",
                 "docker exec myredis redis-cli set mykey mine", "docker rm -f myredis",
                 REDIS_2, GET_2)
    text = replies[-1].text() + tutor.handle(alice, "check").text()
    assert ("Start over on a fresh volume: `docker rm -f redis-2`, `docker volume rm "
            "my-redis-data`, then do the challenge again from its first command.") in text
    assert "rm -f redis-2 myredis" not in text
    assert diagnoses(tutor, alice)[-1] == "volume-tainted"


def test_no_volume_at_all_is_said_and_the_hint_follows(tutor: Tutor, alice: Person) -> None:
    """redis-1 without a volume: "no volume", said once; the hint is about the volume, not saving."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, "docker run -d --name redis-1 redis", SET_1,
                 "docker rm -f redis-1", REDIS_2, GET_2)
    words = ("`redis-1` had no volume of yours at `/data`: Docker gave it an anonymous volume "
             "of its own, which no new container mounts, so a new container could never find "
             "`mykey` there. Start `redis-1` with the named volume this time: `docker run -d "
             "--name redis-1 -v my-redis-data:/data redis`.")
    assert words in replies[2].text()
    assert said(replies, "had no volume of yours") == 1
    hint = tutor.handle(alice, "hint").text()
    assert "redis-1 had no volume of yours" in hint and "written to disk" not in hint
    assert "no-volume" in diagnoses(tutor, alice)


def test_a_proof_with_another_volume_name_is_acknowledged(tutor: Tutor, alice: Person) -> None:
    """The whole proof on `redisdata`: "That proves it", then the lesson's names are asked for."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice, "docker run -d --name redis-1 -v redisdata:/data redis", SET_1,
                 "docker stop redis-1", "docker rm redis-1",
                 "docker run -d --name redis-2 -v redisdata:/data redis", GET_2)
    words = ("That proves it: `mykey` = \"Hello Persistence\" survived. `redis-1` wrote it on "
             "the volume `redisdata`, and `redis-2`, a new container made after `redis-1` was "
             "gone, loaded it from there. For the challenge, do it once more with the lesson's "
             "names so I can confirm it: the containers `redis-1` and `redis-2` and the volume "
             "`my-redis-data`, starting with `docker run -d --name redis-1 -v my-redis-data:/data "
             "redis`.")
    assert words in replies[-1].text()
    assert words in tutor.handle(alice, "check").text()
    assert not completed(tutor, alice)


def test_a_volume_at_another_path_shows_the_logs_cause(tutor: Tutor, alice: Person) -> None:
    """`-v my-redis-data:/store --dir /store`: Redis could not save; the log's cause is shown."""
    to_challenge(tutor, alice)
    replies = do(tutor, alice,
                 "docker run -d --name redis-1 -v my-redis-data:/store redis redis-server "
                 "--dir /store", SET_1, "docker stop redis-1", "docker rm redis-1", REDIS_2, GET_2)
    text = "\n".join(r.text() for r in replies) + tutor.handle(alice, "check").text()
    assert ("`redis-1` had `my-redis-data` mounted at `/store` (`--dir /store` told Redis to keep "
            "its files there), not at `/data`, where the `redis` image keeps its data as the "
            "user `redis`. When it stopped, its log said: `") in text
    assert "Permission denied" in text
    assert "`docker logs` shows the whole log" in text


def test_forgetting_d_says_the_stopped_container_remains(
        limited_tutor: LimitedTutor, alice: Person) -> None:
    """A server run in the foreground hits the limit: the tutor says it stays and how to remove it."""
    tutor = limited_tutor(foreground_seconds=3.0)
    to_challenge(tutor, alice)
    reply = tutor.handle(alice, "docker run --name redis-1 -v my-redis-data:/data redis")
    assert ("`redis-1` is still there, stopped (`docker ps -a` lists it). Remove it with "
            "`docker rm redis-1` before you run it again with `-d`, or Docker will say the name "
            "is already in use.") in reply.text()
    assert diagnoses(tutor, alice) == ["forgot-detach"]
    assert tutor.handle(alice, "docker rm redis-1").text().strip() == "redis-1"
    assert "Error" not in tutor.handle(alice, REDIS_1).text()


def test_challenge_commands_on_another_step_get_one_word(tutor: Tutor, alice: Person) -> None:
    """After `back`, challenge commands are said not to be judged here, once."""
    to_challenge(tutor, alice)
    tutor.handle(alice, "back")
    replies = do(tutor, alice, REDIS_1, SET_1)
    words = ("This step (\u201cVolumes, bind mounts, tmpfs: which one when\u201d) does not "
             "judge that command: it belongs to \u201cChallenge: the Immortal Database\u201d.")
    assert words in replies[0].text()
    assert said(replies, "does not judge") == 1
    assert diagnoses(tutor, alice) == ["other-step"]


def test_skipped_steps_are_said_once_recorded_and_named_at_the_end(
        tutor: Tutor, alice: Person) -> None:
    """`next` past steps 2-6 is allowed, said, recorded for instructors, and named at completion."""
    tutor.handle(alice, "start data-persistence")
    replies = [tutor.handle(alice, "next") for _ in range(6)]
    assert said(replies, "You skipped the hands-on part of \u201cNamed volumes") == 1
    recorded = [(e.step_id, e.diagnosis) for e in tutor.store.history(alice) if e.diagnosis]
    assert ("named-volumes", "skipped-step") in recorded and len(recorded) >= 4
    replies = do(tutor, alice, *SAVED, REDIS_2, GET_2)
    assert Event.CHALLENGE_COMPLETED in replies[-1].events
    assert "You skipped \u201c" in replies[-1].text()


def test_prune_without_f_asks_and_prunes_nothing(tutor: Tutor, alice: Person) -> None:
    """`volume prune` and `container prune` without -f print the CLI's question; nothing goes."""
    do(tutor, alice, "docker run --name c -v /data busybox true")  # an anonymous volume
    volumes = tutor.handle(alice, "docker volume ls -q").text()
    reply = tutor.handle(alice, "docker volume prune")
    assert printed(reply) == [
        "WARNING! This will remove anonymous local volumes not used by at least one container.",
        "Are you sure you want to continue? [y/N] "]
    reply = tutor.handle(alice, "docker container prune")
    assert printed(reply) == ["WARNING! This will remove all stopped containers.",
                              "Are you sure you want to continue? [y/N] "]
    assert "exit status" not in reply.text()
    assert "c" in tutor.handle(alice, "docker ps -a --format {{.Names}}").text().split()
    assert tutor.handle(alice, "docker volume ls -q").text() == volumes


def test_redis_cli_get_of_a_missing_key_prints_an_empty_line(tutor: Tutor, alice: Person) -> None:
    """As the real redis-cli without a TTY: one empty line."""
    tutor.handle(alice, "docker run -d --name r redis")
    reply = tutor.handle(alice, "docker exec r redis-cli get nothing")
    assert [part.text for part in reply.parts if isinstance(part, Code)] == [""]
