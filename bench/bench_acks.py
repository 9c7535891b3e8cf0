"""Acks at the framework's limit: the tutor's ack path against a bare Bolt app that only acks.

Both sides run the one HTTP entry point with the same settings and processes
(:func:`handlers.web.server.start_http`: uvicorn, ``TUTOR_HTTP_WORKERS`` processes):

* the tutor: a real ``docker-tutor serve`` (HTTP mode, no worker processes, so nothing
  but acks runs; no engine needed: its address answers nothing). Each ack verifies the
  signature, dedupes and inserts the job into the durable queue (SQLite file);
* the anchor: ``python -m bench.bench_acks anchor PORT`` serves a bare Bolt app whose
  only listener acks ``/docker``.

Each round posts 200 signed slash commands at once to one side (built and signed before
the clock starts, one connection each, released by a barrier) and times each answer. The
rounds alternate tutor and anchor (3 each); the figures are the medians of the rounds'
p50 and p99, and their ratio (goal: tutor <= anchor).
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from slack_bolt import Ack, App
from slack_sdk import WebClient

import bench
from bench.burst import burst_process
from bot.config import Settings
from handlers.web.asgi import SlackASGI
from handlers.web.server import start_http, stop_http
from tests.fake_slack import FakeSlack, sign
from tests.slack_helpers import SECRET, TOKEN, SlackSender

ROUNDS = 3
NO_ENGINE = "tcp://127.0.0.1:1"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _wait_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _start(argv: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_up(f"http://127.0.0.1:{port}", process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def burst(port: int, fake: FakeSlack, count: int, tag: str) -> list[float]:
    """``count`` signed ``/docker ps`` posted at once; each answer's latency (non-200 raises).

    Built and signed before the clock starts, posted by the light client of
    :mod:`bench.burst` in a process of its own (the same client for both sides).
    """
    url = f"http://127.0.0.1:{port}/slack/events"
    sender = SlackSender(url, fake)
    prepared = []
    for n in range(count):
        body, _ = sender.command_body("/docker", "ps", user=f"U0{tag}{n:04d}")
        prepared.append((body, {"Content-Type": "application/x-www-form-urlencoded",
                                **sign(body, SECRET)}))
    latencies, statuses = burst_process(url, prepared)
    failed = [s for s in statuses if s != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} acks failed: {sorted(set(failed))}")
    return latencies


def run(session: bench.BenchSession) -> None:
    """Start the tutor's serve and the anchor, then alternate bursts of acks."""
    session.note(f"load average {os.getloadavg()[0]:.1f} at the start (2 cores shared with "
                 "other work: compare the ratio, measured in one run, more than the figures)")
    count, rounds = (40, 1) if session.quick else (200, ROUNDS)
    with FakeSlack(token=TOKEN) as fake:
        tutor_port, anchor_port = _port(), _port()
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": fake.url, "DOCKER_HOST": NO_ENGINE,
               "DATABASE_URL": session.database_url or f"sqlite:///{session.scratch / 'acks.db'}",
               "TUTOR_DATA_DIR": str(session.scratch / "data"), "TUTOR_SERVE_WORKERS": "0",
               "TUTOR_REAP_INTERVAL_SECONDS": "3600", "PORT": str(tutor_port)}
        env.pop("SLACK_APP_TOKEN", None)
        tutor = _start([sys.executable, "-m", "bot", "serve"], env, tutor_port,
                       session.scratch / "serve.log")
        try:
            anchor = _start([sys.executable, "-m", "bench.bench_acks", "anchor", str(anchor_port)],
                            env, anchor_port, session.scratch / "anchor.log")
            try:
                burst(tutor_port, fake, 20, "WARMT")
                burst(anchor_port, fake, 20, "WARMA")
                figures: dict[str, list[tuple[float, float]]] = {"tutor": [], "anchor": []}
                for r in range(rounds):
                    for side, port in (("tutor", tutor_port), ("anchor", anchor_port)):
                        time.sleep(0.5)
                        latencies = burst(port, fake, count, f"{side[0].upper()}{r}")
                        figures[side].append((statistics.median(latencies),
                                              _percentile(latencies, 0.99)))
            finally:
                _stop(anchor)
        finally:
            _stop(tutor)
    _report(session, figures, count)


def _report(session: bench.BenchSession, figures: dict[str, list[tuple[float, float]]],
            count: int) -> None:
    medians = {side: (statistics.median(p50 for p50, _ in rounds),
                      statistics.median(p99 for _, p99 in rounds))
               for side, rounds in figures.items()}
    (t50, t99), (a50, a99) = medians["tutor"], medians["anchor"]
    for side, label in (("tutor", "tutor's ack path"), ("anchor", "bare Bolt app that only acks")):
        what = f"{count} signed slash commands at once, idle: {label}"
        session.results.append(bench.Measurement(
            session.suite, f"{what}: p50", [p50 for p50, _ in figures[side]],
            notes=f"median of {len(figures[side])} rounds"))
        session.results.append(bench.Measurement(
            session.suite, f"{what}: p99", [p99 for _, p99 in figures[side]],
            notes=(f"ratio tutor/anchor p50 {t50 / a50:.2f}, p99 {t99 / a99:.2f} (aim <= 1.0)"
                   if side == "tutor" else "")))
    session.note(f"{count} at once, idle, median of {len(figures['tutor'])} interleaved rounds: "
                 f"tutor p50 {t50 * 1000:.1f} ms, p99 {t99 * 1000:.1f} ms; bare Bolt p50 "
                 f"{a50 * 1000:.1f} ms, p99 {a99 * 1000:.1f} ms; ratio p50 {t50 / a50:.2f}, "
                 f"p99 {t99 / a99:.2f}")


def build_anchor(settings: Settings) -> SlackASGI:
    """A bare Bolt app whose only listener acks ``/docker`` (the anchor), in the same ASGI app."""
    client = WebClient(token=TOKEN, base_url=os.environ["SLACK_API_URL"].rstrip("/") + "/")
    app = App(signing_secret=SECRET, client=client, process_before_response=True)

    @app.command("/docker")
    def docker(ack: Ack) -> None:
        ack()

    return SlackASGI(app)


def anchor(port: int) -> None:
    """Serve the anchor on the production server settings and processes until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    children = start_http(Settings.from_env(), "127.0.0.1", port, build=build_anchor)
    try:
        while not stop.wait(0.5) and all(child.is_alive() for child in children):
            pass
    finally:
        stop_http(children)


if __name__ == "__main__":
    if sys.argv[1:2] == ["anchor"]:
        anchor(int(sys.argv[2]))
