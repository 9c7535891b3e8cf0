"""`docker-tutor lessons selftest`: every check fails before its solution and passes after it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import docker
import pytest

from bot.cli import main
from bot.config import Settings
from bot.lessons.model import Catalog, load_lesson
from bot.lessons.selftest import SelftestReport, run_selftest
from bot.sandbox.policy.naming import LABEL_LEARNER, LABEL_NAMESPACE, LABEL_WITNESS, Namespace
from tests.conftest import NO_ENGINE
from tests.paths import TEST_DATA

DATA = TEST_DATA


def leftovers(client: docker.DockerClient, settings: Settings, report: SelftestReport) -> int:
    """How many containers and volumes of the self-test's learner are still on the engine."""
    ns = Namespace.for_key(settings.namespace, report.learner.key)
    selector = {"label": [f"{LABEL_NAMESPACE}={ns.prefix}", f"{LABEL_LEARNER}={ns.learner}"]}
    return (len(client.containers.list(all=True, filters=selector))
            + len(client.volumes.list(filters=selector)))


@pytest.mark.docker
def test_the_data_persistence_lesson_proves_every_check(
    settings: Settings, catalog: Catalog, docker_client: docker.DockerClient
) -> None:
    """The shipped lesson's selftest passes on the real engine, every step, and leaves nothing."""
    report = run_selftest(settings, catalog.get("data-persistence"))
    assert report.ok, report.render()
    hands_on = [s for s in report.steps if s.hands_on]
    assert [s.step_id for s in hands_on] == [
        "ephemeral", "named-volumes", "bind-mounts", "tmpfs", "comparison", "challenge", "cleanup"]
    for step in hands_on:
        assert step.before is not None and not step.before.passed, step.step_id
        assert step.after is not None and step.after.passed, step.step_id
        assert step.completed, step.step_id
    assert "OK" in report.render().splitlines()[-1]
    assert leftovers(docker_client, settings, report) == 0


@pytest.mark.docker
def test_the_images_lesson_proves_every_check(
    settings: Settings, catalog: Catalog, docker_client: docker.DockerClient
) -> None:
    """Lesson 02's selftest passes on the real engine (builds included) and leaves no image."""
    report = run_selftest(settings, catalog.get("images"))
    assert report.ok, report.render()
    hands_on = [s.step_id for s in report.steps if s.hands_on]
    assert hands_on == ["first-build", "cache", "instructions", "tags", "dockerignore", "quiz",
                        "challenge", "cleanup"]
    assert all(s.completed for s in report.steps if s.hands_on)
    ns = Namespace.for_key(settings.namespace, report.learner.key)
    selector = {"label": [f"{LABEL_NAMESPACE}={ns.prefix}", f"{LABEL_LEARNER}={ns.learner}"]}
    assert docker_client.api.images(all=True, filters=selector) == []
    assert leftovers(docker_client, settings, report) == 0


@pytest.mark.docker
def test_weak_checks_are_caught_and_the_sandbox_is_cleaned(
    settings: Settings, docker_client: docker.DockerClient
) -> None:
    """A check that cannot fail and a solution that does not solve both fail the selftest."""
    report = run_selftest(settings, load_lesson(DATA / "weak-lesson"), settle=0.0)
    assert not report.ok
    by_id = {s.step_id: s for s in report.steps}
    assert "pass BEFORE the solution" in by_id["cannot-fail"].problems[0]
    assert by_id["works"].ok
    assert "still fail AFTER the solution [text-missing]" in by_id["never-passes"].problems[0]
    text = report.render()
    assert "FAILED" in text and "\u2718 cannot-fail" in text and "\u2714 works" in text
    assert report.cleaned == (1, 0)
    assert leftovers(docker_client, settings, report) == 0


def test_an_invalid_lesson_is_not_run(settings: Settings) -> None:
    """The selftest validates first: a broken lesson fails without touching the engine."""
    folder = DATA / "weak-lesson"
    lesson = load_lesson(folder)
    broken = type(lesson)(lesson.id, lesson.title, lesson.number, lesson.summary, lesson.images,
                          lesson.steps, path=DATA / "broken-lesson")
    report = run_selftest(replace(settings, docker_host=NO_ENGINE), broken)
    assert not report.ok and report.steps == []
    assert any("invalid lesson" in p and "lesson.toml:27" in p for p in report.problems)


