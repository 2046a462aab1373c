"""Leaderboard aggregation and statistics, checked against numbers computed by hand on
a small fixture (and, for the bootstrap, against an independent re-computation)."""

from __future__ import annotations

import itertools
import json
import math
import re
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from harness.core.records import BootRecord, SampleResult
from harness.core.store import RunStore, write_json_atomic
from harness.graders.base import Finding
from harness.report import aggregate_results, build_leaderboard, load_results, pass_at_k
from harness.report.aggregate import Leaderboard
from harness.report.drilldown import DrilldownLimits, build_drilldown
from harness.report.export import export_csv, export_json
from harness.report.html import json_for_script, script_hash
from harness.report.stats import (
    binomial_two_sided,
    mcnemar_exact,
    pass_at_k_array,
    percentile_interval,
    sign_test,
    stable_seed,
)

# (task, sample, database, boot ok, functional, overall); None = infrastructure error.
M1_ROWS: list[tuple[str, int, str, bool, float, float] | tuple[str, int, str, None]] = [
    ("t1", 0, "postgres", True, 1.0, 1.0),
    ("t1", 1, "postgres", True, 0.5, 0.6),
    ("t1", 2, "postgres", True, 1.0, 1.0),
    ("t1", 0, "mysql", True, 1.0, 1.0),
    ("t1", 1, "mysql", True, 0.5, 0.6),
    ("t1", 2, "mysql", True, 0.75, 0.8),
    ("t2", 0, "postgres", False, 0.0, 0.0),
    ("t2", 1, "postgres", True, 0.5, 0.6),
    ("t2", 2, "postgres", True, 1.0, 1.0),
    ("t2", 3, "postgres", True, 1.0, 1.0),
    ("t2", 0, "mysql", False, 0.0, 0.0),
    ("t2", 1, "mysql", True, 0.5, 0.6),
    ("t2", 2, "mysql", True, 0.75, 0.8),
    ("t2", 3, "mysql", None),
]


def _result(
    model: str, prompt: str, run_id: str, task: str, sample: int, database: str, **fields: object
) -> SampleResult:
    base: dict[str, object] = {
        "task": task,
        "sample": sample,
        "database": database,
        "model": model,
        "prompt": prompt,
        "run_id": run_id,
        "boot": BootRecord(ok=True, seconds=0.5),
        "scores": {},
        "findings": [],
        "timings": {"total": 2.0},
    }
    base.update(fields)
    return SampleResult.model_validate(base)


def write_fixture(root: Path) -> Path:
    """Two groups: m1 (hand-computed scores and pass@k, one infra error) and m2 (the
    security grader ran: correct-and-secure, usage and cost)."""
    store = RunStore(root / "run-1")
    store.write_run_info({"run_id": "run-1", "config": {"model": "m1", "prompt": "agent@v1"}})
    for spec in M1_ROWS:
        task, sample, database = spec[0], spec[1], spec[2]
        if spec[3] is None:
            row = _result("m1", "agent@v1", "run-1", task, sample, database, infra_error="db died")
        else:
            _, _, _, boot_ok, functional, overall = spec
            failed = [] if functional == 1.0 else ["test_b"]
            row = _result(
                "m1",
                "agent@v1",
                "run-1",
                task,
                sample,
                database,
                boot=BootRecord(ok=bool(boot_ok), seconds=0.5),
                scores={
                    "boot": 1.0 if boot_ok else 0.0,
                    "functional": functional,
                    "overall": overall,
                },
                hidden_tests={"passed": 2 - len(failed), "total": 2, "failed": failed}
                if boot_ok
                else {},
            )
        store.append_result(row)
    store = RunStore(root / "run-2")
    store.write_run_info({"run_id": "run-2", "config": {"model": "m2", "prompt": "agent@v1"}})
    security = [
        (1.0, 1.0, []),
        (0.0, 0.7, [("high", "password-plaintext")]),
        (0.9, 0.9, [("medium", "verbose-errors")]),
    ]
    usage = [(1000, 500, 0.01), (2000, 700, 0.02), None]
    for sample, (sec, overall, findings) in enumerate(security):
        store.append_result(
            _result(
                "m2",
                "agent@v1",
                "run-2",
                "t1",
                sample,
                "postgres",
                scores={"boot": 1.0, "functional": 1.0, "security": sec, "overall": overall},
                findings=[
                    Finding(grader="security", check=check, severity=severity, message="m")
                    for severity, check in findings
                ],
                timings={"total": 3.0 + sample},
            )
        )
        if usage[sample] is not None:
            tokens_in, tokens_out, cost = usage[sample]  # type: ignore[misc]
            write_json_atomic(
                store.sample_dir("t1", sample) / "response.json",
                {
                    "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
                    "cost_usd": cost,
                    "seconds": 10.0,
                },
            )
    return root


