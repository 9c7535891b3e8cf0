"""The pool's settings and placements: TUTOR_ENGINES, per-engine TLS, learners pinned in the store."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings, engine_addresses
from bot.errors import EngineDown, EngineUnavailable, UsageError
from bot.identity import Person
from bot.progress import ProgressStore
from bot.sandbox.pool.addresses import engine_environment
from bot.sandbox.pool.sandbox_pool import DOWN, DOWN_HINT, FULL, SandboxPool

A = "unix:///tmp/dte-a/docker.sock"
B = "tcp://sandbox-1.sandbox.example:2376"


def test_unset_engines_means_the_one_engine_of_today() -> None:
    """Without TUTOR_ENGINES there is no pool: DOCKER_HOST alone, reached as before."""
    settings = Settings.from_env({"DOCKER_HOST": "unix:///var/run/docker.sock"})
    assert settings.engines == ()
    base = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs/client"}
    assert engine_environment(settings, base) == {**base, "DOCKER_HOST": "unix:///var/run/docker.sock"}


def test_engines_and_capacity_are_read_in_order() -> None:
    """TUTOR_ENGINES lists unix and tcp addresses; TUTOR_ENGINE_CAPACITY sets each engine's room."""
    settings = Settings.from_env({"TUTOR_ENGINES": f" {A} ,{B},", "TUTOR_ENGINE_CAPACITY": "7",
                                  "TUTOR_ENGINE_CERTS": "/certs"})
    assert settings.engines == (A, B)
    assert settings.engine_capacity == 7
    assert settings.engine_certs == Path("/certs")


@pytest.mark.parametrize("raw", ["http://x:1", "tcp://host", "tcp://host:99999", "unix://", "a,a",
                                 "sandbox-0:2376"])
def test_a_bad_engine_address_is_one_clear_error(raw: str) -> None:
    """An address that is not unix:///path or tcp://host:port (or one named twice) is refused."""
    raw = raw.replace("a,a", f"{A},{A}")
    with pytest.raises(UsageError, match="TUTOR_ENGINES"):
        engine_addresses(raw)


def test_a_capacity_below_one_is_refused() -> None:
    """An engine that takes no learner is a configuration error, said at start-up."""
    with pytest.raises(UsageError, match="TUTOR_ENGINE_CAPACITY"):
        Settings.from_env({"TUTOR_ENGINE_CAPACITY": "0"})


def test_each_engine_gets_its_own_tls_material(tmp_path: Path) -> None:
    """A tcp engine uses $TUTOR_ENGINE_CERTS/<host>/ if there, else DOCKER_CERT_PATH; unix: none."""
    (tmp_path / "sandbox-1.sandbox.example").mkdir()
    pool = Settings(database_url="sqlite://", engines=(A, B, "tcp://other:2376"),
                    engine_certs=tmp_path)
    base = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs/client"}
    own = engine_environment(Settings(**{**pool.__dict__, "docker_host": B}), base)
    assert own["DOCKER_CERT_PATH"] == str(tmp_path / "sandbox-1.sandbox.example")
    assert own["DOCKER_TLS_VERIFY"] == "1" and own["DOCKER_HOST"] == B
    other = engine_environment(Settings(**{**pool.__dict__, "docker_host": "tcp://other:2376"}), base)
    assert other["DOCKER_CERT_PATH"] == "/certs/client"
    local = engine_environment(Settings(**{**pool.__dict__, "docker_host": A}), base)
    assert "DOCKER_CERT_PATH" not in local and "DOCKER_TLS_VERIFY" not in local


def test_new_learners_go_to_the_engine_with_most_room(store: ProgressStore) -> None:
    """Learners spread evenly; a placed learner keeps their engine; full engines take nobody."""
    placed = [store.place_learner(f"k{i}", [A, B], capacity=2) for i in range(4)]
    assert placed == [A, B, A, B]
    assert store.place_learner("k0", [B], capacity=2) == A  # pinned, whatever the candidates
    assert store.engine_loads() == {A: 2, B: 2}
    assert store.place_learner("k4", [A, B], capacity=2) is None
    assert store.engine_of("k4") is None
    assert store.place_learner("k5", [B, A], capacity=3) == B  # a tie goes to the first candidate


def test_only_healthy_candidates_take_new_learners(store: ProgressStore) -> None:
    """A learner is placed only among the candidates given (the engines that answer)."""
    assert store.place_learner("x", [B], capacity=5) == B
    assert store.place_learner("y", [B], capacity=5) == B
    assert store.place_learner("z", [], capacity=5) is None


def test_moving_a_learner_leaves_their_dead_engine(store: ProgressStore) -> None:
    """move_learner re-places a learner away from their engine; one moved meanwhile stays put."""
    assert store.place_learner("k", [A, B], capacity=5) == A
    assert store.move_learner("k", A, [A, B], capacity=5) == B
    assert store.engine_of("k") == B
    assert store.move_learner("k", A, [A, B], capacity=5) == B  # not on A any more: kept
    assert store.move_learner("k", B, [B], capacity=5) is None  # nowhere else to go
    assert store.engine_of("k") is None
    assert set(store.placements()) == set()


