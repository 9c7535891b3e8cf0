"""The container lifecycle verbs (``rm``, ``stop``, ``start``, ``restart``) and reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import docker.errors
from docker.models.containers import Container

from bot.identity import Person
from bot.sandbox.engine.binds import BindsMixin
from bot.sandbox.engine.client import NOT_FOUND, Plan
from bot.sandbox.engine.images import remove_images
from bot.sandbox.engine.translate import boundary, engine_calls
from bot.sandbox.policy.naming import LABEL_ANONYMOUS, LABEL_NAME, Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import ContainerView, Outcome


class ContainersMixin(BindsMixin):
    """The learner's containers: reading them, and the verbs that act on existing ones."""

    @boundary
    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name``, or ``None``.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        found = self._find_container(ns, name, by_id=False)
        return None if found is None else self._view(ns, found)

    @boundary
    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, running or not.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        return [self._view(ns, c) for c in self._containers(ns)]

    @boundary
    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove every container, volume and image of the person, and their workspace.

        Returns:
            How many containers and volumes were removed.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        with engine_calls():
            containers = self._summaries(ns)
            for container in containers:
                with suppress(docker.errors.NotFound):
                    self.client.api.remove_container(container["Id"], force=True, v=True)
            volumes = self._volumes(ns)
            for volume in volumes:
                with suppress(docker.errors.NotFound):
                    volume.remove(force=True)
            self._workspace(ns).remove()  # no container is left to use it
            remove_images(self.client, ns.prefix, ns.learner)  # their builds, cache included
        return len(containers), len(volumes)

    def _remove(self, ns: Namespace, container: Container, *, force: bool) -> None:
        """Remove a container, and the anonymous volumes no other container uses."""
        anonymous = [
            m.get("Name", "") for m in container.attrs.get("Mounts", [])
            if m.get("Type") == "volume"
        ]
        container.remove(force=force, v=True)
        self._remove_anonymous(ns, anonymous)

    def _gone_with_auto_remove(self, ns: Namespace, container: Container) -> None:
        """Once a ``run --rm -d`` container stopped, wait for the engine to remove it.

        A few seconds at most; then its anonymous volumes go, as with ``docker``.
        """
        anonymous = [m.get("Name", "") for m in container.attrs.get("Mounts", [])
                     if m.get("Type") == "volume"]
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                self.client.api.inspect_container(container.id)
            except docker.errors.NotFound:
                break
            time.sleep(0.05)
        self._remove_anonymous(ns, anonymous)

    def _remove_anonymous(self, ns: Namespace, anonymous: list[str]) -> None:
        """Remove those of the learner's anonymous volumes named in ``anonymous``."""
        if not anonymous:
            return
        for volume in self._volumes(ns):
            labels = volume.attrs.get("Labels") or {}
            if volume.name in anonymous and labels.get(LABEL_ANONYMOUS) == "1":
                # Still used by another container: housekeeping will get it later.
                with suppress(docker.errors.APIError):
                    volume.remove()

    def _each_container(
        self,
        ns: Namespace,
        refs: list[str],
        act: Callable[[Container], str | None],
    ) -> tuple[int, str]:
        """Apply ``act`` to each referenced container; the CLI's output and exit code."""
        return self._each_container_timed(ns, refs, lambda container, _wait: act(container), 0)

    def _each_container_timed(
        self,
        ns: Namespace,
        refs: list[str],
        act: Callable[[Container, int], str | None],
        seconds: int,
    ) -> tuple[int, str]:
        """Like :meth:`_each_container`, for verbs that wait (``stop -t``, ``restart -t``).

        ``act`` gets the container and the seconds it may wait for it (``stop -t``):
        ``seconds``, but never more than an equal share of what is left of the line's
        budget (:meth:`_line_deadline`). So ``restart -t 60 h h ...`` ends within the
        foreground limit and a little engine time per name, whatever the names.
        """
        out, code = [], 0
        deadline = self._line_deadline()
        for index, ref in enumerate(refs):
            container = self._find_container(ns, ref)
            if container is None:
                out.append(NOT_FOUND.format(ref))
                code = 1
                continue
            share = max(0.0, deadline - time.monotonic()) / (len(refs) - index)
            try:
                error = act(container, min(seconds, int(share)))
            except docker.errors.APIError as exc:
                error = f"Error response from daemon: {self._rewrite(ns, str(exc.explanation))}"
            if error:
                out.append(error + "\n")
                code = 1
            else:
                out.append(ref + "\n")
        return code, "".join(out)

    def _do_rm(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        force = command.flag("force")
        removed: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            running = container.status == "running"
            if running and not force:
                return (
                    f"Error response from daemon: You cannot remove a running container "
                    f"{container.id}. Stop the container before attempting removal or force "
                    "remove"
                )
            fact = self._view(ns, container).as_fact()
            self._remove(ns, container, force=force)
            removed.append({**fact, "was_running": running, "force": force})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"removed": removed})

    def _do_stop(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        stopped: list[dict[str, Any]] = []

        def act(container: Container, wait: int) -> str | None:
            was_running = container.status == "running"
            container.stop(timeout=wait)
            if _auto_remove(container):  # `run --rm -d`: stopped means gone, as in docker
                self._gone_with_auto_remove(ns, container)
            stopped.append({"id": container.id, "name": container.labels.get(LABEL_NAME, ""),
                            "was_running": was_running})
            return None

        code, output = self._each_container_timed(ns, command.args, act, plan.seconds)
        return Outcome(code, output, facts={"stopped": stopped})

    def _do_start(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        started: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            if container.status != "running":
                refused = self._linked_targets_refusal(container)
                if refused:
                    return refused
            self._disk_watch.ensure_running()
            container.start()
            started.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        return Outcome(code, output, facts={"started": started})

    def _do_restart(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        restarted: list[dict[str, Any]] = []

        def act(container: Container, wait: int) -> str | None:
            if _auto_remove(container):
                return (f"Error: {container.labels.get(LABEL_NAME, '')}: the sandbox restarts "
                        "by stopping and starting, and `--rm` would remove it when it stops. "
                        "Use `docker stop`, then `docker run` again.")
            # Stop, check the stopped container's own files, then start: a link planted
            # above a mount target while it ran must be found before the engine mounts.
            container.stop(timeout=wait)
            container.reload()
            refused = self._linked_targets_refusal(container)
            if refused:
                return refused
            self._disk_watch.ensure_running()
            container.start()
            restarted.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container_timed(ns, command.args, act, plan.seconds)
        return Outcome(code, output, facts={"restarted": restarted, "stopped": restarted})


def _auto_remove(container: Container) -> bool:
    """Whether the engine removes ``container`` when it stops (``docker run --rm -d``)."""
    return bool((container.attrs.get("HostConfig") or {}).get("AutoRemove"))
