"""The network and Compose primitives on the in-memory sandbox: each state, and the passes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.checks import CheckContext, CheckResult, run_checks
from bot.identity import Person
from bot.lessons.model import CheckSpec
from bot.progress import CommandEntry
from bot.sandbox import NetworkView, WitnessReport, parse
from tests.fake_sandbox import FakeContainer, FakeSandbox

ME = Person("console", "net-learner", "Net")


def entry(text: str, status: int = 0) -> CommandEntry:
    """A logged docker command."""
    return CommandEntry(0, datetime.now(UTC), "compose", "challenge", "docker", text, status, 5,
                        "", {"verb": parse(text).verb})


def verify(sandbox: FakeSandbox, check: str, history: list[CommandEntry] | None = None,
           **params: Any) -> CheckResult:
    """Run one primitive against the fake sandbox."""
    ctx = CheckContext(ME, sandbox, history or [])
    return run_checks(ctx, [CheckSpec(check, params)])


def with_network(*members: tuple[str, tuple[str, ...]], name: str = "appnet",
                 labels: dict[str, str] | None = None) -> FakeSandbox:
    """A fake engine where the learner has ``name`` with those members (all running)."""
    sandbox = FakeSandbox()
    me = sandbox.learner(ME)
    for member, _ in members:
        me.containers[member] = FakeContainer(member, "redis", running=True)
    me.networks[name] = NetworkView(name, dict(members), labels or {})
    return sandbox


def test_network_and_membership_states() -> None:
    """Missing network, container off it, missing alias, then the pass."""
    empty = FakeSandbox()
    assert verify(empty, "network_exists", name="appnet").state == "network-missing"
    sandbox = with_network(("cache", ("cache",)))
    sandbox.learner(ME).containers["loner"] = FakeContainer("loner", "busybox", running=True)
    assert verify(sandbox, "network_exists", name="appnet").passed
    assert verify(sandbox, "on_network", container="nobody", network="appnet").state == (
        "container-missing")
    assert verify(sandbox, "on_network", container="loner", network="appnet").state == (
        "not-on-network")
    assert verify(sandbox, "on_network", container="cache", network="appnet",
                  alias="db").state == "alias-missing"
    assert verify(sandbox, "on_network", container="cache", network="appnet").passed
    assert verify(sandbox, "off_network", container="cache", network="appnet").state == (
        "on-network")
    assert verify(sandbox, "off_network", container="loner", network="appnet").passed
    assert verify(sandbox, "network_absent", name="appnet").state == "network-present"
    assert verify(empty, "network_absent", name="appnet").passed


def test_the_witness_decides_fetch_and_redis() -> None:
    """What the witness saw, not the learner's output, passes or fails the check."""
    sandbox = with_network(("web", ("web", "www")), name="site")
    params = {"network": "site", "host": "www", "port": 8080, "text": "Hello"}
    assert verify(FakeSandbox(), "witness_fetch", **params).state == "network-missing"
    assert verify(sandbox, "witness_fetch", **params).state == "unreachable"
    witnessed = sandbox.learner(ME).witnessed
    witnessed[("site", "www", "http:8080:/")] = WitnessReport(0, "HTTP/1.1 200 OK\n\nGoodbye\n")
    assert verify(sandbox, "witness_fetch", **params).state == "text-missing"
    witnessed[("site", "www", "http:8080:/")] = WitnessReport(0, "HTTP/1.1 200 OK\n\nHello\n")
    assert verify(sandbox, "witness_fetch", **params).passed
    redis = {"network": "site", "host": "web", "key": "visits", "value": "42"}
    assert verify(sandbox, "witness_redis", **redis).state == "unreachable"
    witnessed[("site", "web", "redis:visits")] = WitnessReport(0, "\n")
    assert verify(sandbox, "witness_redis", **redis).state == "key-missing"
    witnessed[("site", "web", "redis:visits")] = WitnessReport(0, "41\n")
    assert verify(sandbox, "witness_redis", **redis).state == "wrong-value"
    witnessed[("site", "web", "redis:visits")] = WitnessReport(0, "42\n")
    assert verify(sandbox, "witness_redis", **redis).passed


def test_compose_running_reads_the_project_network_and_containers() -> None:
    """The project's labelled network and each `<project>-<service>-1` on it, running."""
    params = {"project": "app", "services": ["web", "cache"]}
    unlabelled = with_network(name="app_default")
    assert verify(unlabelled, "compose_running", **params).state == "project-missing"
    labels = {"com.docker.compose.project": "app"}
    sandbox = with_network(("app-cache-1", ("cache",)), name="app_default", labels=labels)
    assert verify(sandbox, "compose_running", **params).state == "service-missing"
    sandbox.learner(ME).containers["app-web-1"] = FakeContainer("app-web-1", "busybox", running=False)
    assert verify(sandbox, "compose_running", **params).state == "service-stopped"
    sandbox.learner(ME).containers["app-web-1"].running = True
    assert verify(sandbox, "compose_running", **params).state == "not-on-network"
    sandbox.learner(ME).networks["app_default"].members["app-web-1"] = ("web",)
    assert verify(sandbox, "compose_running", **params).passed


def test_compose_survived_follows_write_down_up() -> None:
    """A write, then `down` without `-v`, then `up`: anything else names what is missing."""
    sandbox = FakeSandbox()
    write = entry("docker compose exec cache redis-cli set visits 42")
    down, down_v = entry("docker compose down"), entry("docker compose down -v")
    up = entry("docker compose up -d")
    params = {"project": "app", "key": "visits"}
    assert verify(sandbox, "compose_survived", [up], **params).state == "no-write"
    assert verify(sandbox, "compose_survived", [up, write], **params).state == "no-down"
    assert verify(sandbox, "compose_survived", [write, down_v, up], **params).state == (
        "down-volumes")
    assert verify(sandbox, "compose_survived", [write, down], **params).state == "no-up"
    assert verify(sandbox, "compose_survived", [write, entry("docker compose down", 1), up],
                  **params).state == "no-down"
    assert verify(sandbox, "compose_survived", [write, down, up], **params).passed

