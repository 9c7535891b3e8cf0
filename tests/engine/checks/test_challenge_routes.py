"""Routes through the Immortal Database challenge, each with the diagnosis id it must get.

Every route is played on the real engine with real Redis; `check` then gives the diagnosis,
and the command log must hold its stable id (diagnoses as data, issue 24).
"""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import completed, to_challenge, until_exited

pytestmark = pytest.mark.docker

R1 = "docker run -d --name redis-1 -v my-redis-data:/data redis"
R1_AOF = R1 + " redis-server --appendonly yes"
R2 = "docker run -d --name redis-2 -v my-redis-data:/data redis"
R2_AOF = R2 + " redis-server --appendonly yes"
SET = 'docker exec redis-1 redis-cli set mykey "Hello Persistence"'
GET = "docker exec redis-2 redis-cli get mykey"
STOP_RM = ["docker stop redis-1", "docker rm redis-1"]
SAVED = [R1, SET, *STOP_RM]
TRAP = [R1, SET, "docker rm -f redis-1"]
WAIT = "wait redis-1"
"""Not a command: wait until redis-1 has exited (after `redis-cli shutdown`)."""

ROUTES: dict[str, tuple[list[str], str]] = {
    "nothing yet": ([], "no-write"),
    "written, still running": ([R1, SET], "writer-alive"),
    "written, stopped, not removed": ([R1, SET, "docker stop redis-1"], "writer-alive"),
    "a new redis-1 after the first": ([*SAVED, R1], "no-write"),
    "saved and removed, no redis-2": (SAVED, "no-reader"),
    "rm -f trap": ([*TRAP, R2, GET], "trap"),
    "rm -f trap, no read yet": ([*TRAP, R2], "trap"),
    # `--hz 1`: Redis notices SIGTERM once a second, so `-t 0`'s SIGKILL always comes first
    "stop -t 0": ([R1 + " --hz 1", SET, "docker stop -t 0 redis-1", "docker rm redis-1", R2,
                   GET], "stop-now"),
    "docker kill": ([R1, SET, "docker kill redis-1", "docker rm redis-1", R2, GET], "killed"),
    "shutdown nosave": ([R1, SET, "docker exec redis-1 redis-cli shutdown nosave", WAIT,
                         "docker rm redis-1", R2, GET], "nosave"),
    "snapshots off": ([R1 + ' redis-server --save ""', SET, *STOP_RM, R2, GET], "save-off"),
    "aof on redis-2 only": ([*SAVED, R2_AOF, GET], "aof-reader-only"),
    "aof on redis-1 only": ([R1_AOF, SET, "docker rm -f redis-1", R2, GET], "aof-mismatch"),
    "aof redis-2 stopped over the snapshot": (
        [*SAVED, R2_AOF, GET, "docker stop redis-2", "docker rm redis-2", R2, GET], "overwritten"),
    "another database": ([R1, 'docker exec redis-1 redis-cli -n 1 set mykey "Hello Persistence"',
                          *STOP_RM, R2, GET], "wrong-db"),
    "redis-2 not read yet": ([*SAVED, R2], "no-read"),
    "redis-2 on another volume": ([*SAVED, "docker run -d --name redis-2 -v other:/data redis"],
                                  "reader-wrong-mount"),
    "volume removed in between": ([*SAVED, "docker volume rm my-redis-data", R2],
                                  "volume-recreated"),
    "key written in redis-2": ([*TRAP, R2, 'docker exec redis-2 redis-cli set mykey x', GET],
                               "reader-wrote"),
    "another container wrote the key": (
        [*SAVED, "docker run -d --name other -v my-redis-data:/data redis",
         "docker exec other redis-cli set mykey x", "docker rm -f other", R2, GET],
        "volume-tainted"),
    "redis-2 before redis-1 was gone": (
        [R1, SET, "docker exec redis-1 redis-cli save", R2, *STOP_RM, GET], "reader-early"),
    "redis-2 killed": ([*SAVED, R2, "docker kill redis-2"], "reader-stopped"),
    "redis-2 not a plain server": (
        [*SAVED, R2 + " redis-server --enable-debug-command yes", GET], "reader-not-plain"),
    "redis-2 runs sleep": ([*SAVED, R2 + " sleep 3600"], "reader-unseen"),
    "no named volume": (["docker run -d --name redis-1 redis", SET, "docker rm -f redis-1", R2,
                         GET], "no-volume"),
    "volume at /store": (["docker run -d --name redis-1 -v my-redis-data:/store redis", SET,
                          *STOP_RM, R2, GET], "wrong-path"),
    "another volume name, no reader": (["docker run -d --name redis-1 -v otherdata:/data redis",
                                        SET, "docker rm -f redis-1"], "wrong-volume"),
    "the whole proof on redisdata": (
        ["docker run -d --name a -v redisdata:/data redis",
         'docker exec a redis-cli set mykey "Hello Persistence"', "docker stop a", "docker rm a",
         "docker run -d --name b -v redisdata:/data redis", "docker exec b redis-cli get mykey"],
        "other-names"),
    "read in myredis instead of redis-2": (
        [*SAVED, "docker run -d --name myredis -v my-redis-data:/data redis",
         "docker exec myredis redis-cli get mykey"], "other-names"),
    "solved: stop then rm": ([*SAVED, R2, GET], "passed"),
    "solved: save then rm -f": ([R1, SET, "docker exec redis-1 redis-cli save",
                                 "docker rm -f redis-1", R2, GET], "passed"),
    "solved: aof on both": ([R1_AOF, SET, "docker rm -f redis-1", R2_AOF, GET], "passed"),
    "solved: shutdown": ([R1, SET, "docker exec redis-1 redis-cli shutdown", WAIT,
                          "docker rm redis-1", R2, GET], "passed"),
    "solved after the trap": ([*TRAP, R2, GET, "docker rm -f redis-2", R1, SET, *STOP_RM, R2, GET],
                              "passed"),
}
"""Route name: (what the learner types, the diagnosis id expected; ``passed`` for success)."""


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_route_gets_its_diagnosis_and_it_is_recorded(
        tutor: Tutor, alice: Person, route: str) -> None:
    """Play the route; `check` names the expected diagnosis and the command log records its id."""
    lines, expected = ROUTES[route]
    to_challenge(tutor, alice)
    for line in lines:
        if line == WAIT:
            until_exited(tutor, alice, "redis-1")
        else:
            tutor.handle(alice, line)
    if expected == "passed":
        assert completed(tutor, alice)
        return
    tutor.handle(alice, "check")
    last = tutor.store.history(alice)[-1]
    assert (last.text, last.diagnosis) == ("check", expected)
    assert not completed(tutor, alice)


def test_there_are_at_least_thirty_routes() -> None:
    """The table covers at least 30 routes and every new diagnosis id of issue 20."""
    assert len(ROUTES) >= 30
    ids = {expected for _, expected in ROUTES.values()}
    assert {"other-names", "no-volume", "wrong-path", "wrong-volume", "trap"} <= ids
