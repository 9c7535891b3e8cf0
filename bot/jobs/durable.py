"""The durable work queue's interface: jobs the front end acknowledged, run by workers.

A front end that must answer fast (Slack wants its ``200`` within 3 seconds) stores each
learner line as a :class:`Job` and acknowledges; worker processes claim jobs with a lease,
run them through the tutor and mark them done. The queue lives in the progress database
(:mod:`bot.progress.queue`), so a crash or a redeploy loses nothing and replicas share it.

Guarantees (see :class:`JobQueue`):

* a request key is queued once (Slack's retries of one request run once);
* one learner's jobs run one at a time, in the order they were queued;
* a job whose worker died before starting it runs again; one whose worker died while
  running it is never run twice blindly: it comes back as an *interrupted* job, whose
  learner is told it may not have taken effect.

This module is SQL-free: :func:`bot.factory.build_queue` makes the implementation.
"""

from __future__ import annotations

import itertools
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

DEFAULT_LEASE_SECONDS = 60.0
"""How long a claim lasts without a heartbeat (workers renew it every third of that)."""

RESPONSE_URL_POSTS = 5
"""Slack accepts at most this many posts to one ``response_url`` ..."""

RESPONSE_URL_SECONDS = 30 * 60
"""... within this many seconds of the request."""

_serial = itertools.count(1)


@dataclass(frozen=True)
class Job:
    """One queued learner line.

    Attributes:
        id: The queue's id (increasing: the order lines were queued in).
        learner_key: Whose line (``slack:U123``); one learner's jobs run in order.
        line: The tutor line (``docker ps``, ``next``).
        reply_to: Where the answer goes, as the front end described it (JSON-able).
        interrupted: The job was claimed and started by a worker that died: it must not
            be run again; the learner is told it may not have taken effect.
        created_at: When it was queued (UTC).
        posts: Messages already posted to the request's ``response_url``.
    """

    id: int
    learner_key: str
    line: str
    reply_to: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    created_at: datetime | None = None
    posts: int = 0


class JobQueue(Protocol):
    """A durable queue of learner jobs shared by every process on one database."""

    def enqueue(self, learner_key: str, line: str, reply_to: dict[str, Any], *,
                request_key: str | None = None) -> int | None:
        """Store a job; its id, or ``None`` when ``request_key`` was queued before.

        Raises:
            StoreError: The database could not store it (nothing was queued).
        """

    def claim(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Job | None:
        """Take the next runnable job for ``owner``, or ``None`` when there is none.

        Interrupted jobs (a dead worker's, lease expired) come first, as
        ``interrupted=True``; a dead worker's job that had not started is queued again.
        """

    def start(self, job_id: int, owner: str) -> bool:
        """Record that the job's work begins now; ``False`` if ``owner`` lost the lease."""

    def heartbeat(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
        """Extend the lease of every job ``owner`` holds; how many it holds."""

    def finish(self, job_id: int, owner: str, outcome: str) -> bool:
        """Mark a job done; ``False`` if ``owner`` no longer held it."""

    def count_post(self, job_id: int) -> int:
        """Count one post to the job's ``response_url``; the number of posts before it."""

    def pending(self) -> int:
        """How many jobs are not done (queued, running or interrupted)."""

    def ping(self) -> None:
        """Check the database answers.

        Raises:
            StoreError: It does not.
        """

    def close(self) -> None:
        """Release the database connections."""


def worker_name(prefix: str = "worker") -> str:
    """A lease owner name unique to this process and call: ``worker@host:pid:n``."""
    return f"{prefix}@{socket.gethostname()[:40]}:{os.getpid()}:{next(_serial)}"


__all__ = ["DEFAULT_LEASE_SECONDS", "RESPONSE_URL_POSTS", "RESPONSE_URL_SECONDS", "Job",
           "JobQueue", "worker_name"]