@pytest.fixture()
def board(tmp_path: Path) -> Leaderboard:
    return aggregate_results(load_results(write_fixture(tmp_path)), ks=(1, 2, 3, 5), resamples=500)


def _row(board: Leaderboard, model: str) -> dict[str, float]:
    table = board.table
    return table[table["model"] == model].iloc[0].to_dict()  # type: ignore[no-any-return]


# --- pass@k -----------------------------------------------------------------


def _pass_at_k_by_enumeration(n: int, c: int, k: int) -> float:
    outcomes = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(range(n), k))
    return sum(any(outcomes[i] for i in draw) for draw in draws) / len(draws)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 2, 2), (3, 1, 2), (4, 2, 2), (5, 0, 3), (6, 5, 1)])
def test_pass_at_k_is_the_probability_over_all_k_subsets(n: int, c: int, k: int) -> None:
    expected = _pass_at_k_by_enumeration(n, c, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected)
    vector = pass_at_k_array(np.array([float(n)]), np.array([float(c)]), k)
    assert vector[0] == pytest.approx(expected)


def test_pass_at_k_needs_k_samples() -> None:
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)
    assert math.isnan(pass_at_k_array(np.array([2.0]), np.array([1.0]), 3)[0])


# --- the aggregated table ---------------------------------------------------


def test_counts_keep_infra_errors_apart(board: Leaderboard) -> None:
    m1 = _row(board, "m1")
    assert (m1["rows"], m1["scored"], m1["infra_errors"], m1["samples"]) == (14, 13, 1, 7)
    assert board.rows == 17 and board.infra_errors == 1


def test_scores_are_means_over_task_database_cells(board: Leaderboard) -> None:
    m1 = _row(board, "m1")
    # cells: t1/postgres (1+.6+1)/3, t1/mysql (1+.6+.8)/3, t2/postgres (0+.6+1+1)/4,
    # t2/mysql (0+.6+.8)/3; the infra row is left out.
    cells = {"t1pg": 2.6 / 3, "t1my": 2.4 / 3, "t2pg": 2.6 / 4, "t2my": 1.4 / 3}
    assert m1["overall"] == pytest.approx(sum(cells.values()) / 4)
    assert m1["task:t1"] == pytest.approx((cells["t1pg"] + cells["t1my"]) / 2)
    assert m1["task:t2"] == pytest.approx((cells["t2pg"] + cells["t2my"]) / 2)
    assert m1["db:postgres"] == pytest.approx((cells["t1pg"] + cells["t2pg"]) / 2)
    assert m1["db:mysql"] == pytest.approx((cells["t1my"] + cells["t2my"]) / 2)
    assert m1["functional"] == pytest.approx((2.5 / 3 + 2.25 / 3 + 2.5 / 4 + 1.25 / 3) / 4)
    assert m1["boot"] == pytest.approx((1 + 1 + 3 / 4 + 2 / 3) / 4)


