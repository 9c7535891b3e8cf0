"""Engine requests whose answer says more than docker-py passes on."""

from __future__ import annotations

import docker


def stop_container(api: docker.APIClient, container_id: str, wait: int) -> bool:
    """Stop a container by id, as ``docker stop -t wait``; whether it was running.

    The engine answers 204 when it stopped the container and 304 when it was not
    running: one request says what an inspect before it would have (docker-py's
    ``stop`` drops the status code).

    Raises:
        docker.errors.NotFound: No container has that id (any more).
        docker.errors.APIError: The engine refused or failed.
    """
    timeout = None if api.timeout is None else api.timeout + wait
    response = api._post(api._url("/containers/{0}/stop", container_id), params={"t": wait},
                         timeout=timeout)
    api._raise_for_status(response)
    return bool(response.status_code == 204)
