"""The regression decision, per task x metric, on the paired comparison of
`harness.report.compare`:

- `pass`: paired pass/fail, McNemar's exact test on the pairs that changed;
- `overall` and each grader's score: the exact sign test on the paired differences.

A check is a *regression* when the candidate is worse, the test is significant at
`alpha` (after the optional Holm correction over the evaluation's checks), the drop is
larger than the metric's threshold, and it is not explained by flakiness: re-grading
the baseline's own answers moved that metric on that task at least as much as the drop,
or (for `pass`) every hidden test the candidate broke also flipped on the baseline.
Rows with an infrastructure error are never paired, so they are never a regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from harness.nightly.config import METRICS, PASS_METRIC
from harness.nightly.flakes import FlakeReport
from harness.report.compare import Comparison, Side, compare

Status = Literal["regression", "flaky", "within-threshold", "improved", "unchanged", "no-data"]
# Statuses a summary lists first, in this order.
STATUS_ORDER: tuple[Status, ...] = (
    "regression",
    "flaky",
    "within-threshold",
    "improved",
    "unchanged",
    "no-data",
)
_EPSILON = 1e-9


@dataclass(frozen=True)
class MetricCheck:
    """One JUnit test case: one metric of one task, baseline against candidate."""

    task: str
    metric: str
    test: str  # "McNemar exact" or "sign test"
    pairs: int
    baseline: float
    candidate: float
    worse: int  # pairs that got worse (broken, or a lower score)
    better: int
    p_value: float
    p_adjusted: float
    threshold: float
    alpha: float
    status: Status
    broken_tests: tuple[str, ...] = ()
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.task}:{self.metric}"

    @property
    def change(self) -> float:
        return self.candidate - self.baseline

    @property
    def significant(self) -> bool:
        return self.pairs > 0 and self.p_adjusted < self.alpha

    def value_text(self, value: float) -> str:
        if value != value:  # NaN
            return "–"
        return f"{value:.0%}" if self.metric == PASS_METRIC else f"{value:.3f}"

    def describe(self) -> str:
        """One line: what moved, how much, how sure."""
        if not self.pairs:
            return f"{self.name}: no pairs to compare"
        worse, better = ("broken", "fixed") if self.metric == PASS_METRIC else ("lower", "higher")
        adjusted = ""
        if self.p_adjusted != self.p_value:
            adjusted = f", Holm-adjusted {self.p_adjusted:.3g}"
        line = (
            f"{self.name}: {self.value_text(self.baseline)} → {self.value_text(self.candidate)} "
            f"({self.worse} {worse}, {self.better} {better} of {self.pairs} pairs; {self.test} "
            f"p = {self.p_value:.3g}{adjusted}; threshold {self.threshold:g})"
        )
        if self.broken_tests:
            line += f"; hidden tests broken: {', '.join(self.broken_tests)}"
        return line + (f"; {self.note}" if self.note else "")


def task_side(side: Side, task: str) -> Side:
    frame = side.results.frame
    return Side(side.label, side.results.select(frame["task"] == task), side.description)


def compare_tasks(
    baseline: Side, candidate: Side, tasks: Sequence[str], *, alpha: float, seed: int
) -> dict[str, Comparison]:
    """The paired comparison of each task on its own."""
    return {
        task: compare(task_side(baseline, task), task_side(candidate, task), alpha=alpha, seed=seed)
        for task in tasks
    }


def _status(worse: int, better: int, drop: float, significant: bool, threshold: float) -> Status:
    if not significant or worse == better:
        return "unchanged"
    if better > worse:
        return "improved"
    return "regression" if drop > threshold + _EPSILON else "within-threshold"


def metric_check(
    task: str, metric: str, comparison: Comparison, threshold: float, alpha: float
) -> MetricCheck:
    if metric == PASS_METRIC:
        pairs, worse, better = comparison.pass_pairs, comparison.regressed, comparison.improved
        before, after, p_value, test = (
            comparison.pass_rate_a,
            comparison.pass_rate_b,
            comparison.mcnemar_p,
            "McNemar exact",
        )
        broken = tuple(flip.name for flip in comparison.tests_broken)
    else:
        shift = comparison.shift(metric)
        pairs = shift.pairs if shift else 0
        worse, better = (shift.downs, shift.ups) if shift else (0, 0)
        before = shift.mean_a if shift else float("nan")
        after = shift.mean_b if shift else float("nan")
        p_value, test = (shift.sign_p if shift else 1.0), "sign test"
        broken = ()
    if not pairs:
        status: Status = "no-data"
    else:
        status = _status(worse, better, before - after, p_value < alpha, threshold)
    return MetricCheck(
        task=task,
        metric=metric,
        test=test,
        pairs=pairs,
        baseline=before,
        candidate=after,
        worse=worse,
        better=better,
        p_value=p_value,
        p_adjusted=p_value,
        threshold=threshold,
        alpha=alpha,
        status=status,
        broken_tests=broken if status in ("regression", "within-threshold") else (),
    )


def check_metrics(
    comparisons: Mapping[str, Comparison],
    thresholds: Mapping[str, float],
    *,
    alpha: float,
    correction: str = "none",
) -> list[MetricCheck]:
    """Every task x metric: tasks in order, then pass, overall and the graders."""
    metrics = sorted(thresholds, key=METRICS.index)
    checks = [
        metric_check(task, metric, comparison, thresholds[metric], alpha)
        for task, comparison in comparisons.items()
        for metric in metrics
    ]
    return holm(checks) if correction == "holm" else checks


def holm(checks: Sequence[MetricCheck]) -> list[MetricCheck]:
    """Holm's step-down adjustment over the checks with pairs (family-wise error at
    alpha across every task x metric), statuses recomputed on the adjusted p."""
    tested = sorted((i for i, c in enumerate(checks) if c.pairs), key=lambda i: checks[i].p_value)
    adjusted = list(checks)
    running = 0.0
    for rank, index in enumerate(tested):
        check = checks[index]
        running = max(running, min(1.0, (len(tested) - rank) * check.p_value))
        status = _status(
            check.worse,
            check.better,
            check.baseline - check.candidate,
            running < check.alpha,
            check.threshold,
        )
        adjusted[index] = replace(
            check,
            p_adjusted=running,
            status=status,
            broken_tests=check.broken_tests if status != "unchanged" else (),
        )
    return adjusted


def suspect_tasks(checks: Sequence[MetricCheck]) -> list[str]:
    """Tasks with a regression to confirm against the baseline's own flakiness."""
    return sorted({check.task for check in checks if check.status == "regression"})


def apply_flakes(checks: Sequence[MetricCheck], flakes: FlakeReport) -> list[MetricCheck]:
    """Regressions the baseline itself reproduces when re-graded become `flaky`."""
    if not flakes.ran:
        return list(checks)
    result = []
    for check in checks:
        if check.status != "regression":
            result.append(check)
            continue
        drop = check.baseline - check.candidate
        drift = flakes.drift(check.task, check.metric)
        flaky_tests = flakes.flaky_tests(check.task)
        explained_by_tests = (
            check.metric == PASS_METRIC
            and bool(flaky_tests)
            and set(check.broken_tests) <= flaky_tests
        )
        if drift > 0 and (drift + _EPSILON >= drop or explained_by_tests):
            flipped = ", ".join(sorted(flaky_tests)) or "no hidden test (boot or scores)"
            note = (
                f"flaky: re-grading the baseline's own answers moved {check.metric} by "
                f"{drift:.3g} per pair (flipped: {flipped})"
            )
            check = replace(check, status="flaky", note=note)
        result.append(check)
    return result
