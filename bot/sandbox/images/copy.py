"""Lesson images onto every engine of a pool, through the engines' APIs only.

An engine of the pool takes learners only once it holds every lesson image (a learner
placed on an engine without ``redis`` could not do the lesson). An engine that lacks some
is filled, off the request path, by :class:`ImageFiller`:

* from another engine of the pool that has them: ``GET /images/{tag}/get`` on the donor
  streamed straight into ``POST /images/load`` on the target (what ``docker save |
  docker load`` does, with nothing on the bot's disk), at most :data:`MAX_IMAGE_BYTES`
  per image;
* else built offline on it (:func:`~bot.sandbox.images.lesson_images.ensure_images`, as
  ``docker-tutor images build`` does).

One fill per engine at a time in a process; a failed fill is logged and tried again at
the next placement that needs the engine, not sooner than :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import docker
import docker.errors
import requests.exceptions

from bot.config import Settings
from bot.errors import EngineUnavailable, TutorError
from bot.sandbox.engine.unix_socket import mend
from bot.sandbox.images.lesson_images import ensure_images, lesson_tags
from bot.sandbox.pool.addresses import engine_environment, socket_accepts

mend()  # docker-py's unix connect closes its socket when it fails (see unix_socket)

log = logging.getLogger("docker_tutor.sandbox")

MAX_IMAGE_BYTES = 2 * 1024**3
"""The most bytes one image's archive may take on its way between two engines."""

RETRY_SECONDS = 30.0
"""How long after a failed fill an engine is not tried again."""


class TooLarge(EngineUnavailable):
    """A stream between two engines went past its bound; the copy was abandoned."""


