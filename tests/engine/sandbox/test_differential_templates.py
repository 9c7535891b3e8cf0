"""Go templates as Go renders them: one container, two renderers, compared template by template.

A learner's container is started through the sandbox; every template of
:mod:`tests.template_corpus` is then rendered on it twice: by the sandbox (``docker
inspect -f`` / ``docker ps --format`` as the learner types them) and by the real docker
CLI, whose Go ``text/template`` is the reference, on the very same container (by its
engine name; the engine prefix is masked). The share of identical answers (output and
exit status) must be at least :data:`REQUIRED_SHARE`, and the differences must be
exactly the known ones, each with its reason.
"""

from __future__ import annotations

import random
import subprocess

import docker
import pytest

from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.output import formatting
from bot.sandbox.output.template_values import Struct
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.sandbox.policy.parser import parse
from tests.template_corpus import (
    INSPECT,
    KNOWN_DIFFERENCES,
    PS,
    RANDOM_COUNT,
    RANDOM_SEED,
    VOLUME,
    random_call,
    random_printf,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REQUIRED_SHARE = 0.95


def _cli(args: list[str], data_root: str) -> tuple[int, str]:
    """The CLI's answer, its engine's storage shown where the sandbox shows every engine's."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    return done.returncode, (done.stdout + done.stderr).replace(data_root, "/var/lib/docker")


def _ours(sandbox: Sandbox, person: Person, words: list[str]) -> tuple[int, str]:
    outcome = sandbox.run_command(person, parse(" ".join(words)))
    return outcome.exit_code, outcome.output


def _quoted(template: str) -> str:
    return "'" + template.replace("'", "'\\''") + "'"


def test_templates_render_as_the_docker_cli_renders_them(
    sandbox: Sandbox, alice: Person, capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    """At least 95% of 100+ templates render exactly as Go does; every other one is known."""
    total = len(INSPECT) + len(PS) + len(VOLUME)
    assert total >= 100
    data_root = str(docker_client.info()["DockerRootDir"])
    ns = sandbox.namespace(alice)
    engine_prefix = f"{ns.prefix}-{ns.learner}-"
    differences: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {}
    try:
        _ours(sandbox, alice, ["docker", "run", "-d", "--name", "tpl", "-e", "FOO=bar",
                               "-v", "tpldata:/data", "busybox", "sleep", "300"])
        engine_name = ns.engine_name("tpl")
        labels = [f"--filter=label={item}" for item in ns.filters()["label"]]
        for template in INSPECT:
            ours = _ours(sandbox, alice, ["docker", "inspect", "-f", _quoted(template), "tpl"])
            theirs = _cli(["inspect", "-f", template, engine_name], data_root)
            theirs = (theirs[0], theirs[1].replace(engine_prefix, ""))
            if ours != theirs:
                differences[template] = (ours, theirs)
        for template in PS:
            ours = _ours(sandbox, alice, ["docker", "ps", "--format", _quoted(template)])
            theirs = _cli(["ps", *labels, "--format", template.replace("\\t", "\t")], data_root)
            theirs = (theirs[0], theirs[1].replace(engine_prefix, ""))
            if ours != theirs:
                differences["ps " + template] = (ours, theirs)
        for template in VOLUME:
            ours = _ours(sandbox, alice, ["docker", "volume", "inspect", "-f",
                                          _quoted(template), "tpldata"])
            theirs = _cli(["volume", "inspect", "-f", template, ns.engine_name("tpldata")], data_root)
            theirs = (theirs[0], theirs[1].replace(engine_prefix, ""))
            if ours != theirs:
                differences["volume " + template] = (ours, theirs)
    finally:
        sandbox.remove_all(alice)
    share = (total - len(differences)) / total
    report = [f"template differential: {total} templates, {total - len(differences)} "
              f"identical, share {share:.1%}"]
    for template, (ours, theirs) in differences.items():
        reason = KNOWN_DIFFERENCES.get(template, "NEW DIFFERENCE")
        report.append(f"  {template}  [{reason}]\n    tutor {ours[0]}: {ours[1]!r}\n"
                      f"    cli   {theirs[0]}: {theirs[1]!r}")
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert set(differences) == set(KNOWN_DIFFERENCES), "\n".join(report)
    assert share >= REQUIRED_SHARE, "\n".join(report)


@pytest.mark.parametrize("family", ["printf", "calls"])
def test_random_templates_render_as_go_renders_them(
    family: str, docker_client: docker.DockerClient, namespace_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Seeded random printf formats and calls of every function: 98% exactly as Go prints."""
    rng = random.Random(f"{RANDOM_SEED}-{family}")  # noqa: S311 - the same templates each run
    make = random_printf if family == "printf" else random_call
    container = docker_client.containers.create(
        "busybox", ["true"], labels={LABEL_NAMESPACE: namespace_prefix},
        network_disabled=True)
    differences = []
    try:
        for _ in range(RANDOM_COUNT):
            template = make(rng)
            theirs = _cli(["inspect", "-f", template, container.id], "/var/lib/docker")
            outcome = formatting.render_objects([Struct(Name="/x")], [], template, "object")
            if (outcome.exit_code, outcome.output) != theirs:
                differences.append(f"  {template}\n    tutor {outcome.exit_code}: "
                                   f"{outcome.output!r}\n    cli   {theirs[0]}: {theirs[1]!r}")
    finally:
        container.remove(force=True)
    share = 1 - len(differences) / RANDOM_COUNT
    with capsys.disabled():
        print(f"\nrandom {family}: {RANDOM_COUNT} templates, share identical {share:.1%}")
        print("\n".join(differences))
    assert share >= 0.98, "\n".join(differences)