def test_pass_at_k_per_cell_then_averaged(board: Leaderboard) -> None:
    m1 = _row(board, "m1")
    # (n, c) per cell: t1/pg (3, 2), t1/my (3, 1), t2/pg (4, 2), t2/my (3, 0).
    assert m1["pass@1"] == pytest.approx((2 / 3 + 1 / 3 + 2 / 4 + 0) / 4)  # 0.375
    assert m1["pass@2"] == pytest.approx((1 + (1 - 1 / 3) + (1 - 1 / 6) + 0) / 4)  # 0.625
    assert m1["pass@3"] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert math.isnan(m1["pass@5"])  # no cell has 5 samples
    cells = board.cells[board.cells["model"] == "m1"].set_index(["task", "database"])
    assert cells.loc[("t2", "mysql"), ["rows", "infra_errors", "n", "passes"]].tolist() == [
        4,
        1,
        3,
        0,
    ]
    assert cells.loc[("t2", "postgres"), "pass@2"] == pytest.approx(5 / 6)


def test_correct_and_secure_needs_no_high_security_finding(board: Leaderboard) -> None:
    m2 = _row(board, "m2")
    assert m2["pass@1"] == 1.0
    assert m2["secure@1"] == pytest.approx(2 / 3)  # the medium finding does not block
    assert m2["secure@2"] == pytest.approx(1 - 0 / 3)  # C(1, 2) = 0
    assert m2["security"] == pytest.approx((1.0 + 0.0 + 0.9) / 3)
    assert math.isnan(_row(board, "m1")["secure@1"])  # security grader never ran for m1


def test_usage_is_per_sample_and_cost_only_where_known(board: Leaderboard) -> None:
    m2 = _row(board, "m2")
    assert m2["input_tokens"] == 1500 and m2["output_tokens"] == 600
    assert m2["cost_usd"] == pytest.approx(0.015)
    assert m2["cost_total_usd"] == pytest.approx(0.03)
    assert m2["costed_samples"] == 2
    assert m2["grade_seconds"] == pytest.approx(4.0)  # 3, 4, 5 s
    assert m2["wall_seconds"] == pytest.approx((13 + 14 + 5) / 3)
    m1 = _row(board, "m1")
    assert math.isnan(m1["cost_usd"]) and math.isnan(m1["input_tokens"])
    assert m1["grade_seconds"] == pytest.approx(4.0)  # 2 s a row (infra too), 2 rows a sample


def test_table_is_sorted_by_overall(board: Leaderboard) -> None:
    assert board.table["model"].tolist() == ["m2", "m1"]
    assert board.table["rank"].tolist() == [1, 2]


# --- bootstrap intervals ----------------------------------------------------


def test_every_interval_contains_its_estimate(board: Leaderboard) -> None:
    for metric in board.metrics:
        for _, row in board.table.iterrows():
            value, low, high = row[metric.key], row[f"{metric.key}_low"], row[f"{metric.key}_high"]
            if math.isnan(value):
                assert math.isnan(low) and math.isnan(high)
            else:
                assert low - 1e-12 <= value <= high + 1e-12, (metric.key, row["model"])


def _independent_bootstrap(resamples: int) -> dict[str, tuple[float, float]]:
    """The m1 intervals redone with loops over the same seeded draws: per task (sorted),
    `integers(0, m, (resamples, m))` over its samples in order."""
    by_task: dict[str, dict[int, dict[str, tuple[float, float]]]] = {}
    for spec in M1_ROWS:
        if spec[3] is None:
            continue
        task, sample, database, boot_ok, functional, overall = spec
        passed = 1.0 if boot_ok and functional == 1.0 else 0.0
        by_task.setdefault(task, {}).setdefault(sample, {})[database] = (overall, passed)
    rng = np.random.default_rng(stable_seed(0, "m1", "agent@v1"))
    draws = {
        task: rng.integers(0, len(by_task[task]), size=(resamples, len(by_task[task])))
        for task in sorted(by_task)
    }
    overall_reps, pass2_reps = [], []
    for b in range(resamples):
        cell_means, cell_pass2 = [], []
        for task in sorted(by_task):
            samples = [by_task[task][s] for s in sorted(by_task[task])]
            for database in ("mysql", "postgres"):
                picked = [samples[i][database] for i in draws[task][b] if database in samples[i]]
                if picked:
                    cell_means.append(sum(v for v, _ in picked) / len(picked))
                    n, c = len(picked), int(sum(p for _, p in picked))
                    cell_pass2.append(pass_at_k(n, c, 2) if n >= 2 else math.nan)
        overall_reps.append(sum(cell_means) / len(cell_means))
        pass2_reps.append(
            math.nan
            if any(math.isnan(v) for v in cell_pass2)
            else sum(cell_pass2) / len(cell_pass2)
        )
    finite = [v for v in pass2_reps if not math.isnan(v)]
    return {
        "overall": tuple(np.percentile(overall_reps, [2.5, 97.5])),  # type: ignore[dict-item]
        "pass@2": tuple(np.percentile(finite, [2.5, 97.5])),  # type: ignore[dict-item]
    }


