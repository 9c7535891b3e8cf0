"""The templates of the template differential test, and every difference left, with its reason.

Each entry of :data:`INSPECT` is rendered by ``docker inspect -f`` and each of :data:`PS`
by ``docker ps --format``, through the tutor and through the docker CLI, on the same
container. :data:`KNOWN_DIFFERENCES` names each template whose answers may differ and why.
"""

from __future__ import annotations

import random

INSPECT: tuple[str, ...] = (
    # fields, as Docker's documentation shows them
    "{{.Name}}",
    "{{.State.Status}}",
    "{{.State.Running}}",
    "{{.State.ExitCode}}",
    "{{.State.OOMKilled}}",
    "{{.State.Error}}",
    "{{.State.Health}}",
    "{{.RestartCount}}",
    "{{.Path}}",
    "{{.Args}}",
    "{{.Config.Env}}",
    "{{.Config.Cmd}}",
    "{{.Config.Image}}",
    "{{.Config.Entrypoint}}",
    "{{.Config.WorkingDir}}",
    "{{.Config.User}}",
    "{{.Config.Tty}}",
    "{{.Config.Volumes}}",
    "{{.Config.OnBuild}}",
    "{{.Config.Labels}}",
    "{{.HostConfig.RestartPolicy.Name}}",
    "{{.HostConfig.RestartPolicy}}",
    "{{.HostConfig.NetworkMode}}",
    "{{.HostConfig.Memory}}",
    "{{.HostConfig.NanoCpus}}",
    "{{.HostConfig.Privileged}}",
    "{{.HostConfig.AutoRemove}}",
    "{{.HostConfig.LogConfig.Type}}",
    "{{.HostConfig.CapAdd}}",
    "{{.HostConfig.Binds}}",
    "{{.HostConfig.ShmSize}}",
    "{{.HostConfig.ReadonlyRootfs}}",
    "{{.NetworkSettings.IPAddress}}",
    "{{.NetworkSettings.Ports}}",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    "{{range $name, $net := .NetworkSettings.Networks}}{{$name}} {{end}}",
    "{{.Mounts}}",
    "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}}{{end}}",
    "{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}",
    "{{json .Mounts}}",
    "{{json .Config.Env}}",
    "{{json .Config.Cmd}}",
    "{{json .HostConfig.RestartPolicy}}",
    "{{json .State.Running}}",
    "{{(index .Mounts 0).Destination}}",
    '{{index .Config.Env 0}}',
    '{{index .Config.Labels "nosuch"}}',
    "{{.Config.Labels.nosuch}}",
    "{{.Config.ExposedPorts}} {{.Config.Healthcheck}} {{.Config.Shell}} {{.SizeRw}}",
    "{{.HostConfig.Init}} {{.HostConfig.Sysctls}} {{.ImageManifestDescriptor}}",
    "{{json .State}}",
    "{{json .Config.ExposedPorts}}",
    # variables
    "{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}",
    "{{$s := .State.Status}}{{$s}}",
    '{{$s := .State.Status}}{{$s = "x"}}{{$s}}',
    "{{range $e := .Config.Env}}[{{$e}}]{{end}}",
    "{{with $c := .Config}}{{$c.Cmd}}{{end}}",
    "{{$.Name}}{{range .Config.Env}}{{$.State.Status}}{{end}}",
    "{{range .Config.Env}}{{if eq . \"FOO=bar\"}}{{break}}{{end}}{{.}} {{end}}",
    "{{range .Config.Env}}{{if eq . \"FOO=bar\"}}{{continue}}{{end}}{{.}} {{end}}",
    # control structures
    "{{if .State.Running}}up{{else}}down{{end}}",
    '{{if eq .State.Status "exited"}}e{{else if .State.Running}}r{{else}}o{{end}}',
    "{{with .State}}{{.Status}}{{end}}",
    "{{range .Config.OnBuild}}x{{else}}none{{end}}",
    "{{range 3}}{{.}}{{end}}",
    "a {{- .State.Status -}} b",
    "{{/* a comment */}}x",
    # fmt verbs and flags
    '{{printf "%8.3f|" 3.14159}}',
    '{{printf "%e %E" 3.14159 1e-7}}',
    '{{printf "%g %G %g" 3.14159 1e21 123456789.0}}',
    '{{printf "%05d|%-5d|%+d|% d" 42 42 42 42}}',
    '{{printf "%x %X %#x %o %#o %O %b" 255 255 255 8 8 8 5}}',
    '{{printf "%q %+q %#q" "héllo" "héllo" "hi"}}',
    '{{printf "%v %+v" .HostConfig.RestartPolicy .HostConfig.RestartPolicy}}',
    '{{printf "%t %v" true false}}',
    '{{printf "%-10s|%10s|" .State.Status .State.Status}}',
    '{{printf "%.3s|%5.1s" "abcdef" "xyz"}}',
    '{{printf "%c %U %#U" 65 233 233}}',
    '{{printf "%x % x %X" "hi" "hi" "hi"}}',
    '{{printf "%T %T %T %T" 1 "a" 1.5 true}}',
    '{{printf "%d" "x"}}',
    '{{printf "%s %d"}}',
    '{{printf "abc" 1 "x"}}',
    '{{printf "%[2]d %[1]d" 1 2}}',
    '{{printf "%*d|" 5 3}}',
    '{{printf "%08.2f|%+.1f|%-8.2f|" -3.5 2.25 1.5}}',
    '{{printf "%v %v %v" 1e6 100000.0 0.000001}}',
    '{{printf "%s" .Config.Env}}',
    '{{printf "%d" .Config.Env}}',
    '{{printf "%v" .State}}',
    '{{printf "%999999999s" .Name}}',
    '{{printf "%%"}}',
    # functions
    '{{join .Config.Env ","}}',
    '{{split (index .Config.Env 1) ":"}}',
    '{{lower .State.Status}} {{upper .State.Status}} {{title "hello-world foo_bar"}}',
    '{{pad .State.Status 2 3}}|',
    '{{truncate .State.Status 3}}',
    "{{len .Config.Env}} {{len .State.Status}} {{len .Mounts}}",
    '{{html "<a&b>"}} {{js "a\'b<c>"}} {{urlquery "a b&c"}}',
    '{{slice .State.Status 1 3}} {{slice .Config.Env 1}}',
    '{{index "abc" 1}}',
    '{{print 1 2 "a" 3}}',
    '{{println .State.Status}}',
    '{{not .State.Running}} {{and .State.Running .Name}} {{or "" 1}}',
    '{{eq .State.Status "running" "exited"}} {{ne 1 2}} {{lt 1 2}} {{le "a" "b"}} '
    '{{gt 2.5 1.5}} {{ge 1 1}}',
    "{{.State.Status | upper | printf \"%s!\"}}",
    "{{json .NetworkSettings.Networks}}",
    # errors, as the CLI words them
    "{{.Foo}}",
    "{{call .Name}}",
    '{{pad "a" -1 2}}',
    '{{truncate "abc" -1}}',
    "{{eq 1 1.0}}",
    "{{lower 5}}",
    "{{nosuchfunc .Name}}",
    "{{.Name",
    "{{end}}",
    "{{$x}}",
    '{{printf "%v" 99999999999999999999}}',
    "{{index .Config.Env 9}}",
)
"""Templates for ``docker inspect -f``."""

