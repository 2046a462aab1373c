"""Compare two runs (or two prompt versions, or two models): rows paired on task x
sample x database, McNemar's exact test on paired pass/fail, an exact sign test and
a paired bootstrap interval on the overall score, and the hidden tests and findings
that flipped each way; one plain verdict line.

A side is a run folder, a run id under the results folder, or a selector over every
run there: `prompt=fastapi-backend-engineer@v2`, `model=reference,prompt=...`,
`run=<run id>`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.core.errors import HarnessError
from harness.core.files import RESULTS_FILE
from harness.core.records import Finding
from harness.core.store import write_text_atomic
from harness.report.frame import FUNCTIONAL_GRADER, ResultSet, load_results, load_runs
from harness.report.html import render_page
from harness.report.stats import (
    DEFAULT_LEVEL,
    mcnemar_exact,
    percentile_interval,
    sign_test,
    stable_seed,
)

PAIR_KEY = ["task", "sample", "database"]
SELECTOR_KEYS = {"model": "model", "prompt": "prompt", "run": "run_id"}
DEFAULT_ALPHA = 0.05
PAIRED_RESAMPLES = 2000
EXAMPLES = 5


@dataclass(frozen=True)
class Side:
    label: str
    results: ResultSet
    description: str


def resolve_side(spec: str, results_dir: Path) -> Side:
    """A run folder, a run id under `results_dir`, or a `key=value,...` selector."""
    path = Path(spec)
    for folder in (path, results_dir / spec):
        if (folder / RESULTS_FILE).is_file():
            results = load_runs([folder], root=folder.parent)
            return Side(folder.name, results, _describe(results, f"run {folder.name}"))
    if "=" not in spec:
        raise HarnessError(
            f"{spec!r} is neither a run folder (no {RESULTS_FILE} in it or under "
            f"{results_dir}) nor a selector like prompt=agent@v2 or model=x,prompt=y"
        )
    everything = load_results(results_dir)
    mask = pd.Series(True, index=everything.frame.index)
    for part in spec.split(","):
        key, _, value = part.partition("=")
        column = SELECTOR_KEYS.get(key.strip())
        if column is None:
            known = ", ".join(SELECTOR_KEYS)
            raise HarnessError(f"unknown selector key {key.strip()!r} in {spec!r} (known: {known})")
        mask &= everything.frame[column] == value.strip()
    selected = everything.select(mask)
    if selected.empty:
        raise HarnessError(f"no rows under {results_dir} match {spec!r}")
    return Side(spec, selected, _describe(selected, spec))


def _describe(results: ResultSet, what: str) -> str:
    frame = results.frame
    models = ", ".join(sorted(str(m) for m in frame["model"].unique())) or "–"
    prompts = ", ".join(sorted(str(p) for p in frame["prompt"].unique())) or "–"
    runs = frame["run_id"].nunique()
    return f"{what}: model {models}, prompt {prompts}, {runs} run(s), {len(frame)} rows"


@dataclass(frozen=True)
class Flip:
    """A hidden test or a finding's check that changed between the sides."""

    name: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class ScoreShift:
    """How one paired score moved from A to B over the pairs where both sides have it:
    the means, the mean difference with its paired bootstrap interval, the mean absolute
    difference (how much single pairs move, whichever way), and the exact sign test."""

    metric: str
    pairs: int = 0
    mean_a: float = float("nan")
    mean_b: float = float("nan")
    difference: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    mean_absolute_difference: float = float("nan")
    ups: int = 0
    downs: int = 0
    ties: int = 0
    sign_p: float = 1.0


