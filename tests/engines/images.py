"""Copying images from one engine to another: ``docker save | docker load``."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

import docker


class ImageCopyError(RuntimeError):
    """An image is missing on the source, or ``save``/``load`` failed."""


def image_tags(repositories: Sequence[str], source_host: str | None) -> list[str]:
    """Every ``name:tag`` of these repositories on the source engine.

    Raises:
        ImageCopyError: When one repository has no image there (build them: ``make images``).
    """
    client = docker.DockerClient(base_url=source_host) if source_host else docker.from_env()
    try:
        tags: list[str] = []
        for name in repositories:
            found = sorted({t for image in client.images.list(name=name) for t in image.tags})
            if not found:
                raise ImageCopyError(f"image {name!r} is not on the source engine (run `make images`)")
            tags.extend(found)
        return tags
    finally:
        client.close()


def copy_images(repositories: Sequence[str], source_host: str | None, target_env: Mapping[str, str],
                timeout: float = 300.0) -> list[str]:
    """``docker save`` the repositories' tags from the source | ``docker load`` into the target.

    ``target_env`` is the environment whose ``DOCKER_HOST`` names the target engine. With
    user-namespace remapping that engine loads the images into its remapped data root itself.

    Returns:
        The tags copied.
    """
    tags = image_tags(repositories, source_host)
    source_env = dict(os.environ)  # the caller's own engine settings (TLS, context) ...
    if source_host:  # ... unless another engine is named
        source_env = {k: v for k, v in source_env.items() if not k.startswith("DOCKER_")}
        source_env["DOCKER_HOST"] = source_host
    with tempfile.TemporaryFile() as save_errors:
        save = subprocess.Popen(["docker", "save", *tags], stdout=subprocess.PIPE,
                                stderr=save_errors, env=source_env)
        assert save.stdout is not None
        try:
            load = subprocess.run(["docker", "load", "-q"], stdin=save.stdout, capture_output=True,
                                  text=True, env=dict(target_env), timeout=timeout, check=False)
        finally:
            save.stdout.close()
            save.wait(timeout=timeout)
        save_errors.seek(0)
        if save.returncode != 0 or load.returncode != 0:
            raise ImageCopyError(f"copying {tags} failed: save: "
                              f"{save_errors.read().decode(errors='replace').strip()} "
                              f"load: {load.stderr.strip()}")
    return tags
