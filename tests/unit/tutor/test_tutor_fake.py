"""The tutor's logic on an in-memory sandbox: lesson flow, checks, hints, the log, no engine.

The tutor, its store (real SQLite), the lessons' checks and the policy are real; only the
sandbox is :class:`tests.fake_sandbox.FakeSandbox`, which satisfies the same
:class:`bot.sandbox.LearnerSandbox` protocol as the real one. So these tests need no
Docker engine (they are not marked ``docker``) and say exactly what the engine answered.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.console.render import render
from bot.errors import CommandRefused, EngineUnavailable
from bot.identity import Person
from bot.lessons.model import Catalog, CheckSpec, Lesson, StateHint, Step
from bot.progress import ProgressStore
from bot.reply import Event
from bot.sandbox import Outcome
from bot.tutor.core import Tutor
from tests.conftest import NO_ENGINE
from tests.fake_sandbox import FakeContainer, FakeSandbox, Learner

WEB = CheckSpec("container_exists", {"name": "web", "running": True})


def _lesson(path: Path) -> Lesson:
    """A lesson of three sections: reading, a running container, a named volume."""
    return Lesson(
        id="fake", title="Fake Lesson", number=1, summary="", images=("redis", "busybox"),
        path=path,
        steps=(
            Step("intro", "Introduction", "Read this."),
            Step("web", "A running container", "Run one.", checks=(WEB,),
                 hints=("Use `docker run -d`.", "`docker run -d --name web redis`"),
                 state_hints=(StateHint("container-stopped", "web is stopped: start it."),)),
            Step("notes", "A volume", "Make one.",
                 checks=(CheckSpec("volume_exists", {"name": "notes"}),)),
        ),
    )


@pytest.fixture
def fake() -> FakeSandbox:
    """An empty in-memory engine."""
    return FakeSandbox()


@pytest.fixture
def tutor(settings: Settings, store: ProgressStore, fake: FakeSandbox, tmp_path: Path) -> Tutor:
    """The real tutor on the fake sandbox (its settings point at no engine, to be sure)."""
    return Tutor(replace(settings, docker_host=NO_ENGINE), store, fake,
                 Catalog.of(_lesson(tmp_path)))


@pytest.fixture
def ada() -> Person:
    """The learner."""
    return Person("console", "ada")


def _at_web_step(tutor: Tutor, ada: Person) -> None:
    tutor.handle(ada, "start fake")
    tutor.handle(ada, "next")


def test_a_docker_command_completes_the_step_unasked(
    tutor: Tutor, fake: FakeSandbox, ada: Person, store: ProgressStore
) -> None:
    """`docker run -d --name web redis` leaves a running container: the step is done and logged."""
    _at_web_step(tutor, ada)
    reply = tutor.handle(ada, "docker run -d --name web redis")
    assert Event.STEP_COMPLETED in reply.events
    assert "Next: A volume" in render(reply)
    assert fake.ran == ["run -d --name web redis"]
    state = store.lesson_state(ada, "fake")
    assert state is not None and state.completed("web")
    [entry] = store.history(ada, kind="docker", limit=5)
    assert entry.exit_status == 0
    assert entry.facts is not None and entry.facts["container"]["name"] == "web"


def test_check_says_why_not_and_hint_walks_the_steps_hints(tutor: Tutor, ada: Person) -> None:
    """Before the container exists, `check` fails with the reason; `hint` gives hint 1, then 2."""
    _at_web_step(tutor, ada)
    text = render(tutor.handle(ada, "check"))
    assert "web" in text and "Type `hint` for a hint." in text
    assert "docker run -d" in render(tutor.handle(ada, "hint"))
    assert "--name web redis" in render(tutor.handle(ada, "hint"))


def test_a_state_hint_speaks_to_where_the_learner_is(
    tutor: Tutor, fake: FakeSandbox, ada: Person
) -> None:
    """A stopped `web` (scripted: the run exits at once) gets the step's state hint first."""
    _at_web_step(tutor, ada)

    def stopped_web(me: Learner) -> None:
        me.containers["web"] = FakeContainer("web", "redis", running=False)

    fake.script("docker run --name web redis", Outcome(1, "oops\n"), stopped_web)
    reply = tutor.handle(ada, "docker run --name web redis")
    assert "oops" in render(reply)
    assert Event.STEP_COMPLETED not in reply.events
    assert "web is stopped: start it." in render(tutor.handle(ada, "hint"))
    assert Event.STEP_COMPLETED in tutor.handle(ada, "docker start web").events