@dataclass
class Comparison:
    label_a: str
    label_b: str
    description_a: str
    description_b: str
    alpha: float
    level: float
    pairs: int = 0
    only_a: int = 0
    only_b: int = 0
    infra_excluded: int = 0
    duplicates: int = 0
    pass_pairs: int = 0
    both_pass: int = 0
    both_fail: int = 0
    regressed: int = 0
    improved: int = 0
    mcnemar_p: float = 1.0
    pass_rate_a: float = float("nan")
    pass_rate_b: float = float("nan")
    mean_a: float = float("nan")
    mean_b: float = float("nan")
    mean_difference: float = float("nan")
    difference_low: float = float("nan")
    difference_high: float = float("nan")
    ups: int = 0
    downs: int = 0
    ties: int = 0
    sign_p: float = 1.0
    regressed_rows: list[str] = field(default_factory=list)
    improved_rows: list[str] = field(default_factory=list)
    tests_broken: list[Flip] = field(default_factory=list)
    tests_fixed: list[Flip] = field(default_factory=list)
    findings_new: list[Flip] = field(default_factory=list)
    findings_gone: list[Flip] = field(default_factory=list)
    per_task: list[dict[str, Any]] = field(default_factory=list)
    # `overall` (the same numbers as the fields above) and every grader both sides ran.
    score_shifts: list[ScoreShift] = field(default_factory=list)
    verdict: str = ""
    direction: str = "none"

    @property
    def significant_regression(self) -> bool:
        """B is significantly worse than A (what a nightly check fails on)."""
        return self.direction == "worse"

    def as_json(self) -> dict[str, Any]:
        data = {key: value for key, value in vars(self).items() if not isinstance(value, list)}
        for name in ("regressed_rows", "improved_rows", "per_task"):
            data[name] = getattr(self, name)
        data["score_shifts"] = [vars(shift) for shift in self.score_shifts]
        for name in ("tests_broken", "tests_fixed", "findings_new", "findings_gone"):
            data[name] = [
                vars(flip) | {"examples": list(flip.examples)} for flip in getattr(self, name)
            ]
        cleaned: dict[str, Any] = _nan_to_none(data)
        return cleaned

    def shift(self, metric: str) -> ScoreShift | None:
        """The paired change of `overall` or of one grader's score, if both sides have it."""
        return next((s for s in self.score_shifts if s.metric == metric), None)


def _nan_to_none(value: Any) -> Any:
    """JSON has no NaN: a missing number is null, at any depth."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value


def _one_per_key(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per task x sample x database: the latest run's (run ids start with
    their UTC start time) when a selector spans several runs."""
    ordered = frame.sort_values("run_id", kind="stable")
    kept = ordered.drop_duplicates(PAIR_KEY, keep="last")
    return kept, len(frame) - len(kept)


def _where(row: pd.Series[Any]) -> str:
    return f"{row['task']} #{row['sample']} {row['database']}"


def _finding_keys(findings: list[Finding]) -> set[str]:
    """Checks found, except hidden tests (listed as tests) and graders not run."""
    return {
        f"{f.grader}/{f.check} ({f.severity})"
        for f in findings
        if f.grader != FUNCTIONAL_GRADER and f.check != "not-run"
    }


def _flips(found: dict[str, list[str]]) -> list[Flip]:
    return sorted(
        (Flip(name, len(where), tuple(where[:EXAMPLES])) for name, where in found.items()),
        key=lambda flip: (-flip.count, flip.name),
    )


