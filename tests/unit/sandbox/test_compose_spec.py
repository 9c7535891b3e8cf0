"""The compose file read without an engine: the subset honoured, every refusal, the bounds."""

from __future__ import annotations

import pytest

from bot.errors import CommandRefused
from bot.sandbox.compose import reading, spec
from bot.sandbox.compose.keys import REFUSED_SERVICE_KEYS
from bot.sandbox.engine.vetting import vet_command
from bot.sandbox.policy.parser import WORKSPACE, parse

APP = """
name: shop
services:
  web:
    image: busybox
    command: ["sh", "-c", "httpd -f -p 8080 -h /www"]
    working_dir: /www
    user: "1000"
    hostname: front
    environment:
      - CACHE=cache
    volumes:
      - .:/www
      - type: tmpfs
        target: /tmp/cache
    networks:
      front:
      back:
        aliases: [site]
    depends_on:
      cache:
        condition: service_started
  cache:
    image: redis:7
    restart: "no"
    entrypoint: docker-entrypoint.sh
    command: redis-server --appendonly yes
    environment: {MODE: "on", N: 3, FLAG: true}
    volumes: ["data:/data:ro"]
    tmpfs: /scratch
    networks: [back]
networks:
  front: {}
  back:
    driver: bridge
volumes:
  data:
x-notes: ignored
"""


def refusal(text: str, name: str | None = None) -> str:
    """The one-line reason the file ``text`` is refused for."""
    with pytest.raises(CommandRefused) as caught:
        spec.project(text, name)
    assert "\n" not in caught.value.message
    return caught.value.message


