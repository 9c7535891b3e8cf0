"""The tutor's own witness of a Redis volume: it reads the files, never the learner's container.

Issue 19, F4: the tutor's look used to run `sh -c` and `redis-cli` inside the learner's
`redis-2`, with that container's `PATH`; a fake `redis-cli` planted in the volume confirmed
a key that never reached disk. The witness is a container of the tutor's own.
"""

from __future__ import annotations

import base64

import docker
import pytest

from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.redis.witness import LABEL_WITNESS, parse_answer
from bot.sandbox.workspace.names import LABEL_HELPER
from bot.tutor.core import Tutor
from tests.check_helpers import completed, do, printed, to_challenge

FORGED = "hi\n@@end\n@@db 1\n" + base64.b64encode(b"string@@rc=0\n").decode() + "\r\nlast\n\n"
"""A value that looks like the frames of the witness's answer, with CRLF and trailing newlines."""

FAKE_CLI = "#!/bin/sh\\necho 'Hello Persistence'\\n"
"""A fake `redis-cli` that answers every question with the challenge's value."""


def _ready(sandbox: Sandbox, person: Person, name: str) -> None:
    sandbox.exec_capture(person, name, ["sh", "-c", "until redis-cli ping; do sleep 0.1; done >/dev/null"])


@pytest.mark.docker
def test_the_witness_reads_every_database_a_forged_frame_a_list_and_aof(
        tutor: Tutor, alice: Person) -> None:
    """Values in several databases, a forged frame, a list and AOF: read from the volume's files."""
    tutor.handle(alice, "docker run -d --name r -v data:/data redis redis-server --appendonly yes")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    _ready(sandbox, alice, "r")
    for argv in (["redis-cli", "set", "k", FORGED], ["redis-cli", "-n", "3", "set", "k", "three"],
                 ["redis-cli", "-n", "5", "rpush", "k", "a"],
                 ["redis-cli", "-n", "7", "set", "other", "x"]):
        assert sandbox.exec_capture(alice, "r", argv) is not None
    record = sandbox.redis_witness(alice, "r", "k", "/data", {"appendonly": "yes"})
    assert record["reachable"] is True
    assert record["values"] == {"0": FORGED.replace("\r\n", "\n"), "3": "three"}
    assert record["others"] == {"5": "list"}
    assert record["aof"] is True
    # Without the append-only file, the same volume has no snapshot yet: nothing is loaded.
    assert sandbox.redis_witness(alice, "r", "k", "/data", {})["values"] == {}


