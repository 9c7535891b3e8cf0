"""The witness's file look against the started witness, on the same volumes (issue 21).

A snapshot is read from its bytes through the engine's archive of the learner's container
(nothing runs, nothing is created); whenever
that look answers, it must be the answer of the tutor's started witness (a real
``redis-server`` loading a copy of the same files), and whenever it cannot vouch for a
file, the started witness answers instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import pytest
from docker.types import Mount
from pytest_mock import MockerFixture

from bot.identity import Person
from bot.sandbox import count_engine_requests
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.redis.witness import LABEL_WITNESS
from bot.sandbox.workspace.names import LABEL_HELPER
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker

FILLING = (
    ["set", "k", "hello"], ["set", "n", "12345"], ["set", "long", "ab" * 300],
    ["set", "crlf", "a\r\nb\r"], ["set", "uni", "h\u00e9llo \u2603"], ["set", "later", "v", "EX", "100000"],
    ["-n", "2", "rpush", "k", "a", "b"], ["-n", "3", "sadd", "k", "1", "2"],
    ["-n", "4", "sadd", "k", "x", "y"], ["-n", "5", "hset", "k", "f", "v"],
    ["-n", "6", "zadd", "k", "1", "a"], ["-n", "9", "set", "k", "nine"],
    ["-n", "10", "eval", "for i=1,300 do redis.call('rpush', KEYS[1], 'item' .. i) "
     "redis.call('sadd', KEYS[2], 'm' .. i) redis.call('zadd', KEYS[3], i, 'z' .. i) "
     "redis.call('hset', KEYS[4], 'f' .. i, 'v' .. i) redis.call('sadd', KEYS[5], i) end",
     "5", "k", "bigset", "bigz", "bigh", "ints"],
)
"""Strings of every encoding and the key ``k`` as every type, small and large (a quicklist,
hash tables, a skiplist sorted set), in several databases."""

KEYS = ("k", "n", "long", "crlf", "uni", "later", "absent", "bigset", "bigz", "bigh", "ints")


def _started(sandbox: Sandbox, mocker: MockerFixture, person: Person, key: str,
             options: dict[str, str]) -> dict[str, Any]:
    """The started witness's record (the file look switched off)."""
    off = mocker.patch.object(Sandbox, "_file_look", return_value=None)
    try:
        return sandbox.redis_witness(person, "r", key, "/data", options)
    finally:
        mocker.stop(off)


def _same(read: dict[str, Any], started: dict[str, Any]) -> None:
    assert read.get("read") == "file", read
    for part in ("reachable", "values", "others", "aof"):
        assert read[part] == started[part], (part, read, started)


def _filled(tutor: Tutor, person: Person) -> Sandbox:
    """``person``'s Redis ``r`` on volume ``data``, filled and saved."""
    tutor.handle(person, "docker run -d --name r -v data:/data redis")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    sandbox.exec_capture(person, "r", ["sh", "-c", "until redis-cli ping; do sleep 0.1; done"])
    for argv in FILLING:
        result = sandbox.exec_capture(person, "r", ["redis-cli", *argv])
        assert result is not None and result[0] == 0 and "ERR" not in result[1], (argv, result)
    assert sandbox.exec_capture(person, "r", ["redis-cli", "save"]) == (0, "OK\n")
    return sandbox


def test_the_file_look_answers_what_the_started_witness_answers(
        tutor: Tutor, alice: Person, mocker: MockerFixture) -> None:
    """Every key of a snapshot with every type and encoding: the same record both ways."""
    sandbox = _filled(tutor, alice)
    read_all = {key: sandbox.redis_witness(alice, "r", key, "/data", {}) for key in KEYS}
    off = mocker.patch.object(Sandbox, "_file_look", return_value=None)
    with ThreadPoolExecutor(4) as pool:  # the started witnesses, a few at a time
        started = dict(zip(KEYS, pool.map(
            lambda key: sandbox.redis_witness(alice, "r", key, "/data", {}), KEYS), strict=True))
    mocker.stop(off)
    for key in KEYS:
        _same(read_all[key], started[key])
    read = sandbox.redis_witness(alice, "r", "k", "/data", {})
    assert read["values"] == {"0": "hello", "9": "nine"}
    assert read["others"] == {"2": "list", "3": "set", "4": "set", "5": "hash", "6": "zset",
                              "10": "list"}


