"""The Slack front end under a class's load, against a real ``docker-tutor serve`` process.

* ack latency: 200 signed slash commands posted at once over HTTP; the time until each
  HTTP answer (Slack's 3-second limit is about this), alone and again while the class
  below is running (acks only store a job: they must not wait behind the engine work).
* a class of 50 simulated learners doing the whole Immortal Database challenge at once,
  each waiting for the tutor's answer before typing the next line, as a person would:
  wall time, errors, per-command latency (post to answer on the ``response_url``), and
  the serve process's peak memory.

``serve`` runs as deployed: its HTTP server (uvicorn) acknowledges into the durable queue,
worker processes run the jobs.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

import bench
from bot.sandbox.pool.janitor import purge_prefix
from tests.fake_slack import FakeSlack, sign
from tests.slack_helpers import SECRET, TOKEN, SlackSender

CHALLENGE = [
    "/tutor start data-persistence",
    *["/tutor next"] * 6,
    "/docker run -d --name redis-1 -v my-redis-data:/data redis",
    '/docker exec redis-1 redis-cli set mykey "Hello Persistence"',
    "/docker stop redis-1",
    "/docker rm redis-1",
    "/docker run -d --name redis-2 -v my-redis-data:/data redis",
    "/docker exec redis-2 redis-cli get mykey",
]


CLASS_HEAD_START = 4.0
"""Seconds the class runs before the second burst of acks (every learner is typing)."""


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _serve(session: bench.BenchSession, fake: FakeSlack, namespace: str,
           ) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
        "DATABASE_URL": session.database_url or f"sqlite:///{session.scratch / 'slack.db'}",
        "TUTOR_NAMESPACE": namespace, "TUTOR_DATA_DIR": str(session.scratch / "data"),
        "TUTOR_REAP_INTERVAL_SECONDS": "3600", "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    log = (session.scratch / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310
                return process, base + "/slack/events"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("serve did not start")


def _acks(session: bench.BenchSession, sender: SlackSender, fake: FakeSlack, count: int,
          *, during: str = "") -> None:
    # Requests are built and signed before the clock starts: the figure is the server's.
    target = urllib.parse.urlsplit(sender.events_url)
    prepared = []
    for n in range(count):
        body, url = sender.command_body("/docker", "ps", user=f"U0ACK{n:04d}{during[:1]}")
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   **sign(body, SECRET)}
        prepared.append((body.encode(), headers, url))
    barrier = threading.Barrier(count)

    def one(n: int) -> tuple[float, int, str]:
        body, headers, url = prepared[n]
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        barrier.wait()
        start = time.perf_counter()
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        finally:
            connection.close()
        return time.perf_counter() - start, status, url

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    latencies = [r[0] for r in results]
    failures = sum(1 for r in results if r[1] != 200)
    for _, _, url in results:  # let the queued work drain before the next measurement
        fake.wait_for_response(url, timeout=300)
    p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
    what = f"ack, {count} concurrent slash commands{during}"
    session.results.append(bench.Measurement(
        session.suite, f"{what}: p50", [p50], notes=f"{failures} non-200"))
    session.results.append(bench.Measurement(
        session.suite, f"{what}: p99", [p99], target_ms=50,
        notes=f"max {max(latencies) * 1000:.0f} ms"))
    session.note(f"{what}: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                 f"{failures} errors")


def _learner(sender: SlackSender, fake: FakeSlack, user: str,
             latencies: list[float], lock: threading.Lock) -> tuple[bool, int]:
    errors = 0
    completed = False
    for line in CHALLENGE:
        command, _, text = line.partition(" ")
        start = time.perf_counter()
        sent = sender.command(command, text, user=user)
        if sent.status != 200:
            errors += 1
            continue
        [answer] = fake.wait_for_response(sent.response_url, timeout=300)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
        shown = answer.texts()
        if ":x:" in shown or "Something went wrong" in shown:
            errors += 1
        if "Challenge complete" in shown:
            completed = True
    return completed, errors


def _class(session: bench.BenchSession, sender: SlackSender, fake: FakeSlack,
           process: subprocess.Popen[bytes], size: int) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=size) as pool:
        outcomes = list(pool.map(
            lambda n: _learner(sender, fake, f"U0CLASS{n:03d}", latencies, lock), range(size)))
    wall = time.perf_counter() - start
    done = sum(1 for ok, _ in outcomes if ok)
    errors = sum(e for _, e in outcomes)
    p95 = _percentile(latencies, 0.95)
    peak = _peak_rss_mib(process.pid)
    session.results.append(bench.Measurement(
        session.suite, f"class of {size}: whole challenge, wall time", [wall],
        notes=f"{done}/{size} confirmed, {errors} errors"))
    session.results.append(bench.Measurement(
        session.suite, f"class of {size}: per-command latency p50", [statistics.median(latencies)]))
    session.results.append(bench.Measurement(
        session.suite, f"class of {size}: per-command latency p95", [p95],
        notes=f"{len(latencies)} commands"))
    session.note(f"class of {size} learners, {len(CHALLENGE)} lines each: wall {wall:.1f} s, "
                 f"{done}/{size} challenges confirmed, {errors} errors, p95 command latency "
                 f"{p95 * 1000:.0f} ms, serve process peak RSS {peak:.0f} MiB")


def run(session: bench.BenchSession) -> None:
    """Start a serve process, measure acks, then a class doing the challenge."""
    namespace = "dtbs" + secrets.token_hex(2)
    session.note(f"load average {os.getloadavg()[0]:.1f} on this machine at the start "
                 "(figures from a busy shared machine are not comparable)")
    client = docker.from_env()
    with FakeSlack() as fake:
        process, url = _serve(session, fake, namespace)
        sender = SlackSender(url, fake)
        acks, size = (40, 5) if session.quick else (200, 50)
        try:
            _acks(session, sender, fake, acks)
            # The same burst again while a class works through the challenge on the engine.
            klass = threading.Thread(target=_class, args=(session, sender, fake, process, size))
            klass.start()
            time.sleep(CLASS_HEAD_START)
            try:
                _acks(session, sender, fake, acks, during=f" while a class of {size} runs")
            finally:
                klass.join()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            purge_prefix(client, namespace)
            client.close()
