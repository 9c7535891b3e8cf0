"""The Go-template interpreter of ``--format``: what Docker prints, bounded, never Python."""

from __future__ import annotations

import pytest

from bot.sandbox.output import formatting
from bot.sandbox.output.templates import (
    MAX_STEPS,
    Struct,
    TemplateError,
    go_sprintf,
    go_value,
    parse,
    render,
)

CONTAINER = Struct(
    Name="/redis-1",
    State=Struct(Status="running", Running=True, ExitCode=0),
    Mounts=[Struct(Type="volume", Name="data", Source="/var/lib/docker/volumes/data/_data",
                   Destination="/data", Driver="local", Mode="z", RW=True, Propagation="")],
    Config=Struct(Env=["A=1", "B=2"], Cmd=["redis-server"], Labels={"b": "2", "a": "1"},
                  Image="redis"),
    NetworkSettings=Struct(IPAddress="", Networks={"none": Struct(IPAddress="")}),
)


def show(template: str, obj: object = CONTAINER, limit: int = 10_000) -> str:
    """The text a template renders over ``obj``."""
    return render(parse(template), obj, limit=limit).text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Name}}", "/redis-1"),
        ("{{.State.Status}}", "running"),
        ("{{.State.Running}}", "true"),
        ("{{.Mounts}}", "[{volume data /var/lib/docker/volumes/data/_data /data local z true }]"),
        ("{{range .Mounts}}{{.Source}}{{end}}", "/var/lib/docker/volumes/data/_data"),
        ('{{json .Mounts}}', '[{"Type":"volume","Name":"data","Source":'
         '"/var/lib/docker/volumes/data/_data","Destination":"/data","Driver":"local",'
         '"Mode":"z","RW":true,"Propagation":""}]'),
        ('{{json .Config.Labels}}', '{"a":"1","b":"2"}'),
        ('{{index .Config.Labels "a"}}', "1"),
        ('{{index .Config.Labels "missing"}}', ""),
        ("{{.Config.Labels}}", "map[a:1 b:2]"),
        ("{{.NetworkSettings.IPAddress}}", ""),
        ("{{println .Name}}", "/redis-1\n"),
        ('{{printf "%s is %s" .Name .State.Status}}', "/redis-1 is running"),
        ('{{printf "%-6s|%3d" "ab" 7}}', "ab    |  7"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ('{{if eq .State.Status "exited"}}e{{else if .State.Running}}r{{else}}o{{end}}', "r"),
        ("{{len .Mounts}} {{len .Config.Env}}", "1 2"),
        ('{{join .Config.Env ","}}', "A=1,B=2"),
        ("{{lower .Config.Image}} {{upper .State.Status}}", "redis RUNNING"),
        ("{{.Name | upper}}", "/REDIS-1"),
        ("{{range .Config.Env}}[{{.}}]{{else}}none{{end}}", "[A=1][B=2]"),
        ("{{range .Config.Cmd}}{{end}}{{with .State}}{{.Status}}{{end}}", "running"),
        ("a {{- .Name -}} b", "a/redis-1b"),
        ("{{/* a comment */}}x", "x"),
        ('{{not .State.Running}} {{and .State.Running .Name}} {{or "" 1}}',
         "false /redis-1 1"),
    ],
)
def test_templates_people_use_print_what_docker_prints(template: str, expected: str) -> None:
    """Fields, structs, maps, range, json, index, printf, if/else, len, join, case."""
    assert show(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{foo .Name}}", 'function "foo" not defined'),
        ("{{.Name", "unclosed action"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{if .Name}}x", "unexpected EOF"),
        ("{{$x}}", 'undefined variable "$x"'),
        ("{{if 1}}{{$y := 1}}{{end}}{{$y}}", 'undefined variable "$y"'),
        ("{{printf \"%v\" 99999999999999999999}}", "integer overflow"),
        ("{{break}}", "{{break}} outside {{range}}"),
        ("{{template \"x\"}}", "not supported"),
    ],
)
def test_templates_that_do_not_parse_are_refused_with_the_reason(template: str,
                                                                  message: str) -> None:
    """A template Go would not parse (or that reaches past the subset) is a parsing error."""
    with pytest.raises(TemplateError) as caught:
        parse(template)
    assert caught.value.parsing and message in str(caught.value)


