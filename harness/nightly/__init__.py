"""Nightly regression runs: `harness nightly` evaluates what nightly.yaml names,
compares each evaluation with its blessed baseline (paired, per task and metric, with
the comparison of `harness.report.compare`), tells regressions from flakiness and
infrastructure failures, writes Markdown, HTML and JUnit summaries, and appends the
history the leaderboard draws its trend from.

- `config`: the nightly.yaml schema (`NightlyConfig`, `load_config`).
- `baseline`: blessed baselines (`BaselineStore`, `BaselineRecord`).
- `regression`: the decision per task x metric (`MetricCheck`, `check_metrics`).
- `flakes`: re-grading the baseline's own answers (`check_flakes`, `FlakeReport`).
- `run`, `outcome`: the nightly itself and its exit code (`run_nightly`, `EXIT_*`).
- `summary`, `history`: what it writes (`write_summaries`, `append_history`).
- `cli`: the `nightly` and `baseline` subcommands of `harness`.
"""

from harness.nightly.baseline import BaselineRecord, BaselineStore
from harness.nightly.config import EvalCell, NightlyConfig, load_config
from harness.nightly.flakes import FlakeReport, check_flakes
from harness.nightly.history import append_history, read_history
from harness.nightly.outcome import (
    EXIT_INFRA,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_USAGE,
    EvalOutcome,
    NightlyOutcome,
)
from harness.nightly.regression import MetricCheck, check_metrics
from harness.nightly.run import run_nightly
from harness.nightly.summary import junit_xml, markdown_summary, write_summaries

__all__ = [
    "EXIT_INFRA",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "BaselineRecord",
    "BaselineStore",
    "EvalCell",
    "EvalOutcome",
    "FlakeReport",
    "MetricCheck",
    "NightlyConfig",
    "NightlyOutcome",
    "append_history",
    "check_flakes",
    "check_metrics",
    "junit_xml",
    "load_config",
    "markdown_summary",
    "read_history",
    "run_nightly",
    "write_summaries",
]
