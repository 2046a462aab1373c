"""`harness nightly`: evaluate every model x prompt version of nightly.yaml, compare each
with its blessed baseline per task (paired), confirm drops against the baseline's own
flakiness, write the summaries and the JUnit file, append the history, and decide the
exit code (`outcome`).

Everything that can be checked before spending an evaluation is checked first (the
file, every model and prompt, every baseline), so a mistake exits 2 at once instead of
after an hour of grading.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.files import RESULTS_FILE
from harness.core.store import RunStore
from harness.grading.pipeline import DEFAULT_GRADERS, grader_versions
from harness.nightly.baseline import BaselineRecord, BaselineStore
from harness.nightly.config import EvalCell, NightlyConfig
from harness.nightly.flakes import check_flakes
from harness.nightly.history import append_history
from harness.nightly.outcome import EvalOutcome, NightlyOutcome
from harness.nightly.regression import (
    apply_flakes,
    check_metrics,
    compare_tasks,
    suspect_tasks,
)
from harness.nightly.summary import write_summaries
from harness.report.aggregate import aggregate_results
from harness.report.compare import Side, compare, render_comparison
from harness.report.frame import ResultSet, load_runs
from harness.report.leaderboard import render_leaderboard
from harness.report.stats import DEFAULT_LEVEL
from harness.report.trend import MetricPoint
from harness.run.engine import EvalRun
from harness.run.run_info import git_commit

TREND_KINDS = ("overall", "pass", "secure", "grader")


def log(message: str) -> None:
    print(f"harness nightly: {message}", file=sys.stderr, flush=True)


def make_nightly_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:4]}"


@dataclass
class _Planned:
    cell: EvalCell
    run: EvalRun
    baseline: BaselineRecord | None


def _plan(
    config: NightlyConfig, nightly_id: str, store: BaselineStore, bless: bool
) -> list[_Planned]:
    """Construct every evaluation (which resolves models, prompts, tasks and keys) and
    find every baseline, raising before anything runs."""
    where = str(config.source) if config.source else "nightly config"
    planned = []
    for cell in config.cells():
        run_id = f"{nightly_id}-nightly-{cell.name}"[:120]
        try:
            run = EvalRun(config.eval_config(cell, run_id))
        except HarnessError as exc:
            message = f"{where}: {cell.field} ({cell.model}, {cell.prompt}): {exc}"
            raise HarnessError(message) from exc
        baseline = store.get(cell.name)
        if baseline is not None and not (store.snapshot_path(baseline) / RESULTS_FILE).is_file():
            raise HarnessError(
                f"baseline {cell.name!r}: its snapshot {store.snapshot_path(baseline)} is "
                "missing: bless a run again with `harness baseline set`"
            )
        planned.append(_Planned(cell, run, baseline))
    missing = [p.cell.name for p in planned if p.baseline is None]
    if missing and config.missing_baseline == "fail" and not bless:
        raise HarnessError(
            f"no baseline for {', '.join(missing)} in {store.root}: bless a run with "
            f"`harness baseline set results/<run_id>` (or `--name NAME`), run "
            f"`harness nightly --bless` once, or set `missing_baseline: bless` in {where}"
        )
    return planned


def run_nightly(config: NightlyConfig, *, bless: bool = False) -> NightlyOutcome:
    """The whole nightly; the outcome's `exit_code` is what the CLI returns."""
    nightly_id = make_nightly_id()
    store = BaselineStore(config.baseline_path)
    planned = _plan(config, nightly_id, store, bless)
    outcome = NightlyOutcome(
        nightly_id=nightly_id,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_path=config.source,
        output_dir=config.output_path / nightly_id,
        history_path=config.history_path,
        alpha=config.alpha,
        correction=config.correction,
        git_commit=git_commit(),
        level=DEFAULT_LEVEL,
    )
    for item in planned:
        log(f"{item.cell.name}: evaluating (run {item.run.run_id})")
        result = _evaluate(config, item, store, outcome.output_dir, bless)
        result.settle()
        log(f"{item.cell.name}: {result.status}")
        outcome.evals.append(result)
    outcome.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    append_history(config.history_path, outcome.history_entry())
    if config.leaderboard:
        try:
            outcome.leaderboard = render_leaderboard(
                config.results_path,
                config.results_path / "leaderboard.html",
                history_file=config.history_path,
            )
        except Exception as exc:  # the page is a convenience; the verdict stands without it
            log(f"the leaderboard could not be written: {exc}")
    write_summaries(outcome, config)
    log(f"{outcome.headline()} Summary: {outcome.files.get('markdown')}")
    return outcome


