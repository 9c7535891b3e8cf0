"""The completion funnel as a PNG: learners who completed each step, in lesson order.

Drawn with matplotlib's Agg canvas directly (no ``pyplot``, no GUI, no global state,
so it is safe in the Slack front end's worker threads). matplotlib is imported only
when a chart is drawn: importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass

WIDTH_PX = 900
"""Width of every chart, in pixels."""
DPI = 100
ROW_PX = 40
"""Height of one bar's row, in pixels."""
TOP_PX = 60
BOTTOM_PX = 60
LEFT_PX = 330
"""Room for the step labels, in pixels."""
RIGHT_PX = 110
"""Room for the figures at the end of the bars, in pixels."""
LABEL_CHARS = 40
BAR_COLOR = "#4C78A8"
HIGHLIGHT_COLOR = "#F58518"
"""Colour of highlighted bars (challenge steps)."""


@dataclass(frozen=True)
class Bar:
    """Where one bar landed in the picture, for tests and alt text.

    Attributes:
        label: The step label beside it.
        value: Learners who completed the step.
        left: Left edge in pixels from the picture's left.
        top: Top edge in pixels from the picture's top.
        right: Right edge (equals ``left`` for a zero bar).
        bottom: Bottom edge.
        color: Its fill colour, ``#rrggbb``.
    """

    label: str
    value: int
    left: int
    top: int
    right: int
    bottom: int
    color: str


@dataclass(frozen=True)
class FunnelChart:
    """A drawn funnel: the PNG and its geometry.

    Attributes:
        png: The PNG file's bytes.
        width: Its width in pixels.
        height: Its height in pixels.
        bars: One bar per step, top to bottom in lesson order.
    """

    png: bytes
    width: int
    height: int
    bars: tuple[Bar, ...]


def chart_height(steps: int) -> int:
    """The height in pixels of a funnel with ``steps`` bars."""
    return TOP_PX + BOTTOM_PX + ROW_PX * max(steps, 1)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\u2026"


def funnel_chart(
    title: str,
    steps: Sequence[tuple[str, int]],
    *,
    total: int,
    highlight: Collection[int] = (),
) -> FunnelChart:
    """Draw a horizontal bar per step, first step on top.

    Args:
        title: The chart's title (the lesson and how many started).
        steps: ``(label, learners who completed the step)`` in lesson order.
        total: Learners who started; the x axis runs to it and percentages use it.
        highlight: Indexes of bars drawn in the highlight colour (challenge steps).

    Returns:
        The PNG with the pixel box of each bar.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    height = chart_height(len(steps))
    figure = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)  # attaches itself to the figure: Agg, never a GUI backend
    axes = figure.add_axes((
        LEFT_PX / WIDTH_PX,
        BOTTOM_PX / height,
        (WIDTH_PX - LEFT_PX - RIGHT_PX) / WIDTH_PX,
        (height - TOP_PX - BOTTOM_PX) / height,
    ))
    labels = [_short(label) for label, _ in steps]
    values = [value for _, value in steps]
    colors = [HIGHLIGHT_COLOR if i in highlight else BAR_COLOR for i in range(len(steps))]
    positions = list(range(len(steps)))
    patches = axes.barh(positions, values, height=0.7, color=colors)
    axes.set_yticks(positions, labels, fontsize=10)
    axes.invert_yaxis()
    axes.set_xlim(0, max(total, max(values, default=0), 1))
    axes.set_ylim(len(steps) - 0.5, -0.5)
    key = " (challenge in orange)" if highlight else ""
    axes.set_xlabel(f"learners who completed the step{key}", fontsize=9)
    axes.set_title(title, fontsize=12, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, value in zip(positions, values, strict=True):
        share = f" ({100 * value / total:.0f}%)" if total else ""
        axes.annotate(f"{value}{share}", (value, position), xytext=(4, 0),
                      textcoords="offset points", va="center", fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    bars = []
    for label, value, color, patch in zip(labels, values, colors, patches, strict=True):
        box = patch.get_window_extent()  # display pixels, origin at the bottom left
        bars.append(Bar(label, value, round(box.x0), round(height - box.y1), round(box.x1),
                        round(height - box.y0), color))
    width, drawn_height = (round(v) for v in figure.bbox.size)
    return FunnelChart(buffer.getvalue(), width, drawn_height, tuple(bars))


__all__ = ["BAR_COLOR", "HIGHLIGHT_COLOR", "Bar", "FunnelChart", "chart_height", "funnel_chart"]