def compare(a: Side, b: Side, *, alpha: float = DEFAULT_ALPHA, seed: int = 0) -> Comparison:
    result = Comparison(a.label, b.label, a.description, b.description, alpha, DEFAULT_LEVEL)
    left, dropped_a = _one_per_key(a.results.frame)
    right, dropped_b = _one_per_key(b.results.frame)
    result.duplicates = dropped_a + dropped_b
    merged = left.merge(right, on=PAIR_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    result.only_a = int((merged["_merge"] == "left_only").sum())
    result.only_b = int((merged["_merge"] == "right_only").sum())
    both = merged[merged["_merge"] == "both"]
    infra = both["infra_a"].astype(bool) | both["infra_b"].astype(bool)
    result.infra_excluded = int(infra.sum())
    paired = both[~infra].sort_values(PAIR_KEY).reset_index(drop=True)
    result.pairs = len(paired)
    _pass_fail(result, paired)
    _scores(result, paired, seed)
    graders = sorted(set(a.results.graders) & set(b.results.graders))
    for grader in graders:
        rng = np.random.default_rng(stable_seed(seed, "compare", a.label, b.label, grader))
        result.score_shifts.append(score_shift(paired, grader, rng, result.level))
    _flipped(result, paired)
    _per_task(result, paired)
    result.verdict, result.direction = verdict(result)
    return result


def _pass_fail(result: Comparison, paired: pd.DataFrame) -> None:
    defined = paired[paired["passed_a"].notna() & paired["passed_b"].notna()]
    result.pass_pairs = len(defined)
    if defined.empty:
        return
    pass_a = defined["passed_a"] == 1.0
    pass_b = defined["passed_b"] == 1.0
    result.both_pass = int((pass_a & pass_b).sum())
    result.both_fail = int((~pass_a & ~pass_b).sum())
    result.regressed = int((pass_a & ~pass_b).sum())
    result.improved = int((~pass_a & pass_b).sum())
    result.pass_rate_a = float(pass_a.mean())
    result.pass_rate_b = float(pass_b.mean())
    result.mcnemar_p = mcnemar_exact(result.regressed, result.improved)
    result.regressed_rows = [_where(row) for _, row in defined[pass_a & ~pass_b].iterrows()]
    result.improved_rows = [_where(row) for _, row in defined[~pass_a & pass_b].iterrows()]


def score_shift(
    paired: pd.DataFrame, metric: str, rng: np.random.Generator, level: float = DEFAULT_LEVEL
) -> ScoreShift:
    """The paired change of `score:<metric>` in a frame of pairs (`<column>_a`,
    `<column>_b`), with a bootstrap over samples (an answer's databases share its code)."""
    column_a, column_b = f"score:{metric}_a", f"score:{metric}_b"
    if column_a not in paired or column_b not in paired:
        return ScoreShift(metric)
    scored = paired[paired[column_a].notna() & paired[column_b].notna()]
    if scored.empty:
        return ScoreShift(metric)
    differences = (scored[column_b] - scored[column_a]).to_numpy(np.float64)
    ups, downs, ties, sign_p = sign_test(differences)
    clusters = scored.groupby(["task", "sample"], sort=True).ngroup().to_numpy()
    sums = np.bincount(clusters, weights=differences)
    counts = np.bincount(clusters).astype(np.float64)
    picks = rng.integers(0, len(sums), size=(PAIRED_RESAMPLES, len(sums)))
    replicates = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = percentile_interval(replicates, level)
    return ScoreShift(
        metric=metric,
        pairs=len(scored),
        mean_a=float(scored[column_a].mean()),
        mean_b=float(scored[column_b].mean()),
        difference=float(differences.mean()),
        low=low,
        high=high,
        mean_absolute_difference=float(np.abs(differences).mean()),
        ups=ups,
        downs=downs,
        ties=ties,
        sign_p=sign_p,
    )


def _scores(result: Comparison, paired: pd.DataFrame, seed: int) -> None:
    rng = np.random.default_rng(stable_seed(seed, "compare", result.label_a, result.label_b))
    shift = score_shift(paired, "overall", rng, result.level)
    result.score_shifts.append(shift)
    if not shift.pairs:
        return
    result.mean_a, result.mean_b, result.mean_difference = (
        shift.mean_a,
        shift.mean_b,
        shift.difference,
    )
    result.ups, result.downs, result.ties, result.sign_p = (
        shift.ups,
        shift.downs,
        shift.ties,
        shift.sign_p,
    )
    result.difference_low, result.difference_high = shift.low, shift.high


def _flipped(result: Comparison, paired: pd.DataFrame) -> None:
    broken: dict[str, list[str]] = defaultdict(list)
    fixed: dict[str, list[str]] = defaultdict(list)
    new: dict[str, list[str]] = defaultdict(list)
    gone: dict[str, list[str]] = defaultdict(list)
    for _, row in paired.iterrows():
        where = _where(row)
        failed_a, failed_b = row["failed_tests_a"], row["failed_tests_b"]
        # Per test only where both sides ran the hidden tests; an app that did not boot
        # shows up as a pass/fail flip and a boot finding instead.
        if isinstance(failed_a, list) and isinstance(failed_b, list):
            for name in sorted(set(failed_b) - set(failed_a)):
                broken[name].append(where)
            for name in sorted(set(failed_a) - set(failed_b)):
                fixed[name].append(where)
        keys_a, keys_b = _finding_keys(row["findings_a"]), _finding_keys(row["findings_b"])
        for name in sorted(keys_b - keys_a):
            new[name].append(where)
        for name in sorted(keys_a - keys_b):
            gone[name].append(where)
    result.tests_broken, result.tests_fixed = _flips(broken), _flips(fixed)
    result.findings_new, result.findings_gone = _flips(new), _flips(gone)


def _per_task(result: Comparison, paired: pd.DataFrame) -> None:
    for task, rows in paired.groupby("task", sort=True):
        defined = rows[rows["passed_a"].notna() & rows["passed_b"].notna()]
        pass_a, pass_b = defined["passed_a"] == 1.0, defined["passed_b"] == 1.0
        result.per_task.append(
            {
                "task": str(task),
                "pairs": len(rows),
                "pass_a": float(pass_a.mean()) if len(defined) else float("nan"),
                "pass_b": float(pass_b.mean()) if len(defined) else float("nan"),
                "regressed": int((pass_a & ~pass_b).sum()),
                "improved": int((~pass_a & pass_b).sum()),
                "mean_a": float(rows["score:overall_a"].mean()),
                "mean_b": float(rows["score:overall_b"].mean()),
            }
        )


def verdict(c: Comparison) -> tuple[str, str]:
    """One plain line, and its direction: better, worse, same, or none."""
    if c.pairs == 0:
        return (
            f"No verdict: {c.label_a} and {c.label_b} share no scored task x sample x database "
            f"(only in A: {c.only_a}, only in B: {c.only_b}, infra errors: {c.infra_excluded}).",
            "none",
        )
    rates = f"pass rate {c.pass_rate_a:.0%} → {c.pass_rate_b:.0%}"
    flips = f"{c.improved} fixed, {c.regressed} broken"
    scores = f"mean overall {c.mean_a:.3f} → {c.mean_b:.3f}"
    if c.pass_pairs and c.mcnemar_p < c.alpha:
        better = c.improved > c.regressed
        return (
            f"{c.label_b} is {'better' if better else 'worse'} than {c.label_a}: {rates} "
            f"({flips}; McNemar exact p = {c.mcnemar_p:.3g}, {c.pass_pairs} pairs).",
            "better" if better else "worse",
        )
    if c.sign_p < c.alpha:
        higher = c.ups > c.downs
        return (
            f"{c.label_b} scores {'higher' if higher else 'lower'} than {c.label_a}: {scores} "
            f"(sign test p = {c.sign_p:.3g}); pass/fail does not differ significantly "
            f"({rates}, McNemar exact p = {c.mcnemar_p:.3g}).",
            "better" if higher else "worse",
        )
    return (
        f"No significant difference between {c.label_a} and {c.label_b}: {rates} ({flips}; "
        f"McNemar exact p = {c.mcnemar_p:.3g}), {scores} (sign test p = {c.sign_p:.3g}), "
        f"{c.pairs} pairs.",
        "same",
    )


def _flip_lines(title: str, flips: list[Flip]) -> list[str]:
    if not flips:
        return [f"{title}: none"]
    lines = [f"{title}:"]
    for flip in flips:
        more = (
            f", +{flip.count - len(flip.examples)} more" if flip.count > len(flip.examples) else ""
        )
        lines.append(f"  {flip.count:4d}  {flip.name}  ({'; '.join(flip.examples)}{more})")
    return lines


def comparison_text(c: Comparison) -> str:
    level = f"{c.level:.0%}"
    lines = [
        f"A: {c.description_a}",
        f"B: {c.description_b}",
        "",
        c.verdict,
        "",
        f"pairs (task x sample x database, both scored): {c.pairs}"
        f"  [only in A: {c.only_a}, only in B: {c.only_b}, "
        f"left out for an infra error: {c.infra_excluded}, duplicates dropped: {c.duplicates}]",
        f"pass/fail: both pass {c.both_pass}, both fail {c.both_fail}, "
        f"broken (A pass, B fail) {c.regressed}, fixed (A fail, B pass) {c.improved}; "
        f"McNemar exact p = {c.mcnemar_p:.4g}",
        f"overall: A {c.mean_a:.3f}, B {c.mean_b:.3f}, difference {c.mean_difference:+.3f} "
        f"[{level} {c.difference_low:+.3f}, {c.difference_high:+.3f}]; "
        f"B higher {c.ups}, lower {c.downs}, equal {c.ties}; sign test p = {c.sign_p:.4g}",
        "",
        "per task:  pairs  pass A  pass B  broken  fixed  overall A  overall B",
    ]
    for t in c.per_task:
        lines.append(
            f"  {t['task']}: {t['pairs']:5d}  {t['pass_a']:6.0%}  {t['pass_b']:6.0%}  "
            f"{t['regressed']:6d}  {t['improved']:5d}  {t['mean_a']:9.3f}  {t['mean_b']:9.3f}"
        )
    lines.append("")
    lines += _flip_lines("hidden tests broken in B (passed in A)", c.tests_broken)
    lines += _flip_lines("hidden tests fixed in B (failed in A)", c.tests_fixed)
    lines += _flip_lines("findings new in B", c.findings_new)
    lines += _flip_lines("findings gone in B", c.findings_gone)
    return "\n".join(lines) + "\n"


def render_comparison(c: Comparison, out: Path) -> Path:
    write_text_atomic(out, render_page("compare.html.j2", c=c))
    return out


def compare_command(
    spec_a: str,
    spec_b: str,
    results_dir: Path,
    *,
    html_out: Path | None = None,
    json_out: Path | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """`harness compare`: resolve both sides, compare, write the pages asked for."""
    result = compare(
        resolve_side(spec_a, results_dir), resolve_side(spec_b, results_dir), alpha=alpha
    )
    if html_out is not None:
        render_comparison(result, html_out)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(result.as_json(), indent=2) + "\n")
    return result
