"""`docker build` against hostile input: Dockerfiles, contexts, names, other learners, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest

from bot.config import Settings
from bot.errors import CommandRefused, TutorError
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy import dockerfile
from bot.sandbox.policy.naming import own_image_bytes
from bot.sandbox.policy.parser import parse
from bot.sandbox.pool.janitor import purge_prefix
from bot.sandbox.resources.build import runc_ok, summarise
from bot.sandbox.views import Outcome
from bot.sandbox.workspace.context import ignore_rules, ignored
from bot.tutor.core import Tutor
from tests.conftest import with_limits

LESSON = frozenset({"busybox", "redis"})

HOSTILE_DOCKERFILES = [
    ("FROM busybox\nRUN --mount=type=bind,source=/,target=/host cat /host/etc/shadow", "RUN --mount"),
    ("FROM busybox\nRUN --network=host wget x", "RUN --network"),
    ("FROM busybox\nRUN --security=insecure id", "RUN --security"),
    ("FROM busybox\nADD http://example.com/x /x", "no network"),
    ("FROM busybox\nADD https://example.com/x.tar /x", "no network"),
    ("FROM busybox\nADD git@github.com:a/b.git /b", "no network"),
    ("FROM busybox\nCOPY --from=nginx /etc/passwd /x", "earlier stage"),
    ("FROM busybox\nCOPY --from=dt-0123456789ab-app / /x", "earlier stage"),
    ("FROM busybox AS a\nFROM busybox\nCOPY --from=b /x /x", "earlier stage"),
    ("FROM busybox\nCOPY --link a /a", "--link"),
    ("FROM busybox\nCOPY --chmod=777 a /a", "--chmod"),
    ("FROM registry.example.com/redis", "registry.example.com"),
    ("FROM redis@sha256:" + "0" * 64, "redis@sha256"),
    ("FROM $BASE", "variable"),
    ("ARG B=busybox\nFROM ${B}", "variable"),
    ("FROM --platform=linux/arm64 busybox", "--platform"),
    ("FROM busybox\nWORKDIR /proc/self/fd/7", "CVE-2024-21626"),
    ("FROM busybox\nWORKDIR /proc", "CVE-2024-21626"),
    ("FROM busybox\nWORKDIR /tmp\nWORKDIR ../proc/self/fd/8", "CVE-2024-21626"),
    ("FROM busybox\nWORKDIR /sys/fs/cgroup", "CVE-2024-21626"),
    ("FROM busybox\nWORKDIR /dev/shm", "CVE-2024-21626"),
    ("FROM busybox\nENV D=/proc/self/fd/7\nWORKDIR $D", "variable"),
    ("FROM busybox\nWORKDIR /app\nWORKDIR ../../proc/1/cwd", "CVE-2024-21626"),
    ("FROM busybox\nVOLUME /proc", "kernel"),
    ("FROM busybox\nVOLUME [\"/\"]", "kernel"),
    ("FROM busybox\nCOPY a /proc/sys/kernel/x", "outside"),
    ("FROM busybox\nCOPY a $DEST", "plain path"),
    ("FROM busybox\nONBUILD RUN rm -rf /", "ONBUILD"),
    ("FROM busybox\nLABEL docker-tutor.learner=0123456789ab", "docker-tutor"),
    ("FROM busybox\nLABEL \"docker-tutor.managed\"=1", "docker-tutor"),
    ("FROM busybox\nARG K=docker-tutor.learner\nLABEL $K=x", "docker-tutor"),
    ("FROM busybox\nRUN <<EOF\nid\nEOF", "heredoc"),
    ("FROM busybox\nCOPY <<EOF /x\nhi\nEOF", "heredoc"),
    ("# syntax=docker/dockerfile:1\nFROM busybox", "parser directive"),
    ("# escape=`\nFROM busybox", "parser directive"),
    ("FROM busybox\nRUN echo \x1b[31m", "control character"),
    ("FROM busybox\nRUN echo \udcff", "not UTF-8"),
    ("FROM busybox\nRUN echo \u202e", "control character"),
    ("RUN id", "before the first"),
    ("# only a comment", "no `FROM`"),
    ("FROM busybox\nEVIL x", "not a Dockerfile instruction"),
    ("FROM busybox AS a\nFROM busybox AS a", "used once"),
    ("FROM busybox\n" + "RUN true\n" * 201, "at most 200"),
    ("FROM busybox\n" + "FROM busybox\n" * 8, "at most 8 stages"),
    ("FROM busybox\nRUN echo " + "x" * 70_000, "larger than"),
]


@pytest.mark.parametrize(("text", "fragment"), HOSTILE_DOCKERFILES)
def test_hostile_dockerfiles_are_refused_in_one_line(text: str, fragment: str) -> None:
    """Each hostile Dockerfile is refused with one printable line naming its line and reason."""
    with pytest.raises(CommandRefused) as caught:
        dockerfile.parse(text, LESSON)
    message = caught.value.message
    assert fragment in message, message
    assert "\n" not in message and message.startswith("Dockerfile line ")
    assert message.isprintable()


def test_accepted_dockerfiles_keep_their_stages_and_instructions() -> None:
    """A multi-stage Dockerfile with continuations and comments parses into its stages."""
    parsed = dockerfile.parse(
        "# a comment\nARG V=1\nFROM busybox AS build\nRUN echo a \\\n  && echo b\n"
        "# inside\nFROM build AS again\nFROM scratch\nCOPY --from=build --chown=1:1 /x /x\n"
        "USER 1000\nVOLUME /data\nHEALTHCHECK CMD true\nLABEL a=b \"c d\"=e\n"
        "WORKDIR /proc-like\nWORKDIR relative\nCMD [\"/x\"]\n", LESSON)
    assert [(s.kind, s.name) for s in parsed.stages] == [
        ("image", "build"), ("stage", "again"), ("scratch", "")]
    assert parsed.instructions[2].args == "echo a && echo b"
    assert parsed.instructions[2].line == 4
    assert [i.keyword for i in parsed.instructions][-3:] == ["WORKDIR", "WORKDIR", "CMD"]


@pytest.mark.parametrize(("line", "fragment"), [
    ("docker build ..", "your workspace"),
    ("docker build /", "your workspace"),
    ("docker build http://example.com/repo.git", "your workspace"),
    ("docker build -t busybox .", "lesson provides"),
    ("docker build -t evil/app .", "invalid image name"),
    ("docker build -t registry.example.com/app .", "invalid image name"),
    ("docker build -t APP .", "invalid image name"),
    ("docker build -t app@sha256:00 .", "invalid image name"),
    ("docker build -t a -t b -t c -t d -t e .", "at most 4"),
    ("docker build --build-arg HOME .", "NAME=value"),
    ("docker build --target ../x .", "--target"),
    ("docker build -f ../Dockerfile .", "not a file name"),
    ("docker build -f /etc/passwd .", "workspace"),
    ("docker build --network host .", "--network"),
    ("docker build --security-opt seccomp=unconfined .", "--security-opt"),
    ("docker build --memory 8g .", "--memory"),
    ("docker build --add-host x:1.2.3.4 .", "--add-host"),
    ("docker build --output type=local,dest=/ .", "--output"),
    ("docker build --secret id=x,src=/etc/shadow .", "--secret"),
    ("docker build --ssh default .", "--ssh"),
    ("docker build --cache-from evil .", "--cache-from"),
    ("docker build --label docker-tutor.learner=x .", "--label"),
    ("docker build --iidfile /tmp/x .", "--iidfile"),
    ("docker tag busybox evil/busybox", "invalid image name"),
    ("docker tag app busybox", "lesson provides"),
])
def test_hostile_build_lines_are_refused_before_the_engine(line: str, fragment: str) -> None:
    """Hostile `build` and `tag` lines are refused by the parser and the vetting, without an engine."""
    from bot.sandbox.policy import values
    from bot.sandbox.resources.build import vet_build

    def vet() -> None:
        command = parse(line)
        if command.verb == "build":
            vet_build(command, LESSON)
        else:
            values.check_own_image(command.args[1], LESSON, option="docker tag")

    with pytest.raises(TutorError) as caught:
        vet()
    assert fragment in str(caught.value), str(caught.value)


def test_runc_versions_before_the_fix_are_refused_unless_a_known_backport() -> None:
    """An engine's runc < 1.1.12 is refused (CVE-2024-21626) except Debian 12's fixed security build."""
    assert not runc_ok("1.1.11", "")
    assert not runc_ok("1.1.5+ds1", "1.1.5+ds1-1")
    assert runc_ok("1.1.5+ds1", "1.1.5+ds1-1+deb12u1")
    assert runc_ok("1.1.12", "") and runc_ok("v1.2.0", "") and runc_ok("1.3.0-rc.1", "")
    assert not runc_ok("", "") and not runc_ok("unknown", "")


def test_dockerignore_patterns_work_as_the_docker_cli_applies_them() -> None:
    """`*`, `**`, folders and `!` exceptions (the last match wins) leave out what docker does."""
    rules = ignore_rules("secret.txt\n*.log\n!keep.log\ndata/\n**/tmp\n# comment\n")
    assert ignored("secret.txt", rules) and ignored("a.log", rules)
    assert not ignored("keep.log", rules) and not ignored("src/a.log", rules)
    assert ignored("data/x/y", rules) and ignored("a/b/tmp/z", rules) and ignored("tmp", rules)
    assert not ignored("notes.txt", rules)


def test_summaries_hide_the_tutors_steps_and_keep_errors_and_last_lines() -> None:
    """Build output is renumbered to the learner's steps, shortened, and counts cache hits."""
    parsed = dockerfile.parse("FROM busybox\nRUN seq 20\nCMD [\"x\"]\n", LESSON)
    text = ("Step 1/4 : FROM sha256:abc\n ---> 55ed93ddfe08\nStep 2/4 : LABEL docker-tutor.x=1\n"
            " ---> Using cache\n ---> 1\nStep 3/4 : RUN seq 20\n ---> Running in 9\n"
            + "".join(f"{n}\n" for n in range(1, 21))
            + " ---> 2\nStep 4/4 : CMD [\"x\"]\n ---> Using cache\n ---> 3\nSuccessfully built 3\n")
    out, cached = summarise(text, parsed, [1, 0, 2, 3])
    assert "Step 1/3 : FROM busybox" in out and "sha256" not in out and "docker-tutor" not in out
    assert "Step 2/3 : RUN seq 20" in out and "(14 more line(s) of output)" in out
    assert "20\n" in out and "\n1\n" not in out
    assert cached == 1