PS: tuple[str, ...] = (
    "{{.Names}}",
    "{{.Image}}",
    "{{.Command}}",
    "{{.State}}",
    "{{.Names}} {{.Command}} {{.State}}",
    "{{.Names}}\\t{{.State}}",
    "table {{.State}}\\t{{.Command}}",
    '{{printf "%-12s|" .State}}',
    "{{upper .State}}",
    "{{json .Names}}",
    '{{.Label "nosuch"}}',
    "{{.LocalVolumes}} {{.Networks}}",
    '{{.Names | printf "%q"}}',
    "{{.Foo}}",
    "{{.Names",
    "{{.Label}}",
)
"""Templates for ``docker ps --format``."""

VOLUME: tuple[str, ...] = (
    "{{.Name}}",
    "{{.Driver}} {{.Scope}}",
    "{{.Mountpoint}}",
    "{{.Options}} {{.Status}}",
    "{{json .Options}}",
    "{{.Foo}}",
    '{{printf "%T" .}}',
)
"""Templates for ``docker volume inspect -f``."""

KNOWN_DIFFERENCES: dict[str, str] = {
    "{{.Config.Labels}}": "the tutor hides its own docker-tutor.* labels (they name the "
    "learner's namespace); the learner's own labels are shown",
    "{{.Config.Image}}": "the tutor creates containers from the local tag (busybox:latest), "
    "which the engine records; it shows the image as the learner typed it (busybox), as "
    "the learner's own `docker run busybox` would record it",
    "ps {{.Image}}": "the same: the image as the learner typed it, not the tutor's local tag",
    "{{json .NetworkSettings.Networks}}": "the CLI (v28) decodes into its own Go struct, "
    "which orders EndpointSettings' fields differently and adds GwPriority and DNSNames "
    "that this engine (20.10) never sends; the tutor prints the engine's fields in the "
    "engine's order",
}
"""Every template whose answers differ, and why."""


_VERBS = "vdsqxXeEfFgGtcUboOT"
_ARGS = ("42", "-7", "0", "255", "3.14159", "-2.5", "1e21", "1e-7", "0.0", "100000.0",
         '"héllo"', '"a\\tb"', '""', "true", "false", "nil", "65", "233", "123456789.0",
         '"<&>"')
_LITERALS = ("42", "-7", "0", "3", "1.5", '"héllo wörld"', '"a,b,c"', '""', "true", "false",
             "nil", "\"<a href='x'>\"", '"A b_c-d"')
_FUNCTIONS = ("len", "index", "slice", "print", "println", "html", "js", "urlquery", "and",
              "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "json", "split", "join",
              "title", "lower", "upper", "pad", "truncate")


def random_printf(rng: random.Random) -> str:
    """A ``printf`` action: one to three verbs with random flags, widths and precisions."""
    parts = []
    for _ in range(rng.randint(1, 3)):
        flags = "".join(rng.sample("+-# 0", rng.randint(0, 2)))
        parts.append(rng.choice(["", "|", "x"]) + "%" + flags
                     + rng.choice(["", "", "3", "8", "12"]) + rng.choice(["", "", ".0", ".2", ".5"])
                     + rng.choice(_VERBS))
    fmt = "".join(parts)
    args = [rng.choice(_ARGS) for _ in range(fmt.count("%"))]
    return '{{printf "' + fmt + '" ' + " ".join(args) + "}}"


def random_call(rng: random.Random, depth: int = 0) -> str:
    """A call of a random function on random literals and nested calls (errors included)."""
    def arg() -> str:
        if depth < 2 and rng.random() < 0.25:
            return "(" + random_call(rng, depth + 1) + ")"
        return rng.choice(_LITERALS)
    words = [rng.choice(_FUNCTIONS)] + [arg() for _ in range(rng.randint(0, 3))]
    text = " ".join(words)
    return text if depth else "{{" + text + "}}"


RANDOM_SEED = 7
RANDOM_COUNT = 120
"""Each random family: this many templates from this seed (the same ones every run)."""
