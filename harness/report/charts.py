"""Chart geometry for inline SVG: scores with their confidence intervals, and cost
against score. Computed here, drawn by `templates/_charts.html.j2`, so the page needs
no chart library and no script to show them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


def shorten(label: str, limit: int) -> str:
    """Cut the middle, not the end: `model · prompt@v1` and `...@v2` stay apart."""
    if len(label) <= limit:
        return label
    head = (limit - 1) // 2
    return f"{label[:head]}…{label[len(label) - (limit - 1 - head) :]}"


@dataclass(frozen=True)
class Bar:
    label: str
    short: str
    text: str
    y: float
    width: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    left: int
    plot_width: int
    row_height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class Point:
    label: str
    short: str
    text: str
    x: float
    y: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Scatter:
    title: str
    x_label: str
    y_label: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    points: tuple[Point, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def is_finite(value: float | None) -> bool:
    """A number to plot: present, not NaN, not infinite."""
    return value is not None and math.isfinite(value)


def bar_chart(
    title: str,
    items: list[tuple[str, float, float, float]],
    width: int = 860,
    left: int = 300,
    row_height: int = 24,
) -> BarChart:
    """Horizontal bars on [0, 1], one per (label, value, low, high); NaN values are left
    out (a group with nothing scored has no bar)."""
    plot_width = width - left - 150
    bars: list[Bar] = []
    for label, value, low, high in items:
        if not is_finite(value):
            continue
        ci = is_finite(low) and is_finite(high)
        bars.append(
            Bar(
                label=label,
                short=shorten(label, 42),
                text=f"{value:.2f}" + (f" [{low:.2f}, {high:.2f}]" if ci else ""),
                y=20 + len(bars) * row_height,
                width=max(0.0, min(1.0, value)) * plot_width,
                low=low * plot_width if ci else None,
                high=high * plot_width if ci else None,
            )
        )
    ticks = tuple(Tick(i / 4 * plot_width, f"{i / 4:.2f}") for i in range(5))
    return BarChart(
        title=title,
        width=width,
        height=40 + len(bars) * row_height,
        left=left,
        plot_width=plot_width,
        row_height=row_height,
        bars=tuple(bars),
        ticks=ticks,
    )


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum`."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def scatter(
    title: str,
    x_label: str,
    y_label: str,
    items: list[tuple[str, float, float, float, float]],
    width: int = 760,
    height: int = 360,
) -> Scatter:
    """Points (label, x, y, y_low, y_high) with y on [0, 1] and x from 0 up."""
    left, top, right, bottom = 60, 20, 200, 50
    plot_width, plot_height = width - left - right, height - top - bottom
    shown = [item for item in items if is_finite(item[1]) and is_finite(item[2])]
    ticks = nice_ticks(max((item[1] for item in shown), default=0.0))
    x_max = ticks[-1]
    points = []
    for label, x, y, low, high in shown:
        ci = is_finite(low) and is_finite(high)
        points.append(
            Point(
                label=label,
                short=shorten(label, 30),
                text=f"{label}: {_tick_label(x)}, {y:.2f}",
                x=x / x_max * plot_width,
                y=(1 - y) * plot_height,
                low=(1 - low) * plot_height if ci else None,
                high=(1 - high) * plot_height if ci else None,
            )
        )
    return Scatter(
        title=title,
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        points=tuple(points),
        x_ticks=tuple(Tick(t / x_max * plot_width, _tick_label(t)) for t in ticks),
        y_ticks=tuple(Tick((1 - i / 4) * plot_height, f"{i / 4:.2f}") for i in range(5)),
    )
