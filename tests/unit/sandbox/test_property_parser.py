"""Property tests of the parser and the policy (no engine): hostile text never escapes them.

Random and mutated command lines must end in a parsed command or a
:class:`~bot.errors.TutorError`; nothing else may be raised. Whatever the policy
accepts must plan a container inside the rules.
"""

from __future__ import annotations

import posixpath
from shlex import quote as shlex_quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.errors import CommandRefused, TutorError
from bot.identity import Person
from bot.printable import one_line, printable, unsafe_char
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy import mounts, parser
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy.parser import WORKSPACE, Command, parse
from bot.sandbox.policy.verbs import ALIASES, VERB_OPTIONS

SEEDS = [
    "docker run -d --name redis-1 -v my-redis-data:/data redis",
    "docker run --rm -v $(pwd):/app -w /app busybox ls -l",
    "docker run -d --name c --tmpfs /cache:size=8m busybox sleep 60",
    "docker run --mount type=bind,source=.,target=/src,readonly busybox cat /src/x",
    "docker run --mount type=tmpfs,destination=/t,tmpfs-size=4m busybox df",
    "docker run -it -e A=1 -u 1000:1000 -h box --entrypoint sh busybox -c 'echo $A'",
    'docker exec redis-1 redis-cli set mykey "Hello Persistence"',
    "docker exec -it -w /data -u redis redis-1 sh -c 'ls; echo done'",
    "docker ps -a --no-trunc",
    "docker stop -t 3 redis-1",
    "docker logs --tail 5 redis-1",
    "docker inspect -f '{{.State.Running}}' redis-1",
    "docker volume create notes",
    "docker volume rm -f notes other",
    "docker volume prune -a -f",
    "docker container ls -q",
    "docker image ls",
]

HOSTILE_TOKENS = [
    "--privileged", "--cap-add=ALL", "--device=/dev/sda", "--security-opt=seccomp=unconfined",
    "--pid=host", "--ipc=host", "--uts=host", "--userns=host", "--cgroupns=host",
    "--network=host", "-p", "8080:80", "-P", "--publish-all", "-v", "/:/host", "/etc:/etc",
    "/var/run/docker.sock:/var/run/docker.sock", "$(pwd)/../..:/x", "~/.ssh:/x", "..:/x",
    "--mount", "type=bind,source=/etc,target=/x", "type=volume,src=v,dst=/x,volume-opt=o=bind",
    "--volumes-from=other", "--ulimit=nofile=1000000", "--cgroup-parent=/", "--restart=always",
    "--tmpfs=/t:size=10g", "-u", "root;id", "-w", "..", "--entrypoint=", "alpine",
    "evil/redis", "redis@sha256:00", ";", "&&", "|", "`id`", "$(id)", "$((1))", ">", "<",
    "2>&1", "\n", "\x00", "'", '"', "\\", "$(pwd)", "${PWD}", "$PWD", "-", "--", "=", ":",
    "--name=../x", "-e", "HOME", "--label=docker-tutor.learner=x", "build", "system", "cp",
    "container", "volume", "image", "-it", "-dit", "-t", "99999", "--tail=-1", "{{", "}}",
]

ALLOWED = frozenset({"redis", "busybox"})

token = st.one_of(
    st.sampled_from(HOSTILE_TOKENS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A seed command line with tokens inserted, removed, swapped or characters changed."""
    words = draw(st.sampled_from(SEEDS)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["insert", "delete", "replace", "chars", "join"]))
        at = draw(st.integers(0, len(words)))
        if action == "insert" or not words:
            words.insert(at, draw(token))
        elif action == "delete":
            del words[min(at, len(words) - 1)]
        elif action == "replace":
            words[min(at, len(words) - 1)] = draw(token)
        elif action == "chars":
            i = min(at, len(words) - 1)
            word = words[i]
            cut = draw(st.integers(0, len(word)))
            words[i] = word[:cut] + draw(st.text(max_size=3)) + word[cut:]
        else:
            words = [" ".join(words[:at]) + draw(st.sampled_from(["", ";", "|", "'"]))
                     + " ".join(words[at:])]
    return " ".join(words)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A sandbox used for vetting only: it never connects to the engine."""
    return Sandbox(Settings(database_url="sqlite://", namespace="prop"), allowed_images=ALLOWED)


PERSON = Person("console", "prop")


def vet_or_refuse(box: Sandbox, text: str) -> Command | None:
    """Parse and vet ``text``; ``None`` when refused. Any other exception fails the test."""
    refusal: TutorError | None = None
    try:
        command = parse(text)
        box.vet(PERSON, command)
    except TutorError as error:
        refusal = error
    if refusal is not None:
        assert refusal.message.strip(), text
        assert "\n" not in refusal.message, (text, refusal.message)
        return None
    return command


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_anything_but_a_refusal(box: Sandbox, text: str) -> None:
    """Arbitrary text, with or without `docker`, parses or is refused in one line."""
    vet_or_refuse(box, text)
    vet_or_refuse(box, "docker " + text)


@settings(max_examples=600, deadline=None)
@given(mutated())
def test_mutated_command_lines_never_raise_anything_but_a_refusal(box: Sandbox, text: str) -> None:
    """Seed commands with hostile tokens spliced in are parsed or refused, nothing else."""
    vet_or_refuse(box, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(token, max_size=12), st.sampled_from(sorted(VERB_OPTIONS)))
def test_random_token_lists_never_raise_anything_but_a_refusal(
    box: Sandbox, words: list[str], verb: str
) -> None:
    """A verb followed by random tokens is parsed or refused."""
    vet_or_refuse(box, f"docker {verb} " + " ".join(words))


REFUSED = sorted(o for o in policy.REFUSED_OPTIONS if o.startswith("--"))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REFUSED),
    st.lists(st.sampled_from(["-d", "-i", "-it", "-dt", "-e A=1", "--env=B=2"]), max_size=3),
    st.booleans(),
    st.sampled_from(["run", "exec", "container run"]),
)
def test_a_refused_option_before_the_image_is_always_refused_by_name(
    box: Sandbox, option: str, before: list[str], inline: bool, verb: str
) -> None:
    """Wherever a refused option sits among docker's options, it is refused and named."""
    spelled = f"{option}=x" if inline else option
    target = "busybox" if "run" in verb else "box sh"
    with pytest.raises(CommandRefused) as caught:
        box.vet(PERSON, parse(f"docker {verb} {' '.join(before)} {spelled} {target}"))
    assert option in caught.value.message


