"""The learner command parser: shlex splitting, the option tables, refusals."""

from __future__ import annotations

import pytest

from bot.errors import CommandRefused
from bot.sandbox.policy.parser import WORKSPACE, parse


def test_run_with_volume_and_name_is_parsed() -> None:
    """A typical `docker run` yields its flags, name, volume and image."""
    command = parse("docker run -d --name redis-1 -v my-redis-data:/data redis")
    assert command.verb == "run"
    assert command.flag("detach")
    assert command.value("name") == "redis-1"
    assert command.values("volume") == ["my-redis-data:/data"]
    assert command.args == ["redis"]


def test_exec_keeps_quoted_value_as_one_argument() -> None:
    """Quotes group words exactly as a shell would, without a shell."""
    command = parse('docker exec redis-1 redis-cli set mykey "Hello Persistence"')
    assert command.args == ["redis-1", "redis-cli", "set", "mykey", "Hello Persistence"]


def test_options_after_the_image_belong_to_the_container_command() -> None:
    """`-d` after the image is an argument of the container's command, not docker's."""
    command = parse("docker run --rm busybox ls -d /")
    assert not command.flag("detach")
    assert command.args == ["busybox", "ls", "-d", "/"]


def test_combined_short_flags_and_inline_values() -> None:
    """`-dit` sets three flags; `--name=x` and `-eK=V` carry inline values."""
    command = parse("docker run -dit --name=box -eA=1 busybox")
    assert command.flag("detach") and command.flag("interactive") and command.flag("tty")
    assert command.value("name") == "box"
    assert command.values("env") == ["A=1"]
    assert any("not an interactive terminal" in note for note in command.notes)


def test_workspace_shorthand_becomes_a_marker() -> None:
    """`$(pwd)`, `$PWD` and `${PWD}` all name the learner's workspace."""
    for form in ("$(pwd)", "$PWD", "${PWD}", '"$PWD"'):
        command = parse(f"docker run -v {form}:/app busybox")
        assert command.values("volume") == [f"{WORKSPACE}:/app"]


def test_smart_quotes_from_slack_are_normalised() -> None:
    """Curly quotes that Slack substitutes still group words."""
    command = parse("docker exec r redis-cli set k \u201chello world\u201d")
    assert command.args[-1] == "hello world"


def test_aliases_map_to_verbs() -> None:
    """`container ls` is `ps`, `image ls` is `images`, `volume list` is `volume ls`."""
    assert parse("docker container ls -a").verb == "ps"
    assert parse("docker image ls").verb == "images"
    assert parse("docker volume list").verb == "volume ls"


def test_leading_docker_is_optional() -> None:
    """`/docker ps` in Slack sends only `ps`."""
    assert parse("ps -a").flag("all")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("docker ps; rm -rf /", "shell syntax"),
        ("docker ps && docker ps", "shell syntax"),
        ("docker ps | grep x", "shell syntax"),
        ("docker run --privileged redis", "--privileged"),
        ("docker run -p 6379:6379 redis", "no network"),
        ("docker run --network host redis", "share the host's network"),
        ("docker buildx build .", "docker buildx"),
        ("docker run --frobnicate redis", "--frobnicate"),
        ('docker exec r echo "unclosed', "quotes"),
        ("docker exec r", "Usage"),
        ("docker", "Type a docker command"),
        ("sudo docker ps", "sudo"),
        ("docker ps extra", "Usage"),
        ("docker run --name", "needs a value"),
        ("docker container volume create notes", "`docker container volume` is not available"),
    ],
)
def test_refusals_name_the_reason(text: str, fragment: str) -> None:
    """Each refused line raises CommandRefused whose message names what was wrong."""
    with pytest.raises(CommandRefused) as caught:
        parse(text)
    assert fragment in str(caught.value)


# -- bounded input ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "docker container volume ls", "docker container images", "docker container container ls",
    "docker container volume", "docker image volume ls", "docker volume container ls",
    "docker container build .", "docker image save busybox", "docker volume volume ls",
])
def test_any_verb_and_sub_verb_pair_is_refused_in_one_line(text: str) -> None:
    """A sub-verb that belongs to another verb is refused by name, never a KeyError."""
    with pytest.raises(CommandRefused) as caught:
        parse(text)
    assert "\n" not in caught.value.message


def test_too_many_words_are_refused() -> None:
    """A line of more than 64 words is refused before its options are read."""
    assert len(parse("docker run busybox echo " + "a " * 61).args) == 63  # run + 63 words
    with pytest.raises(CommandRefused, match="at most 64"):
        parse("docker run busybox echo " + "a " * 62)


@pytest.mark.parametrize("verb", ["rm -f", "stop", "start", "restart -t 60", "inspect",
                                  "volume rm", "volume inspect", "container rm"])
def test_verbs_over_many_names_are_capped(verb: str) -> None:
    """One line names at most eight containers or volumes, so its cost stays bounded."""
    assert len(parse(f"docker {verb} " + " ".join(f"c{i}" for i in range(8))).args) == 8
    with pytest.raises(CommandRefused, match="at most 8 names"):
        parse(f"docker {verb} " + " ".join(f"c{i}" for i in range(9)))


def test_format_templates_are_capped() -> None:
    """A `--format` longer than 256 characters or with more than 8 actions is refused."""
    assert parse("docker inspect -f '" + "{{json .}}" * 8 + "' x").value("format")
    with pytest.raises(CommandRefused, match="--format"):
        parse("docker inspect -f '" + "{{json .}}" * 9 + "' x")
    with pytest.raises(CommandRefused, match="--format"):
        parse("docker volume inspect --format '{{.Name}}" + "x" * 250 + "' v")


@pytest.mark.parametrize("text", [
    "docker ps \udcff", "docker ps \udcff\udcfe", "edit a.txt \udcff", "docker ps \x1b[2J",
    "docker run busybox echo '\x1b]0;owned\x07'", "docker ps \x9b31m", "docker ps \u202e",
    "docker exec r echo '\ud800'", "docker run busybox echo \x00", "docker ps a\rb",
])
def test_invalid_utf8_and_control_characters_are_refused_in_one_printable_line(text: str) -> None:
    """Bytes that were not UTF-8, ESC, C1 controls, NUL and bidi overrides are refused."""
    with pytest.raises(CommandRefused) as caught:
        parse(text)
    message = caught.value.message
    assert "control character" in message and "\n" not in message
    message.encode("utf-8")  # no lone surrogate in the refusal itself


@pytest.mark.parametrize("text", [
    "docker 'a\nb'", "docker ps '-\n'", "docker run -e 'A\nB' busybox",
    "docker run --name 'x\ny' busybox", "docker run -v 'a\nb:/x' busybox",
    "docker run --tmpfs '/t\nx' busybox", "docker run -u 'a\nb' busybox",
    "docker run --mount 'type=x\ny,target=/t' busybox",
])
def test_refusals_quote_learner_text_on_one_line(text: str) -> None:
    """A newline inside quotes never breaks a refusal over two lines."""
    from bot.config import Settings
    from bot.identity import Person
    from bot.sandbox.engine.sandbox import Sandbox

    box = Sandbox(Settings(database_url="sqlite://", namespace="p"), allowed_images=["busybox"])
    with pytest.raises(CommandRefused) as caught:
        box.vet(Person("console", "p"), parse(text))
    assert "\n" not in caught.value.message
