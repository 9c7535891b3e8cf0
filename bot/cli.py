"""The ``docker-tutor`` command line.

``docker-tutor console`` runs the tutor in a terminal, ``serve`` runs the Slack app,
``images build`` makes the lesson images, and ``run`` picks ``serve`` or ``console``
depending on whether Slack tokens are set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings, default_data_dir
from bot.errors import TutorError

if TYPE_CHECKING:
    from bot.progress import ProgressStore

log = logging.getLogger("docker_tutor")

def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.oplog import divert_background
    from bot.console.repl import ServiceStartup, run_console
    from bot.factory import build_service

    # Background threads (disk watch, reaper, pool pings) log for the operator, to a file:
    # never onto the learner's prompt.
    data_dir = Path(os.environ.get("TUTOR_DATA_DIR") or default_data_dir())
    divert_background(Path(os.environ.get("TUTOR_LOG_FILE") or data_dir / "console.log"))

    if "TUTOR_COMMANDS_PER_MINUTE" not in os.environ:
        # One person on their own engine: the class-wide flood limit would only get in the
        # way of a scripted lesson. Set the variable to keep a limit in the console too.
        settings = replace(settings, limits=replace(settings.limits, commands_per_minute=0))
    # The prompt first; the tutor (database, lessons, engine client) is built behind it.
    startup = ServiceStartup(lambda: build_service(settings))
    try:
        return run_console(startup, args.user, out_dir=getattr(args, "out", None))
    finally:
        startup.close()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.frontends import front_end

    if settings.engines:  # a pool: engines without the lesson images get them meanwhile
        from bot.lessons.model import Catalog
        from bot.sandbox import fill_in_background

        fill_in_background(settings, Catalog(settings.lessons_dir).images)
    return front_end("serve")(settings)  # the Slack app, declared as an entry point


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger().setLevel(log_level("serve", verbose=args.verbose))  # a server logs
    from bot.frontends import front_end

    return front_end("worker")(settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.slack_bot_token:
        logging.getLogger().setLevel(log_level("serve", verbose=args.verbose))  # a server logs
        return _serve(args, settings)
    print("No SLACK_BOT_TOKEN set: starting the terminal console "
          f"(progress in {settings.database_url}).", file=sys.stderr)
    return _console(args, settings)


def _images_build(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lessons.model import Catalog
    from bot.sandbox import Sandbox, ensure_images

    names = args.only or sorted(Catalog(settings.lessons_dir).images)
    addresses: Sequence[str | None] = settings.engines or (settings.docker_host,)
    for address in addresses:  # a pool: every engine gets every image
        sandbox = Sandbox(replace(settings, docker_host=address))
        try:
            reports = ensure_images(
                sandbox.client, names, pull=not (args.offline or settings.offline),
                log=lambda line: print(line, file=sys.stderr),
            )
        finally:
            sandbox.close()
        where = f"{address}: " if settings.engines else ""
        for report in reports:
            print(f"{where}{report.name:10} {report.tag:20} {report.action:8} {report.seconds:.2f}s")
    return 0


def _engines(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lessons.model import Catalog
    from bot.progress import ProgressStore
    from bot.sandbox import ENGINES_HEADER, engine_rows

    store = ProgressStore(settings.database_url)
    try:
        if getattr(args, "engines_command", None) in ("drain", "undrain"):
            return _drain(args, settings, store)
        rows = engine_rows(settings, store, Catalog(settings.lessons_dir).images)
    finally:
        store.close()
    print(ENGINES_HEADER)
    for row in rows:
        print(row.line())
    return 0 if all(row.up for row in rows) else 1


def _drain(args: argparse.Namespace, settings: Settings, store: ProgressStore) -> int:
    from bot.lessons.model import Catalog
    from bot.sandbox import SandboxPool, drain, undrain

    listed = settings.engines or (settings.docker_host or "unix:///var/run/docker.sock",)
    pool = SandboxPool(replace(settings, engines=listed), store,
                       allowed_images=Catalog(settings.lessons_dir).images)
    try:
        if args.engines_command == "undrain" or args.undo:
            changed = undrain(pool, store, args.address)
            print(f"{args.address}: {'placeable again' if changed else 'was not draining'}")
            return 0
        report = drain(pool, store, args.address)
    finally:
        pool.close()
    for line in report.lines():
        print(line)
    return 1 if report.count("failed") else 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.progress import migrate
    from bot.progress.store import make_engine

    engine = make_engine(settings.database_url)
    try:
        before = migrate.current(engine)
        migrate.upgrade(engine, args.revision)
        after = migrate.current(engine)
    finally:
        engine.dispose()
    print(f"database at revision {after} (was {before or 'empty'})")
    return 0


def _sandbox_reap(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from bot.progress import ProgressStore
    from bot.sandbox import Sandbox
    from bot.tutor.housekeeping import reap, reconcile

    store = ProgressStore(settings.database_url)
    sandbox = Sandbox(settings)
    grace = timedelta(seconds=args.grace)
    try:
        [janitor] = sandbox.janitors()
        if args.reconcile:
            print(f"reconcile: {reconcile(janitor, store, grace=grace, dry_run=args.dry_run).summary()}")
        print(f"reap: {reap(janitor, store, grace=grace, dry_run=args.dry_run).summary()}")
    finally:
        sandbox.close()
        store.close()
    return 0


def _progress(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.cli import progress_cli

    return progress_cli(
        settings, lesson_id=args.lesson, fmt=args.format, chart=args.chart,
        idle_minutes=args.stuck_minutes, failed_attempts=args.stuck_failures,
    )


def _loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, ``127.x``, ``::1``)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from bot.dashboard.app import DashboardApp
    from bot.dashboard.server import DashboardServer
    from bot.errors import UsageError
    from bot.lessons.model import Catalog
    from bot.progress import ProgressStore
    from bot.reports.cli import rules_from

    if not _loopback(args.host):
        raise UsageError("The operator's dashboard serves without links, so it binds loopback "
                         "only. For instructors elsewhere, use `serve`'s signed links "
                         "(`/tutor progress live`).")
    rules = rules_from(args.stuck_minutes, args.stuck_failures)
    store = ProgressStore(settings.database_url)
    server = DashboardServer(DashboardApp(store, Catalog(settings.lessons_dir), rules=rules),
                             host=args.host, port=args.port)
    print(f"The live class view: {server.url}  (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        store.close()
    return 0


def _lessons_validate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lessons.validate import validate_path

    folders, problems = validate_path(Path(args.path) if args.path else settings.lessons_dir)
    for problem in problems:
        print(problem)
    names = ", ".join(folder.name for folder in folders)
    if problems:
        print(f"{len(problems)} problem(s) in {len(folders)} lesson(s): {names}", file=sys.stderr)
        return 1
    print(f"OK: {len(folders)} lesson(s) valid: {names}")
    return 0


def _lessons_selftest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lessons.model import Catalog, load_lesson
    from bot.lessons.selftest import run_selftest

    candidate = Path(args.lesson)
    if (candidate / "lesson.toml").is_file():
        lesson = load_lesson(candidate)
    else:
        lesson = Catalog(settings.lessons_dir).get(args.lesson)
    report = run_selftest(settings, lesson, settle=args.settle,
                          log=lambda line: print(line, file=sys.stderr))
    print(report.render())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``docker-tutor``."""
    parser = argparse.ArgumentParser(
        prog="docker-tutor", description="A Slack bot that teaches Docker hands-on."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="serve Slack if tokens are set, else the console")
    run.add_argument("--user", default=None, help="console user name (default: $USER)")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="console: where exports and charts are written (default: here)")
    run.set_defaults(func=_run)

    console = sub.add_parser("console", help="the tutor in a terminal")
    console.add_argument("--user", default=None, help="your name (default: $USER)")
    console.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="where `progress export` files and charts are written "
                              "(default: the current directory)")
    console.set_defaults(func=_console)

    serve = sub.add_parser("serve", help="run the Slack app (Socket Mode or HTTP)")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="run the Slack learner commands queued by serve")
    worker.set_defaults(func=_worker)

    images = sub.add_parser("images", help="lesson images")
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION", required=True)
    build = images_sub.add_parser("build", help="pull or build every image the lessons use")
    build.add_argument("--offline", action="store_true",
                       help="never try a registry; build from Debian packages")
    build.add_argument("--only", action="append", metavar="NAME", help="just this image")
    build.set_defaults(func=_images_build)

    engines = sub.add_parser("engines", help="each sandbox engine: state, learners, objects, disk",
                             description="Without ACTION: list each engine of the pool.")
    engines.set_defaults(func=_engines)
    engines_sub = engines.add_subparsers(dest="engines_command", metavar="[ACTION]")
    drain = engines_sub.add_parser(
        "drain", help="place no new learner on ADDRESS; move its learners who run nothing")
    drain.add_argument("address", metavar="ADDRESS", help="an engine of TUTOR_ENGINES")
    drain.add_argument("--undo", action="store_true", help="stop draining (as undrain)")
    undrain = engines_sub.add_parser("undrain", help="let new learners be placed on ADDRESS again")
    undrain.add_argument("address", metavar="ADDRESS", help="an engine of TUTOR_ENGINES")
    undrain.set_defaults(undo=True)

    db = sub.add_parser("db", help="the progress database")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations (Alembic)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    upgrade.set_defaults(func=_db_upgrade)

    sandbox = sub.add_parser("sandbox", help="learners' containers and volumes")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    reap = sandbox_sub.add_parser(
        "reap", help="remove idle learners' containers (and long-idle learners' volumes)"
    )
    reap.add_argument("--reconcile", action="store_true",
                      help="also remove what the database does not know (start-up cleanup)")
    reap.add_argument("--dry-run", action="store_true", help="only say what would go")
    reap.add_argument("--grace", type=float, default=120.0, metavar="SECONDS",
                      help="spare objects younger than this (default: 120)")
    reap.set_defaults(func=_sandbox_reap)

    progress = sub.add_parser(
        "progress", help="class progress: summary, every learner, a funnel chart "
        "(no instructor check: whoever runs this holds the database)"
    )
    progress.add_argument("--lesson", metavar="ID", help="just this lesson")
    progress.add_argument("--format", choices=("table", "csv", "json"), default="table",
                          help="table (default: summary and learners), csv (the export) or json")
    progress.add_argument("--chart", type=Path, metavar="FILE.png",
                          help="also write the completion funnel as a PNG")
    progress.add_argument("--stuck-minutes", type=float, default=30.0, metavar="MIN",
                          help="no progress for this long looks stuck (default: 30)")
    progress.add_argument("--stuck-failures", type=int, default=3, metavar="N",
                          help="this many failed attempts on a step looks stuck (default: 3)")
    progress.set_defaults(func=_progress)

    dashboard = sub.add_parser(
        "dashboard", help="the live class view in a browser, on loopback (refreshes itself)")
    dashboard.add_argument("--port", type=int, default=8070, help="port (default: 8070)")
    dashboard.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    dashboard.add_argument("--stuck-minutes", type=float, default=30.0, metavar="MIN",
                           help="no progress for this long looks stuck (default: 30)")
    dashboard.add_argument("--stuck-failures", type=int, default=3, metavar="N",
                           help="this many failed attempts on a step looks stuck (default: 3)")
    dashboard.set_defaults(func=_dashboard)

    lessons = sub.add_parser("lessons", help="lesson files: validate them, prove their checks")
    lessons_sub = lessons.add_subparsers(dest="lessons_command", metavar="ACTION", required=True)
    validate = lessons_sub.add_parser(
        "validate", help="report every problem in lesson files, with file and line")
    validate.add_argument("path", nargs="?", default=None, metavar="PATH",
                          help="a lesson folder, its lesson.toml, or a folder of lessons "
                          "(default: the lessons folder)")
    validate.set_defaults(func=_lessons_validate)
    selftest = lessons_sub.add_parser(
        "selftest", help="run each step's solution on the real engine as a throwaway learner: "
        "checks must fail before it and pass after it")
    selftest.add_argument("lesson", metavar="LESSON", help="a lesson id, or a lesson folder")
    selftest.add_argument("--settle", type=float, default=8.0, metavar="SECONDS",
                          help="keep re-checking a solved step this long (default: 8)")
    selftest.set_defaults(func=_lessons_selftest)
    return parser


def log_level(command: str | None, *, verbose: bool = False) -> int:
    """How much a command logs: a learner's terminal only problems, a server what it does.

    The console (and ``run`` without Slack tokens, which opens it) logs warnings only,
    so learners never see the operators' lines (one per learner command, at INFO);
    ``serve`` and the operators' commands log at INFO; ``-v`` logs everything.
    """
    if verbose:
        return logging.DEBUG
    return logging.WARNING if command in ("console", "run") else logging.INFO


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``docker-tutor`` script."""
    import getpass

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=log_level(args.command, verbose=args.verbose),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if getattr(args, "user", "unset") is None:
        args.user = getpass.getuser()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings))
    except TutorError as error:
        print(f"docker-tutor: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
