"""Every template either renders within its bounds or is refused cleanly: never a Python error.

Hypothesis writes templates from the grammar of Go's ``text/template`` (text, actions,
pipelines, parentheses, variables, ``if``/``range``/``with``/``else``/``break``, every
function with arguments of every kind, ``printf`` formats with every verb, flag, width and
precision, numbers up to and past Go's ``int``) and runs each over an inspect-like document
through the interpreter *without* its last-resort guard: the only exception allowed out is
:class:`~bot.sandbox.output.template_values.TemplateError`. Named worst cases of issue 19
(F1-F3) are pinned with their memory and time.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox.output import formatting
from bot.sandbox.output.template_funcs import FUNCTIONS
from bot.sandbox.output.template_run import render_unguarded
from bot.sandbox.output.template_values import Budget, Nil, Struct, TemplateError
from bot.sandbox.output.templates import parse

DOC = Struct(
    Id="3f2f35dc0903", Name="/redis-1", Args=["--appendonly", "yes"],
    State=Struct(Status="running", Running=True, Pid=42, ExitCode=0, Error="",
                 Health=Nil("ptr", "*container.Health")).typed("*container.State",
                                                              pointer=True),
    Config=Struct(Env=["A=1", "B=😀" * 20], Cmd=["redis-server"], Labels={"a": "1"},
                  Volumes=Nil("map"), Entrypoint=Nil("slice"), Image="redis",
                  ).typed("*container.Config", pointer=True),
    HostConfig=Struct(RestartPolicy=Struct(Name="no", MaximumRetryCount=0),
                      Memory=268435456).typed("*container.HostConfig", pointer=True),
    Mounts=[Struct(Type="volume", Name="data", Destination="/data", RW=True)],
)

FIELDS = [".", ".Name", ".Id", ".Args", ".State", ".State.Status", ".State.Pid", ".State.Health",
          ".Config.Env", ".Config.Labels", ".Config.Labels.a", ".Config.Volumes",
          ".HostConfig.Memory", ".HostConfig.RestartPolicy.Name", ".Mounts", ".Nope",
          "$", "$.Name", "$x", "$i", "$e"]
HUGE = [0, 1, -1, 7, 255, 999_999, 1_000_000, 9_999_999, 299_999_999, 2**31, 2**63 - 1,
        -(2**63), 2**63, 10**20, 10**30]
VERBS = "vdsqxXeEfFgGtcUboOTp%z"

integers = st.one_of(st.sampled_from(HUGE), st.integers(-50, 50))


@st.composite
def formats(draw: st.DrawFn) -> str:
    """A ``printf`` format: text and verbs with any flags, widths, precisions, indexes."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        flags = "".join(draw(st.lists(st.sampled_from("+-# 0"), max_size=3)))
        width = draw(st.one_of(st.just(""), st.just("*"), st.integers(0, 10**12).map(str)))
        prec = draw(st.one_of(st.just(""), st.just(".*"),
                              st.integers(0, 10**12).map(lambda n: f".{n}")))
        index = draw(st.one_of(st.just(""), st.integers(0, 5).map(lambda n: f"[{n}]")))
        parts.append(draw(st.sampled_from(["", "x", "é ", "😀"])) + "%" + flags + index
                     + width + prec + draw(st.sampled_from(VERBS)))
    return "".join(parts)


def literal(text: str) -> str:
    """``text`` as a Go string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def operands(draw: st.DrawFn, depth: int) -> str:
    """One argument: a field, variable, literal, or a parenthesized pipeline."""
    choices = [
        st.sampled_from(FIELDS),
        integers.map(str),
        st.sampled_from(["1.5", "1e6", "-0.0", "1e308", "0x1F", "'a'", "true", "false", "nil"]),
        st.text(max_size=6).map(literal),
        formats().map(literal),
    ]
    if depth < 2:
        choices.append(pipelines(depth + 1).map(lambda p: f"({p})"))
    return draw(st.one_of(choices))


@st.composite
def pipelines(draw: st.DrawFn, depth: int = 0) -> str:
    """A pipeline: commands (a function with arguments, or one operand) joined by ``|``."""
    commands = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*FUNCTIONS, "and", "or", ""]))
        args = draw(st.lists(operands(depth), max_size=3))
        if name == "printf":
            args = [literal(draw(formats())), *args]
        if name:
            commands.append(" ".join([name, *args]))
        else:
            commands.append(args[0] if args else ".")
    return " | ".join(commands)


@st.composite
def templates(draw: st.DrawFn, depth: int = 0) -> str:
    """A template: text, actions, declarations and nested control structures."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "action", "decl", "control", "loop"]
                                    if depth < 2 else ["text", "action", "decl"]))
        if kind == "text":
            out.append(draw(st.sampled_from(["x", " ", "{{", "}}", "{{/* c */}}", "\n"])))
        elif kind == "action":
            out.append("{{" + draw(pipelines()) + "}}")
        elif kind == "decl":
            out.append("{{$x " + draw(st.sampled_from([":=", "="])) + " " + draw(pipelines())
                       + "}}")
        elif kind == "control":
            word = draw(st.sampled_from(["if", "with", "range"]))
            otherwise = draw(st.sampled_from(["", "{{else}}y", "{{else if .Name}}z"]))
            out.append("{{" + word + " " + draw(pipelines()) + "}}" + draw(templates(depth + 1))
                       + (otherwise if word != "range" else "") + "{{end}}")
        else:
            head = draw(st.sampled_from(["$i, $e := ", "$e := ", ""]))
            stop = draw(st.sampled_from(["", "{{break}}", "{{continue}}"]))
            out.append("{{range " + head + draw(st.one_of(st.sampled_from(HUGE).map(str),
                                                          st.sampled_from(FIELDS)))
                       + "}}" + draw(templates(depth + 1)) + stop + "{{end}}")
    return "".join(out)