def test_image_bytes_count_each_layer_once_per_learner() -> None:
    """A learner's images count what each adds to its parent; lesson images count for no one."""
    mine = {"docker-tutor.managed": "1", "docker-tutor.namespace": "dt",
            "docker-tutor.learner": "a"}
    images = [
        {"Id": "busybox", "ParentId": "", "Size": 2_000_000, "Labels": {}},
        {"Id": "l1", "ParentId": "busybox", "Size": 2_000_100, "Labels": mine},
        {"Id": "l2", "ParentId": "l1", "Size": 7_000_100, "Labels": mine},
        {"Id": "o1", "ParentId": "busybox", "Size": 2_500_000,
         "Labels": {**mine, "docker-tutor.learner": "b"}},
    ]
    assert own_image_bytes(images, "dt") == {"a": 5_000_100, "b": 500_000}


# -- on the real engine -----------------------------------------------------------------------


def say(box: Sandbox, person: Person, line: str) -> Outcome:
    """Run one learner line in the sandbox."""
    return box.run_command(person, parse(line))


@pytest.fixture
def builder(settings: Settings, docker_client: docker.DockerClient) -> Iterator[Sandbox]:
    """A sandbox with a short foreground limit (builds get 3x it), on the real engine."""
    box = Sandbox(with_limits(settings, foreground_seconds=4.0), allowed_images=LESSON)
    yield box
    box.close()
    purge_prefix(docker_client, settings.namespace)  # images, workspaces: nothing left