@pytest.mark.docker
def test_the_witness_leaves_nothing_and_is_never_the_learners(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """No witness container is left behind; none is ever listed in the learner's `docker ps -a`."""
    tutor.handle(alice, "docker run -d --name r -v data:/data redis")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    _ready(sandbox, alice, "r")
    sandbox.exec_capture(alice, "r", ["redis-cli", "set", "k", "v"])
    sandbox.exec_capture(alice, "r", ["redis-cli", "save"])
    assert sandbox.redis_witness(alice, "r", "k", "/data", {})["values"] == {"0": "v"}
    mine = [f"{LABEL_WITNESS}=1", f"{LABEL_HELPER}={sandbox.namespace(alice).learner}"]
    assert docker_client.containers.list(all=True, filters={"label": mine}) == []  # this test's
    assert ".witness" not in tutor.handle(alice, "docker ps -a").text()


@pytest.mark.docker
def test_a_fake_redis_cli_in_the_volume_does_not_confirm_a_lost_key(
        tutor: Tutor, alice: Person) -> None:
    """F4: `rm -f` right after SET, a fake redis-cli on redis-2's PATH: not confirmed; the trap is named."""
    to_challenge(tutor, alice)
    replies = do(
        tutor, alice,
        "docker run -d --name redis-1 -v my-redis-data:/data redis",
        f"docker exec redis-1 sh -c \"mkdir -p /data/fk && printf '{FAKE_CLI}' > /data/fk/redis-cli"
        " && chmod 755 /data/fk/redis-cli\"",
        'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
        "docker rm -f redis-1",
        "docker run -d --name redis-2 -e PATH=/data/fk:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
        "/usr/bin:/sbin:/bin -v my-redis-data:/data redis",
        "docker exec redis-2 redis-cli get mykey",
    )
    assert printed(replies[-1]) == ["Hello"]  # the fake answered the learner (quotes eaten)...
    assert not completed(tutor, alice)  # ...but the tutor's witness read the volume
    assert "That's the trap" in replies[-1].text()


def test_an_answer_that_is_not_whole_is_no_reading() -> None:
    """A cut-off, undecodable or absent answer records Redis as not answering, never a value."""
    for output in ("@@pong\n" + "A" * 40, "@@pong\nnot-base64!\nAAAA\n@@end", "@@absent\n", ""):
        assert parse_answer(output)["reachable"] is False
    assert parse_answer("@@copyfailed\n")["why"] == "files too large to copy"
    assert parse_answer("@@noanswer\n@@log Permission denied\n")["log"] == ["Permission denied"]


@pytest.mark.docker
def test_a_volume_a_run_made_empty_needs_no_witness_and_one_with_files_is_not_fresh(
        tutor: Tutor, alice: Person) -> None:
    """`run -d` names the volumes it made that started empty; the image's files decide, not its name."""
    from bot.sandbox import parse
    from bot.sandbox.views import CREATED_VOLUMES, FRESH_VOLUMES

    sandbox = tutor.sandbox
    made = sandbox.run_command(alice, parse("docker run -d --name e -v fresh-data:/data redis"))
    full = sandbox.run_command(alice, parse("docker run -d --name f -v etc-copy:/etc busybox sleep 60"))
    again = sandbox.run_command(alice, parse("docker run -d --name g -v fresh-data:/data redis"))
    (created,) = made.facts[CREATED_VOLUMES]
    assert made.facts[FRESH_VOLUMES] == [created["uid"]]  # redis' /data holds nothing
    assert CREATED_VOLUMES in full.facts and FRESH_VOLUMES not in full.facts  # busybox' /etc: files
    assert CREATED_VOLUMES not in again.facts and FRESH_VOLUMES not in again.facts  # not new


@pytest.mark.docker
def test_the_writers_run_on_a_new_volume_is_recorded_empty_without_a_witness(
        tutor: Tutor, alice: Person) -> None:
    """On the challenge, `redis-1` on a new volume is recorded as loading nothing, and no witness runs.

    What `redis-2` loaded from the saved snapshot is read from the file.
    """
    from bot.sandbox import count_engine_requests

    to_challenge(tutor, alice)
    with count_engine_requests() as made:
        tutor.handle(alice, "docker run -d --name redis-1 -v my-redis-data:/data redis")
    assert made["POST /containers/{id}/attach"] == 0  # no witness ran
    (entry,) = [e for e in tutor.store.history(alice, limit=5) if e.text.startswith("docker run")]
    (record,) = entry.facts["observed"]
    assert (record["name"], record["fresh"], record["reachable"], record["values"]) == (
        "redis-1", True, True, {})
    do(tutor, alice, 'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
       "docker stop redis-1", "docker rm redis-1",
       "docker run -d --name redis-2 -v my-redis-data:/data redis")
    (entry,) = [e for e in tutor.store.history(alice, limit=5) if "redis-2" in e.text]
    (record,) = entry.facts["observed"]  # the witness of what redis-2 loaded: its snapshot file
    assert (record["name"], record["read"], record["values"]) == (
        "redis-2", "file", {"0": "Hello Persistence"})


@pytest.mark.docker
def test_how_a_container_ended_reads_its_log_only_when_the_ending_needs_explaining(
        tutor: Tutor, alice: Person) -> None:
    """A clean exit: its code and no log read; a stopped or failed one: the cause its log names."""
    from bot.sandbox import count_engine_requests

    do(tutor, alice, "docker run -d --name stopped busybox sh -c 'echo Permission denied; sleep 60'",
       "docker run --name failed busybox sh -c 'echo Permission denied here; exit 3'",
       "docker run --name done busybox true", "docker stop -t 0 stopped")
    sandbox = tutor.sandbox
    stopped = sandbox.ending(alice, "stopped")
    assert stopped is not None and stopped["exit"] in (137, 143)  # killed, or TERM'd by the init
    assert (stopped["cause"], stopped["running"]) == ("Permission denied", False)
    assert sandbox.ending(alice, "failed") == {"exit": 3, "oom": False,
                                               "cause": "Permission denied here", "running": False}
    with count_engine_requests() as made:
        assert sandbox.ending(alice, "done") == {"exit": 0, "oom": False, "cause": "",
                                                 "running": False}
    assert dict(made) == {"GET /containers/{id}/json": 1}  # no log read
    assert sandbox.ending(alice, "nothing-here") is None


@pytest.mark.docker
def test_files_redis_cannot_load_end_the_witness_at_once_with_the_servers_words(
        tutor: Tutor, alice: Person) -> None:
    """A dump.rdb that is not one: the witness's Redis exits, and the witness says so at once."""
    import time

    tutor.handle(alice, "docker run -d --name w -v data:/data busybox sh -c "
                        "'echo not-a-snapshot > /data/dump.rdb; sleep 300'")
    tutor.handle(alice, "docker run -d --name r -v data:/data redis")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    began = time.monotonic()
    record = sandbox.redis_witness(alice, "r", "k", "/data", {}, wait=60.0)
    took = time.monotonic() - began
    assert record["reachable"] is False
    assert any("Bad file format" in line or "Wrong signature" in line
               for line in record.get("log", [])), record
    assert took < 30, f"the witness waited {took:.1f} s of 60 for a server that had exited"
