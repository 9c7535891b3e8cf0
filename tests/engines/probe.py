"""Does an engine run a container now? A bounded probe, asked before a suite leans on it.

An engine can answer ``/_ping`` and list images while every ``create`` hangs (seen here:
runc stuck on a host after a heavy benchmark). A suite on such an engine does not fail, it
waits: each test until its client's timeout, the whole run until CI's. The probe runs
``busybox true`` (no network, labelled ``dtt.probe``) with a short timeout on every
request, so a wedged engine is named in seconds and the suite can stop, or move to a
private engine, at once.
"""

from __future__ import annotations

import contextlib

import docker
import docker.errors
import requests.exceptions

PROBE_LABEL = "dtt.probe"
PROBE_IMAGE = "busybox:latest"


def engine_fault(timeout: float = 45.0, *, base_url: str | None = None) -> str | None:
    """Run ``busybox true`` on the engine; say why it could not, or ``None`` when it did.

    Args:
        timeout: Seconds allowed for each request to the engine (create, start, wait,
            remove); the probe takes at most a few times this.
        base_url: The engine; ``None``: the environment's (``DOCKER_HOST``).

    Returns:
        ``None`` when the container ran and exited 0; otherwise one line naming what
        failed. A missing ``busybox`` image is not the engine's fault and answers ``None``
        (the suite's own image step reports it).
    """
    try:
        client = (docker.DockerClient(base_url=base_url, timeout=int(timeout)) if base_url
                  else docker.from_env(timeout=int(timeout)))
    except docker.errors.DockerException as exc:
        return f"no engine to talk to: {exc}"
    container = None
    try:
        try:
            client.images.get(PROBE_IMAGE)
        except docker.errors.ImageNotFound:
            return None
        container = client.containers.create(PROBE_IMAGE, ["true"], network_mode="none",
                                             labels={PROBE_LABEL: "1"})
        container.start()
        status = container.wait(timeout=timeout)
        if status.get("StatusCode") != 0:
            return f"busybox true exited {status.get('StatusCode')}"
        return None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        step = "create" if container is None else "start or wait"
        return f"the engine did not {step} a busybox container within {timeout:.0f} s: {exc}"
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException,
                                     requests.exceptions.RequestException):
                container.remove(force=True)
        client.close()