run_option = st.sampled_from([
    "-d", "--rm", "-it", "-e A=1", "-e B=two", "-u 0", "-u nobody", "-u 1000:1000",
    "-w /tmp", "-w /", "-h box", "--entrypoint sh", "--network none", "--name n1",
    "-v $(pwd):/app", "-v $(pwd)/sub:/sub", "-v ./a/b:/ab:ro", "-v vol:/vol", "-v /anon",
    "--mount type=bind,source=.,target=/b,readonly", "--mount type=volume,source=v2,target=/v2",
    "--mount type=tmpfs,target=/mt,tmpfs-size=8m", "--tmpfs /t", "--tmpfs /t2:size=32m",
    "-v $(pwd)/../x:/bad", "-v /etc:/bad", "--tmpfs /big:size=60m",
    "--tmpfs /app/psys/kernel", "-v vol:/app/pdev/shm", "-v /sub/anon", "--tmpfs /vol/x",
    "--mount type=tmpfs,target=/app/x", "-v $(pwd):/t/ws", "-w /app/psys", "-w /proc/sys",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(run_option, max_size=7), st.sampled_from(["redis", "busybox", "alpine"]))
def test_whatever_the_policy_accepts_plans_a_container_inside_the_rules(
    box: Sandbox, options: list[str], image: str
) -> None:
    """An accepted `run` plans lesson or own images, workspace binds and capped tmpfs."""
    command = vet_or_refuse(box, f"docker run {' '.join(options)} {image} true")
    if command is None:
        return
    plan = box.vet(PERSON, command)
    assert plan.image_name in ALLOWED or (plan.own_image and plan.tag == f"{image}:latest")
    assert all(m.source == "" for m in plan.mounts if m.kind == "bind")  # the whole workspace
    targets = [m.target for m in plan.mounts]
    assert len(targets) == len(set(targets)) <= mounts.MAX_MOUNTS
    assert all(posixpath.isabs(t) and t != "/" for t in targets)
    assert all(not t.startswith(("/proc", "/sys", "/dev")) for t in targets)
    assert not any(mounts.inside(t, o) for t in targets for o in targets if t != o)
    assert sum(m.tmpfs_size for m in plan.mounts if m.kind == "tmpfs") <= mounts.TMPFS_MAX_BYTES
    assert all(WORKSPACE not in a for a in command.args)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab./~$()PWDpwd{}", max_size=30), st.text(alphabet="ab/.", max_size=10))
def test_bind_sources_never_leave_the_workspace(box: Sandbox, source: str, target: str) -> None:
    """Any `-v SOURCE:/TARGET` that vetting accepts as a bind is the whole workspace."""
    spec = f"{source.replace('$(pwd)', WORKSPACE)}:/{target}"
    try:
        request = mounts.parse_volume_flag(spec)
        if request.kind != "bind":
            return
        plan = box.vet(PERSON, parse(f"docker run -v {shlex_quote(source)}:/{target} busybox"))
    except CommandRefused:
        return
    assert [m.source for m in plan.mounts if m.kind == "bind"] == [""]


# -- any characters, any bytes, any verb ------------------------------------------------------

any_char = st.characters(codec=None, exclude_categories=())
"""Every code point, lone surrogates (invalid UTF-8 read with surrogateescape) included."""

CONTROLS = ["\x00", "\x1b", "\x1b[2J", "\x07", "\r", "\x7f", "\x85", "\x9b", "\ud800", "\udcff",
            "\udc80", "\u202e", "\u2066", "\ufeff", "\uffff", "\t", "\n", "\x0b", "\x0c"]

wild_token = st.one_of(
    st.sampled_from(HOSTILE_TOKENS + CONTROLS),
    st.text(alphabet=any_char, max_size=12),
    st.binary(max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape")),
)

WORDS = sorted({
    *policy.VERBS_ALLOWED, *policy.VOLUME_SUBCOMMANDS, *policy.VERB_REASONS,
    *(w for pair in ALIASES for w in pair), *parser.CONTAINER_SUBCOMMANDS,
    "container", "image", "volume", "docker", "sudo", "ls", "list", "--help", "-h",
})


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=any_char, max_size=200))
def test_any_code_points_never_raise_anything_but_a_refusal(box: Sandbox, text: str) -> None:
    """Text with lone surrogates, controls and any code point parses or is refused in one line."""
    vet_or_refuse(box, text)
    vet_or_refuse(box, "docker ps " + text)
    vet_or_refuse(box, "docker run busybox echo " + text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_read_as_the_console_reads_them_are_refused_or_parsed(
    box: Sandbox, raw: bytes
) -> None:
    """Arbitrary bytes decoded with surrogateescape (invalid UTF-8 included) never crash."""
    text = raw.decode("utf-8", "surrogateescape")
    vet_or_refuse(box, text)
    vet_or_refuse(box, "docker " + text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=3),
       st.sampled_from(SEEDS), st.data())
