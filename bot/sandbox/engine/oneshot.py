"""The tutor's own one-shot containers: create, attach, start, read until it ends.

The witnesses (:mod:`bot.sandbox.redis.witness`, :mod:`bot.sandbox.resources.witness`,
:mod:`bot.sandbox.resources.network_witness`) each run a short container of the tutor's
and read what it prints. Done with docker-py's models that cost seven engine requests
(``create`` and its inspect, ``start``, ``wait``, ``logs`` and the inspect docker-py
makes to learn whether the container has a TTY, ``remove``). Here, as the docker CLI's
``docker run --rm`` does it, the output is read from an attach made before the start, so
it ends when the container does:

* without the exit code: ``create``, ``attach``, ``start``, ``remove``: **four** requests;
* with it, ``wait`` too (answered at once: it has ended): five.

It is removed by the tutor, not by the engine's ``AutoRemove``: that removal comes a
moment after the container ends, so a witness that has answered could still be listed
(and a clean-up that lists it could race it). A container still running at the deadline
is removed by force (killed first). One the tutor never got to remove (it died between
the two) carries its caller's helper labels, so the janitor finds it.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import _create_container_args

from bot.sandbox.engine.streams import read_stream
from bot.sandbox.engine.translate import engine_calls


@dataclass(frozen=True)
class OneShot:
    """What a one-shot container printed.

    Attributes:
        code: Its exit code (``None`` when not asked for, or it did not end in time).
        output: The first ``limit`` bytes it printed (stdout, and stderr when asked).
        size: How many bytes it printed in all.
        timed_out: Whether the deadline passed before it ended (it was then removed).
    """

    code: int | None
    output: bytes
    size: int
    timed_out: bool


def run_once(api: docker.APIClient, image: str, settings: dict[str, Any], *, seconds: float,
             limit: int, stderr: bool = True, exit_code: bool = False) -> OneShot:
    """Run a container of the tutor's to its end and read what it printed.

    Args:
        api: The engine's low-level client.
        image: The image (a reference or an id).
        settings: ``containers.create`` keyword arguments (``command``, ``labels``,
            ``mounts``, the host limits...); never ``detach`` or ``tty``.
        seconds: The longest it may run; then it is removed by force.
        limit: The most bytes of output kept.
        stderr: Whether its standard error is read too.
        exit_code: Whether its exit code is needed (two more requests: see the module
            docstring).

    Raises:
        docker.errors.ImageNotFound: There is no such image.
        docker.errors.APIError: The engine refused the container.
    """
    wanted = {**settings, "image": image, "version": api._version, "detach": True,
              "tty": False}
    with engine_calls():
        created = api.create_container(**_create_container_args(wanted))
    container_id = str(created["Id"])
    try:
        with engine_calls():
            sock = api.attach_socket(container_id, params={
                "stdout": 1, "stderr": 1 if stderr else 0, "stream": 1, "logs": 1})
        raw = getattr(sock, "_sock", sock)
        try:
            with engine_calls():
                api.start(container_id)
            data, size, timed_out = read_stream(
                raw, tty=False, deadline=time.monotonic() + seconds, limit=limit)
        finally:
            sock.close()
            raw.close()
        code: int | None = None
        if exit_code and not timed_out:
            with engine_calls(), suppress(requests.exceptions.RequestException):
                code = int(api.wait(container_id, timeout=5).get("StatusCode", 0))
        return OneShot(code, data, size, timed_out)
    finally:
        with engine_calls(), suppress(docker.errors.NotFound):
            api.remove_container(container_id, force=True, v=True)


__all__ = ["OneShot", "run_once"]
