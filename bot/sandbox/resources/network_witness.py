"""The witness: a container of the tutor's own that asks a learner's service itself.

A challenge is not passed on what the learner's commands printed, nor on the engine's
state alone: the tutor starts its own container on the learner's network and makes the
request a client would (an HTTP ``GET``, a Redis ``GET``). Everything about it is fixed
here: the image (``redis``, which holds ``redis-cli`` and busybox's ``nc``), the
command, the environment, the user (``nobody``), the sandbox's host limits. The only
values it takes are the lesson's, checked (a host name, a port, a path, a key), and they
reach it as environment variables, never as shell text. It carries the namespace label
but not the learner's, so no learner verb lists, stops or removes it; it is removed as
soon as it has answered.
"""

from __future__ import annotations

import re

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.client import SandboxBase
from bot.sandbox.engine.network_lookups import own_networks
from bot.sandbox.engine.oneshot import run_once
from bot.sandbox.engine.translate import boundary
from bot.sandbox.policy.naming import (
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_NAMESPACE,
    LABEL_WITNESS,
    Namespace,
)
from bot.sandbox.views import WitnessReport

WITNESS_IMAGE = "redis:latest"
"""The witness's image: one of the lesson images, present on every engine."""

WITNESS_USER = "65534:65534"
"""The witness runs as ``nobody``."""

WITNESS_SECONDS = 10
"""How long a witness may take before the tutor gives up on it."""

_HTTP = ('printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" "$WITNESS_PATH" "$WITNESS_HOST" '
         '| nc -w 3 "$WITNESS_HOST" "$WITNESS_PORT"')
"""The witness's HTTP request: the values come from its environment, quoted."""

_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]{0,100}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9:_.-]{1,64}$")


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise CommandRefused(f"The witness does not take the {what} {value!r}.",
                             option="witness")
    return value


class NetworkWitnessMixin(SandboxBase):
    """The tutor's own requests to a learner's services, from inside their network."""

    @boundary
    def witness_http(self, person: Person, network: str, host: str, port: int,
                     path: str = "/") -> WitnessReport | None:
        """``GET path`` from ``host:port`` on the person's ``network``, as a browser would.

        ``None`` when the person has no such network.

        Raises:
            CommandRefused: A host, port or path the witness does not take.
            EngineUnavailable: The engine could not be reached or failed.
        """
        if not 0 < port < 65536:
            raise CommandRefused(f"The witness does not take the port {port}.", option="witness")
        env = {"WITNESS_HOST": _checked(host, _HOST_RE, "host"), "WITNESS_PORT": str(port),
               "WITNESS_PATH": _checked(path, _PATH_RE, "path")}
        return self._witness(self.namespace(person), network, ["sh", "-c", _HTTP], env)

    @boundary
    def witness_redis(self, person: Person, network: str, host: str,
                      key: str) -> WitnessReport | None:
        """``GET key`` from the Redis at ``host`` on the person's ``network``, as a client would.

        ``None`` when the person has no such network.

        Raises:
            CommandRefused: A host or key the witness does not take.
            EngineUnavailable: The engine could not be reached or failed.
        """
        argv = ["redis-cli", "-h", _checked(host, _HOST_RE, "host"), "--raw", "get",
                _checked(key, _KEY_RE, "key")]
        return self._witness(self.namespace(person), network, argv, {})

    def _witness(self, ns: Namespace, name: str, argv: list[str],
                 env: dict[str, str]) -> WitnessReport | None:
        network = next((n for n in own_networks(self.client, ns)
                        if (n.attrs.get("Labels") or {}).get(LABEL_NAME) == name), None)
        if network is None:
            return None
        limits = self._host_limits()
        del limits["network_mode"]
        labels = {LABEL_MANAGED: "1", LABEL_NAMESPACE: ns.prefix, LABEL_WITNESS: ns.learner}
        done = run_once(self.client.api, WITNESS_IMAGE, {
            "entrypoint": argv[:1], "command": argv[1:], "environment": env,
            "user": WITNESS_USER, "labels": labels, "network": network.name,
            "tmpfs": {"/data": "size=1m"},  # the image's VOLUME: no anonymous volume made
            **limits}, seconds=WITNESS_SECONDS, limit=8192, exit_code=True)
        code = 124 if done.timed_out or done.code is None else done.code
        return WitnessReport(code, done.output.decode("utf-8", "replace").replace("\r\n", "\n"))

__all__ = ["WITNESS_IMAGE", "NetworkWitnessMixin"]
