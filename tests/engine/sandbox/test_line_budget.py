"""Every line's cost bounded: ``docker diff`` of many files (F6), the template findings (F1-F3).

A learner's container is given many files (put in as ``docker cp`` does). The engine's own
``diff`` of it takes longer than the line's budget; through the tutor the line ends within
the budget with a clean note, and with time enough it lists the changes, having read at
most :data:`~bot.sandbox.engine.line_budget.DIFF_READ_LIMIT` bytes of the answer. The
template lines of F1-F3, typed as the red team typed them, answer at once, cleanly, in a
few kilobytes.
"""

from __future__ import annotations

import io
import tarfile
import time
import tracemalloc

import docker
import pytest

from bot.identity import Person
from bot.sandbox.engine import line_budget
from tests.conftest import LimitedTutor, timed_reply

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FILES = 10_000
BUDGET = 0.5
"""The line's budget for the cut diff (less where the engine's diff is quicker than 1.5 s)."""


def many_files(count: int) -> bytes:
    """A tar archive of ``count`` empty files under ``e/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for i in range(count):
            info = tarfile.TarInfo(f"e/f{i}")
            archive.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


def test_diff_of_many_files_ends_within_the_line_budget(
    limited_tutor: LimitedTutor, alice: Person, docker_client: docker.DockerClient,
) -> None:
    """The engine's diff takes longer than the budget; the tutor's line does not."""
    roomy = limited_tutor(foreground_seconds=60, commands_per_minute=100_000)
    timed_reply(roomy, alice, "docker run -d --name many busybox sleep 600")
    container = docker_client.containers.get(roomy.sandbox.namespace(alice).engine_name("many"))
    assert container.put_archive("/", many_files(FILES))

    started = time.monotonic()
    assert len(container.diff()) > FILES
    engine_took = time.monotonic() - started
    budget = round(min(BUDGET, engine_took / 3), 2)  # well under the engine's time, here
    tight = limited_tutor(foreground_seconds=budget, commands_per_minute=100_000)

    answer, took = timed_reply(tight, alice, "docker diff many")
    assert f"was still waiting for the engine after {budget:g} seconds" in answer, answer
    assert "Traceback" not in answer
    assert took < budget + 1.5, took

    answer, whole = timed_reply(roomy, alice, "docker diff many")
    assert "A /e/f" in answer and "more characters not shown" in answer, answer[-300:]

    entries, more = line_budget.changes(docker_client.api, container.id, limit=4096)
    assert more and 0 < len(entries) < 4096 // 10
    assert all(kind in (0, 1, 2) and path.startswith("/") for kind, path in entries)
    print(f"\nF6: engine diff of {FILES} files {engine_took:.2f} s; tutor line under a "
          f"{budget} s budget {took:.2f} s; under 60 s (all read) {whole:.2f} s")


def test_a_verb_past_the_deadline_makes_no_more_requests(
    limited_tutor: LimitedTutor, alice: Person,
) -> None:
    """Loops of engine requests (prune, rm of many) stop at the deadline: none starts after it."""
    roomy = limited_tutor(foreground_seconds=60, commands_per_minute=100_000)
    api = roomy.sandbox.client.api
    with pytest.raises(line_budget.LineTimedOut), \
            line_budget.under(api, time.monotonic() - 1):
        api.version()
    with line_budget.under(api, time.monotonic() + 30):
        assert api.version()["ApiVersion"]
    assert api.version()["ApiVersion"]  # no deadline outside a line


FINDINGS = {
    "F1 width": 'docker inspect -f "{{printf \\"%999999999s\\" .Name}}" x',
    "F1 near width": 'docker inspect -f "{{printf \\"%9999999s\\" .Name}}" x',
    "F1 pad": 'docker ps --format "{{pad \\"😀\\" 299999999 0}}"',
    "F2 width": 'docker ps --format "{{printf \\"%99999999999999999999s\\" 1}}"',
    "F2 pad": 'docker ps --format "{{pad 1 99999999999999999999999999 1}}"',
    "F3": 'docker inspect -f "{{range 20000}}{{if printf \\"%9999999s\\" 1}}{{end}}{{end}}" x',
}


def test_the_template_findings_answer_cleanly_fast_and_small(
    limited_tutor: LimitedTutor, alice: Person,
) -> None:
    """F1-F3 as the red team typed them, through the tutor on the real engine."""
    quick = limited_tutor(foreground_seconds=20, commands_per_minute=100_000)
    timed_reply(quick, alice, "docker run -d --name x busybox sleep 600")
    report = []
    for name, line in FINDINGS.items():
        tracemalloc.start()
        try:
            answer, took = timed_reply(quick, alice, line)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not any(word in answer for word in
                       ("Traceback", "OverflowError", "MemoryError", "RecursionError")), answer
        assert peak < 64 * 2**20 and took < 5, (name, peak, took)
        report.append(f"{name}: {peak / 2**20:.1f} MiB, {took:.2f} s: {answer.strip()[-60:]!r}")
    print("\n" + "\n".join(report))