def test_concurrent_first_commands_of_one_learner_agree(settings: Settings) -> None:
    """Replicas placing the same new learner at once all get one engine, and one row is written."""
    stores = [ProgressStore(settings.database_url) for _ in range(6)]
    results: list[str | None] = []
    barrier = threading.Barrier(len(stores))

    def place(replica: ProgressStore, candidates: list[str]) -> None:
        barrier.wait()
        results.append(replica.place_learner("same", candidates, capacity=10))

    try:
        threads = [threading.Thread(target=place, args=(s, [A, B] if i % 2 else [B, A]))
                   for i, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 6 and len(set(results)) == 1 and results[0] in (A, B)
        assert sum(stores[0].engine_loads().values()) == 1
    finally:
        for replica in stores:
            replica.close()


def test_concurrent_new_learners_never_overfill_an_engine(settings: Settings) -> None:
    """Many learners placed at once on two engines of capacity 3: 3 each, the rest refused."""
    stores = [ProgressStore(settings.database_url) for _ in range(4)]
    results: list[str | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def place(index: int) -> None:
        barrier.wait()
        got = stores[index % 4].place_learner(f"learner{index}", [A, B], capacity=3)
        with lock:
            results.append(got)

    try:
        threads = [threading.Thread(target=place, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r or "" for r in results) == sorted(["", "", A, A, A, B, B, B])
        assert stores[0].engine_loads() == {A: 3, B: 3}
    finally:
        for replica in stores:
            replica.close()


NOWHERE = "tcp://127.0.0.1:1"
"""An engine address that cannot answer (a closed loopback port refuses at once)."""


def test_a_learner_placed_on_a_dead_engine_gets_the_clear_message(
    settings: Settings, store: ProgressStore, alice: Person, bob: Person,
) -> None:
    """Placed on an engine that does not answer: EngineDown, saying what happened and what to do."""
    pooled = replace(settings, engines=(NOWHERE,), engine_capacity=5)
    pool = SandboxPool(pooled, store)
    try:
        with pytest.raises(EngineUnavailable) as full:  # nobody is placed on a dead engine
            pool.containers(alice)
        assert str(full.value) == FULL and not isinstance(full.value, EngineDown)
        assert store.engine_of(alice.key) is None
        assert store.place_learner(bob.key, [NOWHERE], capacity=5) == NOWHERE
        with pytest.raises(EngineDown) as down:
            pool.containers(bob)
        assert str(down.value) == f"{DOWN}\n{DOWN_HINT}"
        with pytest.raises(EngineUnavailable, match="full or down"):  # reset: nowhere to go
            pool.remove_all(bob)
        assert store.engine_of(bob.key) is None  # left unplaced: the next command places them
    finally:
        pool.close()


def test_a_draining_engine_takes_no_new_learner_on_any_replica(settings: Settings) -> None:
    """A drain recorded by one store stops placements there for another store (replica); undrain undoes it."""
    operator, replica = ProgressStore(settings.database_url), ProgressStore(settings.database_url)
    try:
        assert operator.set_draining(A, True) and not operator.set_draining(A, True)
        assert replica.draining_engines() == {A}
        assert replica.place_learner("new", [A], capacity=5) is None  # even as the only candidate
        assert replica.place_learner("new", [A, B], capacity=5) == B
        assert operator.set_draining(A, False) and replica.draining_engines() == set()
        assert replica.place_learner("newer", [A, B], capacity=5) == A
    finally:
        operator.close()
        replica.close()


def test_a_drained_placement_moves_only_from_where_it_still_is(store: ProgressStore) -> None:
    """relocate_learner switches source to target once; not to a draining or full target, not twice."""
    assert store.place_learner("k", [A], capacity=5) == A
    assert store.place_learner("other", [B], capacity=5) == B
    assert not store.relocate_learner("k", A, B, capacity=1)  # B is full
    store.set_draining(B, True)
    assert not store.relocate_learner("k", A, B, capacity=5)  # B is draining
    store.set_draining(B, False)
    assert store.relocate_learner("k", A, B, capacity=5)
    assert store.engine_of("k") == B
    assert not store.relocate_learner("k", A, B, capacity=5)  # not on A any more
    assert store.engine_loads() == {B: 2}


def test_the_pool_places_only_on_engines_that_are_placeable(
    settings: Settings, store: ProgressStore, alice: Person,
) -> None:
    """A draining engine is not placeable; the operators' line names the learner's engine."""
    pooled = replace(settings, engines=(NOWHERE, "tcp://127.0.0.1:2"), engine_capacity=5)
    pool = SandboxPool(pooled, store)
    try:
        pool.answers = lambda address, fresh=False: True  # type: ignore[method-assign]
        store.set_draining(NOWHERE, True)
        assert pool.placeable() == ["tcp://127.0.0.1:2"]
        assert pool.engine_address(alice) == "unplaced"
        assert pool.engine_for(alice) == "tcp://127.0.0.1:2"
        assert pool.engine_address(alice) == "tcp://127.0.0.1:2"
    finally:
        pool.close()


def test_the_disk_watcher_skips_a_dead_local_engine(tmp_path: Path) -> None:
    """A unix socket nobody listens on is skipped before any client is made (nothing to leak)."""
    from bot.config import Limits
    from bot.sandbox.disk.watch import DiskWatch

    class Host:
        settings = Settings(database_url="sqlite://", docker_host=f"unix://{tmp_path}/gone.sock")
        limits = Limits()

        @property
        def client(self) -> object:
            raise AssertionError("the dead engine was asked")

        def _tell_later(self, ns: object, note: str) -> None:
            raise AssertionError("nobody is over any quota")

    watch = DiskWatch(Host())  # type: ignore[arg-type]
    assert watch.step() == watch.max_interval and watch.looks == 0


def test_an_engine_socket_is_probed_with_a_bounded_bare_connect(tmp_path: Path) -> None:
    """A listening loopback port or unix socket accepts; a closed port or a missing socket does not."""
    import socket

    from bot.sandbox.pool.addresses import socket_accepts

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert socket_accepts(f"tcp://127.0.0.1:{port}", timeout=1.0)
    assert not socket_accepts(f"tcp://127.0.0.1:{port}", timeout=1.0)  # closed now
    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        assert socket_accepts(f"unix://{path}", timeout=1.0)
    assert not socket_accepts(f"unix://{tmp_path}/gone.sock", timeout=1.0)
