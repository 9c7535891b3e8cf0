"""Settings, read once from the environment.

Every setting has a default fit for a class; ``Settings.from_env`` is the one place
that reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import UsageError


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/docker-tutor`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("docker-tutor", appauthor=False))


def default_lessons_dir() -> Path:
    """The ``lessons/`` folder that ships beside the ``bot`` package."""
    return Path(__file__).resolve().parent.parent / "lessons"


@dataclass(frozen=True)
class Limits:
    """Per-learner sandbox limits.

    Attributes:
        memory_bytes: Memory limit of each container (swap is capped to the same).
        pids: Process limit of each container.
        nano_cpus: CPU limit of each container, in billionths of a core.
        max_containers: Containers a learner may have at once.
        max_volumes: Volumes a learner may have at once.
        max_networks: Networks a learner may have at once.
        foreground_seconds: How long a foreground ``run`` or an ``exec`` may take.
        output_chars: How much output a learner is shown per command.
        commands_per_minute: Learner commands accepted per minute (0: no limit; the
            console's default).
        idle_containers_minutes: The reaper removes the containers of a learner idle
            this long.
        idle_volumes_hours: The reaper removes the volumes of a learner idle this long.
        reap_interval_seconds: How often ``serve``'s reaper looks for idle learners.
        disk_bytes: Disk a learner's containers' writable layers, volumes and workspace
            may take together (0: no quota); past it their writing containers stop.
        disk_check_seconds: How often the disk watcher measures, while any learner
            container runs.
    """

    memory_bytes: int = 256 * 1024 * 1024
    pids: int = 128
    nano_cpus: int = 500_000_000
    max_containers: int = 6
    max_volumes: int = 6
    max_networks: int = 3
    foreground_seconds: float = 20.0
    output_chars: int = 2_500
    commands_per_minute: int = 30
    idle_containers_minutes: float = 120.0
    idle_volumes_hours: float = 72.0
    reap_interval_seconds: float = 300.0
    disk_bytes: int = 1024 * 1024 * 1024
    disk_check_seconds: float = 10.0


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {raw!r}.") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {raw!r}.") from None


@dataclass(frozen=True)
class Settings:
    """All settings of one tutor process.

    Attributes:
        database_url: SQLAlchemy URL of the progress store.
        docker_host: The engine learners' commands run on (``None``: the default socket).
        lessons_dir: Where lesson folders live.
        instructors: Slack user ids (or console names) with access to class data.
        slack_bot_token: ``SLACK_BOT_TOKEN``.
        slack_signing_secret: ``SLACK_SIGNING_SECRET``.
        slack_app_token: ``SLACK_APP_TOKEN`` (Socket Mode).
        slack_api_url: Optional Web API base URL (staging, tests).
        port: HTTP port for ``serve`` without Socket Mode.
        slack_workers: How many learner commands the Slack front end runs at once.
        limits: Sandbox limits.
        offline: Never try to pull images from a registry.
        namespace: A prefix for every engine object the tutor creates; lets two
            tutors (or a test run) share one engine without seeing each other.
        runtime: The OCI runtime of learners' containers (``runsc`` for gVisor, registered
            on the sandbox engine); ``None`` for the engine's default.
        engines: The pool of sandbox engines (``TUTOR_ENGINES``), each ``unix:///path`` or
            ``tcp://host:port``; empty: the one engine of ``docker_host``, as before.
        engine_capacity: Learners placed on one engine of the pool at most
            (``TUTOR_ENGINE_CAPACITY``).
        engine_certs: A folder with one sub-folder of TLS material per engine host
            (``TUTOR_ENGINE_CERTS``: ``<it>/<host>/{ca,cert,key}.pem``); an engine without
            one uses ``DOCKER_CERT_PATH``.
        public_url: Where ``serve``'s HTTP port is reached from a browser
            (``TUTOR_PUBLIC_URL``); the live class links point there.
        dashboard_secret: Signs the live class links (``TUTOR_DASHBOARD_SECRET``; the
            Slack signing secret when unset).
        stuck_failures: Failed attempts on one step that alert the instructors
            (``TUTOR_STUCK_FAILURES``).
        stuck_idle_minutes: Quiet minutes in the middle of a step that do
            (``TUTOR_STUCK_IDLE_MINUTES``).
        alert_seconds: How often stuck learners are gathered into one message per
            instructor (``TUTOR_ALERT_SECONDS``): the rate limit and the batch window.
    """

    database_url: str
    docker_host: str | None = None
    lessons_dir: Path = field(default_factory=default_lessons_dir)
    instructors: frozenset[str] = frozenset()
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    port: int = 3000
    slack_workers: int = 32
    limits: Limits = field(default_factory=Limits)
    offline: bool = False
    namespace: str = "dt"
    runtime: str | None = None
    engines: tuple[str, ...] = ()
    engine_capacity: int = 50
    engine_certs: Path | None = None
    public_url: str | None = None
    dashboard_secret: str | None = None
    stuck_failures: int = 3
    stuck_idle_minutes: float = 10.0
    alert_seconds: float = 60.0

    @property
    def link_secret(self) -> bytes:
        """The secret that signs live class links (empty: no links can be made)."""
        return (self.dashboard_secret or self.slack_signing_secret or "").encode("utf-8")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from environment variables (``os.environ`` by default)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("TUTOR_DATA_DIR") or default_data_dir())
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'tutor.db'}"
        instructors = frozenset(
            part.strip() for part in env.get("TUTOR_INSTRUCTORS", "").split(",") if part.strip()
        )
        limits = Limits(
            memory_bytes=_int(env, "TUTOR_MEMORY_MB", Limits.memory_bytes // 2**20) * 2**20,
            pids=_int(env, "TUTOR_PIDS", Limits.pids),
            nano_cpus=int(_float(env, "TUTOR_CPUS", Limits.nano_cpus / 1e9) * 1e9),
            max_containers=_int(env, "TUTOR_MAX_CONTAINERS", Limits.max_containers),
            max_volumes=_int(env, "TUTOR_MAX_VOLUMES", Limits.max_volumes),
            max_networks=_int(env, "TUTOR_MAX_NETWORKS", Limits.max_networks),
            foreground_seconds=_float(env, "TUTOR_COMMAND_TIMEOUT", Limits.foreground_seconds),
            output_chars=_int(env, "TUTOR_OUTPUT_CHARS", Limits.output_chars),
            commands_per_minute=_int(env, "TUTOR_COMMANDS_PER_MINUTE", Limits.commands_per_minute),
            idle_containers_minutes=_float(
                env, "TUTOR_IDLE_CONTAINERS_MINUTES", Limits.idle_containers_minutes
            ),
            idle_volumes_hours=_float(env, "TUTOR_IDLE_VOLUMES_HOURS", Limits.idle_volumes_hours),
            reap_interval_seconds=_float(
                env, "TUTOR_REAP_INTERVAL_SECONDS", Limits.reap_interval_seconds
            ),
            disk_bytes=_int(env, "TUTOR_DISK_MB", Limits.disk_bytes // 2**20) * 2**20,
            disk_check_seconds=_float(env, "TUTOR_DISK_CHECK_SECONDS", Limits.disk_check_seconds),
        )
        lessons_dir = env.get("TUTOR_LESSONS_DIR")
        capacity = _int(env, "TUTOR_ENGINE_CAPACITY", 50)
        if capacity < 1:
            raise UsageError(f"TUTOR_ENGINE_CAPACITY must be at least 1, not {capacity}.")
        certs = env.get("TUTOR_ENGINE_CERTS", "").strip()
        stuck_failures = _int(env, "TUTOR_STUCK_FAILURES", 3)
        stuck_idle = _float(env, "TUTOR_STUCK_IDLE_MINUTES", 10.0)
        alert_seconds = _float(env, "TUTOR_ALERT_SECONDS", 60.0)
        if stuck_failures < 1 or stuck_idle <= 0 or alert_seconds < 5:
            raise UsageError("TUTOR_STUCK_FAILURES and TUTOR_STUCK_IDLE_MINUTES must be positive "
                             "and TUTOR_ALERT_SECONDS at least 5.")
        return cls(
            database_url=database_url,
            docker_host=env.get("DOCKER_HOST") or None,
            lessons_dir=Path(lessons_dir) if lessons_dir else default_lessons_dir(),
            instructors=instructors,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            port=_int(env, "PORT", 3000),
            slack_workers=_int(env, "TUTOR_SLACK_WORKERS", 32),
            limits=limits,
            offline=env.get("TUTOR_OFFLINE", "").strip().lower() in {"1", "true", "yes"},
            runtime=env.get("TUTOR_RUNTIME", "").strip() or None,
            namespace=env.get("TUTOR_NAMESPACE") or "dt",
            engines=engine_addresses(env.get("TUTOR_ENGINES", "")),
            engine_capacity=capacity,
            engine_certs=Path(certs) if certs else None,
            public_url=(env.get("TUTOR_PUBLIC_URL") or "").strip().rstrip("/") or None,
            dashboard_secret=env.get("TUTOR_DASHBOARD_SECRET") or None,
            stuck_failures=stuck_failures,
            stuck_idle_minutes=stuck_idle,
            alert_seconds=alert_seconds,
        )


def engine_addresses(raw: str) -> tuple[str, ...]:
    """The engine addresses of ``TUTOR_ENGINES`` (comma-separated), checked, in order.

    Raises:
        UsageError: An address is neither ``unix:///path`` nor ``tcp://host:port``, or
            is given twice.
    """
    addresses: list[str] = []
    for part in raw.split(","):
        address = part.strip().rstrip("/")
        if not address:
            continue
        if address.startswith("unix://"):
            ok = address.startswith("unix:///") and len(address) > len("unix:///")
        elif address.startswith("tcp://"):
            host, _, port = address[len("tcp://"):].rpartition(":")
            ok = bool(host) and port.isdigit() and 0 < int(port) < 65536 and "/" not in host
        else:
            ok = False
        if not ok:
            raise UsageError(f"TUTOR_ENGINES: {address!r} is not an engine address "
                             "(unix:///path/docker.sock or tcp://host:port).")
        if address in addresses:
            raise UsageError(f"TUTOR_ENGINES names {address!r} twice.")
        addresses.append(address)
    return tuple(addresses)
