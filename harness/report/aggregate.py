"""The leaderboard table: one row per (model, prompt version), with every score, pass@k
and "correct and secure"@k, a bootstrap confidence interval on each, usage, and the
infrastructure errors counted apart.

How each number is made (the page and the exports say the same):

- A *cell* is one task on one database. Rows with an infrastructure error are never
  scored. A cell's score is the mean over its scored rows.
- `overall` and each grader's column are the mean over the group's cells, so a task
  with more samples does not weigh more; `task:<id>` averages that task's databases,
  `db:<kind>` that database's tasks.
- `pass@k` is Chen et al.'s unbiased estimator computed per cell from its n scored
  samples and c passing ones, then averaged over cells; it is undefined (NaN) when a
  scored cell has fewer than k samples. `secure@k` is the same on "correct and secure".
- Intervals: a percentile bootstrap that resamples samples (one generated answer with
  all its databases, since they share the code) within each task, seeded per group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from harness.report.frame import SAMPLE_KEY, ResultSet
from harness.report.stats import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    FloatArray,
    nan_mean,
    pass_at_k_array,
    percentile_interval,
    stable_seed,
)

DEFAULT_KS = (1, 2, 5, 10)
GROUP_KEY = ["model", "prompt"]
MetricKind = Literal["overall", "grader", "pass", "secure", "task", "database"]


@dataclass(frozen=True)
class Metric:
    """A scored column of the table; `<key>_low` and `<key>_high` hold its interval."""

    key: str
    label: str
    kind: MetricKind


@dataclass(frozen=True)
class Leaderboard:
    table: pd.DataFrame
    cells: pd.DataFrame
    metrics: tuple[Metric, ...]
    graders: tuple[str, ...]
    tasks: tuple[str, ...]
    databases: tuple[str, ...]
    ks: tuple[int, ...]
    resamples: int
    seed: int
    level: float
    rows: int = 0
    infra_errors: int = 0

    def shown_metrics(self, *kinds: MetricKind) -> list[Metric]:
        """Metrics of these kinds with at least one value (pass@10 on 3 samples is not)."""
        return [
            m
            for m in self.metrics
            if m.kind in kinds and m.key in self.table and self.table[m.key].notna().any()
        ]


def metrics_for(
    graders: Sequence[str], tasks: Sequence[str], databases: Sequence[str], ks: Sequence[int]
) -> tuple[Metric, ...]:
    return (
        Metric("overall", "overall", "overall"),
        *(Metric(f"pass@{k}", f"pass@{k}", "pass") for k in ks),
        *(Metric(f"secure@{k}", f"secure@{k}", "secure") for k in ks),
        *(Metric(g, g, "grader") for g in graders),
        *(Metric(f"task:{t}", t, "task") for t in tasks),
        *(Metric(f"db:{d}", d, "database") for d in databases),
    )


def aggregate_results(
    results: ResultSet,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> Leaderboard:
    frame = by_engine(results.frame)
    tasks = tuple(sorted(frame["task"].unique())) if len(frame) else ()
    databases = tuple(sorted(frame["database"].unique())) if len(frame) else ()
    metrics = metrics_for(results.graders, tasks, databases, ks)
    layout = _Layout(tasks, databases, results.graders, tuple(ks))
    per_group = pd.concat([count_table(frame), usage_table(frame)], axis=1)
    summary = cast(dict[tuple[str, str], dict[str, float]], per_group.to_dict("index"))
    records: list[dict[str, Any]] = []
    for (model, prompt), group in with_clusters(frame).groupby(GROUP_KEY, sort=True):
        record: dict[str, Any] = {"model": model, "prompt": prompt}
        record.update(summary[(str(model), str(prompt))])
        rng = np.random.default_rng(stable_seed(seed, model, prompt))
        scored = group[~group["infra"].astype(bool)]
        record.update(_estimates(scored, layout, resamples, rng, level))
        records.append(record)
    table = pd.DataFrame.from_records(records, columns=_table_columns(metrics))
    if len(table):
        table = table.sort_values(
            ["overall", "model", "prompt"], ascending=[False, True, True], na_position="last"
        ).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return Leaderboard(
        table=table,
        cells=cell_table(results, ks),
        metrics=metrics,
        graders=results.graders,
        tasks=tasks,
        databases=databases,
        ks=tuple(ks),
        resamples=resamples,
        seed=seed,
        level=level,
        rows=len(frame),
        infra_errors=int(frame["infra"].astype(bool).sum()) if len(frame) else 0,
    )


COUNT_COLUMNS = ["runs", "samples", "rows", "scored", "infra_errors"]
USAGE_OUT = [
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "cost_total_usd",
    "costed_samples",
    "gen_seconds",
    "grade_seconds",
    "wall_seconds",
]


def _table_columns(metrics: Sequence[Metric]) -> list[str]:
    scored = [name for m in metrics for name in (m.key, f"{m.key}_low", f"{m.key}_high")]
    return [*GROUP_KEY, *COUNT_COLUMNS, *scored, *USAGE_OUT]


def count_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, prompt): runs, generated samples, rows, scored rows, infra errors."""
    counts = frame.groupby(GROUP_KEY, sort=False).agg(
        runs=("run_id", "nunique"), rows=("task", "size"), infra_errors=("infra", "sum")
    )
    samples = frame.drop_duplicates([*GROUP_KEY, *SAMPLE_KEY]).groupby(GROUP_KEY, sort=False)
    counts["samples"] = samples.size()
    counts["infra_errors"] = counts["infra_errors"].astype(int)
    counts["scored"] = counts["rows"] - counts["infra_errors"]
    return counts[COUNT_COLUMNS]