@pytest.mark.docker
def test_build_steps_run_without_network_under_the_learner_limits(
    builder: Sandbox, alice: Person, docker_client: docker.DockerClient
) -> None:
    """A RUN step sees only `lo`, the memory limit, and half a core; the image is Alice's."""
    builder.write_workspace_file(alice, "Dockerfile", (
        "FROM busybox\nRUN ip -o link | cut -d: -f2 | tr -d ' \\n'; echo; "
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us\n"))
    out = say(builder, alice, "docker build --no-cache -t probe .")
    assert out.exit_code == 0, out.output
    assert "\nlo\n" in out.output
    assert str(builder.limits.memory_bytes) in out.output
    assert "\n50000\n" in out.output
    ns = builder.namespace(alice)
    image = docker_client.images.get(f"{ns.engine_name('probe')}:latest")
    assert image.labels["docker-tutor.learner"] == ns.learner
    assert out.facts["build"]["ok"] and out.facts["build"]["stages"] == 1


@pytest.mark.docker
def test_a_build_past_its_time_is_stopped_and_leaves_no_step_running(
    builder: Sandbox, alice: Person, docker_client: docker.DockerClient
) -> None:
    """`RUN sleep 600` ends at the build's deadline (12 s here); the engine kills the step."""
    builder.write_workspace_file(alice, "Dockerfile", "FROM busybox\nRUN sleep 600\n")
    started = time.monotonic()
    out = say(builder, alice, "docker build --no-cache -t slow .")
    took = time.monotonic() - started
    assert out.exit_code == 1 and "still running after 12 seconds" in " ".join(out.notes)
    assert took < 20, took
    time.sleep(3)
    ns = builder.namespace(alice)
    running = docker_client.containers.list(filters={"label": f"docker-tutor.learner={ns.learner}"})
    assert running == []


@pytest.mark.docker
def test_another_learner_can_neither_see_run_tag_nor_remove_alices_image(
    builder: Sandbox, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """Bob's image verbs, `run` and `FROM` never reach Alice's image; `images` lists only his own."""
    builder.write_workspace_file(alice, "Dockerfile", "FROM busybox\nCMD [\"echo\", \"alice\"]\n")
    assert say(builder, alice, "docker build -t secret .").exit_code == 0
    ns = builder.namespace(alice)
    engine_tag = f"{ns.engine_name('secret')}:latest"
    image_id = docker_client.images.get(engine_tag).id
    assert "secret" not in say(builder, bob, "docker images").output
    for line in ("docker history secret", f"docker history {image_id[7:19]}",
                 f"docker image inspect {image_id[7:19]}", "docker rmi secret",
                 f"docker rmi {image_id[7:19]}", f"docker rmi -f {image_id[7:]}",
                 "docker tag secret mine", f"docker tag {image_id[7:19]} mine"):
        out = say(builder, bob, line)
        assert out.exit_code == 1 and "No such image" in out.output, (line, out.output)
    for line in ("docker run --rm secret", f"docker run --rm {ns.engine_name('secret')}"):
        with pytest.raises(CommandRefused):
            say(builder, bob, line)
    builder.write_workspace_file(bob, "Dockerfile", f"FROM {ns.engine_name('secret')}\n")
    with pytest.raises(CommandRefused):
        say(builder, bob, "docker build -t steal .")
    for base in ("secret", "alpine", "ubuntu:22.04"):  # neither the lesson's nor Bob's
        builder.write_workspace_file(bob, "Dockerfile", f"FROM {base}\n")
        with pytest.raises(CommandRefused) as caught:
            say(builder, bob, "docker build -t steal .")
        assert f"FROM {base}" in caught.value.message
    say(builder, bob, "docker image prune -a -f")
    assert docker_client.images.get(engine_tag).id == image_id  # still there, untouched
    assert say(builder, alice, "docker run --rm secret").output == "alice\n"


@pytest.mark.docker
def test_an_image_neither_the_lessons_nor_built_is_refused_after_reads_only(
    builder: Sandbox, alice: Person, mocker: pytest.MonkeyPatch
) -> None:
    """`docker run alpine` looks up the learner's own names (two reads), then is refused."""
    api = builder.client.api
    spies = {m: mocker.spy(api, m) for m in ("_post", "_delete", "_get")}  # type: ignore[attr-defined]
    with pytest.raises(CommandRefused) as caught:
        say(builder, alice, "docker run alpine")
    assert "neither one of this lesson's images nor one you built" in caught.value.message
    assert spies["_post"].call_count == 0 and spies["_delete"].call_count == 0
    assert spies["_get"].call_count == 2  # the container name, then the image name


def test_the_console_reads_a_dockerfile_as_a_heredoc() -> None:
    """`edit Dockerfile <<EOF`, the lines, then `EOF` become one edit of several lines."""
    import io

    from bot.console.repl import _heredoc

    rest = io.StringIO('FROM busybox\nCMD ["echo", "hi"]\nEOF\ndocker ps\n')
    assert _heredoc("edit Dockerfile <<EOF", rest, None) == (
        'edit Dockerfile FROM busybox\nCMD ["echo", "hi"]')
    assert rest.readline() == "docker ps\n"
    assert _heredoc("edit notes.txt hello", rest, None) == "edit notes.txt hello"


@pytest.mark.docker
def test_a_dockerfile_sent_as_a_slack_code_block_is_written_as_its_lines(
    tutor: Tutor, alice: Person
) -> None:
    """`edit Dockerfile` then a code block on the next lines writes the block's text."""
    tutor.handle(alice, 'edit Dockerfile\n```\nFROM busybox\nCMD ["echo", "hi"]\n```')
    assert tutor.sandbox.read_workspace_file(alice, "Dockerfile") == (
        'FROM busybox\nCMD ["echo", "hi"]\n')
    reply = tutor.handle(alice, "docker build -t hi .")
    assert "Successfully tagged hi:latest" in reply.text()


@pytest.mark.docker
def test_a_failing_step_shows_its_error_in_full_and_keeps_the_last_lines(
    builder: Sandbox, alice: Person
) -> None:
    """`RUN` that fails: the learner sees the step, its last output lines and the error."""
    builder.write_workspace_file(alice, "Dockerfile",
                                 "FROM busybox\nRUN seq 1 50; echo oops >&2; exit 3\n")
    out = say(builder, alice, "docker build -t broken .")
    assert out.exit_code == 1 and not out.facts["build"]["ok"]
    assert "Step 2/2 : RUN seq 1 50; echo oops >&2; exit 3" in out.output
    assert "more line(s) of output" in out.output and "\n50\n" in out.output
    assert "ERROR: The command '/bin/sh -c seq 1 50; echo oops >&2; exit 3' returned a " \
           "non-zero code: 3" in out.output
    assert "docker-tutor" not in out.output and "sha256:" not in out.output


@pytest.mark.docker
def test_builds_are_refused_where_steps_would_not_run_under_the_sandboxes_runtime(
    settings: Settings, alice: Person, docker_client: docker.DockerClient
) -> None:
    """With `TUTOR_RUNTIME=runsc` on an engine whose default runtime is runc, no build starts."""
    from dataclasses import replace

    box = Sandbox(replace(settings, runtime="runsc"), allowed_images=LESSON)
    try:
        with pytest.raises(CommandRefused) as caught:
            say(box, alice, "docker build -t x .")
        assert "would not run under runsc" in caught.value.message
    finally:
        box.close()
        purge_prefix(docker_client, settings.namespace)


@pytest.mark.docker
def test_a_build_is_refused_while_the_learners_images_fill_the_disk_quota(
    settings: Settings, alice: Person, docker_client: docker.DockerClient
) -> None:
    """Images count in the disk quota: past it, the next build is refused and says what to do."""
    box = Sandbox(with_limits(settings, disk_bytes=64 * 1024), allowed_images=LESSON)
    try:
        box.write_workspace_file(alice, "Dockerfile",
                                 "FROM busybox\nRUN head -c 200000 /dev/zero > /blob\n")
        assert say(box, alice, "docker build -t big .").exit_code == 0
        with pytest.raises(CommandRefused) as caught:
            say(box, alice, "docker build -t bigger .")
        assert "disk quota" in caught.value.message and "image prune" in str(caught.value)
        assert say(box, alice, "docker image rm big").exit_code == 0
        assert say(box, alice, "docker build -t again .").exit_code == 0
    finally:
        box.close()
        purge_prefix(docker_client, settings.namespace)


@pytest.mark.docker
def test_links_fifos_and_ignored_files_never_reach_the_builder(
    tutor: Tutor, alice: Person
) -> None:
    """A container plants links and a FIFO in the workspace: the context holds none of them."""
    for line in (
        "docker run -d --name planter -v $(pwd):/w busybox sleep 600",
        "docker exec planter sh -c 'ln -s / /w/root && ln -s /etc/shadow /w/shadow && "
        "mkfifo /w/pipe && echo keep > /w/keep.txt && echo no > /w/skip.txt'",
        "edit .dockerignore skip.txt\nDockerfile",
        "edit Dockerfile FROM busybox\nCOPY . /ctx\nCMD [\"ls\", \"-a\", \"/ctx\"]",
        "docker build -t ctx .",
    ):
        tutor.handle(alice, line)
    listing = tutor.sandbox.image_run(alice, "ctx")
    assert listing is not None and listing[0] == 0
    names = set(listing[1].split())
    assert {"keep.txt", ".dockerignore"} <= names  # the ignored Dockerfile was still read
    assert not names & {"root", "shadow", "pipe", "skip.txt", "Dockerfile", ".tutor-Dockerfile"}


def test_a_long_build_keeps_its_end_within_the_output_cap() -> None:
    """Cut to the cap, a summary keeps its last lines (the result, the failing step)."""
    from bot.sandbox.resources.build import keep_tail

    text = "".join(f"Step {n}/300 : RUN true\n ---> abc{n}\n" for n in range(1, 301))
    text += "Successfully built abc300\n"
    cut = keep_tail(text, 500)
    assert len(cut) < 600 and cut.endswith("Successfully built abc300\n")
    assert cut.startswith(" ... (") and "characters of earlier steps cut" in cut
    assert keep_tail("short\n", 500) == "short\n"


@pytest.mark.docker
def test_a_build_that_prints_megabytes_still_ends_with_its_result(
    builder: Sandbox, alice: Person
) -> None:
    """Past the read budget only the latest output is kept: the image id and the end survive."""
    builder.write_workspace_file(alice, "Dockerfile",
                                 "FROM busybox\nRUN seq 1 200000\nCMD [\"true\"]\n")
    out = say(builder, alice, "docker build --no-cache -t loud .")
    assert out.exit_code == 0 and out.facts["build"]["ok"], out.output[-500:]
    assert out.output.rstrip().endswith("Successfully tagged loud:latest")
    assert "\n200000\n" in out.output and len(out.output) <= builder.limits.output_chars
