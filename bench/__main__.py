"""Run the benchmark suites and write ``bench/results.md`` (and ``results.json`` beside it).

Usage: ``python -m bench [--quick] [--only NAME ...] [--database-url URL] [--runs N]
[--output FILE.md]``. Suites not run keep their previous figures in the table.
Exits 1 when a suite failed (its error is in the results file).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import RESULTS_FILE, BenchSession, discover, load, render, run_suite, save


def main(argv: list[str] | None = None) -> int:
    """Run the selected suites (all by default) and write the results files."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data sets (a smoke test)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=discover(),
                        help="run just this suite (repeatable)")
    parser.add_argument("--database-url", help="benchmark on this database instead of SQLite")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="the Markdown file")
    args = parser.parse_args(argv)

    store = args.output.with_suffix(".json")
    runs = load(store)
    scratch = Path(tempfile.mkdtemp(prefix="docker-tutor-bench-"))
    session = BenchSession(scratch=scratch, quick=args.quick, database_url=args.database_url,
                           runs=args.runs)
    failed = []
    try:
        for name in args.only or discover():
            print(f"== {name}", file=sys.stderr, flush=True)
            run = run_suite(session, name)
            runs[name] = run
            if run.error:
                failed.append(name)
                print(f"== {name} failed: {run.error}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    save(store, runs)
    text = render(runs)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.output} and {store}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
