"""Reports over stored results: the HTML leaderboard, the comparison of two runs, and
CSV/JSON exports of the aggregated table.

- `frame`: every run's rows as one pandas frame (`load_results`, `load_runs`).
- `stats`: pass@k, bootstrap intervals, McNemar's exact and sign tests.
- `aggregate`: the leaderboard table, one row per (model, prompt version).
- `drilldown`: per-sample artifacts for the page, within a size budget.
- `leaderboard`, `compare`: the two pages; `html`: safe rendering; `export`: files.
- `trend`: the nightly history's records and the leaderboard's trend charts.
"""

from harness.report.aggregate import Leaderboard, Metric, aggregate_results
from harness.report.compare import (
    Comparison,
    ScoreShift,
    Side,
    compare,
    compare_command,
    comparison_text,
    render_comparison,
    resolve_side,
)
from harness.report.drilldown import DrilldownLimits
from harness.report.export import export_csv, export_json, leaderboard_json
from harness.report.frame import ResultSet, load_results, load_runs
from harness.report.leaderboard import LeaderboardPage, build_leaderboard, render_leaderboard
from harness.report.stats import mcnemar_exact, pass_at_k, sign_test
from harness.report.trend import EvalRecord, HistoryEntry, MetricPoint, read_history

__all__ = [
    "Comparison",
    "DrilldownLimits",
    "EvalRecord",
    "HistoryEntry",
    "Leaderboard",
    "LeaderboardPage",
    "Metric",
    "MetricPoint",
    "ResultSet",
    "ScoreShift",
    "Side",
    "aggregate_results",
    "build_leaderboard",
    "compare",
    "compare_command",
    "comparison_text",
    "export_csv",
    "export_json",
    "leaderboard_json",
    "load_results",
    "load_runs",
    "mcnemar_exact",
    "pass_at_k",
    "read_history",
    "render_comparison",
    "render_leaderboard",
    "resolve_side",
    "sign_test",
]
