"""The nightly history and its trend: one JSON line per nightly run (written by
`harness nightly`, read here), and chart geometry for the leaderboard's "Nightly trend"
section: one chart per metric, one line per evaluation across nights, each point with
its confidence band.

The record schema lives here, beside its only reader, so the report never imports the
nightly machinery; `harness.nightly.history` appends records of this schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.report.charts import Tick, is_finite, shorten

HISTORY_FILE = Path("nightly") / "history.jsonl"  # under the results folder
HISTORY_SCHEMA = 1
SERIES_STYLES = 6  # page.css.j2 styles .series-0 ... .series-5
MAX_X_TICKS = 10


class MetricPoint(BaseModel):
    """One metric of one night's run: the estimate and its confidence interval."""

    model_config = ConfigDict(extra="ignore")

    value: float | None = None
    low: float | None = None
    high: float | None = None


class EvalRecord(BaseModel):
    """One evaluation (a model and prompt version) within a nightly run."""

    model_config = ConfigDict(extra="ignore")

    name: str
    model: str = ""
    prompt: str = ""
    run_id: str | None = None
    baseline_run_id: str | None = None
    status: str = ""
    rows: int = 0
    infra_errors: int = 0
    metrics: dict[str, MetricPoint] = {}
    regressions: list[str] = []
    flaky: list[str] = []


class HistoryEntry(BaseModel):
    """One nightly run: when, how it ended, and each evaluation's metrics."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = HISTORY_SCHEMA
    nightly_id: str
    started_at: str
    finished_at: str = ""
    exit_code: int
    status: str
    config: str = ""
    git_commit: str | None = None
    level: float = 0.95
    evals: list[EvalRecord] = []


def read_history(path: Path) -> list[HistoryEntry]:
    """Every whole record, oldest first; a torn or foreign line is skipped, so a crash
    mid-append never makes the history unreadable."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entries.append(HistoryEntry.model_validate_json(line))
        except ValidationError:
            continue
    return sorted(entries, key=lambda entry: (entry.started_at, entry.nightly_id))


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class TrendSegment:
    """A run of consecutive nights with a value: a line, and a band where intervals are."""

    line: str  # SVG polyline points
    band: str  # SVG polygon points, or "" when no night of the segment has an interval


@dataclass(frozen=True)
class TrendSeries:
    label: str
    short: str
    style: int
    segments: tuple[TrendSegment, ...]
    points: tuple[TrendPoint, ...]


@dataclass(frozen=True)
class TrendChart:
    title: str
    metric: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    series: tuple[TrendSeries, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def trend_metrics(entries: Iterable[HistoryEntry]) -> list[str]:
    """Metrics seen in the history: overall, pass@1, secure@1 first, graders after."""
    seen = {name for entry in entries for record in entry.evals for name in record.metrics}
    first = [name for name in ("overall", "pass@1", "secure@1") if name in seen]
    return first + sorted(seen - set(first))


def _night_label(entry: HistoryEntry, with_time: bool = True) -> str:
    """`MM-DD HH:MM` (or `MM-DD`) from an ISO timestamp; the nightly id when not one."""
    stamp = entry.started_at
    if len(stamp) >= 16 and stamp[4] == "-" and stamp[10] in "T ":
        return f"{stamp[5:10]} {stamp[11:16]}" if with_time else stamp[5:10]
    return entry.nightly_id


def _segment(points: list[tuple[float, float, float | None, float | None]]) -> TrendSegment:
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
    banded = [(x, low, high) for x, _, low, high in points if low is not None and high is not None]
    band = ""
    if banded:
        upper = [f"{x:.1f},{high:.1f}" for x, _, high in banded]
        lower = [f"{x:.1f},{low:.1f}" for x, low, _ in reversed(banded)]
        band = " ".join(upper + lower)
    return TrendSegment(line=line, band=band)


def trend_chart(
    entries: Sequence[HistoryEntry],
    metric: str,
    *,
    width: int = 760,
    height: int = 260,
) -> TrendChart:
    """One metric across nights (x: nights in order, y: [0, 1]); one series per
    evaluation name, broken where a night has no value."""
    left, top, right, bottom = 50, 14, 220, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    nights = len(entries)

    def x_of(index: int) -> float:
        return plot_width / 2 if nights == 1 else index / (nights - 1) * plot_width

    def y_of(value: float) -> float:
        return (1.0 - max(0.0, min(1.0, value))) * plot_height

    names = sorted({record.name for entry in entries for record in entry.evals})
    series = []
    for number, name in enumerate(names):
        segments: list[TrendSegment] = []
        current: list[tuple[float, float, float | None, float | None]] = []
        points: list[TrendPoint] = []
        for index, entry in enumerate(entries):
            record = next((r for r in entry.evals if r.name == name), None)
            point = record.metrics.get(metric) if record else None
            value = point.value if point is not None else None
            if point is None or value is None or not math.isfinite(value):
                if current:
                    segments.append(_segment(current))
                    current = []
                continue
            bounds = (point.low, point.high)
            low, high = bounds if is_finite(bounds[0]) and is_finite(bounds[1]) else (None, None)
            current.append(
                (
                    x_of(index),
                    y_of(value),
                    None if low is None else y_of(low),
                    None if high is None else y_of(high),
                )
            )
            interval = "" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"
            points.append(
                TrendPoint(
                    x=x_of(index),
                    y=y_of(value),
                    text=f"{name} · {_night_label(entry)}: {metric} {value:.2f}{interval}",
                )
            )
        if current:
            segments.append(_segment(current))
        if points:
            series.append(
                TrendSeries(
                    label=name,
                    short=shorten(name, 30),
                    style=number % SERIES_STYLES,
                    segments=tuple(segments),
                    points=tuple(points),
                )
            )
    # Dates alone when no two nights share one; at most MAX_X_TICKS labels, evenly picked.
    dates = [_night_label(entry, with_time=False) for entry in entries]
    with_time = len(set(dates)) < len(dates)
    step = max(1, math.ceil(nights / MAX_X_TICKS))
    x_ticks = tuple(
        Tick(x_of(index), _night_label(entry, with_time))
        for index, entry in enumerate(entries)
        if index % step == 0
    )
    return TrendChart(
        title=f"{metric} across nightly runs",
        metric=metric,
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        series=tuple(series),
        x_ticks=x_ticks,
        y_ticks=tuple(Tick(y_of(i / 4), f"{i / 4:.2f}") for i in range(5)),
    )


def trend_charts(entries: Sequence[HistoryEntry]) -> list[TrendChart]:
    """One chart per metric with at least one value in the history."""
    charts = [trend_chart(entries, metric) for metric in trend_metrics(entries)]
    return [chart for chart in charts if chart.series]