@pytest.mark.docker
def test_the_cli_exits_non_zero_with_a_per_step_report(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`lessons selftest PATH` prints each step's verdict and exits 1 when one fails."""
    monkeypatch.setenv("TUTOR_NAMESPACE", settings.namespace)
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path / "data"))
    assert main(["lessons", "selftest", str(DATA / "weak-lesson"), "--settle", "0"]) == 1
    out = capsys.readouterr()
    assert "selftest weak: 1/3 hands-on steps proven" in out.out
    assert "PROBLEM:" in out.out and out.out.rstrip().endswith("FAILED")
    assert "selftest weak: works" in out.err


@pytest.mark.docker
def test_the_text_is_held_to_what_each_command_prints(settings: Settings, tmp_path: Path) -> None:
    """A "Step N prints" sentence that the real output contradicts fails the selftest."""
    (tmp_path / "lesson.toml").write_text(
        'id = "claims"\ntitle = "Claims"\nimages = ["busybox"]\n\n[[steps]]\nid = "one"\n'
        'title = "One"\nfile = "one.md"\nsolution = [\n'
        '  "docker run -d --name box busybox sleep 60",\n'
        "  \"docker exec box sh -c 'echo hello > /x'\",\n"
        '  "docker exec box cat /x",\n  "docker exec box cat /y",\n]\n\n'
        '[[steps.checks]]\ntype = "file_contains"\ncontainer = "box"\npath = "/x"\n'
        'text = "hello"\n')
    (tmp_path / "one.md").write_text(
        "## One\n\n**Try it**\n1. `docker run -d --name box busybox sleep 60`\n"
        "2. `docker exec box sh -c 'echo hello > /x'`\n3. `docker exec box cat /x`\n"
        "4. `docker exec box cat /y`\n\nStep 3 prints `hello`. Step 4 prints `goodbye`.\n")
    report = run_selftest(settings, load_lesson(tmp_path), settle=0.0)
    [step] = report.steps
    assert step.claims == 1 and not report.ok
    assert step.problems == [
        "the text says step 4 `docker exec box cat /y` should print `goodbye`, but it exited 1 "
        "and printed: cat: can't open '/y': No such file or directory"]


@pytest.mark.docker
def test_the_containers_lesson_proves_every_check(
    settings: Settings, catalog: Catalog, docker_client: docker.DockerClient
) -> None:
    """Lesson 01's selftest passes on the real engine, the Phoenix included, and leaves nothing."""
    report = run_selftest(settings, catalog.get("containers"))
    assert report.ok, report.render()
    hands_on = [s for s in report.steps if s.hands_on]
    assert [s.step_id for s in hands_on] == [
        "first-run", "detached", "exec", "lifecycle", "names-env", "exit-codes",
        "restart-policies", "quiz", "challenge", "cleanup"]
    for step in hands_on:
        assert step.before is not None and not step.before.passed, step.step_id
        assert step.after is not None and step.after.passed, step.step_id
        assert step.completed, step.step_id
    challenge = next(s for s in hands_on if s.step_id == "challenge")
    assert challenge.after is not None and "restarted `phoenix` by itself" in challenge.after.message
    assert sum(s.claims for s in hands_on) >= 15
    assert leftovers(docker_client, settings, report) == 0


@pytest.mark.docker
@pytest.mark.parametrize(("lesson", "steps"), [
    ("networking", ["user-networks", "aliases", "isolation", "connect", "quiz", "challenge",
                    "cleanup"]),
    ("compose", ["first-project", "environment", "volumes", "quiz", "challenge", "cleanup"]),
])
def test_the_networking_and_compose_lessons_prove_every_check(
    settings: Settings, catalog: Catalog, docker_client: docker.DockerClient, lesson: str,
    steps: list[str],
) -> None:
    """Lessons 03 and 05 pass their selftests on the real engine (witness included), leaving nothing."""
    report = run_selftest(settings, catalog.get(lesson))
    assert report.ok, report.render()
    hands_on = [s for s in report.steps if s.hands_on]
    assert [s.step_id for s in hands_on] == steps
    assert all(s.completed and s.before is not None and not s.before.passed for s in hands_on)
    assert leftovers(docker_client, settings, report) == 0
    ns = Namespace.for_key(settings.namespace, report.learner.key)
    selector = {"label": [f"{LABEL_NAMESPACE}={ns.prefix}", f"{LABEL_LEARNER}={ns.learner}"]}
    assert docker_client.networks.list(filters=selector) == []
    witnesses = {"label": [f"{LABEL_NAMESPACE}={ns.prefix}", f"{LABEL_WITNESS}={ns.learner}"]}
    assert docker_client.containers.list(all=True, filters=witnesses) == []
