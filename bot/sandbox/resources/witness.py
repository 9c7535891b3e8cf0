"""What checks may read of a learner's image: its view, its files, and what it prints when run.

The witness is a container of the tutor's own, never the learner's: created from the
image's id with the image's own ``CMD`` and ``ENTRYPOINT`` (that is what is checked), under
the learner containers' host settings (no network, the seven capabilities, the limits),
with no mount, labelled so that no learner view lists it (the image's ownership labels
are overridden), and removed with its anonymous volumes whatever happens.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from typing import Any

import docker.errors

from bot.identity import Person
from bot.sandbox.engine.client import SandboxBase
from bot.sandbox.engine.image_lookups import HIDDEN_STEP, find_image, own_tags
from bot.sandbox.engine.oneshot import run_once
from bot.sandbox.engine.targets import path_stat
from bot.sandbox.engine.translate import boundary
from bot.sandbox.policy.naming import (
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    Namespace,
)
from bot.sandbox.views import ImageView

LABEL_WITNESS = "docker-tutor.witness"
"""On a witness container: the learner whose image it runs (instead of the learner label)."""

WITNESS_SECONDS = 10.0
"""The longest a witness runs before it is killed."""


class ImageWitnessMixin(SandboxBase):
    """Reads of the learner's images for checks (an :class:`~bot.checks.reader.EngineReader` part)."""

    @boundary
    def image(self, person: Person, name: str) -> ImageView | None:
        """The person's image ``name`` (``app``, ``app:v1``), or ``None``.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        found = find_image(self.client, ns, name)
        if found is None:
            return None
        config = found.get("Config") or {}
        history = tuple(str(layer.get("CreatedBy") or "")
                        for layer in self.client.api.history(found["Id"])
                        if HIDDEN_STEP not in str(layer.get("CreatedBy") or ""))
        return ImageView(
            id=str(found["Id"]), tags=tuple(own_tags(ns, found.get("RepoTags"))),
            size=int(found.get("Size") or 0), cmd=tuple(config.get("Cmd") or ()),
            entrypoint=tuple(config.get("Entrypoint") or ()), env=tuple(config.get("Env") or ()),
            workdir=str(config.get("WorkingDir") or ""), history=history)

    @staticmethod
    def _witness_labels(ns: Namespace) -> dict[str, str]:
        """A witness's labels: the learner's in :data:`LABEL_WITNESS`, none a learner view lists."""
        return {LABEL_MANAGED: "1", LABEL_NAMESPACE: ns.prefix, LABEL_LEARNER: "",
                LABEL_NAME: "", LABEL_WITNESS: ns.learner}

    def _run_image_witness(self, person: Person, image_id: str, command: list[str] | None) -> Any:
        ns = self.namespace(person)
        return self.client.containers.create(
            image_id, command=command or None, labels=self._witness_labels(ns), detach=True,
            name=f"{ns.prefix}-{ns.learner}-.witness-{secrets.token_hex(4)}",
            **self._host_limits())

    @boundary
    def image_run(self, person: Person, name: str, argv: list[str] | None = None,
                  *, timeout: float = WITNESS_SECONDS) -> tuple[int, str] | None:
        """Run the person's image ``name`` as the tutor (its own ``CMD``, or ``argv``).

        Returns:
            (exit code, output), or ``None`` when there is no such image.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        found = find_image(self.client, self.namespace(person), name)
        if found is None:
            return None
        ns = self.namespace(person)
        done = run_once(self.client.api, str(found["Id"]), {
            "command": argv or None, "labels": self._witness_labels(ns),
            "name": f"{ns.prefix}-{ns.learner}-.witness-{secrets.token_hex(4)}",
            **self._host_limits()}, seconds=timeout, limit=self._kept_bytes(), exit_code=True)
        code = 137 if done.code is None else done.code
        return code, done.output.decode("utf-8", "replace")

    @boundary
    def image_path(self, person: Person, name: str, path: str) -> bool | None:
        """Whether ``path`` exists in the person's image ``name`` (``None``: no such image).

        The witness is created, never started: the engine's stat reads the image's files.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        found = find_image(self.client, self.namespace(person), name)
        if found is None:
            return None
        container = self._run_image_witness(person, str(found["Id"]), ["true"])
        try:
            return path_stat(self.client.api, container.id, path) is not None
        finally:
            with suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