def test_every_honoured_key_maps_onto_a_run_option() -> None:
    """The two services become the `docker run` lines a learner could type, in start order."""
    project = spec.project(APP)
    assert project.name == "shop"
    assert [s.name for s in project.services] == ["cache", "web"]
    cache, web = project.services
    assert cache.run.opts["volume"] == ["shop_data:/data:ro"]
    assert cache.run.opts["tmpfs"] == ["/scratch"]
    assert cache.run.opts["env"] == ["MODE=on", "N=3", "FLAG=true"]
    assert cache.run.opts["entrypoint"] == "docker-entrypoint.sh"
    assert cache.run.args == ["redis:7", "redis-server", "--appendonly", "yes"]
    assert cache.run.opts["network"] == "shop_back"
    assert web.run.opts["volume"] == [WORKSPACE + ":/www"]
    assert web.run.opts["tmpfs"] == ["/tmp/cache"]
    assert (web.run.opts["workdir"], web.run.opts["user"], web.run.opts["hostname"]) == (
        "/www", "1000", "front")
    assert web.networks == ["front", "back"] and web.aliases["back"] == ["site"]
    assert web.run.opts["name"] == "shop-web-1" and web.run.opts["network_alias"] == ["web"]
    assert web.run.text.startswith("docker run -d --name shop-web-1 ")
    assert "-v '$(pwd):/www'" in web.run.text
    assert project.networks == ["front", "back"] and project.volumes == ["data"]
    labels = project.labels("web")
    assert {k: v for k, v in labels.items() if k != spec.LABEL_HASH} == {
        "com.docker.compose.project": "shop", "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
    changed = spec.project(APP.replace("hostname: front", "hostname: back"))
    assert changed.labels("web")[spec.LABEL_HASH] != labels[spec.LABEL_HASH]
    assert changed.labels("cache") == project.labels("cache")


def test_each_service_run_passes_the_same_vetting_as_a_typed_run() -> None:
    """The built commands are vetted by `docker run`'s policy: images, mounts, names."""
    for service in spec.project(APP).services:
        plan = vet_command(service.run, frozenset({"redis", "busybox"}))
        assert plan.name == f"shop-{service.name}-1"
    other = spec.project("services: {web: {image: registry.example/nginx}}")
    with pytest.raises(CommandRefused, match=r"registry\.example/nginx"):
        vet_command(other.services[0].run, frozenset({"redis", "busybox"}))
    sub = spec.project("services: {web: {image: busybox, volumes: ['./site:/www']}}")
    with pytest.raises(CommandRefused, match="whole workspace"):
        vet_command(sub.services[0].run, None)


def test_the_default_network_and_project_name() -> None:
    """No `networks:`: the service joins `<project>_default`; `-p` names the project."""
    project = spec.project("services: {db: {image: redis}}")
    assert project.name == "app" and project.networks == ["default"]
    assert project.services[0].run.opts["network"] == "app_default"
    assert spec.project("services: {db: {image: redis}}", "demo").container("db") == "demo-db-1"
    assert "project name" in refusal("services: {db: {image: redis}}", "Bad Name!")
    assert "network: app_default" not in spec.project("services: {db: {image: redis}}").config()
    assert "name: app_default" in spec.project("services: {db: {image: redis}}").config()


@pytest.mark.parametrize("key", sorted(REFUSED_SERVICE_KEYS))
def test_every_refused_service_key_is_named_with_its_reason(key: str) -> None:
    """`ports`, `privileged`, `cap_add`, `network_mode`, ...: refused, the key named."""
    message = refusal(f"services: {{web: {{image: redis, {key}: x}}}}")
    assert f"`services.web.{key}` is refused: {REFUSED_SERVICE_KEYS[key]}." == message


@pytest.mark.parametrize(("text", "named"), [
    ("services: {web: {image: redis, frobnicate: 1}}", "services.web.frobnicate"),
    ("services: {web: {image: redis}}\nsecrets: {s: {}}", "secrets"),
    ("services: {web: {image: redis}}\nfrob: 1", "frob"),
    ("services: {web: {image: redis, restart: always}}", "restart: always"),
    ("services: {web: {image: redis, networks: [nope]}}", "undefined network nope"),
    ("services: {web: {image: redis, volumes: ['nope:/d']}}", "undefined volume nope"),
    ("services: {web: {image: redis, volumes: ['/etc:/d']}}", "workspace"),
    ("services: {web: {image: redis, environment: [HOME]}}", "no value"),
    ("services: {web: {image: redis, environment: {HOME: }}}", "no value"),
    ("services: {web: {image: redis, depends_on: {db: {condition: service_healthy}}}}",
     "service_healthy"),
    ("services: {web: {image: redis, depends_on: [db]}}", "'db' is not in the file"),
    ("services: {a: {image: redis, depends_on: [b]}, b: {image: redis, depends_on: [a]}}",
     "a -> b -> a"),
    ("services: {web: {command: x}}", "no `image:`"),
    ("{services: {web: {image: redis}}, networks: {n: {driver: host}}}", "driver: host"),
    ("{services: {web: {image: redis}}, networks: {n: {external: true}}}", "networks.n.external"),
    ("{services: {web: {image: redis}}, volumes: {d: {driver: local}}}", "volumes.d.driver"),
    ("services: {}", "no service"),
    ("services: [", "yaml: line 1"),
    ("- a\n- b", "must be a mapping"),
])
def test_other_refusals_name_what_they_refuse(text: str, named: str) -> None:
    """Each refusal is one line that names the key or the problem."""
    assert named in refusal(text)


def test_service_count_is_bounded() -> None:
    """More services than the sandbox runs is refused before any is read."""
    many = "services: {" + ", ".join(f"s{i}: {{image: redis}}" for i in range(9)) + "}"
    assert "at most 8" in refusal(many)


def test_billion_laughs_and_deep_or_long_documents_are_refused() -> None:
    """Aliases, nesting, values and size are all bounded before the document is used."""
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level, prev in zip("bcdefgh", "abcdefg", strict=True):
        laughs += f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    assert "aliases" in refusal(laughs)
    few = "a: &a [" + ", ".join(["x"] * 300) + "]\nb: [" + ", ".join(["*a"] * 15) + "]"
    assert "values" in refusal(few)
    assert "deeper" in refusal("a: " + "[" * 12 + "]" * 12)
    assert "characters long" in refusal("a: " + "x" * (reading.MAX_DOCUMENT_CHARS + 1))


def test_compose_lines_parse_with_global_options() -> None:
    """`-p`/`-f` may come before the verb; unknown verbs and options are refused."""
    command = parse("docker compose -p demo -f compose.yaml up -d web")
    assert command.verb == "compose up" and command.args == ["web"]
    assert command.opts == {"project": "demo", "file": "compose.yaml", "detach": True}
    assert parse("docker compose exec -T cache redis-cli get k").args == [
        "cache", "redis-cli", "get", "k"]
    with pytest.raises(CommandRefused, match="--verbose"):
        parse("docker compose --verbose up")
    with pytest.raises(CommandRefused, match="subcommand"):
        parse("docker compose")
    with pytest.raises(CommandRefused, match="docker build"):
        vet_command(parse("docker compose build"), None)
    with pytest.raises(CommandRefused, match="project name"):
        vet_command(parse("docker compose -p ../x up"), None)
