"""A worker's queue calls run at the acks' priority, its jobs below it (no priority inversion)."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pytest_mock import MockerFixture

from bot.errors import StoreError
from bot.progress import ProgressStore
from bot.progress.queue import SqlJobQueue
from handlers.worker import QueueOnThread, thread_nice

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="a thread's own priority is Linux's")


def test_the_queue_thread_keeps_the_priority_the_jobs_lose(tmp_path: object) -> None:
    """Made before the worker lowers its priority: queue calls at 0, job threads at +10."""
    url = f"sqlite:///{tmp_path}/w.db"
    ProgressStore(url).close()
    seen: dict[str, object] = {}

    def worker_main() -> None:  # a thread of its own: the test's own priority stays as it is
        start = os.nice(0)
        jobs = QueueOnThread(SqlJobQueue(url))
        os.nice(10)  # what run_worker does next (on Linux: this thread and its later ones)
        with ThreadPoolExecutor(1) as pool:
            seen["job"] = pool.submit(lambda: thread_nice(threading.get_native_id())).result()
            seen["queue"] = thread_nice(jobs.native_id)
            seen["start"] = start
            new_id = pool.submit(jobs.enqueue, "slack:U1", "docker ps", {"kind": "dm"}).result()
            claimed = pool.submit(jobs.claim, "w").result()
            seen["claimed"] = (new_id, None if claimed is None else claimed.id)
            seen["finished"] = pool.submit(jobs.finish, new_id, "w", "answered").result()
        jobs.close()
        try:
            jobs.pending()
        except RuntimeError as error:  # the queue's thread is gone: calls fail loudly
            seen["after_close"] = type(error).__name__

    thread = threading.Thread(target=worker_main)
    thread.start()
    thread.join(30)
    assert seen["queue"] == seen["start"] and seen["job"] == int(seen["start"]) + 10  # type: ignore[call-overload]
    new_id, claimed_id = seen["claimed"]  # type: ignore[misc]
    assert new_id is not None and claimed_id == new_id and seen["finished"] is True
    assert seen["after_close"] == "RuntimeError"


def test_a_queue_error_reaches_the_caller(tmp_path: object, mocker: MockerFixture) -> None:
    """The store's error raised on the queue's thread is raised where the call was made."""
    url = f"sqlite:///{tmp_path}/w.db"
    ProgressStore(url).close()
    inner = SqlJobQueue(url)
    jobs = QueueOnThread(inner)
    mocker.patch.object(inner, "finish", side_effect=StoreError("The queue is not answering."))
    try:
        with pytest.raises(StoreError, match="not answering"):
            jobs.finish(1, "w", "answered")
    finally:
        jobs.close()