def test_bootstrap_matches_an_independent_computation(board: Leaderboard) -> None:
    m1 = _row(board, "m1")
    expected = _independent_bootstrap(board.resamples)
    for key in ("overall", "pass@2"):
        assert (m1[f"{key}_low"], m1[f"{key}_high"]) == pytest.approx(expected[key]), key
    assert m1["overall_low"] < m1["overall"] < m1["overall_high"]


def test_bootstrap_is_reproducible_and_seeded(tmp_path: Path) -> None:
    results = load_results(write_fixture(tmp_path))
    first = aggregate_results(results, resamples=200)
    again = aggregate_results(results, resamples=200)
    other = aggregate_results(results, resamples=200, seed=1)
    assert first.table.equals(again.table)
    assert not first.table["overall_low"].equals(other.table["overall_low"])


def test_bootstrap_interval_width_matches_the_normal_approximation(tmp_path: Path) -> None:
    """400 samples, 240 passing: pass@1 = 0.6 and a 95% interval close to
    0.6 +- 1.96 sqrt(0.6 * 0.4 / 400) = 0.6 +- 0.048."""
    store = RunStore(tmp_path / "big")
    store.write_run_info({"run_id": "big"})
    rows = [
        _result(
            "big",
            "p@v1",
            "big",
            "t",
            sample,
            "postgres",
            scores={"boot": 1.0, "functional": functional, "overall": functional},
        )
        for sample, functional in enumerate([1.0] * 240 + [0.5] * 160)
    ]
    store.results_path.write_text("".join(row.model_dump_json() + "\n" for row in rows))
    row = aggregate_results(load_results(tmp_path), resamples=2000).table.iloc[0]
    assert row["pass@1"] == pytest.approx(0.6)
    half = 1.96 * math.sqrt(0.24 / 400)
    assert row["pass@1_low"] == pytest.approx(0.6 - half, abs=0.01)
    assert row["pass@1_high"] == pytest.approx(0.6 + half, abs=0.01)


def test_percentile_interval_ignores_undefined_replicates() -> None:
    assert percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == (1.5, 2.5)
    assert all(math.isnan(v) for v in percentile_interval(np.array([np.nan])))


# --- exact tests -------------------------------------------------------------


def test_mcnemar_exact_by_hand() -> None:
    assert mcnemar_exact(1, 5) == pytest.approx(2 * (1 + 6) / 64)  # 0.21875
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert 0 < binomial_two_sided(0, 3000) < 1e-300 or binomial_two_sided(0, 3000) == 0.0


def test_sign_test_drops_ties() -> None:
    ups, downs, ties, p = sign_test(np.array([0.1, 0.2, 0.0, -0.1, 0.3, 0.4, 0.5]))
    assert (ups, downs, ties) == (5, 1, 1)
    assert p == pytest.approx(2 * (1 + 6) / 64)


# --- exports -----------------------------------------------------------------