def bounded(chunks: Iterable[bytes], limit: int, what: str) -> Iterator[bytes]:
    """Pass ``chunks`` on, raising :class:`TooLarge` once more than ``limit`` bytes went by."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"{what} is larger than {limit} bytes; not copied.")
        yield chunk


def missing_tags(client: docker.DockerClient, tags: Iterable[str]) -> list[str]:
    """The tags among ``tags`` the engine does not have.

    Raises:
        docker.errors.DockerException, requests.exceptions.RequestException: The engine failed.
    """
    missing = []
    for tag in tags:
        try:
            client.api.inspect_image(tag)
        except docker.errors.ImageNotFound:
            missing.append(tag)
    return missing


def copy_image(source: docker.DockerClient, target: docker.DockerClient, tag: str,
               limit: int = MAX_IMAGE_BYTES) -> None:
    """Stream one image (by tag, so the tag comes along) from ``source`` into ``target``.

    Raises:
        TooLarge: The archive passed ``limit`` bytes.
        docker.errors.DockerException, requests.exceptions.RequestException: An engine failed.
    """
    chunks = source.api.get_image(tag, chunk_size=1024 * 1024)
    try:
        for message in target.api.load_image(bounded(chunks, limit, f"the image {tag}")):
            if isinstance(message, dict) and message.get("error"):
                raise EngineUnavailable(f"loading {tag}: {message['error']}")
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if missing_tags(target, [tag]):
        raise EngineUnavailable(f"the engine did not keep the image {tag} it was sent")


def fill_engine(address: str, clients: Mapping[str, docker.DockerClient], names: Iterable[str], *,
                answers: Callable[[str], bool], pull: bool = False) -> str:
    """Give the engine at ``address`` every lesson image it lacks; say how.

    Args:
        address: The engine to fill.
        clients: Every engine of the pool by address (``address`` included).
        names: The lesson images (``redis``, ``busybox``).
        answers: Whether an engine answers now (donors that do not are skipped).
        pull: Let the offline fallback try a registry first.

    Returns:
        ``present``, ``copied from <donor>`` or ``built``.

    Raises:
        TutorError: Neither a copy nor a build worked (the message says why).
    """
    target = clients[address]
    wanted = lesson_tags(names)
    try:
        missing = missing_tags(target, wanted)
        if not missing:
            return "present"
        for donor, client in clients.items():
            if donor == address or not answers(donor) or missing_tags(client, missing):
                continue
            for tag in missing:
                began = time.monotonic()
                copy_image(client, target, tag)
                log.info("image %s copied from %s to %s in %.1f s", tag, donor, address,
                         time.monotonic() - began)
            return f"copied from {donor}"
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailable(f"copying images to {address} failed: {exc}") from exc
    ensure_images(target, names, pull=pull, log=lambda line: log.info("%s: %s", address, line))
    return "built"


class ImageFiller:
    """Fills engines that lack the lesson images, each in a background thread of its own.

    Args:
        clients: Gives the client of each engine of the pool, by address.
        names: The lesson images.
        answers: Whether an engine answers now.
        clock: A monotonic clock (for :data:`RETRY_SECONDS`).
    """

    def __init__(self, clients: Callable[[], Mapping[str, docker.DockerClient]],
                 names: Iterable[str], answers: Callable[[str], bool], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clients = clients
        self.names = sorted(names)
        self._answers = answers
        self._clock = clock
        self._lock = threading.Lock()
        self._busy: dict[str, threading.Thread] = {}
        self._failed: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}

    def request(self, address: str) -> threading.Thread | None:
        """Start filling ``address`` unless a fill runs or failed moments ago; the thread."""
        with self._lock:
            running = self._busy.get(address)
            if running is not None and running.is_alive():
                return running
            failed = self._failed.get(address)
            if failed is not None and self._clock() - failed < RETRY_SECONDS:
                return None
            thread = threading.Thread(target=self._fill, args=(address,), daemon=True,
                                      name=f"image-fill-{len(self._busy)}")
            self._busy[address] = thread
            thread.start()
            return thread

    def wait(self, address: str, timeout: float | None = None) -> str | None:
        """Wait for the fill of ``address`` under way (if any); how the last fill ended."""
        with self._lock:
            running = self._busy.get(address)
        if running is not None:
            running.join(timeout)
        with self._lock:
            return self.outcomes.get(address)

    def _fill(self, address: str) -> None:
        try:
            outcome = fill_engine(address, self._clients(), self.names, answers=self._answers)
        except TutorError as error:
            with self._lock:
                self._failed[address] = self._clock()
                self.outcomes[address] = f"failed: {error}"
            log.warning("lesson images for %s: %s", address, error)
            return
        with self._lock:
            self._failed.pop(address, None)
            self.outcomes[address] = outcome
        log.info("lesson images on %s: %s", address, outcome)


def fill_in_background(settings: Settings, names: Iterable[str]) -> threading.Thread:
    """At the start of ``serve``: give each engine of the pool the lesson images it lacks.

    One daemon thread visits the engines in turn (off every request's path); meanwhile
    the pool places no learner on an engine without the images (:meth:`SandboxPool.placeable
    <bot.sandbox.pool.sandbox_pool.SandboxPool.placeable>`), and fills it itself when it sees one.
    """
    wanted = sorted(names)

    def answers(address: str) -> bool:
        return not address.startswith("unix://") or socket_accepts(address)

    def work() -> None:
        clients: dict[str, docker.DockerClient] = {}
        try:
            for address in settings.engines:
                if answers(address):
                    environment = engine_environment(
                        Settings(**{**settings.__dict__, "docker_host": address}), os.environ)
                    clients[address] = docker.from_env(timeout=60, environment=environment)
            for address in clients:
                try:
                    outcome = fill_engine(address, clients, wanted, answers=answers)
                    log.info("lesson images on %s: %s", address, outcome)
                except TutorError as error:
                    log.warning("lesson images for %s: %s", address, error)
        except docker.errors.DockerException as exc:
            log.warning("lesson images could not be checked: %s", exc)
        finally:
            for client in clients.values():
                client.close()

    thread = threading.Thread(target=work, name="image-fill-start", daemon=True)
    thread.start()
    return thread


__all__ = [
    "MAX_IMAGE_BYTES",
    "ImageFiller",
    "TooLarge",
    "bounded",
    "copy_image",
    "fill_engine",
    "fill_in_background",
    "missing_tags",
]