def run(template: str, limit: int = 2500) -> str:
    """Parse and render ``template`` over :data:`DOC` with no guard; only TemplateError escapes."""
    try:
        nodes = parse(template)
    except TemplateError:
        return ""
    try:
        rendered = render_unguarded(nodes, DOC, limit=limit,
                                    budget=Budget(deadline=time.monotonic() + 5),
                                    fallback=True)
    except TemplateError:
        return ""
    assert len(rendered.text) <= limit
    return rendered.text


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(templates())
def test_every_template_renders_or_is_refused_cleanly(template: str) -> None:
    """No OverflowError, MemoryError, RecursionError or ValueError: each line renders or says why."""
    started = time.monotonic()
    run(template)
    assert time.monotonic() - started < 5


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([*"{}()|$.\"`'-:= \\\nabxNme0179%*[]/", "{{", "}}", "end",
                                  "range ", "if ", "else", "printf ", ".Name", "$x", "😀",
                                  "\x00"]), max_size=30).map("".join))
def test_any_text_at_all_renders_or_is_refused_cleanly(template: str) -> None:
    """Not only grammatical templates: any string is read and run, or refused, never a crash."""
    run(template)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(formats(), st.lists(st.one_of(integers, st.floats(allow_nan=True),
                                     st.text(max_size=4), st.booleans(), st.none(),
                                     st.just([1, "a"]), st.just({"k": 1.5}),
                                     st.just(DOC["State"])), max_size=4))
def test_every_printf_format_prints_or_is_refused_cleanly(fmt: str, args: list[object]) -> None:
    """``printf`` with any verb, flag, width, precision and argument is Go's text or a refusal."""
    from bot.sandbox.output.gofmt import sprintf

    try:
        text = sprintf(fmt, args, Budget())
    except TemplateError:
        return
    assert len(text) <= 4_000_000


WORST = {
    "F1 width": '{{printf "%9999999s" .Name}}',
    "F1 pad emoji": '{{pad "😀" 299999999 0}}',
    "F1 eight widths": '{{printf "%999999s%999999s%999999s%999999s" 1 2 3 4}}',
    "F2 width overflow": '{{printf "%99999999999999999999s" 1}}',
    "F2 pad overflow": "{{pad 1 99999999999999999999999999 1}}",
    "F3 range of widths": '{{range 20000}}{{if printf "%9999999s" 1}}{{end}}{{end}}',
    "doubling": '{{$x := "😀😀"}}{{range 40}}{{$x = printf "%s%s" $x $x}}{{end}}',
    "split flood": '{{range 100}}{{$p := split (printf "%120000s" "") ""}}{{end}}',
    "json loop": "{{range 100000}}{{json $}}{{end}}",
    "precision": '{{printf "%.9999999f" 1.5}}',
    "nested": "{{" + "(" * 16 + "1" + ")" * 16 + "}}",
    "four emoji megas": '{{$a := printf "%999000s" "😀"}}{{$b := printf "%999000s" "😀"}}'
    '{{$c := printf "%999000s" "😀"}}{{$d := printf "%999000s" "😀"}}'
    '{{printf "%s%s%s%s" $a $b $c $d}}',
    "len loop": '{{$x := printf "%999000s" "😀"}}{{range 30000}}{{len $x}}{{end}}',
    "eq loop": '{{$x := printf "%999000s" "a"}}{{$y := printf "%999000s" "a"}}'
    "{{range 30000}}{{if eq $x $y}}{{end}}{{end}}",
    "hex loop": '{{$x := printf "%400000s" "😀"}}{{range 30000}}{{printf "%.1x" $x}}{{end}}',
    "title loop": '{{$x := printf "%999000s" "a"}}{{range 30000}}{{$t := title $x}}{{end}}',
    "empty range": "{{range 9223372036854775807}}{{end}}",
}


@pytest.mark.parametrize("name", list(WORST))
def test_the_worst_lines_are_refused_or_cut_within_bounds(name: str) -> None:
    """F1-F3 and their variants: at most 64 MB allocated and a second or so, a clean answer."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = formatting.render_objects([DOC], [], WORST[name], "object", limit=2500,
                                            deadline=time.monotonic() + 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    took = time.monotonic() - started
    assert outcome.exit_code in (0, 1, 64), outcome
    assert len(outcome.output) <= 2600
    assert "Traceback" not in outcome.output
    assert peak < 64 * 2**20, peak
    assert took < 5, took
    print(f"\n{name}: exit {outcome.exit_code}, peak {peak / 2**20:.1f} MiB, {took:.2f} s: "
          f"{outcome.output.strip()[-70:]!r}")


def test_the_findings_answer_as_go_would_or_with_the_bound() -> None:
    """F2 answers as Go does (no width, integer overflow); F1/F3 name the bound."""
    def answer(template: str) -> str:
        return formatting.render_objects([DOC], [], template, "object", limit=2500).output

    assert answer('{{printf "%99999999999999999999s" 1}}') == "%!(NOVERB)%!(EXTRA int=1)\n"
    assert "integer overflow" in answer("{{pad 1 99999999999999999999999999 1}}")
    assert "builds too much text" in answer('{{printf "%9999999s" .Name}}')
    assert "builds too much text" in answer('{{pad "😀" 299999999 0}}')
    assert "builds too much text" in answer(
        '{{range 20000}}{{if printf "%9999999s" 1}}{{end}}{{end}}')
    assert "does too much work" in answer("{{range 100000}}{{end}}")
    assert answer('{{printf "%5s|%-4d|" "ab" 7}}') == "   ab|7   |\n"
