"""The keyed executor: same key FIFO one at a time, different keys in parallel, bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.jobs.ordered import KeyedExecutor

WAIT = 10.0


@pytest.fixture
def pool() -> Iterator[KeyedExecutor]:
    """An executor with four workers, shut down after the test."""
    executor = KeyedExecutor(4)
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def test_same_key_runs_in_submission_order_one_at_a_time(pool: KeyedExecutor) -> None:
    """Fifty tasks under one key run in the order submitted and never overlap."""
    order: list[int] = []
    active = 0
    overlap = False
    guard = threading.Lock()

    def task(n: int) -> int:
        nonlocal active, overlap
        with guard:
            active += 1
            overlap = overlap or active > 1
        order.append(n)
        with guard:
            active -= 1
        return n

    futures = [pool.submit("alice", task, n) for n in range(50)]
    assert [f.result(WAIT) for f in futures] == list(range(50))
    assert order == list(range(50))
    assert not overlap


def test_a_blocked_key_does_not_hold_up_other_keys(pool: KeyedExecutor) -> None:
    """While alice's task blocks, bob's tasks run; alice's second task waits for her first."""
    gate = threading.Event()
    events: list[str] = []
    first = pool.submit("alice", lambda: (gate.wait(WAIT), events.append("alice-1")))
    second = pool.submit("alice", lambda: events.append("alice-2"))
    bob = [pool.submit("bob", lambda n=n: events.append(f"bob-{n}")) for n in range(3)]
    for future in bob:
        future.result(WAIT)
    assert events == ["bob-0", "bob-1", "bob-2"]
    assert not first.done() and not second.done()
    gate.set()
    second.result(WAIT)
    assert events[-2:] == ["alice-1", "alice-2"]


def test_different_keys_run_in_parallel_up_to_the_bound() -> None:
    """Eight keys on a pool of three: exactly three run at once, never more."""
    executor = KeyedExecutor(3)
    started = threading.Semaphore(0)
    gate = threading.Event()
    running = 0
    peak = 0
    guard = threading.Lock()

    def task() -> None:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        started.release()
        gate.wait(WAIT)
        with guard:
            running -= 1

    try:
        futures = [executor.submit(f"k{n}", task) for n in range(8)]
        for _ in range(3):
            assert started.acquire(timeout=WAIT)
        assert not started.acquire(timeout=0.2)
        gate.set()
        for future in futures:
            future.result(WAIT)
        assert peak == 3
        assert len(executor._threads) == 3
    finally:
        gate.set()
        executor.shutdown()


def test_an_exception_is_kept_on_the_future_and_the_key_goes_on(pool: KeyedExecutor) -> None:
    """A failing task fails its own future only; the next task with its key still runs."""

    def boom() -> None:
        raise ValueError("boom")

    failed = pool.submit("alice", boom)
    after = pool.submit("alice", lambda: "fine")
    with pytest.raises(ValueError, match="boom"):
        failed.result(WAIT)
    assert after.result(WAIT) == "fine"


def test_shutdown_finishes_queued_work_then_refuses_more() -> None:
    """shutdown(wait=True) runs what was queued, stops the threads, and rejects new work."""
    executor = KeyedExecutor(2)
    gate = threading.Event()
    done: list[int] = []
    futures = [executor.submit("k", lambda n=n: (gate.wait(WAIT), done.append(n)))
               for n in range(5)]
    gate.set()
    executor.shutdown(wait=True)
    assert done == [0, 1, 2, 3, 4]
    assert all(f.done() for f in futures)
    assert not any(t.is_alive() for t in executor._threads)
    with pytest.raises(RuntimeError):
        executor.submit("k", lambda: None)


def test_shutdown_can_cancel_what_has_not_started() -> None:
    """With cancel_futures, the running task finishes and the queued ones are cancelled."""
    executor = KeyedExecutor(1)
    gate = threading.Event()
    started = threading.Event()
    running = executor.submit("k", lambda: (started.set(), gate.wait(WAIT)))
    queued = [executor.submit("k", lambda: None), executor.submit("other", lambda: None)]
    assert started.wait(WAIT)
    threading.Timer(0.1, gate.set).start()
    executor.shutdown(wait=True, cancel_futures=True)
    assert running.done() and not running.cancelled()
    assert all(f.cancelled() for f in queued)


def test_a_cancelled_task_is_skipped(pool: KeyedExecutor) -> None:
    """A task cancelled before it starts never runs; the ones after it do."""
    gate = threading.Event()
    ran: list[str] = []
    first = pool.submit("k", lambda: gate.wait(WAIT))
    skipped = pool.submit("k", lambda: ran.append("skipped"))
    last = pool.submit("k", lambda: ran.append("last"))
    assert skipped.cancel()
    gate.set()
    last.result(WAIT)
    assert first.done()
    assert ran == ["last"]
    assert pool.pending("k") == 0


def test_max_workers_must_be_positive() -> None:
    """A pool needs at least one worker."""
    with pytest.raises(ValueError, match="at least 1"):
        KeyedExecutor(0)