def test_a_scripted_failure_is_shown_and_logged_with_its_exit_status(
    tutor: Tutor, fake: FakeSandbox, ada: Person, store: ProgressStore
) -> None:
    """The engine's answer (exit 125 here) reaches the learner and the log; nothing completes."""
    _at_web_step(tutor, ada)
    fake.script("docker run -d --name web redis",
                Outcome(125, "docker: Error response from daemon: no space left on device.\n"))
    reply = tutor.handle(ada, "docker run -d --name web redis")
    assert "no space left on device" in render(reply)
    assert Event.STEP_COMPLETED not in reply.events
    [entry] = store.history(ada, kind="docker", limit=5)
    assert entry.exit_status == 125


def test_a_refused_command_never_reaches_the_sandbox(
    tutor: Tutor, fake: FakeSandbox, ada: Person, store: ProgressStore
) -> None:
    """The policy refuses `-v /etc:/x` before the engine: nothing ran, the refusal is logged (-1)."""
    _at_web_step(tutor, ada)
    with pytest.raises(CommandRefused):
        tutor.handle(ada, "docker run -d -v /etc:/x --name web redis")
    assert fake.ran == []
    [entry] = store.history(ada, kind="docker", limit=5)
    assert entry.exit_status == -1


def test_an_engine_that_is_down_is_logged_and_the_lesson_waits(
    tutor: Tutor, fake: FakeSandbox, ada: Person, store: ProgressStore
) -> None:
    """EngineUnavailable reaches the learner, the log says -2, and `check` later still works."""
    _at_web_step(tutor, ada)
    fake.down = True
    with pytest.raises(EngineUnavailable):
        tutor.handle(ada, "docker ps")
    assert store.history(ada, kind="docker", limit=5)[0].exit_status == -2
    fake.down = False
    tutor.handle(ada, "docker run -d --name web redis")
    state = store.lesson_state(ada, "fake")
    assert state is not None and state.completed("web")


def test_reset_removes_everything_and_starts_the_lesson_over(
    tutor: Tutor, fake: FakeSandbox, ada: Person
) -> None:
    """`reset` counts what the sandbox removed and puts the learner back at the first section."""
    _at_web_step(tutor, ada)
    tutor.handle(ada, "docker run -d --name web -v notes:/data redis")
    text = render(tutor.handle(ada, "reset"))
    assert "removed 1 container(s) and 1 volume(s)" in text
    assert fake.containers(ada) == [] and fake.volumes(ada) == []
    assert "Introduction" in text


def test_edit_writes_the_workspace_through_the_sandbox(
    tutor: Tutor, fake: FakeSandbox, ada: Person
) -> None:
    """`edit` writes through the sandbox (the fake keeps it) and says how many bytes."""
    _at_web_step(tutor, ada)
    assert "5 bytes" in render(tutor.handle(ada, "edit app/hello.txt hello"))
    assert fake.read_workspace_file(ada, "app/hello.txt") == "hello"


def test_closing_the_tutor_closes_its_sandbox(tutor: Tutor, fake: FakeSandbox) -> None:
    """The tutor closes the sandbox it was given, and housekeeping has nothing to do on a fake."""
    threads = tutor.start_housekeeping()
    threads.stop()
    tutor.close()
    assert fake.closed


def test_housekeeping_gets_one_janitor_per_engine_of_a_pool(
    settings: Settings, store: ProgressStore, tmp_path: Path
) -> None:
    """A pool's janitors() gives one per engine; the tutor starts one housekeeping thread each."""
    from bot.sandbox import SandboxPool

    engines = ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")  # nothing listens: no engine is asked
    pool = SandboxPool(replace(settings, engines=engines), store)
    try:
        assert [j.settings.docker_host for j in pool.janitors()] == list(engines)
        tutor = Tutor(settings, store, pool, Catalog.of(_lesson(tmp_path)))
        threads = tutor.start_housekeeping()
        try:
            assert [t.janitor.settings.docker_host for t in threads.threads] == list(engines)
        finally:
            threads.stop()
    finally:
        pool.close()


def test_the_fake_answers_every_method_of_the_protocol_with_its_signature() -> None:
    """Each LearnerSandbox method exists on the fake with the same parameters (mypy checks types).

    So the fake cannot drift from the seam when a method is added to it.
    """
    import inspect

    from bot.sandbox import LearnerSandbox

    methods = [name for name, _ in inspect.getmembers(LearnerSandbox, inspect.isfunction)
               if not name.startswith("_")]
    assert "run_command" in methods and "janitors" in methods
    for name in methods:
        wanted = inspect.signature(getattr(LearnerSandbox, name)).parameters
        got = inspect.signature(getattr(FakeSandbox, name)).parameters
        assert [(p.name, p.kind) for p in got.values()] == \
            [(p.name, p.kind) for p in wanted.values()], name
