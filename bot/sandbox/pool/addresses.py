"""Engine addresses and the TLS material each one is reached with.

One engine (``DOCKER_HOST``, no ``TUTOR_ENGINES``) is reached exactly as the docker CLI
would: docker-py's ``from_env`` with the process environment (``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``). In a pool (``TUTOR_ENGINES``) each engine gets its own environment:

* ``unix:///path``: no TLS (a local socket);
* ``tcp://host:port``: TLS verified with ``$TUTOR_ENGINE_CERTS/<host>/{ca,cert,key}.pem``
  when that folder exists, else with ``DOCKER_CERT_PATH`` (``DOCKER_TLS_VERIFY`` as set).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from bot.config import Settings

_TLS = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def engine_host(address: str) -> str:
    """The host name of a ``tcp://host:port`` address (``""`` for a unix socket)."""
    if not address.startswith("tcp://"):
        return ""
    return urlsplit(address).hostname or ""


def engine_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment docker-py's ``from_env`` reads to reach ``settings.docker_host``.

    Args:
        settings: The settings of one engine (a pool gives each engine its own copy, with
            ``docker_host`` set to that engine's address).
        base: The process environment.
    """
    environment = dict(base)
    address = settings.docker_host
    if address:
        environment["DOCKER_HOST"] = address
    if not settings.engines or not address:
        return environment  # one engine: exactly as the docker CLI reaches it
    if address.startswith("unix://"):
        for name in _TLS:
            environment.pop(name, None)
        return environment
    host = engine_host(address)
    if settings.engine_certs is not None and host:
        folder = settings.engine_certs / host
        if folder.is_dir():
            environment["DOCKER_CERT_PATH"] = str(folder)
            environment["DOCKER_TLS_VERIFY"] = "1"
    return environment


def socket_accepts(address: str, timeout: float = 3.0) -> bool:
    """Whether the engine socket of ``address`` accepts a connection now.

    A bare connect, closed at once, bounded by ``timeout``: docker-py's own connect to a
    dead unix socket leaves its socket to the garbage collector, and its connect to a
    ``tcp://`` host that never answers waits for the client's whole timeout (120 s), so a
    background watcher asks this way first. An address of another scheme counts as
    accepting (docker-py decides).
    """
    if address.startswith("unix://"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            try:
                probe.connect(address[len("unix://"):])
            except OSError:
                return False
            return True
    if address.startswith("tcp://"):
        parts = urlsplit(address)
        try:
            with socket.create_connection((parts.hostname or "", parts.port or 2376), timeout):
                return True
        except (OSError, ValueError):
            return False
    return True


__all__ = ["engine_environment", "engine_host", "socket_accepts"]
