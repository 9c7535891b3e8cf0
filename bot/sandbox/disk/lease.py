"""One disk watcher per engine and namespace, across every process and replica: a lease.

The lease is an engine-side lock: a container named ``<prefix>-disk-lease``, created from
the meter's image and never started. Creating a container under a taken name fails with
409 on every engine, atomically, so whoever creates it holds the lease; nothing outside
the engine (no shared database, no clock) is needed, and every replica of a deployment,
whatever host it runs on, sees the same lock.

The holder renews by replacing the container (remove by id, create again) every third of
:attr:`Lease.ttl`; a new id is a heartbeat. A follower that sees the same id for longer
than ``ttl`` on its own monotonic clock (no clocks compared across hosts) takes the lease
over: it removes *that id* (a fresher lease a faster follower made is never removed, as
it has another id) and creates its own. Closing a sandbox releases its lease.
"""

from __future__ import annotations

import secrets
import time

import docker
import docker.errors

from bot.sandbox.disk.meter import LABEL_OWN

LABEL_LEASE = "docker-tutor.disk-lease"
"""On the lease container: the holder's token."""


class Lease:
    """The disk-watch lease of one engine and namespace.

    Args:
        client: The engine.
        prefix: The deployment's namespace prefix.
        ttl: Seconds after which a lease not renewed is taken over.
        image: An image the engine holds (the container is never started).
    """

    def __init__(self, client: docker.DockerClient, prefix: str, ttl: float,
                 image: str = "busybox:latest") -> None:
        self.client = client
        self.name = f"{prefix}-disk-lease"
        self.prefix = prefix
        self.ttl = ttl
        self.image = image
        self.token = secrets.token_hex(8)
        self._held: str | None = None
        self._renewed = 0.0
        self._seen: str | None = None
        self._seen_at = 0.0

    @property
    def held(self) -> bool:
        """Whether this watcher held the lease at its last :meth:`hold`."""
        return self._held is not None

    def hold(self) -> bool:
        """Take, keep or renew the lease; whether this watcher holds it now (a few requests)."""
        now = time.monotonic()
        if self._held is not None:
            if now - self._renewed < self.ttl / 3:
                return True
            self._remove(self._held)
            self._held = None
            return self._create(now)
        if self._create(now):
            return True
        try:
            current = str(self.client.api.inspect_container(self.name)["Id"])
        except docker.errors.NotFound:
            return self._create(now)
        if current != self._seen:
            self._seen, self._seen_at = current, now
            return False
        if now - self._seen_at > self.ttl:  # its holder stopped renewing: take it over
            self._remove(current)
            return self._create(now)
        return False

    def release(self) -> None:
        """Give the lease up (the sandbox closes); a follower takes it at once."""
        if self._held is not None:
            self._remove(self._held)
            self._held = None

    def _create(self, now: float) -> bool:
        api = self.client.api
        try:
            created = api.create_container(
                self.image, command=["true"], name=self.name, network_disabled=True,
                labels={LABEL_OWN: self.prefix, LABEL_LEASE: self.token},
                host_config=api.create_host_config(network_mode="none"))
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                return False
            raise
        self._held, self._renewed = str(created["Id"]), now
        self._seen = None
        return True

    def _remove(self, cid: str) -> None:
        try:
            self.client.api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # "removal already in progress": someone else's
                raise
