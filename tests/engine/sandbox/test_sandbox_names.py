"""Names that look like id prefixes are names: `c2` is not the container whose id starts `c2`."""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker


def test_a_new_name_that_is_an_id_prefix_does_not_conflict(tutor: Tutor, alice: Person) -> None:
    """`run --name <first hex digits of another container's id>` creates a new container."""
    first = tutor.handle(alice, "docker run -d --name first busybox sleep 600").text().strip()
    prefix = first[:2]
    second = tutor.handle(alice, f"docker run -d --name {prefix} busybox sleep 600").text()
    assert "Conflict" not in second
    assert len(second.strip()) == 64 and second.strip() != first
    names = {c.name for c in tutor.sandbox.containers(alice)}
    assert names == {"first", prefix}


def test_an_id_prefix_still_reaches_a_container_when_no_name_matches(
    tutor: Tutor, alice: Person
) -> None:
    """`docker rm -f <id prefix>` removes the container the prefix names, as the CLI does."""
    full = tutor.handle(alice, "docker run -d --name box busybox sleep 600").text().strip()
    assert tutor.handle(alice, f"docker rm -f {full[:6]}").text().strip() == full[:6]
    assert tutor.sandbox.containers(alice) == []


def test_checks_look_containers_up_by_name_only(tutor: Tutor, alice: Person) -> None:
    """The sandbox's name lookup for checks never answers with a container found by id prefix."""
    full = tutor.handle(alice, "docker run -d --name box busybox sleep 600").text().strip()
    assert tutor.sandbox.container(alice, full[:3]) is None
    found = tutor.sandbox.container(alice, "box")
    assert found is not None and found.id == full
