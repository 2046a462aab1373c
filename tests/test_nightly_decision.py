"""The nightly's decision and records on stored rows (no grading): the checks per task x
metric on `harness.report.compare`, thresholds, Holm, flakiness, blessed baselines,
the JUnit and Markdown files, the history and the leaderboard's trend."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.records import BootRecord, SampleResult
from harness.core.store import RunStore
from harness.nightly.baseline import BaselineStore, describe
from harness.nightly.cli import baseline_name_for
from harness.nightly.cli import main as nightly_main
from harness.nightly.config import EvalCell, NightlyConfig
from harness.nightly.flakes import FlakeReport, TaskFlakes
from harness.nightly.history import append_history
from harness.nightly.outcome import EvalOutcome, NightlyOutcome
from harness.nightly.regression import (
    MetricCheck,
    apply_flakes,
    check_metrics,
    compare_tasks,
    holm,
    suspect_tasks,
)
from harness.nightly.summary import junit_xml, markdown_summary
from harness.report.compare import Flip, Side
from harness.report.frame import load_runs
from harness.report.leaderboard import build_leaderboard, render_leaderboard
from harness.report.trend import EvalRecord, HistoryEntry, MetricPoint, read_history, trend_charts

HOSTILE = "test_<b>bold</b>|pipe\x07bell"


def _row(run_id: str, task: str, sample: int, failed: list[str], **fields: object) -> SampleResult:
    functional = 1.0 - 0.25 * len(failed)
    data: dict[str, object] = {
        "task": task,
        "sample": sample,
        "database": "postgres",
        "model": "m",
        "prompt": "agent@v1",
        "run_id": run_id,
        "boot": BootRecord(ok=True, seconds=0.5),
        "scores": {"boot": 1.0, "functional": functional, "overall": 0.2 + 0.8 * functional},
        "findings": [],
        "hidden_tests": {"passed": 4 - len(failed), "total": 4, "failed": failed},
    }
    data.update(fields)
    return SampleResult.model_validate(data)


def _run(
    root: Path,
    run_id: str,
    failures: dict[str, dict[int, list[str]]],
    samples: int = 8,
    **info: object,
) -> Path:
    """A finished run: every task in `failures`, `samples` samples, the given failing tests."""
    store = RunStore(root / run_id)
    store.write_run_info(
        {
            "run_id": run_id,
            "status": "complete",
            "config": {
                "model": "m",
                "requested_model": "m",
                "prompt": "agent@v1",
                "tasks": sorted(failures),
                "samples": samples,
                "databases": ["postgres"],
            },
            "graders": {"boot": "1", "functional": "1"},
            **info,
        }
    )
    for task, failing in sorted(failures.items()):
        for sample in range(samples):
            store.append_result(_row(run_id, task, sample, failing.get(sample, [])))
            folder = store.sample_dir(task, sample)
            (folder / "response.md").write_text(f"answer {task} {sample}")
            (folder / "response.json").write_text("{}")
    return store.root


def _side(run_dir: Path, label: str) -> Side:
    return Side(label, load_runs([run_dir]), label)


@pytest.fixture()
def sides(tmp_path: Path) -> tuple[Side, Side]:
    """t1 breaks on 7 of 8 samples tonight (test_y); t2 is unchanged; t3 improves on 1."""
    baseline = _run(tmp_path, "20260101-base", {"t1": {}, "t2": {}, "t3": {0: ["test_z"]}})
    tonight = _run(
        tmp_path,
        "20260102-night",
        {"t1": {s: ["test_y"] for s in range(1, 8)}, "t2": {}, "t3": {}},
    )
    return _side(baseline, "baseline"), _side(tonight, "tonight")


def _checks(sides: tuple[Side, Side], **thresholds: float) -> dict[str, MetricCheck]:
    comparisons = compare_tasks(*sides, ["t1", "t2", "t3", "t9"], alpha=0.05, seed=0)
    checks = check_metrics(comparisons, thresholds or {"pass": 0.1, "overall": 0.05}, alpha=0.05)
    return {check.name: check for check in checks}


def test_a_significant_drop_over_its_threshold_is_a_regression(sides: tuple[Side, Side]) -> None:
    checks = _checks(sides)
    t1 = checks["t1:pass"]
    assert t1.status == "regression" and (t1.worse, t1.better, t1.pairs) == (7, 0, 8)
    assert t1.p_value == pytest.approx(2 / 2**7) and t1.broken_tests == ("test_y",)
    assert checks["t1:overall"].status == "regression"
    assert checks["t2:pass"].status == "unchanged"
    assert checks["t3:pass"].status == "unchanged"  # one fix is not significant
    assert checks["t9:pass"].status == "no-data"
    assert "7 broken, 0 fixed of 8 pairs" in checks["t1:pass"].describe()


def test_a_drop_within_its_threshold_is_reported_not_failed(sides: tuple[Side, Side]) -> None:
    # overall drops 0.2 * 7/8 = 0.175; a threshold of 0.2 tolerates it.
    checks = _checks(sides, overall=0.2)
    assert checks["t1:overall"].status == "within-threshold"
    assert suspect_tasks(list(checks.values())) == []


def test_holm_adjusts_over_every_check(sides: tuple[Side, Side]) -> None:
    comparisons = compare_tasks(*sides, ["t1", "t2", "t3"], alpha=0.05, seed=0)
    plain = check_metrics(comparisons, {"pass": 0.1, "overall": 0.05}, alpha=0.05)
    adjusted = holm(plain)
    by_name = {check.name: check for check in adjusted}
    # 6 tested checks: the smallest p (2/128, twice) is multiplied by 6, then 5.
    assert by_name["t1:pass"].p_adjusted == pytest.approx(6 * 2 / 128)
    assert by_name["t1:pass"].status == "unchanged"
    assert all(check.p_adjusted >= check.p_value for check in adjusted)
    assert [c.status for c in check_metrics(comparisons, {"pass": 0.1}, alpha=0.05)] == [
        "regression",
        "unchanged",
        "unchanged",
    ]


def _flakes(tests: tuple[str, ...], drift: float) -> FlakeReport:
    flips = tuple(Flip(name, 1, ("t1 #0 postgres",)) for name in tests)
    found = TaskFlakes("t1", 2, 1, {"pass": drift, "overall": drift / 5}, flips)
    return FlakeReport(ran=True, samples=2, tasks={"t1": found})


def test_a_drop_the_baseline_reproduces_is_flaky(sides: tuple[Side, Side]) -> None:
    checks = list(_checks(sides).values())
    # test_y flipped on the baseline itself: the candidate's broken test is explained.
    result = {c.name: c for c in apply_flakes(checks, _flakes(("test_y",), 0.5))}
    assert result["t1:pass"].status == "flaky" and "test_y" in result["t1:pass"].note
    # overall drifted 0.1 per pair on the re-grade, less than its 0.175 drop: it stands.
    assert result["t1:overall"].status == "regression"
    # Another test flipping on the baseline explains nothing about test_y.
    result = {c.name: c for c in apply_flakes(checks, _flakes(("test_q",), 0.5))}
    assert result["t1:pass"].status == "regression"
    # Unless the baseline moved at least as much as the drop.
    result = {c.name: c for c in apply_flakes(checks, _flakes(("test_q",), 1.0))}
    assert result["t1:pass"].status == "flaky"
    # A flake check that did not run changes nothing.
    assert apply_flakes(checks, FlakeReport(error="boom")) == checks


def _outcome(tmp_path: Path, sides: tuple[Side, Side]) -> NightlyOutcome:
    comparisons = compare_tasks(*sides, ["t1", "t2"], alpha=0.05, seed=0)
    checks = check_metrics(comparisons, {"pass": 0.1, "overall": 0.05}, alpha=0.05)
    checks = [c if c.task != "t1" else replace(c, broken_tests=(HOSTILE,)) for c in checks]
    outcome = NightlyOutcome(
        nightly_id="20260102-000000-abcd",
        started_at="2026-01-02T00:00:00+00:00",
        config_path=None,
        output_dir=tmp_path / "out",
        history_path=tmp_path / "history.jsonl",
        alpha=0.05,
        correction="none",
        finished_at="2026-01-02T01:00:00+00:00",
    )
    cell = EvalCell("m--agent@v1", "m", "agent@v1", "models.0, prompts.0")
    good = EvalOutcome(cell=cell, run_id="20260102-night", checks=checks, rows=24)
    good.task_comparisons = comparisons
    good.settle()
    broken = EvalOutcome(
        cell=EvalCell("m--agent@v2", "m", "agent@v2", "models.0, prompts.1"),
        run_id="20260102-night-2",
        infra="the evaluation failed: InfrastructureError: no PostgreSQL",
    )
    broken.settle()
    outcome.evals = [good, broken]
    return outcome


def test_junit_and_markdown_name_the_failing_case_safely(
    tmp_path: Path, sides: tuple[Side, Side]
) -> None:
    outcome = _outcome(tmp_path, sides)
    assert outcome.exit_code == 3 and outcome.status == "infrastructure failure"
    root = ET.fromstring(junit_xml(outcome).encode())
    # 4 checks, and per evaluation a skipped "baseline" case (none blessed) + 1 infra error.
    counts = tuple(root.get(key) for key in ("tests", "failures", "errors", "skipped"))
    assert counts == ("7", "2", "1", "2")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    failure = cases[("nightly.m--agent@v1", "t1:pass")].find("failure")
    assert failure is not None and failure.get("type") == "regression"
    assert "test_<b>bold</b>|pipe?bell" in (failure.get("message") or "")  # \x07 is not XML
    assert "hidden tests broken tonight: test_y" in (failure.text or "")
    error = cases[("nightly.m--agent@v2", "infrastructure")].find("error")
    assert error is not None and "no PostgreSQL" in (error.get("message") or "")
    markdown = markdown_summary(outcome)
    assert markdown.startswith("## Nightly 20260102-000000-abcd: INFRA FAILURE")
    row = next(line for line in markdown.splitlines() if line.startswith("| t1 | pass "))
    assert row.count("|") == 10 and "**regression**" in row
    assert "Infrastructure failure:** the evaluation failed" in markdown
    data = outcome.as_json()
    json.dumps(data, allow_nan=False)
    assert data["exit_code"] == 3 and data["evals"][0]["status"] == "regression"


def test_blessing_snapshots_the_run_so_it_outlives_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    first = _run(results, "20260101-base", {"t1": {}}, samples=3)
    store = BaselineStore(results / "baselines")
    record = store.bless(first, "nightly")
    assert (record.run_id, record.rows, record.passed, record.samples) == ("20260101-base", 3, 3, 3)
    snapshot = store.snapshot_path(record)
    assert (snapshot / "samples" / "t1" / "2" / "response.md").read_text() == "answer t1 2"
    assert not (snapshot / "samples" / "t1" / "2" / "postgres").exists()  # no grading artifacts
    shutil.rmtree(first)
    assert len(store.side(store.require("nightly")).results.frame) == 3
    assert "cleaned up; the snapshot stays" in describe(record, store)

    second = _run(results, "20260102-next", {"t1": {0: ["test_y"]}}, samples=3)
    store.bless(second, "nightly")
    assert [p.name for p in (results / "baselines" / "nightly").iterdir()] == ["20260102-next"]
    assert store.require("nightly").passed == 2

    running = _run(results, "20260103-running", {"t1": {}}, status="running")
    with pytest.raises(HarnessError, match="is 'running', not complete"):
        store.bless(running, "nightly")
    with pytest.raises(HarnessError, match="baseline name"):
        store.bless(second, "../escape")
    with pytest.raises(HarnessError, match="no baseline 'other'.*known: nightly"):
        store.require("other")

    config_path = tmp_path / "nightly.yaml"
    config_path.write_text(
        "results_dir: results\nmodels: [m]\nprompts: [fastapi-backend-engineer@v1]\n"
    )
    assert nightly_main(["baseline", "set", "20260102-next", "--config", str(config_path)]) == 0
    assert nightly_main(["baseline", "show", "--json", "--config", str(config_path)]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 6)[-1])
    assert {r["name"] for r in shown} == {"nightly", "m--fastapi-backend-engineer@v1"}


def test_a_run_is_blessed_for_the_evaluation_it_belongs_to(tmp_path: Path) -> None:
    run = _run(tmp_path, "r", {"t1": {}}, samples=1)
    matrix = NightlyConfig(models=["x", "m"], prompts=["agent@v1", "agent@v2"])
    assert baseline_name_for(run, matrix) == "m--agent@v1"
    assert baseline_name_for(run, NightlyConfig(models=["other"])) == (
        "other--fastapi-backend-engineer@v1"
    )
    assert baseline_name_for(run, NightlyConfig(models=["x", "y"])) == "m--agent@v1"


def _entry(night: int, overall: float | None, exit_code: int = 0) -> HistoryEntry:
    point = MetricPoint(value=overall, low=None if overall is None else overall - 0.1, high=overall)
    return HistoryEntry(
        nightly_id=f"2026010{night}-000000-0000",
        started_at=f"2026-01-0{night}T03:17:00+00:00",
        exit_code=exit_code,
        status="ok",
        evals=[
            EvalRecord(name="m--agent@v1", metrics={"overall": point, "pass@1": point}),
            EvalRecord(name="m--agent@v2", metrics={"overall": MetricPoint(value=0.5)}),
        ],
    )


def test_history_survives_a_torn_line_and_feeds_the_trend(tmp_path: Path) -> None:
    path = tmp_path / "results" / "nightly" / "history.jsonl"
    append_history(path, _entry(1, 0.9))
    with path.open("a") as handle:
        handle.write('{"nightly_id": "torn", "sta')  # a crash mid-append
    append_history(path, _entry(2, None, exit_code=3))
    append_history(path, _entry(3, 0.7))
    entries = read_history(path)
    assert [e.nightly_id[:8] for e in entries] == ["20260101", "20260102", "20260103"]

    charts = {chart.metric: chart for chart in trend_charts(entries)}
    assert list(charts) == ["overall", "pass@1"]
    v1 = charts["overall"].series[0]
    # Night 2 has no value: the line breaks into two segments, each with its band.
    assert len(v1.segments) == 2 and all(segment.band for segment in v1.segments)
    assert len(v1.points) == 2 and "[0.60, 0.70]" in v1.points[1].text
    assert charts["overall"].series[1].segments[0].band == ""  # no interval recorded

    results = tmp_path / "results"
    _run(results, "20260103-night", {"t1": {}}, samples=2)
    page = build_leaderboard(load_runs([results / "20260103-night"]), history=entries).html
    assert 'id="trend"' in page and 'class="band"' in page and "overall across nightly" in page
    out = render_leaderboard(results, tmp_path / "board.html", resamples=10)
    assert "pass@1 across nightly runs" in out.read_text()
    empty = build_leaderboard(load_runs([results / "20260103-night"])).html
    assert 'id="trend"' not in empty
