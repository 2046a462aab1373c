"""What a nightly run found, and the exit code it makes.

- 0: no regression (differences that are not significant, within the threshold, flaky,
  or improvements; a first run that blessed itself as the baseline);
- 1: a regression: significant, larger than its threshold, not flaky;
- 2: the nightly could not start (nightly.yaml invalid, a baseline missing, a model's
  key missing): raised as `HarnessError`, printed by the CLI;
- 3: an infrastructure failure: an evaluation failed or stopped, or too many rows are
  infrastructure errors. It wins over 1: a night that could not measure says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.nightly.baseline import BaselineRecord
from harness.nightly.config import EvalCell
from harness.nightly.flakes import FlakeReport
from harness.nightly.regression import MetricCheck
from harness.report.compare import Comparison
from harness.report.trend import EvalRecord, HistoryEntry, MetricPoint

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_INFRA = 3

EvalStatus = Literal["ok", "regression", "infra", "blessed"]
NightlyStatus = Literal["ok", "regression", "infrastructure failure"]


@dataclass
class EvalOutcome:
    """One model x prompt version of the night."""

    cell: EvalCell
    run_id: str
    run_dir: Path | None = None
    status: EvalStatus = "ok"
    infra: str | None = None  # why this evaluation is an infrastructure failure
    expected_rows: int = 0
    rows: int = 0
    infra_errors: int = 0  # rows with an infra error, and rows missing
    baseline: BaselineRecord | None = None
    comparison: Comparison | None = None
    task_comparisons: dict[str, Comparison] = field(default_factory=dict)
    checks: list[MetricCheck] = field(default_factory=list)
    flakes: FlakeReport | None = None
    metrics: dict[str, MetricPoint] = field(default_factory=dict)
    blessed: BaselineRecord | None = None
    compare_page: str | None = None  # file name beside the summary
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricCheck]:
        return [check for check in self.checks if check.status == "regression"]

    @property
    def flaky(self) -> list[MetricCheck]:
        return [check for check in self.checks if check.status == "flaky"]

    def settle(self) -> None:
        """The status, from what was found (infra first)."""
        if self.infra is not None:
            self.status = "infra"
        elif self.regressions:
            self.status = "regression"
        elif self.baseline is None and self.blessed is not None:
            self.status = "blessed"
        else:
            self.status = "ok"

    def record(self) -> EvalRecord:
        return EvalRecord(
            name=self.cell.name,
            model=self.cell.model,
            prompt=self.cell.prompt,
            run_id=self.run_id if self.run_dir is not None else None,
            baseline_run_id=self.baseline.run_id if self.baseline else None,
            status=self.status,
            rows=self.rows,
            infra_errors=self.infra_errors,
            metrics=self.metrics,
            regressions=[check.name for check in self.regressions],
            flaky=[check.name for check in self.flaky],
        )


@dataclass
class NightlyOutcome:
    nightly_id: str
    started_at: str
    config_path: Path | None
    output_dir: Path
    history_path: Path
    alpha: float
    correction: str
    finished_at: str = ""
    level: float = 0.95
    git_commit: str | None = None
    evals: list[EvalOutcome] = field(default_factory=list)
    leaderboard: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if any(e.status == "infra" for e in self.evals):
            return EXIT_INFRA
        if any(e.status == "regression" for e in self.evals):
            return EXIT_REGRESSION
        return EXIT_OK

    @property
    def status(self) -> NightlyStatus:
        code = self.exit_code
        if code == EXIT_INFRA:
            return "infrastructure failure"
        return "regression" if code == EXIT_REGRESSION else "ok"

    def headline(self) -> str:
        regressions = [c for e in self.evals for c in e.regressions]
        flaky = [c for e in self.evals for c in e.flaky]
        if self.exit_code == EXIT_INFRA:
            broken = [e for e in self.evals if e.status == "infra"]
            return "Infrastructure failure: " + "; ".join(
                f"{e.cell.name}: {e.infra}" for e in broken
            )
        if regressions:
            names = ", ".join(c.name for c in regressions)
            return f"Regression: {len(regressions)} significant drop(s) over threshold: {names}"
        extra = f" ({len(flaky)} flaky check(s) not counted)" if flaky else ""
        return f"No regression{extra}."

    def history_entry(self) -> HistoryEntry:
        return HistoryEntry(
            nightly_id=self.nightly_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            exit_code=self.exit_code,
            status=self.status,
            config=str(self.config_path) if self.config_path else "",
            git_commit=self.git_commit,
            level=self.level,
            evals=[e.record() for e in self.evals],
        )

    def as_json(self) -> dict[str, Any]:
        """nightly.json: everything the summaries show, machine-readable."""
        data: dict[str, Any] = _clean(
            {
                "nightly_id": self.nightly_id,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "exit_code": self.exit_code,
                "status": self.status,
                "headline": self.headline(),
                "config": str(self.config_path) if self.config_path else None,
                "alpha": self.alpha,
                "correction": self.correction,
                "git_commit": self.git_commit,
                "leaderboard": str(self.leaderboard) if self.leaderboard else None,
                "evals": [_eval_json(e) for e in self.evals],
            }
        )
        return data


def _eval_json(e: EvalOutcome) -> dict[str, Any]:
    flakes = e.flakes
    return {
        "name": e.cell.name,
        "model": e.cell.model,
        "prompt": e.cell.prompt,
        "status": e.status,
        "run_id": e.run_id,
        "run_dir": str(e.run_dir) if e.run_dir else None,
        "infra": e.infra,
        "expected_rows": e.expected_rows,
        "rows": e.rows,
        "infra_errors": e.infra_errors,
        "baseline": e.baseline.model_dump(mode="json") if e.baseline else None,
        "blessed": e.blessed.run_id if e.blessed else None,
        "verdict": e.comparison.verdict if e.comparison else None,
        "checks": [
            {
                "name": c.name,
                "task": c.task,
                "metric": c.metric,
                "status": c.status,
                "test": c.test,
                "pairs": c.pairs,
                "baseline": c.baseline,
                "candidate": c.candidate,
                "change": c.change,
                "worse": c.worse,
                "better": c.better,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "threshold": c.threshold,
                "broken_tests": list(c.broken_tests),
                "note": c.note,
            }
            for c in e.checks
        ],
        "flake_check": None
        if flakes is None
        else {
            "ran": flakes.ran,
            "samples": flakes.samples,
            "error": flakes.error,
            "folder": str(flakes.folder) if flakes.folder else None,
            "graders_changed": flakes.graders_changed,
            "tasks": {
                task: {
                    "pairs": found.pairs,
                    "pass_flips": found.pass_flips,
                    "drift": found.drift,
                    "tests": [flip.name for flip in found.tests],
                }
                for task, found in flakes.tasks.items()
            },
        },
        "metrics": {name: point.model_dump() for name, point in e.metrics.items()},
        "notes": e.notes,
    }


def _clean(value: Any) -> Any:
    """JSON without NaN: a missing number is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value
