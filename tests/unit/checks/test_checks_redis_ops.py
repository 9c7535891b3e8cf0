"""Sorting commands run in a container into reads, saves and (possible) writes of Redis data."""

from __future__ import annotations

import pytest

from bot.checks.immortal import redis_ops as ops


@pytest.mark.parametrize("argv", [
    ["redis-cli", "get", "mykey"],
    ["redis-cli", "GET", "mykey"],
    ["redis-cli", "--raw", "get", "mykey"],
    ["redis-cli", "-n", "1", "get", "mykey"],
    ["redis-cli", "-h", "localhost", "-p", "6379", "exists", "mykey"],
    ["redis-cli", "keys", "*"],
    ["redis-cli", "info", "persistence"],
    ["redis-cli", "config", "get", "save"],
    ["redis-cli", "--scan", "--pattern", "my*"],
    ["redis-cli", "dbsize"],
    ["redis-cli", "ping"],
    ["redis-cli"],
    ["sh", "-c", "redis-cli get mykey"],
    ["cat", "/data/dump.rdb"],
    ["ls", "-la", "/data"],
    ["/bin/ls", "/data"],
])
def test_reads_are_reads(argv: list[str]) -> None:
    """Allow-listed redis-cli reads and read-only programs are sorted as reads."""
    assert ops.classify(argv).kind == "read"


@pytest.mark.parametrize("argv", [
    ["redis-cli", "eval", "return redis.call('set','mykey','hi')", "0"],
    ["redis-cli", "evalsha", "abc", "0"],
    ["redis-cli", "fcall", "f", "0"],
    ["redis-cli", "-x", "set", "mykey"],
    ["redis-cli", "--eval", "/data/s.lua"],
    ["redis-cli", "--pipe"],
    ["redis-cli", "--rdb", "/data/x.rdb"],
    ["redis-cli", "--lru-test", "10"],
    ["redis-cli", "debug", "populate", "10"],
    ["redis-cli", "debug", "reload"],
    ["redis-cli", "script", "load", "return 1"],
    ["redis-cli", "swapdb", "0", "1"],
    ["redis-cli", "move", "mykey", "0"],
    ["redis-cli", "copy", "a", "mykey", "db", "0"],
    ["redis-cli", "config", "set", "dir", "/tmp"],
    ["redis-cli", "config", "set", "dbfilename", "x.rdb"],
    ["redis-cli", "--bogus", "get", "k"],
    ["redis-cli", "-n", "one", "get", "k"],
    ["redis-cli", "--scan", "set", "mykey", "hi"],
    ["sh", "-c", "echo 'set mykey hi' | redis-cli"],
    ["sh", "-c", "redis-cli set mykey hi; exit 1"],
    ["sh", "-c", "echo $(redis-cli set mykey hi)"],
    ["sh", "-c", "FOO=1 redis-cli get mykey"],
    ["sh", "-c", "redis-cli get k > /data/dump.rdb"],
    ["/tmp/redis-cli", "get", "mykey"],
    ["cp", "/o/dump.rdb", "/data/dump.rdb"],
    ["busybox", "cat", "/data/x"],
    ["env", "redis-cli", "set", "mykey", "hi"],
    ["redis-server", "--port", "7000"],
])
def test_anything_else_is_unknown(argv: list[str]) -> None:
    """Scripts, stdin, debug, other databases' swaps and unknown programs may write anything."""
    call = ops.classify(argv)
    assert call.kind == "unknown"
    assert call.touches("mykey", 0) and call.touches("mykey", 5)