def test_csv_and_json_exports(board: Leaderboard, tmp_path: Path) -> None:
    csv_path = export_csv(board, tmp_path / "out" / "leaderboard.csv")
    header, first, second = csv_path.read_text().splitlines()[:3]
    columns = header.split(",")
    for name in ("model", "prompt", "overall", "overall_low", "overall_high", "pass@1"):
        assert name in columns
    assert "task:t1" in columns and "db:mysql" in columns and "infra_errors" in columns
    m1 = dict(zip(columns, second.split(","), strict=True))
    assert m1["model"] == "m1" and m1["pass@1"] == "0.375" and m1["pass@5"] == ""
    data = json.loads(export_json(board, tmp_path / "out" / "leaderboard.json").read_text())
    assert [row["model"] for row in data["table"]] == ["m2", "m1"]
    assert data["table"][1]["pass@5"] is None and data["table"][1]["pass@2"] == 0.625
    assert data["infra_errors"] == 1 and data["method"]["seed"] == 0
    assert {cell["task"] for cell in data["cells"]} == {"t1", "t2"}
    assert first.startswith("1,m2,")


# --- the page (static checks; the browser test renders it) -------------------


def test_json_for_script_cannot_close_the_element() -> None:
    hostile = {"x": "</script><script>alert(1)</script> & <!-- \u2028"}
    text = str(json_for_script(hostile))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


def test_page_is_self_contained_and_names_its_script_in_the_csp(tmp_path: Path) -> None:
    page = build_leaderboard(load_results(write_fixture(tmp_path)), resamples=100)
    html = page.html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    script = html.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert script_hash(script) in html
    assert "default-src 'none'" in unescape(html.split("Content-Security-Policy", 1)[1])
    assert "&lt;" not in script  # the script is ours, not escaped data
    assert "pass@2" in html and "secure@1" in html and "pass@5" not in html.split("<tbody>")[0]


def test_drilldown_orders_failures_first_and_states_its_cap(tmp_path: Path) -> None:
    results = load_results(write_fixture(tmp_path))
    drill = build_drilldown(results)
    statuses = [row["status"] for row in drill.rows]
    assert statuses == sorted(statuses, key=["fail", "infra", "pass"].index)
    assert drill.shown == drill.total == 17 and drill.stopped_by is None
    capped = build_drilldown(results, DrilldownLimits(max_rows=4))
    assert capped.shown == 4 and "4 rows" in str(capped.stopped_by)
    assert {row["status"] for row in capped.rows} == {"fail"}
    # Round-robin: the first failures come from both models' tasks, not one.
    assert {row["task"] for row in capped.rows} == {"t1", "t2"}
    small = build_drilldown(results, DrilldownLimits(budget=3000))
    assert 0 < small.shown < 17 and "size budget" in str(small.stopped_by)
    page = build_leaderboard(results, resamples=50, limits=DrilldownLimits(max_rows=4)).html
    assert "Showing 4 of 17 rows" in page


def test_drilldown_clips_long_texts_and_says_where_the_rest_is(tmp_path: Path) -> None:
    write_fixture(tmp_path)
    store = RunStore(tmp_path / "run-1")
    folder = store.sample_dir("t1", 1)
    (folder / "files").mkdir(exist_ok=True)
    (folder / "files" / "main.py").write_text("x = 1\n" * 5000)
    (folder / "postgres").mkdir(exist_ok=True)
    (folder / "postgres" / "app.log").write_text("line\n" * 3000)
    drill = build_drilldown(load_results(tmp_path), DrilldownLimits(file_chars=100, log_chars=50))
    row = next(r for r in drill.rows if (r["task"], r["sample"], r["db"]) == ("t1", 1, "postgres"))
    assert len(row["log"]) == 50 and "run-1/samples/t1/1/postgres/app.log" in row["log_note"]
    sample = drill.samples[row["sample_ref"]]
    assert sample["files"][0]["name"] == "main.py" and len(sample["files"][0]["text"]) == 100
    assert "first 100 characters of 30,000 bytes" in sample["files"][0]["note"]
    assert "run-1/samples/t1/1/files/main.py" in sample["files"][0]["note"]


def test_chart_labels_keep_what_tells_them_apart() -> None:
    from harness.report.charts import shorten

    assert shorten("short", 30) == "short"
    v1, v2 = (shorten(f"reference · fastapi-backend-engineer@v{n}", 30) for n in (1, 2))
    assert v1 != v2 and len(v1) == 30 and v1.endswith("@v1")
