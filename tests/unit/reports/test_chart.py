"""The completion funnel PNG: a real PNG of the announced size, one bar per step, in order."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from bot.reports.chart import BAR_COLOR, HIGHLIGHT_COLOR, WIDTH_PX, FunnelChart, chart_height, funnel_chart

STEPS = [("1. Intro", 10), ("2. Build", 8), ("3. Volumes", 5), ("4. The challenge", 3),
         ("5. A step with a very long title that cannot fit beside the bars", 0)]


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The PNG's chunks as (type, data), checking every CRC on the way."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks.append((kind, data))
        at += 12 + length
    return chunks


def _pixels(png: bytes) -> np.ndarray:
    """The picture as an (height, width, channels) array of 0..255 integers."""
    from matplotlib.image import imread

    return np.asarray(imread(io.BytesIO(png), format="png") * 255).round().astype(int)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@pytest.fixture(scope="module")
def chart() -> FunnelChart:
    """A funnel of five steps, the fourth highlighted as the challenge."""
    return funnel_chart("Demo: 10 started", STEPS, total=10, highlight={3})


def test_png_signature_ihdr_and_chunks(chart: FunnelChart) -> None:
    """The bytes are a valid PNG whose IHDR announces the chart's width and height."""
    chunks = _chunks(chart.png)
    kind, ihdr = chunks[0]
    assert kind == b"IHDR"
    width, height, depth, _color_type = struct.unpack(">IIBB", ihdr[:10])
    assert (width, height) == (chart.width, chart.height) == (WIDTH_PX, chart_height(len(STEPS)))
    assert depth == 8
    assert chunks[-1][0] == b"IEND"
    assert any(kind == b"IDAT" for kind, _ in chunks)


def test_one_bar_per_step_in_lesson_order_proportional_to_learners(chart: FunnelChart) -> None:
    """There is a bar per step, top to bottom in order, its length proportional to its learners."""
    assert [bar.label[:2] for bar in chart.bars] == ["1.", "2.", "3.", "4.", "5."]
    assert [bar.value for bar in chart.bars] == [10, 8, 5, 3, 0]
    tops = [bar.top for bar in chart.bars]
    assert tops == sorted(tops)
    full = chart.bars[0].right - chart.bars[0].left
    for bar in chart.bars:
        assert bar.right - bar.left == pytest.approx(full * bar.value / 10, abs=1.5)
    assert chart.bars[-1].label.endswith("\u2026")


def test_the_pixels_show_exactly_the_bars(chart: FunnelChart) -> None:
    """Decoded pixels: each non-empty bar's centre has its colour, and a scan line crosses one run per bar."""
    pixels = _pixels(chart.png)
    assert pixels.shape[:2] == (chart.height, chart.width)
    for bar in chart.bars:
        if bar.value:
            middle = pixels[(bar.top + bar.bottom) // 2, (bar.left + bar.right) // 2, :3]
            assert tuple(middle) == _rgb(bar.color)
    assert [bar.color for bar in chart.bars] == [BAR_COLOR, BAR_COLOR, BAR_COLOR, HIGHLIGHT_COLOR, BAR_COLOR]
    column = pixels[:, chart.bars[0].left + 3, :3]
    colors = {_rgb(BAR_COLOR), _rgb(HIGHLIGHT_COLOR)}
    inside = [tuple(pixel) in colors for pixel in column]
    runs = sum(1 for y in range(1, len(inside)) if inside[y] and not inside[y - 1])
    assert runs == sum(1 for bar in chart.bars if bar.value)


def test_an_empty_lesson_still_draws_its_steps() -> None:
    """With nobody started, every bar is empty but each step is still there."""
    empty = funnel_chart("Empty: 0 started", [("1. A", 0), ("2. B", 0)], total=0)
    assert len(empty.bars) == 2 and all(bar.left == bar.right for bar in empty.bars)
    assert struct.unpack(">II", empty.png[16:24]) == (WIDTH_PX, chart_height(2))


def test_importing_the_reports_does_not_import_matplotlib() -> None:
    """Importing costs no matplotlib: it loads only when a chart is drawn, and never pyplot."""
    code = ("import sys, bot.reports.chart, bot.reports.replies, bot.tutor.core; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'; "
            "bot.reports.chart.funnel_chart('t', [('a', 1)], total=1); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
