"""The witness on the real engine: the tutor's own request from inside a learner's network.

It reaches only the learner's own services, under names of their network; it takes no
value that is not checked; the learner's verbs never see it; and it leaves nothing behind.
It runs in the security set too, on the hardened engine (``.ci/engine.sh security``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE, LABEL_WITNESS
from bot.sandbox.policy.parser import parse

pytestmark = pytest.mark.docker

SERVE = ("docker run -d --name web --network site --network-alias www busybox sh -c "
         "'mkdir /www && echo served by web > /www/index.html && httpd -f -p 8080 -h /www'")


def ok(sandbox: Sandbox, person: Person, text: str) -> str:
    """Run a line that must succeed; its output."""
    outcome = sandbox.run_command(person, parse(text))
    assert outcome.exit_code == 0, (text, outcome.output)
    return outcome.output


@pytest.fixture
def site(sandbox: Sandbox, alice: Person) -> Iterator[Sandbox]:
    """Alice's network `site` with a web server `web` (alias `www`) and a Redis `cache`."""
    ok(sandbox, alice, "docker network create site")
    ok(sandbox, alice, SERVE)
    ok(sandbox, alice, "docker run -d --name cache --network site redis")
    ok(sandbox, alice, "docker exec cache redis-cli set visits 42")
    yield sandbox
    sandbox.remove_all(alice)


def test_the_witness_fetches_the_page_and_reads_the_key(site: Sandbox, alice: Person) -> None:
    """By alias over HTTP, by name over Redis; a missing key reads empty."""
    page = site.witness_http(alice, "site", "www", 8080)
    assert page is not None and page.exit_code == 0
    assert page.output.startswith("HTTP/1.") and "served by web" in page.output
    value = site.witness_redis(alice, "site", "cache", "visits")
    assert value is not None and value.output == "42\n"
    empty = site.witness_redis(alice, "site", "cache", "nothing")
    assert empty is not None and empty.output.strip() == ""


def test_the_witness_is_confined_and_leaves_nothing(
        site: Sandbox, alice: Person, bob: Person) -> None:
    """Bob's witness finds no `site`; Alice's sees only her network; no witness is left over."""
    assert site.witness_http(bob, "site", "www", 8080) is None
    ok(site, bob, "docker network create site")
    try:
        lost = site.witness_http(bob, "site", "www", 8080)
        assert lost is not None and lost.exit_code != 0 and "served by web" not in lost.output
    finally:
        site.remove_all(bob)
    down = site.witness_http(alice, "site", "www", 9999)
    assert down is not None and down.exit_code != 0
    ns = site.namespace(alice)
    left = site.client.containers.list(all=True, filters={"label": [
        f"{LABEL_NAMESPACE}={ns.prefix}", f"{LABEL_WITNESS}={ns.learner}"]})
    assert left == []
    assert ok(site, alice, "docker ps -a --format '{{.Names}}'").split() == ["cache", "web"]


def test_the_witness_takes_only_checked_values(site: Sandbox, alice: Person) -> None:
    """A host, path or key with shell or protocol characters is refused before any container."""
    with pytest.raises(CommandRefused):
        site.witness_http(alice, "site", "www; reboot", 8080)
    with pytest.raises(CommandRefused):
        site.witness_http(alice, "site", "www", 8080, "/\r\nHost: evil")
    with pytest.raises(CommandRefused):
        site.witness_redis(alice, "site", "cache", "visits flushall")


def test_the_network_view_names_members_and_aliases(site: Sandbox, alice: Person) -> None:
    """`network()` lists each member under its learner name, with its aliases there."""
    view = site.network(alice, "site")
    assert view is not None and set(view.members) == {"web", "cache"}
    assert "www" in view.members["web"] and "web" in view.members["web"]
    assert all(not n.startswith(site.namespace(alice).prefix) for n in view.members["web"])
    assert site.network(alice, "nope") is None