def test_a_field_the_object_lacks_fails_as_docker_does() -> None:
    """`{{.Foo}}` fails at run time with Docker's own words (from the raw-map retry)."""
    with pytest.raises(TemplateError) as caught:
        render(parse("{{.Foo}}"), CONTAINER, limit=100, fallback=True)
    assert not caught.value.parsing
    assert str(caught.value) == ('template: :1:2: executing "" at <.Foo>: map has no entry '
                                 'for key "Foo"')


def test_inspect_prints_a_parsing_error_and_exit_status() -> None:
    """`inspect -f` with an unknown function exits 64; a missing field exits 1."""
    bad = formatting.render_objects([CONTAINER], [], "{{foo}}", "object")
    assert bad.exit_code == 64 and bad.output.startswith("template parsing error: template:")
    missing = formatting.render_objects([CONTAINER], [], "{{.Foo}}", "object")
    assert missing.exit_code == 1 and "map has no entry" in missing.output


def test_output_stops_at_the_cap_and_says_so() -> None:
    """A template whose output would grow past the cap stops there."""
    big = {"Items": list(range(100))}
    rendered = render(parse("{{range .Items}}{{.}}-{{.}}-{{.}}{{end}}"), big, limit=50)
    assert rendered.cut and len(rendered.text) == 50
    whole = render(parse("{{range .Items}}{{.}}-{{.}}-{{.}}{{end}}"), big, limit=10_000).text
    assert rendered.dropped == len(whole) - 50  # the learner is told exactly how much


def test_an_error_after_the_cap_is_still_the_answer() -> None:
    """Go renders the whole template before printing: an error past the cap is what it says."""
    outcome = formatting.render_objects([CONTAINER], [], '{{printf "%3000s" "x"}}{{.Nope}}',
                                        "object", limit=2500)
    assert outcome.exit_code == 1 and 'map has no entry for key "Nope"' in outcome.output
    cut = formatting.render_objects([CONTAINER], [], '{{printf "%3000s" "x"}}', "object",
                                    limit=2500)
    assert cut.exit_code == 0 and cut.cut == 500 and len(cut.output) == 2501


def test_work_is_bounded_even_when_the_output_is_empty() -> None:
    """A `range` over a huge count that prints nothing still stops: steps are counted."""
    with pytest.raises(TemplateError) as caught:
        show("{{range .N}}{{if .}}{{end}}{{end}}", {"N": list(range(MAX_STEPS))})
    assert "too much work" in str(caught.value)


def test_nothing_is_evaluated_as_python() -> None:
    """Python syntax in a template is text or a refusal, never code."""
    assert show("__import__('os').system('id')", {}) == "__import__('os').system('id')"
    for attack in ("{{__import__}}", "{{exec \"x\"}}", "{{(1).real}}"):
        with pytest.raises(TemplateError):
            show(attack, {"a": 1})
    assert show("{{.__class__}}", {"a": 1}) == "<no value>"  # a map's missing key, as Go


def test_go_printing_rules() -> None:
    """nil, booleans, floats, maps (sorted) and structs (in order) print as Go prints them."""
    assert go_value(None) == "<no value>"
    assert go_value([None]) == "[<nil>]"
    assert go_value(3.0) == "3"
    assert go_value({"b": 1, "a": True}) == "map[a:true b:1]"
    assert go_value(Struct(b=1, a=True)) == "{1 true}"
    assert go_sprintf("%s %d %q %v%%", ["x", 4, "y", [1]]) == 'x 4 "y" [1]%'
    assert go_sprintf("%s", []) == "%!s(MISSING)"


def test_ps_table_aligns_as_the_cli_tabwriter() -> None:
    """Columns are the widest cell plus three spaces, at least ten; the last is not padded."""
    assert formatting.tabulate(["NAMES\tIMAGE", "redis-1\tredis"]) == (
        "NAMES     IMAGE\nredis-1   redis\n")
    assert formatting.tabulate(["A\tB", "long-name-here\tx"]) == (
        "A" + " " * 16 + "B\nlong-name-here   x\n")
