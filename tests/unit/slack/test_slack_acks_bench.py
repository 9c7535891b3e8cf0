"""The ack benchmark (bench/bench_acks.py): its anchor, its bursts and its rows."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench
from bench.bench_acks import _report, build_anchor, burst
from handlers.web.server import SlackHTTPServer
from tests.fake_slack import RESPONSE, FakeSlack
from tests.slack_helpers import TOKEN


def test_a_burst_against_the_bare_anchor_is_all_acked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The anchor app acks every signed /docker of a burst on the production server settings."""
    with FakeSlack(token=TOKEN) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        asgi = build_anchor(None)  # type: ignore[arg-type]
        asgi.close()
        with SlackHTTPServer(asgi.app) as server:
            latencies = burst(server.port, fake, 20, "T")
    assert len(latencies) == 20
    assert all(0 < seconds < 10 for seconds in latencies)
    assert fake.calls(RESPONSE) == []  # the anchor only acks: nothing is answered later


def test_the_report_gives_both_sides_and_their_ratio(tmp_path: Path) -> None:
    """Rows for tutor and anchor (p50, p99, median of rounds) and the ratio in the notes."""
    session = bench.BenchSession(scratch=tmp_path, suite="acks")
    figures = {"tutor": [(0.030, 0.060), (0.034, 0.070), (0.032, 0.066)],
               "anchor": [(0.020, 0.030), (0.016, 0.032), (0.018, 0.031)]}
    _report(session, figures, 200)
    rows = {m.name: m for m in session.results}
    tutor_p99 = rows["200 signed slash commands at once, idle: tutor's ack path: p99"]
    assert tutor_p99.median_ms == pytest.approx(66)
    assert "ratio tutor/anchor p50 1.78, p99 2.13" in tutor_p99.notes
    assert rows["200 signed slash commands at once, idle: bare Bolt app that only acks: p50"
                ].median_ms == pytest.approx(18)
    assert "ratio p50 1.78, p99 2.13" in session.notes["acks"][0]
