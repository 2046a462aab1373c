"""Comparing two runs: pairing on task x sample x database, McNemar's exact test,
the sign test, flipped tests and findings, the verdict, and the HTML/text/JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.records import BootRecord, SampleResult
from harness.core.store import RunStore
from harness.graders.base import Finding
from harness.report.compare import (
    Flip,
    compare,
    compare_command,
    comparison_text,
    render_comparison,
    resolve_side,
)

HOSTILE_TEST = "test_<img src=x onerror=alert(1)>"


def _row(run: str, prompt: str, sample: int, failed: list[str], **fields: object) -> SampleResult:
    functional = 1.0 if not failed else 0.75
    base: dict[str, object] = {
        "task": "t1",
        "sample": sample,
        "database": "postgres",
        "model": "m",
        "prompt": prompt,
        "run_id": run,
        "boot": BootRecord(ok=True, seconds=0.5),
        "scores": {"boot": 1.0, "functional": functional, "overall": 0.2 + 0.8 * functional},
        "findings": [],
        "hidden_tests": {"passed": 2 - len(failed), "total": 2, "failed": failed},
    }
    base.update(fields)
    return SampleResult.model_validate(base)


def write_runs(root: Path) -> Path:
    """run-a passes samples 0-8 and 10-11, fails 9 (test_x). run-b passes 0 and 9, fails
    1-8 (test_y, plus a hostile test name on 1), has an infra error on 10 and no 11."""
    a = RunStore(root / "20260101-run-a")
    a.write_run_info({"run_id": "20260101-run-a"})
    for sample in range(12):
        findings = []
        if sample == 9:
            findings = [Finding(grader="checklist", check="ruff", severity="low", message="m")]
        failed = ["test_x"] if sample == 9 else []
        a.append_result(_row("20260101-run-a", "agent@v1", sample, failed, findings=findings))
    b = RunStore(root / "20260102-run-b")
    b.write_run_info({"run_id": "20260102-run-b"})
    for sample in range(11):
        if sample == 10:
            row = _row("20260102-run-b", "agent@v2", sample, [], infra_error="db died", scores={})
        elif sample in (0, 9):
            row = _row("20260102-run-b", "agent@v2", sample, [])
        else:
            failed = ["test_y", HOSTILE_TEST] if sample == 1 else ["test_y"]
            findings = []
            if sample == 1:
                findings = [
                    Finding(
                        grader="security",
                        check="sql-injection",
                        severity="high",
                        message="<b>x</b>",
                    )
                ]
            row = _row("20260102-run-b", "agent@v2", sample, failed, findings=findings)
        b.append_result(row)
    return root


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return write_runs(tmp_path / "results")


def test_pairs_counts_and_mcnemar(root: Path) -> None:
    c = compare(resolve_side("20260101-run-a", root), resolve_side("20260102-run-b", root))
    assert (c.pairs, c.only_a, c.only_b, c.infra_excluded) == (10, 1, 0, 1)
    assert (c.both_pass, c.both_fail, c.regressed, c.improved) == (1, 0, 8, 1)
    assert c.pass_rate_a == pytest.approx(0.9) and c.pass_rate_b == pytest.approx(0.2)
    # Exact: 2 * P(X <= 1), X ~ Binomial(9, 1/2) = 2 * (1 + 9) / 512.
    assert c.mcnemar_p == pytest.approx(20 / 512)
    assert (c.ups, c.downs, c.ties) == (1, 8, 1)
    assert c.sign_p == pytest.approx(20 / 512)
    assert c.mean_difference == pytest.approx((0.2 - 8 * 0.2) / 10)
    assert c.difference_low <= c.mean_difference <= c.difference_high < 0
    assert c.direction == "worse" and c.significant_regression
    assert c.verdict.startswith("20260102-run-b is worse than 20260101-run-a: pass rate 90% → 20%")


def test_flips_each_way(root: Path) -> None:
    c = compare(resolve_side("20260101-run-a", root), resolve_side("20260102-run-b", root))
    assert c.tests_broken[0] == Flip("test_y", 8, tuple(f"t1 #{s} postgres" for s in range(1, 6)))
    assert [f.name for f in c.tests_broken] == ["test_y", HOSTILE_TEST]
    assert c.tests_fixed == [Flip("test_x", 1, ("t1 #9 postgres",))]
    assert [f.name for f in c.findings_new] == ["security/sql-injection (high)"]
    assert [f.name for f in c.findings_gone] == ["checklist/ruff (low)"]
    assert c.regressed_rows == [f"t1 #{s} postgres" for s in range(1, 9)]
    assert c.improved_rows == ["t1 #9 postgres"]


def test_text_html_and_json_outputs(root: Path, tmp_path: Path) -> None:
    c = compare_command(
        str(root / "20260101-run-a"),
        str(root / "20260102-run-b"),
        root,
        html_out=tmp_path / "compare.html",
        json_out=tmp_path / "compare.json",
    )
    text = comparison_text(c)
    assert c.verdict in text and "test_y" in text and "McNemar exact p = 0.03906" in text
    html = (tmp_path / "compare.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>x</b>" not in html
    assert "worse" in html and "test_y" in html
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["regressed"] == 8 and data["tests_fixed"][0]["name"] == "test_x"
    assert data["direction"] == "worse"


def test_identical_sides_show_no_difference(root: Path) -> None:
    side = resolve_side("20260101-run-a", root)
    c = compare(side, side)
    assert c.direction == "same" and c.mcnemar_p == 1.0 and c.sign_p == 1.0
    assert c.verdict.startswith("No significant difference")
    assert not c.tests_broken and not c.findings_new


def test_selectors_pick_prompt_versions_across_runs(root: Path) -> None:
    v2 = resolve_side("prompt=agent@v2", root)
    assert set(v2.results.frame["run_id"]) == {"20260102-run-b"}
    both = resolve_side("model=m", root)
    assert len(both.results.frame) == 23
    # A selector spanning runs keeps one row per key: the latest run's.
    c = compare(resolve_side("prompt=agent@v1", root), both)
    assert c.duplicates == 11
    with pytest.raises(HarnessError, match="no rows"):
        resolve_side("prompt=agent@v9", root)
    with pytest.raises(HarnessError, match="unknown selector key"):
        resolve_side("colour=blue", root)
    with pytest.raises(HarnessError, match="neither a run folder"):
        resolve_side("no-such-run", root)


def test_no_shared_rows_gives_no_verdict(root: Path, tmp_path: Path) -> None:
    other = RunStore(tmp_path / "other" / "run-c")
    other.write_run_info({"run_id": "run-c"})
    other.append_result(_row("run-c", "agent@v1", 0, [], task="t9"))
    c = compare(resolve_side("20260101-run-a", root), resolve_side(str(other.root), root))
    assert c.pairs == 0 and c.direction == "none" and c.verdict.startswith("No verdict")
    assert "No verdict" in render_comparison(c, tmp_path / "c.html").read_text()