def usage_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, prompt), means per generated sample (not per database row) of tokens,
    cost and time; cost only over the samples that have one."""
    per_sample = frame.groupby([*GROUP_KEY, *SAMPLE_KEY], sort=False).agg(
        input_tokens=("input_tokens", "first"),
        output_tokens=("output_tokens", "first"),
        cached_tokens=("cached_tokens", "first"),
        cost_usd=("cost_usd", "first"),
        gen_seconds=("gen_seconds", "first"),
        grade_seconds=("grade_seconds", "sum"),
        graded=("grade_seconds", "count"),
    )
    per_sample["grade_seconds"] = per_sample["grade_seconds"].where(per_sample["graded"] > 0)
    per_sample["wall_seconds"] = per_sample[["gen_seconds", "grade_seconds"]].sum(
        axis=1, min_count=1
    )
    groups = per_sample.groupby(level=[0, 1], sort=False)
    table = groups[
        ["input_tokens", "output_tokens", "cached_tokens", "cost_usd", "gen_seconds"]
        + ["grade_seconds", "wall_seconds"]
    ].mean()
    table["cost_total_usd"] = groups["cost_usd"].sum(min_count=1)
    table["costed_samples"] = groups["cost_usd"].count().astype(np.float64)
    return table[USAGE_OUT]


@dataclass(frozen=True)
class _Layout:
    """Axes of the (replicate, task, database, value) arrays the estimates are made on."""

    tasks: tuple[str, ...]
    databases: tuple[str, ...]
    graders: tuple[str, ...]
    ks: tuple[int, ...]

    @property
    def values(self) -> list[str]:
        return ["overall", *self.graders, "passed", "secure"]

    def columns(self) -> list[str]:
        return [f"score:{name}" for name in ("overall", *self.graders)] + ["passed", "secure"]


def with_clusters(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `cluster`: the sample a row belongs to (one answer, on all its databases),
    numbered from 0 within each (model, prompt, task) in (run, sample) order. A row
    stored twice (which the store's compaction prevents) stays a row of its own."""
    repeat = frame.groupby([*GROUP_KEY, "run_id", "task", "sample", "database"]).cumcount()
    keyed = frame.assign(repeat=repeat)
    cluster = keyed.groupby([*GROUP_KEY, "task", "run_id", "sample", "repeat"]).ngroup()
    first = cluster.groupby([keyed[c] for c in (*GROUP_KEY, "task")]).transform("min")
    return keyed.assign(cluster=(cluster - first).to_numpy())


def sample_arrays(scored: pd.DataFrame, layout: _Layout) -> list[FloatArray | None]:
    """Per task, a (samples, databases, values) array, NaN where nothing was scored;
    None for a task the group has no scored row of."""
    arrays: list[FloatArray | None] = []
    task_codes = scored["task"].map({name: i for i, name in enumerate(layout.tasks)})
    tasks = task_codes.to_numpy(np.int64)
    databases = scored["database"].map({n: i for i, n in enumerate(layout.databases)})
    db_codes = databases.to_numpy(np.int64)
    clusters = scored["cluster"].to_numpy(np.int64)
    values = scored[layout.columns()].to_numpy(np.float64)
    for t in range(len(layout.tasks)):
        mine = tasks == t
        if not mine.any():
            arrays.append(None)
            continue
        # Renumber so a sample whose every row had an infra error leaves no gap.
        _, samples = np.unique(clusters[mine], return_inverse=True)
        array = np.full(
            (int(samples.max()) + 1, len(layout.databases), values.shape[1]), np.nan, np.float64
        )
        array[samples, db_codes[mine], :] = values[mine]
        arrays.append(array)
    return arrays


