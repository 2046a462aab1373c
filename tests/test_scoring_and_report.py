"""The composite score and the first leaderboard page."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.records import BootRecord, SampleResult
from harness.core.store import RunStore
from harness.grading.scoring import overall_score
from harness.report.leaderboard import render_leaderboard


def test_overall_is_the_weighted_mean_of_graders_present() -> None:
    assert overall_score({"boot": 1.0, "functional": 0.5}) == pytest.approx((1 + 4 * 0.5) / 5)
    assert overall_score({"boot": 1.0, "functional": 1.0, "overall": 0.1}) == 1.0
    assert overall_score({}) == 0.0


def test_boot_and_checklist_count_scaled_by_coverage_the_others_do_not() -> None:
    scores = {"boot": 1.0, "checklist": 1.0, "functional": 0.5, "fuzz": 0.5}
    # weights 1 + 1 + 4 + 1 = 7; at coverage 0.5 boot and checklist count half.
    assert overall_score(scores, 0.5) == pytest.approx((0.5 + 0.5 + 4 * 0.5 + 0.5) / 7, abs=1e-4)
    assert overall_score(scores, 0.0) == pytest.approx((4 * 0.5 + 0.5) / 7, abs=1e-4)
    assert overall_score({"boot": 1.0, "checklist": 0.9}, 0.0) == 0.0
    assert overall_score(scores) == overall_score(scores, 1.0)


def _row(model: str, task: str, functional: float, infra: str | None = None) -> SampleResult:
    return SampleResult(
        task=task,
        sample=0,
        database="postgres",
        model=model,
        prompt="p@v1",
        boot=BootRecord(ok=True, seconds=1.0),
        findings=[],
        infra_error=infra,
        scores={}
        if infra
        else {
            "boot": 1.0,
            "functional": functional,
            "overall": overall_score({"boot": 1.0, "functional": functional}),
        },
    )


def test_leaderboard_averages_rows_and_counts_infra_errors_apart(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run-a")
    store.write_run_info({"run_id": "run-a"})
    for row in (
        _row("m1", "t", 1.0),
        _row("m1", "t", 0.5),
        _row("m1", "t", 0, "db died"),
        _row("<script>alert(1)</script>", "t", 0.0),
    ):
        store.append_result(row)
    html = render_leaderboard(tmp_path, tmp_path / "leaderboard.html").read_text()
    assert "0.75" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "m1" in first_row and ">3<" in first_row and ">1<" in first_row


def test_empty_results_still_render(tmp_path: Path) -> None:
    html = render_leaderboard(tmp_path, tmp_path / "leaderboard.html").read_text()
    assert "make eval" in html