def test_a_file_look_costs_one_request_and_starts_nothing(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """One archive read of the learner's container: no container of the tutor's is made."""
    sandbox = _filled(tutor, alice)
    sandbox.redis_witness(alice, "r", "k", "/data", {})  # the image's release, asked once
    tutor.handle(alice, "docker ps")  # the next line: the kept reads of the first are gone
    with count_engine_requests() as made:
        read = sandbox.redis_witness(alice, "r", "k", "/data", {})
    assert read["read"] == "file" and read["values"] == {"0": "hello", "9": "nine"}
    assert made == {"GET /containers/{id}/archive": 1, "GET /containers/{id}/json": 1}, made
    ns = sandbox.namespace(alice)
    assert docker_client.containers.list(all=True, filters={"label": [
        f"{LABEL_HELPER}={ns.learner}", LABEL_WITNESS]}) == []


def test_what_the_file_look_cannot_vouch_for_goes_to_the_started_witness(
        tutor: Tutor, alice: Person, mocker: MockerFixture,
        docker_client: docker.DockerClient) -> None:
    """A stream, a changed byte, a link, a file `redis` cannot read: the started witness answers.

    No snapshot, another file name, a folder outside the volume: the file look, as the
    started witness would.
    """
    sandbox = _filled(tutor, alice)
    sandbox.exec_capture(alice, "r", ["redis-cli", "xadd", "s", "*", "f", "v"])
    sandbox.exec_capture(alice, "r", ["redis-cli", "save"])
    streamed = sandbox.redis_witness(alice, "r", "k", "/data", {})
    assert "read" not in streamed and streamed["values"] == {"0": "hello", "9": "nine"}
    volume = sandbox.namespace(alice).engine_name("data")

    def change(script: str) -> None:
        docker_client.containers.run(
            "busybox", ["sh", "-c", script], remove=True, network_mode="none",
            mounts=[Mount("/data", volume, type="volume")])

    change("printf Z | dd of=/data/dump.rdb bs=1 seek=40 conv=notrunc 2>/dev/null")
    broken = sandbox.redis_witness(alice, "r", "k", "/data", {})
    assert "read" not in broken and broken["reachable"] is False  # Redis refuses it too
    change("mv /data/dump.rdb /data/real.rdb && ln -s real.rdb /data/dump.rdb")
    linked = sandbox.redis_witness(alice, "r", "k", "/data", {})
    assert "read" not in linked
    change("rm -f /data/dump.rdb /data/real.rdb")
    _same(sandbox.redis_witness(alice, "r", "k", "/data", {}),
          _started(sandbox, mocker, alice, "k", {}))
    sandbox.exec_capture(alice, "r", ["redis-cli", "del", "s"])
    sandbox.exec_capture(alice, "r", ["redis-cli", "set", "k", "again"])
    sandbox.exec_capture(alice, "r", ["redis-cli", "save"])
    change("cp /data/dump.rdb /data/other.rdb && chown 0:0 /data/other.rdb "
           "&& chmod 600 /data/other.rdb")
    unreadable = sandbox.redis_witness(alice, "r", "k", "/data", {"dbfilename": "other.rdb"})
    assert "read" not in unreadable and unreadable["reachable"] is False  # `redis` cannot copy it
    change("cp -p /data/dump.rdb /data/other.rdb")
    assert sandbox.redis_witness(alice, "r", "k", "/data", {"dbfilename": "other.rdb"})[
        "values"] == {"0": "again", "9": "nine"}
    for options in ({"dbfilename": "other.rdb"}, {}, {"dir": "/elsewhere"}):
        _same(sandbox.redis_witness(alice, "r", "k", "/data", options),
              _started(sandbox, mocker, alice, "k", options))
    fewer = sandbox.redis_witness(alice, "r", "k", "/data",
                                  {"dbfilename": "other.rdb", "databases": "1"})
    assert "read" not in fewer and fewer["reachable"] is False  # Redis refuses database 2


def test_a_class_asks_the_images_redis_release_once_and_a_failed_probe_waits(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, mocker: MockerFixture) -> None:
    """Eight learners reaching the file look at once start one probe; a failed one is not retried at once."""
    from bot.sandbox.redis import witness

    for name in ("_IMAGE_FACTS", "_PROBES", "_PROBE_FAILED"):
        monkeypatch.setattr(witness, name, {})
    image = sandbox.client.images.get("redis").id
    probe = mocker.spy(Sandbox, "_run_redis_witness")
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: sandbox._redis_release(("t", "t"), image), range(8)))
    assert probe.call_count == 1
    assert len(set(found)) == 1 and found[0] is not None and found[0][0] >= 10
    monkeypatch.setattr(witness, "_IMAGE_FACTS", {})
    failing = mocker.patch.object(Sandbox, "_run_redis_witness", return_value=None)
    assert sandbox._redis_release(("t", "t"), image) is None
    assert sandbox._redis_release(("t", "t"), image) is None
    assert failing.call_count == 1  # the started witness answers meanwhile
