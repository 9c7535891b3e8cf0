"""``python -m tests.engines start|stop|run|sweep|measure|probe``: extra engines from a shell."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import tests.engines
from tests.engines import (
    LESSON_IMAGES,
    STATE,
    STORAGES,
    Engine,
    EngineError,
    EngineOptions,
    EngineSkip,
    start_engine,
    sweep,
)
from tests.engines.probe import engine_fault

# -- measurements ---------------------------------------------------------------------------


def exec_latency(engine: Engine, runtime: str, rounds: int = 20) -> float:
    """Median seconds of ``exec true`` in a running busybox container of ``runtime``."""
    client = engine.client()
    container = client.containers.run("busybox", ["sleep", "300"], detach=True,
                                      network_mode="none", runtime=runtime,
                                      labels={"dte.measure": "1"})
    try:
        times = []
        for _ in range(rounds + 2):
            began = time.perf_counter()
            result = container.exec_run(["true"])
            times.append(time.perf_counter() - began)
            if result.exit_code != 0:
                raise EngineError(f"exec in a {runtime} container failed: {result.output!r}")
        return statistics.median(times[2:])
    finally:
        container.remove(force=True)
        client.close()


def run_latency(engine: Engine, runtime: str, rounds: int = 5) -> float:
    """Median seconds of ``docker run --rm busybox true`` with ``runtime``."""
    client = engine.client()
    try:
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            client.containers.run("busybox", ["true"], remove=True, network_mode="none",
                                  runtime=runtime)
            times.append(time.perf_counter() - began)
        return statistics.median(times)
    finally:
        client.close()


def measure(options: EngineOptions) -> dict[str, float]:
    """Start an engine, time what the hardened profile costs, stop it."""
    engine = start_engine(options)
    try:
        figures = {"dockerd start-up (s)": engine.startup_seconds,
                   "image copy (s)": engine.load_seconds}
        for runtime in ("runc", "runsc"):
            if runtime in engine.runtimes:
                figures[f"exec true, {runtime} (ms)"] = exec_latency(engine, runtime) * 1000
                figures[f"run --rm true, {runtime} (ms)"] = run_latency(engine, runtime) * 1000
    finally:
        began = time.monotonic()
        engine.stop()
    figures["stop and clean-up (s)"] = time.monotonic() - began
    return figures


# -- command line ---------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> EngineOptions:
    return EngineOptions(
        label=args.label,
        userns_remap=None if args.no_userns else args.userns_remap,
        runsc=False if args.no_runsc else (True if args.require_runsc else None),
        default_runtime=args.default_runtime,
        images=tuple(args.image) if args.image is not None else LESSON_IMAGES,
        timeout=args.timeout,
        own_network=args.own_network,
        storage=args.storage,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.engines start|stop|run|sweep|measure``."""
    parser = argparse.ArgumentParser(prog="python -m tests.engines", description=tests.engines.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    starters = []
    for name in ("start", "run", "measure"):
        sub = commands.add_parser(name)
        sub.add_argument("--label", default="engine" if name != "measure" else "measure")
        sub.add_argument("--userns-remap", default="default", metavar="USER")
        sub.add_argument("--no-userns", action="store_true", help="no user-namespace remapping")
        sub.add_argument("--no-runsc", action="store_true", help="do not register gVisor")
        sub.add_argument("--require-runsc", action="store_true", help="fail without gVisor")
        sub.add_argument("--default-runtime", help="e.g. runsc: every container in gVisor")
        sub.add_argument("--image", action="append", help="repository to copy (repeatable)")
        sub.add_argument("--timeout", type=float, default=60.0)
        sub.add_argument("--own-network", action="store_true",
                         help="run the daemon in a network namespace of its own")
        sub.add_argument("--storage", choices=STORAGES, default="vfs",
                         help="btrfs: a loop-mounted btrfs data root; the kernel bounds layers")
        starters.append(sub)
    commands.choices["run"].add_argument("command_line", nargs=argparse.REMAINDER)
    stop = commands.add_parser("stop")
    stop.add_argument("root", type=Path)
    probe = commands.add_parser("probe", help="exit 0 when the engine runs busybox true")
    probe.add_argument("--timeout", type=float, default=45.0)
    commands.add_parser("sweep").add_argument(
        "--all", action="store_true", help="also engines started from the command line")
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            engine = start_engine(_options(args), detached=True)
            print((engine.root / STATE).read_text(), end="")
        elif args.command == "stop":
            Engine.load(args.root).stop()
        elif args.command == "sweep":
            for root in sweep(everything=args.all):
                print(f"stopped {root}")
        elif args.command == "probe":
            fault = engine_fault(args.timeout)
            if fault is not None:
                print(f"engine fault: {fault}", file=sys.stderr)
                return 1
        elif args.command == "measure":
            for name, value in measure(_options(args)).items():
                print(f"{name:32} {value:10.1f}")
        else:  # run
            command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
            if not command:
                parser.error("run needs a command after --")
            engine = start_engine(_options(args))
            print(f"engine {engine.docker_host} up in {engine.startup_seconds:.1f} s", file=sys.stderr)
            try:
                return subprocess.run(command, env=engine.env(), check=False).returncode
            finally:
                engine.stop()
    except EngineSkip as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 77
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