def test_known_writes_name_their_keys_database_and_values() -> None:
    """SET, SETEX, MSET, RESTORE, DEL, FLUSHALL: keys, database and carried values."""
    set_1 = ops.classify(["redis-cli", "-n", "1", "set", "mykey", "hi", "EX", "60"])
    assert (set_1.kind, set_1.db, set_1.writes, set_1.values) == (
        "write", 1, ("mykey",), {"mykey": "hi"})
    assert set_1.touches("mykey", 1) and not set_1.touches("mykey", 0)
    assert ops.classify(["redis-cli", "setex", "mykey", "10", "v"]).values == {"mykey": "v"}
    mset = ops.classify(["redis-cli", "mset", "a", "1", "mykey", "2"])
    assert mset.writes == ("a", "mykey") and mset.values == {"a": "1", "mykey": "2"}
    restore = ops.classify(["redis-cli", "restore", "mykey", "0", "\x00blob"])
    assert restore.kind == "write" and restore.touches("mykey", 0) and not restore.values
    assert ops.classify(["redis-cli", "del", "other"]).touches("mykey", 0) is False
    assert ops.classify(["redis-cli", "flushall"]).touches("mykey", 3)
    assert ops.classify(["redis-cli", "-u", "redis://localhost:6379/2", "set", "k", "v"]).db == 2
    assert ops.classify(["sh", "-c", "redis-cli set mykey 'Hello Persistence'"]).values == {
        "mykey": "Hello Persistence"}


def test_saves_and_settings_are_not_writes() -> None:
    """SAVE, BGSAVE, SHUTDOWN [NOSAVE] and safe CONFIG SETs add no data."""
    assert ops.classify(["redis-cli", "save"]).kind == "persist"
    nosave = ops.classify(["redis-cli", "shutdown", "NOSAVE"])
    assert nosave.kind == "persist" and nosave.nosave
    assert not ops.classify(["redis-cli", "shutdown"]).nosave
    config = ops.classify(["redis-cli", "config", "set", "appendonly", "yes"])
    assert config.kind == "config" and config.config == {"appendonly": "yes"}
    assert not config.touches("mykey", 0)


def test_the_reads_that_show_a_value() -> None:
    """GET and MGET show the key's value; EXISTS and KEYS do not."""
    assert ops.classify(["redis-cli", "get", "mykey"]).shows == ("mykey",)
    assert ops.classify(["redis-cli", "mget", "a", "mykey"]).shows == ("a", "mykey")
    assert ops.classify(["redis-cli", "exists", "mykey"]).shows == ()
    assert ops.classify(["redis-cli", "getex", "mykey"]).shows == ("mykey",)
    with_expiry = ops.classify(["redis-cli", "getex", "mykey", "EX", "5"])
    assert with_expiry.kind == "write" and with_expiry.touches("mykey", 0)


@pytest.mark.parametrize(("command", "kind", "aof", "saves_off"), [
    (["docker-entrypoint.sh", "redis-server"], "redis", False, False),
    (["docker-entrypoint.sh", "--appendonly", "yes"], "redis", True, False),
    (["docker-entrypoint.sh", "redis-server", "--appendonly", "yes", "--save", ""], "redis",
     True, True),
    (["docker-entrypoint.sh", "redis-server", "--save", "60", "1"], "redis", False, False),
    (["docker-entrypoint.sh", "redis-server", "--unixsocket", "/data/r.sock"], "other",
     False, False),
    (["docker-entrypoint.sh", "/data/redis.conf"], "other", False, False),
    (["docker-entrypoint.sh", "redis-server", "/data/redis.conf"], "other", False, False),
    (["docker-entrypoint.sh", "sleep", "3600"], "read", False, False),
    (["docker-entrypoint.sh", "sh", "-c", "redis-server & redis-cli set k v"], "other",
     False, False),
    (["sleep", "3600"], "read", False, False),
    (["sh", "-c", "echo kept > /notes/a.txt"], "other", False, False),
    (["redis-server", "--appendonly", "yes"], "redis", True, False),
])
def test_a_containers_own_command(command: list[str], kind: str, aof: bool,
                                  saves_off: bool) -> None:
    """A plain redis-server (allow-listed options), a read-only program, or anything else."""
    server = ops.classify_server(command)
    assert (server.kind, server.aof, server.saves_off) == (kind, aof, saves_off)