def _evaluate(
    config: NightlyConfig, item: _Planned, store: BaselineStore, out: Path, bless: bool
) -> EvalOutcome:
    result = EvalOutcome(cell=item.cell, run_id=item.run.run_id, baseline=item.baseline)
    tasks = [task.id for task in item.run.tasks]
    result.expected_rows = len(tasks) * config.samples * len(config.databases)
    try:
        run_dir = item.run.execute()
    except Exception as exc:  # the harness or its infrastructure failed, not the model
        traceback.print_exc()
        result.infra = f"the evaluation failed: {exc.__class__.__name__}: {exc}"
        return result
    result.run_dir = run_dir
    status = RunStore(run_dir).read_run_record().status
    candidate = load_runs([run_dir], root=config.results_path)
    frame = candidate.frame
    result.rows = len(frame)
    result.infra_errors = int(frame["infra"].astype(bool).sum()) + max(
        0, result.expected_rows - result.rows
    )
    result.metrics = _metrics(candidate, config.seeds.bootstrap)
    if status != "complete":
        result.infra = f"the evaluation did not complete ({status})"
    elif result.expected_rows and (
        result.infra_errors / result.expected_rows > config.max_infra_error_rate
    ):
        result.infra = (
            f"{result.infra_errors} of {result.expected_rows} rows are infrastructure errors "
            f"(more than max_infra_error_rate {config.max_infra_error_rate:.0%})"
        )
    if result.infra_errors:
        result.notes.append(
            f"{result.infra_errors} row(s) with an infrastructure error (or missing) are left "
            "out of every comparison: never a regression"
        )
    try:
        if item.baseline is not None:
            _compare(config, item.baseline, store, candidate, tasks, result, out)
        if result.infra is None and (bless or item.baseline is None):
            result.blessed = store.bless(run_dir, item.cell.name)
            what = "the new baseline" if item.baseline else "the baseline (there was none)"
            result.notes.append(f"run {result.run_id} blessed as {what} {item.cell.name!r}")
    except Exception as exc:  # the run is kept; the night could not be judged
        traceback.print_exc()
        result.infra = f"comparing with the baseline failed: {exc.__class__.__name__}: {exc}"
    return result


def _compare(
    config: NightlyConfig,
    record: BaselineRecord,
    store: BaselineStore,
    candidate_rows: ResultSet,
    tasks: list[str],
    result: EvalOutcome,
    out: Path,
) -> None:
    """The paired comparison with the baseline, per task and metric, flake-checked."""
    everything = store.side(record)
    frame = everything.results.frame
    wanted = frame["task"].isin(tasks) & frame["database"].isin(
        [str(kind) for kind in config.databases]
    )
    baseline = Side(everything.label, everything.results.select(wanted), everything.description)
    candidate = Side(
        f"nightly {result.run_id}",
        candidate_rows,
        f"tonight: run {result.run_id}, model {result.cell.model}, prompt {result.cell.prompt}, "
        f"{len(candidate_rows.frame)} rows",
    )
    seed = config.seeds.bootstrap
    result.comparison = compare(baseline, candidate, alpha=config.alpha, seed=seed)
    page = f"compare-{result.cell.name}.html"
    render_comparison(result.comparison, out / page)
    result.compare_page = page
    comparisons = compare_tasks(baseline, candidate, tasks, alpha=config.alpha, seed=seed)
    result.task_comparisons = comparisons
    checks = check_metrics(
        comparisons, config.thresholds, alpha=config.alpha, correction=config.correction
    )
    suspects = suspect_tasks(checks)
    if suspects and result.infra is None and config.flake_check.enabled:
        log(f"{result.cell.name}: re-grading the baseline's answers of {', '.join(suspects)}")
        result.flakes = check_flakes(
            store,
            record,
            baseline,
            suspects,
            config.flake_check.max_samples,
            out / "flake-check" / result.cell.name,
            current_graders=dict(grader_versions(DEFAULT_GRADERS)),
            seed=seed,
        )
        if result.flakes.error:
            result.notes.append(
                f"the flake check failed ({result.flakes.error}): drops stand as measured"
            )
        if result.flakes.graders_changed:
            result.notes.append(
                "graders changed since the baseline was blessed ("
                + ", ".join(result.flakes.graders_changed)
                + "): a re-graded baseline may differ for that reason, not only flakiness"
            )
        checks = apply_flakes(checks, result.flakes)
    result.checks = checks


def _metrics(results: ResultSet, seed: int) -> dict[str, MetricPoint]:
    """Tonight's estimates with their bootstrap intervals, as the leaderboard has them."""
    if results.empty:
        return {}
    board = aggregate_results(results, seed=seed, ks=(1,), level=DEFAULT_LEVEL)
    if board.table.empty:
        return {}
    row = board.table.iloc[0]
    points = {}
    for metric in board.metrics:
        if metric.kind not in TREND_KINDS:
            continue
        value = _number(row.get(metric.key))
        if value is None:
            continue
        points[metric.key] = MetricPoint(
            value=value,
            low=_number(row.get(f"{metric.key}_low")),
            high=_number(row.get(f"{metric.key}_high")),
        )
    return points


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return None if math.isnan(number) else number
