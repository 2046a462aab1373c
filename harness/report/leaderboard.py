"""The leaderboard page over every run under a results folder: the aggregated table,
breakdowns, charts and the per-sample drill-down, in one self-contained HTML file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

from harness.core.store import write_text_atomic
from harness.graders.registry import coverage_scaled_graders, grader_weights
from harness.report.aggregate import Leaderboard, aggregate_results
from harness.report.charts import BarChart, Scatter, bar_chart, scatter
from harness.report.drilldown import Drilldown, DrilldownLimits, build_drilldown
from harness.report.export import export_csv, export_json
from harness.report.frame import ResultSet, load_results
from harness.report.html import render_page
from harness.report.stats import DEFAULT_RESAMPLES
from harness.report.trend import HISTORY_FILE, HistoryEntry, read_history, trend_charts


@dataclass(frozen=True)
class LeaderboardPage:
    html: str
    board: Leaderboard
    drilldown: Drilldown


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def group_label(model: object, prompt: object) -> str:
    return f"{model or '–'} · {prompt or '–'}"


def _runs(results: ResultSet) -> list[dict[str, Any]]:
    frame = results.frame
    if frame.empty:
        return []
    runs = frame.groupby("run_id", sort=True).agg(
        model=("model", "first"),
        prompt=("prompt", "first"),
        rows=("task", "size"),
        infra_errors=("infra", "sum"),
    )
    return _records(runs.reset_index())


def _bar_items(rows: list[dict[str, Any]], key: str) -> list[tuple[str, float, float, float]]:
    return [
        (group_label(r["model"], r["prompt"]), r[key], r[f"{key}_low"], r[f"{key}_high"])
        for r in rows
    ]


def _charts(board: Leaderboard) -> tuple[BarChart, BarChart, Scatter]:
    rows = _records(board.table)
    level = f"{board.level * 100:.0f}%"
    overall = bar_chart(f"Overall score with {level} interval", _bar_items(rows, "overall"))
    passing = bar_chart(f"pass@1 with {level} interval", _bar_items(rows, "pass@1"))
    # Cost where any model has a price; otherwise tokens; otherwise time, and say which.
    table = board.table
    tokens = table["input_tokens"].fillna(0) + table["output_tokens"].fillna(0)
    x_key, x_label = "wall_seconds", "seconds per sample (no cost or tokens recorded)"
    if table["cost_usd"].notna().any():
        x_key, x_label = "cost_usd", "cost per sample (USD)"
    elif tokens.gt(0).any():
        x_key, x_label = "tokens", "tokens per sample (in + out; no cost recorded)"
    items = []
    for r in rows:
        x = r[x_key] if x_key != "tokens" else _sum(r["input_tokens"], r["output_tokens"])
        label = group_label(r["model"], r["prompt"])
        items.append((label, x, r["overall"], r["overall_low"], r["overall_high"]))
    cost = scatter("Cost against overall score", x_label, "overall score", items)
    return overall, passing, cost


# The page lists at most this many infrastructure-error rows (the count is always shown).
INFRA_ROWS_SHOWN = 500


def _infra_rows(results: ResultSet) -> list[dict[str, Any]]:
    """Rows left with an infrastructure error after their retries: never scored, and
    never dropped silently either (the first INFRA_ROWS_SHOWN; the page gives the count)."""
    frame = results.frame
    if not len(frame):
        return []
    rows = frame[frame["infra"].astype(bool)]
    return [
        {
            "run_id": row.run_id,
            "model": row.model,
            "prompt": row.prompt,
            "task": row.task,
            "sample": row.sample,
            "database": row.database,
            "error": (str(row.infra_error or "").strip().splitlines() or [""])[0][:300],
        }
        for row in rows.head(INFRA_ROWS_SHOWN).itertuples()
    ]


def _round_rows(results: ResultSet) -> list[dict[str, Any]]:
    """The score by round of each model and prompt that ran more than one round."""
    table = results.rounds_table()
    return [
        {
            "label": group_label(r["model"], r["prompt"]),
            "round": int(r["round"]),
            "overall": r["overall"],
            "pass": r["pass"],
            "rows": int(r["rows"]),
        }
        for r in _records(table)
    ]


def _unsandboxed(results: ResultSet) -> int:
    frame = results.frame
    if not len(frame):
        return 0
    return int((frame["sandboxed"] == False).sum())  # noqa: E712 - None is unknown, not False


def _weights() -> list[dict[str, Any]]:
    return [
        {"grader": name, "weight": weight, "scaled": name in coverage_scaled_graders()}
        for name, weight in grader_weights().items()
    ]


def _sum(*values: float) -> float:
    present = [v for v in values if not math.isnan(v)]
    return sum(present) if present else math.nan


def build_leaderboard(
    results: ResultSet,
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    limits: DrilldownLimits | None = None,
    history: Sequence[HistoryEntry] = (),
) -> LeaderboardPage:
    """The page; `history` (nightly runs, oldest first) adds a trend chart per metric."""
    board = aggregate_results(results, seed=seed, resamples=resamples)
    drill = build_drilldown(results, limits)
    overall_chart, pass_chart, cost_chart = _charts(board)
    hidden = [m.label for m in board.metrics if m.kind == "pass"]
    shown_pass = board.shown_metrics("pass")
    hidden = [label for label in hidden if label not in {m.label for m in shown_pass}]
    html = render_page(
        "leaderboard.html.j2",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        board=board,
        rows=_records(board.table),
        cells=_records(board.cells),
        pass_metrics=shown_pass,
        secure_metrics=board.shown_metrics("secure"),
        grader_metrics=board.shown_metrics("grader"),
        task_metrics=board.shown_metrics("task"),
        db_metrics=board.shown_metrics("database"),
        hidden_ks=(
            f"{', '.join(hidden)}: not shown, no model has enough samples in every cell."
            if hidden and len(board.table)
            else ""
        ),
        overall_chart=overall_chart,
        pass_chart=pass_chart,
        cost_chart=cost_chart,
        drill=drill,
        drill_data=drill.as_json(),
        runs=_runs(results),
        infra_rows=_infra_rows(results),
        unsandboxed=_unsandboxed(results),
        round_rows=_round_rows(results),
        weights=_weights(),
        trend=trend_charts(history),
        nights=len(history),
        trend_level=f"{history[-1].level * 100:.0f}%" if history else "",
    )
    return LeaderboardPage(html=html, board=board, drilldown=drill)


def render_leaderboard(
    results_dir: Path,
    out: Path,
    *,
    csv_out: Path | bool | None = None,
    json_out: Path | bool | None = None,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    history_file: Path | None = None,
) -> Path:
    """Write the leaderboard over every run under `results_dir` to `out`, and the
    aggregated table as CSV and JSON where asked (`True`: beside `out`, same stem).
    The nightly history (default `<results_dir>/nightly/history.jsonl`) adds the trend."""
    history = read_history(history_file or results_dir / HISTORY_FILE)
    page = build_leaderboard(
        load_results(results_dir), seed=seed, resamples=resamples, history=history
    )
    write_text_atomic(out, page.html)
    if csv_out:
        export_csv(page.board, out.with_suffix(".csv") if csv_out is True else Path(csv_out))
    if json_out:
        export_json(page.board, out.with_suffix(".json") if json_out is True else Path(json_out))
    return out