def test_a_control_character_anywhere_is_refused(
    box: Sandbox, controls: list[str], seed: str, data: st.DataObject
) -> None:
    """A control character, lone surrogate or bidi override (not tab/newline) is refused.

    Whitespace controls at either end are stripped like spaces, and CR LF is a newline.
    """
    text = seed
    for ch in controls:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + ch + text[at:]
    if not any(unsafe_char(ch) for ch in text.replace("\r\n", "\n").strip()):
        return  # only tabs and newlines were drawn, or whitespace at the ends
    with pytest.raises(CommandRefused) as caught:
        parse(text)
    assert "\n" not in caught.value.message
    caught.value.message.encode("utf-8")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
       st.lists(wild_token, max_size=6))
def test_any_verb_and_sub_verb_combination_is_parsed_or_refused(
    box: Sandbox, verbs: list[str], rest: list[str]
) -> None:
    """Every combination of verbs and sub-verbs from the tables, then anything, is answered."""
    vet_or_refuse(box, "docker " + " ".join([*verbs, *(shlex_quote(w) for w in rest)]))
    vet_or_refuse(box, " ".join(verbs))


def test_every_pair_of_table_words_is_parsed_or_refused(box: Sandbox) -> None:
    """All pairs (and pairs plus `ls`) of verb words, exhaustively: no KeyError anywhere."""
    for first in WORDS:
        for second in WORDS:
            for tail in ("", " ls", " x", " -q", " --help"):
                vet_or_refuse(box, f"docker {first} {second}{tail}")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200_000), st.sampled_from(["a", " a", "\u00e9", "\udcff", "'", "$(pwd)"]))
def test_huge_lines_are_refused_in_one_line(box: Sandbox, repeat: int, unit: str) -> None:
    """Lines of any length are refused past the cap, cheaply, with a one-line reason."""
    line = "docker ps " + unit * repeat
    vet_or_refuse(box, line)
    if len(line.strip()) > parser.MAX_COMMAND_CHARS:
        with pytest.raises(CommandRefused):
            parse(line)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["rm", "rm -f", "stop", "start", "restart", "inspect", "volume rm",
                        "volume inspect", "container rm", "container stop", "volume remove"]),
       st.integers(1, 40))
def test_verbs_that_take_names_take_at_most_the_cap(verb: str, count: int) -> None:
    """`rm`, `stop`, `restart`, `inspect`, `volume rm` ... accept at most MAX_NAMES names."""
    text = f"docker {verb} " + " ".join(f"n{i}" for i in range(count))
    if count <= parser.MAX_NAMES:
        assert len(parse(text).args) == count
    else:
        with pytest.raises(CommandRefused, match=f"at most {parser.MAX_NAMES} names"):
            parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=any_char, max_size=300), st.one_of(st.none(), st.integers(1, 80)))
def test_printable_text_is_always_encodable_and_free_of_controls(
    text: str, limit: int | None
) -> None:
    """`printable` turns any string into valid UTF-8 with no control but newline and tab."""
    out = printable(text, limit)
    out.encode("utf-8")
    assert not any(unsafe_char(ch) for ch in out)
    if limit is not None:
        assert len(out) <= limit
    line = one_line(text)
    assert "\n" not in line and "\t" not in line and len(line) <= 60
    if not any(unsafe_char(ch) for ch in text) and limit is None:
        assert out == text
