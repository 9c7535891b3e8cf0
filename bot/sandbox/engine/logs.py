"""A container's log in one engine request.

docker-py's ``Container.logs`` asks the engine twice: it inspects the container first,
only to learn whether it has a TTY (which decides how the log is framed). The tutor has
always just read the container (that is how it found it), so its ``Config.Tty`` is known
and the log costs one request.
"""

from __future__ import annotations

from typing import Any

from docker.models.containers import Container

from bot.sandbox.engine.translate import engine_calls


def container_logs(container: Container, *, stdout: bool = True, stderr: bool = True,
                   tail: int | str = "all", timestamps: bool = False) -> bytes:
    """The log of ``container`` (already inspected: its ``attrs`` say whether it has a TTY).

    Raises:
        EngineUnavailable: The engine could not be reached.
        docker.errors.APIError: The engine refused (no such container...).
    """
    api = container.client.api
    if tail != "all" and (not isinstance(tail, int) or tail < 0):
        tail = "all"  # as docker-py reads it
    params: dict[str, Any] = {"stdout": int(stdout), "stderr": int(stderr),
                              "timestamps": int(timestamps), "follow": 0, "tail": tail}
    tty = bool((container.attrs.get("Config") or {}).get("Tty"))
    with engine_calls():
        response = api._get(api._url("/containers/{0}/logs", container.id), params=params,
                            stream=False)
        log: bytes = api._get_result_tty(False, response, tty)
    return log


__all__ = ["container_logs"]