def _statistics(
    arrays: list[FloatArray | None], picks: list[Any], layout: _Layout, replicates: int
) -> dict[str, FloatArray]:
    """Every metric for each replicate; `picks[t]` is a (replicates, samples) index
    array into task t's samples (the identity for the point estimate)."""
    shape = (replicates, len(layout.tasks), len(layout.databases), len(layout.values))
    sums = np.zeros(shape)
    counts = np.zeros(shape)
    for t, (array, pick) in enumerate(zip(arrays, picks, strict=True)):
        if array is None:
            continue
        samples = array.shape[0]
        # How often each sample was drawn in each replicate; then sums and counts over
        # the drawn samples are one matrix product each.
        offsets = np.arange(pick.shape[0])[:, np.newaxis] * samples
        weights = np.bincount((pick + offsets).ravel(), minlength=pick.shape[0] * samples)
        weights = weights.reshape(pick.shape[0], samples).astype(np.float64)
        present = ~np.isnan(array)
        flat = (samples, -1)
        cells = (pick.shape[0], *shape[2:])
        # einsum without `optimize` stays off BLAS, whose threads cost more than they
        # save on matrices this small (and badly so on a busy machine).
        values = np.where(present, array, 0.0).reshape(flat)
        sums[:, t] = np.einsum("rs,sv->rv", weights, values).reshape(cells)
        counts[:, t] = np.einsum("rs,sv->rv", weights, present.reshape(flat)).reshape(cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    out: dict[str, FloatArray] = {}
    for v, name in enumerate(("overall", *layout.graders)):
        out[name] = nan_mean(means[..., v], axis=(1, 2))
    for t, task in enumerate(layout.tasks):
        out[f"task:{task}"] = nan_mean(means[:, t, :, 0], axis=1)
    for d, database in enumerate(layout.databases):
        out[f"db:{database}"] = nan_mean(means[:, :, d, 0], axis=1)
    passed, secure = len(layout.values) - 2, len(layout.values) - 1
    for k in layout.ks:
        out[f"pass@{k}"] = _mean_pass_at_k(counts[..., passed], sums[..., passed], k)
        out[f"secure@{k}"] = _mean_pass_at_k(counts[..., secure], sums[..., secure], k)
    return out


def _mean_pass_at_k(n: FloatArray, c: FloatArray, k: int) -> FloatArray:
    """Mean of per-cell pass@k over the cells with scored samples; NaN for a replicate
    in which one of them has fewer than k."""
    scored = n > 0
    per_cell = pass_at_k_array(n, c, k)
    short = (scored & (n < k)).any(axis=(1, 2))
    mean = nan_mean(np.where(scored, per_cell, np.nan), axis=(1, 2))
    result: FloatArray = np.where(short, np.nan, mean)
    return result


def _estimates(
    scored: pd.DataFrame,
    layout: _Layout,
    resamples: int,
    rng: np.random.Generator,
    level: float,
) -> dict[str, float]:
    arrays = sample_arrays(scored, layout)
    identity = [None if a is None else np.arange(len(a))[np.newaxis, :] for a in arrays]
    point = _statistics(arrays, identity, layout, 1)
    # One draw per task with samples, in task order: tests reproduce it independently.
    draws = [
        None if a is None else rng.integers(0, len(a), size=(resamples, len(a))) for a in arrays
    ]
    replicates = _statistics(arrays, draws, layout, resamples) if resamples > 0 else {}
    out: dict[str, float] = {}
    for key, values in point.items():
        estimate = float(values[0])
        out[key] = estimate
        low, high = (math.nan, math.nan)
        if not math.isnan(estimate) and key in replicates:
            low, high = percentile_interval(replicates[key], level)
        out[f"{key}_low"], out[f"{key}_high"] = low, high
    return out


def by_engine(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with `database` naming the engine family (MariaDB apart from MySQL), as
    the leaderboard's per-database columns and cells report them."""
    if "engine" not in frame or frame.empty:
        return frame
    return frame.assign(database=frame["engine"])


def cell_table(results: ResultSet, ks: Sequence[int] = DEFAULT_KS) -> pd.DataFrame:
    """One row per (model, prompt, task, database): counts, mean overall, pass@k."""
    keys = [*GROUP_KEY, "task", "database"]
    columns = [*keys, "rows", "infra_errors", "n", "passes", "overall", *(f"pass@{k}" for k in ks)]
    frame = by_engine(results.frame)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    scored = ~frame["infra"].astype(bool)
    work = frame.assign(
        scored_overall=frame["score:overall"].where(scored),
        scored_passed=frame["passed"].where(scored),
    )
    cells = work.groupby(keys, sort=True).agg(
        rows=("task", "size"),
        infra_errors=("infra", "sum"),
        n=("scored_passed", "count"),
        passes=("scored_passed", "sum"),
        overall=("scored_overall", "mean"),
    )
    cells["infra_errors"] = cells["infra_errors"].astype(int)
    cells["passes"] = cells["passes"].astype(int)
    n = cells["n"].to_numpy(np.float64)
    c = cells["passes"].to_numpy(np.float64)
    for k in ks:
        cells[f"pass@{k}"] = pass_at_k_array(n, c, k)
    return cells.reset_index()[columns]
