"""A bounded thread pool that runs tasks sharing a key one at a time, in order.

Front ends use it so that a class of learners can run slow commands at the same time
while each learner's own commands run strictly in the order they were typed. The
module is pure standard library and knows nothing about Slack.

Example:
    >>> pool = KeyedExecutor(max_workers=4)
    >>> first = pool.submit("slack:U1", lambda: "first")
    >>> second = pool.submit("slack:U1", lambda: "second")   # runs after ``first``
    >>> second.result()
    'second'
    >>> pool.shutdown()
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DEFAULT_WORKERS = 32
"""Pool size for a class: enough for every learner of a typical class to run at once."""

_counter = itertools.count(1)


@dataclass
class _Task(Generic[T]):
    fn: Callable[[], T]
    future: Future[T]


class KeyedExecutor:
    """Run callables on a bounded pool; callables with the same key run FIFO, one at a time.

    Tasks with different keys run in parallel, up to ``max_workers`` at once. Tasks with
    the same key never overlap and start in the order they were submitted. A key that
    has more work queued goes to the back of the line after each task, so one busy key
    cannot starve the others. Worker threads are started on demand and stay until
    :meth:`shutdown`.

    Args:
        max_workers: The most tasks that run at the same time (at least 1).
        thread_name_prefix: Name prefix of the worker threads, for logs and debuggers.

    Raises:
        ValueError: If ``max_workers`` is less than 1.
    """

    def __init__(self, max_workers: int = DEFAULT_WORKERS, *,
                 thread_name_prefix: str = "keyed-worker") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._prefix = f"{thread_name_prefix}-{next(_counter)}"
        self._cond = threading.Condition()
        self._pending: dict[Hashable, deque[_Task[Any]]] = {}
        self._ready: deque[Hashable] = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._shutdown = False

    def submit(self, key: Hashable, fn: Callable[..., T], /, *args: Any,
               **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` behind every earlier task with the same key.

        Args:
            key: Tasks with equal keys run one at a time, in submission order.
            fn: The callable.
            *args: Positional arguments for ``fn``.
            **kwargs: Keyword arguments for ``fn``.

        Returns:
            A future for the result; an exception raised by ``fn`` is set on it.

        Raises:
            RuntimeError: After :meth:`shutdown` was called.
        """
        future: Future[T] = Future()
        task = _Task(lambda: fn(*args, **kwargs), future)
        with self._cond:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            queue = self._pending.get(key)
            if queue is None:
                self._pending[key] = deque([task])
                self._ready.append(key)
                self._wake_or_spawn()
            else:
                queue.append(task)
        return future

    def pending(self, key: Hashable) -> int:
        """How many tasks with this key are queued or running."""
        with self._cond:
            queue = self._pending.get(key)
            return len(queue) if queue is not None else 0

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting tasks; by default finish every queued one, then stop the workers.

        Args:
            wait: Block until every worker has exited.
            cancel_futures: Cancel the tasks that have not started instead of running them.
        """
        with self._cond:
            self._shutdown = True
            if cancel_futures:
                for key, queue in list(self._pending.items()):
                    running = queue[0] if key not in self._ready else None
                    for task in list(queue):
                        if task is not running:
                            task.future.cancel()
                            queue.remove(task)
                    if not queue:
                        del self._pending[key]
                self._ready = deque(k for k in self._ready if k in self._pending)
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()

    def __enter__(self) -> KeyedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    # -- workers --------------------------------------------------------------------------

    def _wake_or_spawn(self) -> None:
        """With the lock held: make sure a worker will pick up the key just made ready."""
        self._cond.notify()
        if len(self._ready) > self._idle and len(self._threads) < self.max_workers:
            thread = threading.Thread(
                target=self._work, name=f"{self._prefix}-{len(self._threads) + 1}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._shutdown:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if not self._ready:
                    return
                key = self._ready.popleft()
                task = self._pending[key][0]
            self._run(task)
            with self._cond:
                queue = self._pending[key]
                queue.popleft()
                if queue:
                    self._ready.append(key)
                    self._cond.notify()
                else:
                    del self._pending[key]

    @staticmethod
    def _run(task: _Task[Any]) -> None:
        if not task.future.set_running_or_notify_cancel():
            return
        try:
            result = task.fn()
        except BaseException as exc:  # the future carries it to whoever waits on it
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)


__all__ = ["DEFAULT_WORKERS", "KeyedExecutor"]
