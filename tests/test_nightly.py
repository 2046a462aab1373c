"""`harness nightly` end to end, on a real PostgreSQL, with recorded answers (`replay`):
a candidate worse on one task exits 1 and names the regression (in the summaries and
the JUnit file); the same candidate against itself exits 0; a candidate with an
infrastructure failure is not a regression (exit 3 only past `max_infra_error_rate`);
a drop the baseline itself reproduces when re-graded is flaky, not a regression.

Six identical samples per answer: McNemar needs six broken pairs (and none fixed) to be
significant at 0.05; the grade cache (one folder for this module) grades each distinct
answer once, so six samples cost one grading.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.core.extract import render_files_as_response
from harness.core.records import BootRecord, SampleResult
from harness.core.tasks import load_task
from harness.nightly.cli import main as nightly_main
from harness.report.trend import read_history
from harness.run.grade_cache import GradeCache

TASK = "user-crud"
MUTANT = "duplicate-email-500"
SAMPLES = 6
NAME = "user-crud-nightly"
BROKEN_TESTS = {"test_create_duplicate_email_returns_409", "test_patch_duplicate_email_returns_409"}


def _write_recordings(folder: Path, answer: str, samples: range) -> Path:
    for sample in samples:
        path = folder / TASK / f"{sample}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(answer, encoding="utf-8")
    return folder


def _flaky_reference(marker: Path) -> str:
    """The reference, except that every grading after the first answers a duplicate
    email with 500 instead of 409: what a flaky hidden test looks like from outside."""
    files = load_task(TASK).reference_files()
    main = files["main.py"]
    main = main.replace("from collections.abc", "import os\nfrom collections.abc", 1)
    main = main.replace(
        "app = FastAPI(",
        f"_MARKER = {str(marker)!r}\n_GRADED_BEFORE = os.path.exists(_MARKER)\n"
        "open(_MARKER, 'a').close()\n\napp = FastAPI(",
        1,
    )
    main = main.replace(
        "status_code=status.HTTP_409_CONFLICT",
        "status_code=500 if _GRADED_BEFORE else status.HTTP_409_CONFLICT",
    )
    assert "_GRADED_BEFORE else" in main
    return render_files_as_response({**files, "main.py": main})


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("recordings")
    task = load_task(TASK)
    reference = render_files_as_response(task.reference_files())
    mutant = render_files_as_response(task.mutant_files(task.mutant(MUTANT)))
    # The app runs as `nobody` when the harness is root: the marker's folder must be
    # writable by anyone (and reachable: not under pytest's private tmp).
    markers = Path(tempfile.mkdtemp(prefix="nightly-flaky-", dir="/tmp"))
    markers.chmod(0o1777)
    yield {
        "reference": _write_recordings(root / "reference", reference, range(SAMPLES)),
        "mutant": _write_recordings(root / "mutant", mutant, range(SAMPLES)),
        # Sample 5 was never recorded: its row is an infrastructure error.
        "holey": _write_recordings(root / "holey", reference, range(SAMPLES - 1)),
        "flaky": _write_recordings(
            root / "flaky", _flaky_reference(markers / "graded-once"), range(SAMPLES)
        ),
    }
    shutil.rmtree(markers, ignore_errors=True)


@pytest.fixture(scope="module")
def grade_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grade-cache")


def _cache_round_trips(root: Path) -> bool:
    row = SampleResult(
        task=TASK, sample=3, database="postgres", boot=BootRecord(ok=True, seconds=0.1),
        scores={"overall": 1.0}, findings=[],
    )  # fmt: skip
    cache = GradeCache(root / "probe")
    cache.put("0" * 64, row)
    return cache.get("0" * 64) is not None


@pytest.fixture(autouse=True)
def isolated_grade_cache(grade_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_GRADE_CACHE", str(grade_cache))
    if not _cache_round_trips(grade_cache):
        # harness/grade_cache.py stores a grade without its `sample` but reads it back as
        # a SampleResult, which requires one: every lookup misses. Until that is fixed
        # there, read entries as the runner means them (it sets the sample itself).
        def get(self: GradeCache, key: str) -> SampleResult | None:
            try:
                data = json.loads(self._path(key).read_text(encoding="utf-8"))
                return SampleResult.model_validate({"sample": 0, **data})
            except (OSError, ValueError):
                return None

        monkeypatch.setattr(GradeCache, "get", get)


def _nightly(home: Path, model: Path, *args: str, **settings: Any) -> tuple[int, dict[str, Any]]:
    """Run `harness nightly` on a config for `model`; its exit code and nightly.json."""
    config = {
        "name": NAME,
        "models": [f"replay:{model}"],
        "tasks": [TASK],
        "samples": SAMPLES,
        "databases": ["postgres"],
        # The flaky fixture keeps a marker file on the host: the local runtime shares it.
        "runtime": "local",
        "jobs": 1,  # one grading at a time, so the other five samples hit the cache
        "missing_baseline": "bless",
        "thresholds": {"pass": 0.10, "overall": 0.10, "functional": 0.02},
        "flake_check": {"enabled": True, "max_samples": 1},
        "results_dir": "results",
        "leaderboard": False,
        **settings,
    }
    path = home / "nightly.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    latest = home / "results" / "nightly" / "latest" / "nightly.json"
    latest.unlink(missing_ok=True)
    code = nightly_main(["nightly", "--config", str(path), *args])
    return code, json.loads(latest.read_text(encoding="utf-8"))


def _checks(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [evaluation] = summary["evals"]
    return {check["name"]: check for check in evaluation["checks"]}


def test_a_worse_candidate_exits_1_and_names_the_regression(
    tmp_path: Path, recordings: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, first = _nightly(tmp_path, recordings["reference"])
    assert code == 0 and first["evals"][0]["status"] == "blessed"
    assert nightly_main(["baseline", "show", "--config", str(tmp_path / "nightly.yaml")]) == 0
    assert NAME in capsys.readouterr().out

    code, summary = _nightly(tmp_path, recordings["mutant"], leaderboard=True)
    assert code == 1, summary["headline"]
    checks = _checks(summary)
    regression = checks[f"{TASK}:pass"]
    assert regression["status"] == "regression"
    assert (regression["baseline"], regression["candidate"], regression["worse"]) == (1.0, 0.0, 6)
    assert regression["p_value"] == pytest.approx(2 / 2**SAMPLES)
    assert BROKEN_TESTS <= set(regression["broken_tests"])
    assert checks[f"{TASK}:functional"]["status"] == "regression"
    # The flake check re-graded the baseline's answer: it held, so the drop stands.
    flakes = summary["evals"][0]["flake_check"]
    assert flakes["ran"] and flakes["tasks"][TASK]["pass_flips"] == 0
    assert f"{TASK}:pass" in summary["headline"]

    latest = tmp_path / "results" / "nightly" / "latest"
    markdown = (latest / "summary.md").read_text(encoding="utf-8")
    assert "REGRESSION" in markdown and f"{TASK}:pass" in markdown
    assert "test_create_duplicate_email_returns_409" in markdown
    html = (latest / "summary.html").read_text(encoding="utf-8")
    assert f"{TASK}:pass" in html and "Content-Security-Policy" in html

    suites = ET.parse(latest / "junit.xml").getroot()
    assert suites.tag == "testsuites" and suites.get("failures") == "2"
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    assert set(cases) == {f"{TASK}:pass", f"{TASK}:overall", f"{TASK}:functional"}
    failure = cases[f"{TASK}:pass"].find("failure")
    assert failure is not None and f"{TASK}:pass" in (failure.get("message") or "")
    # Significantly lower too, but by less than its threshold: reported, not failed.
    assert checks[f"{TASK}:overall"]["status"] == "within-threshold"
    assert cases[f"{TASK}:overall"].find("failure") is None
    history = read_history(tmp_path / "results" / "nightly" / "history.jsonl")
    assert [entry.exit_code for entry in history] == [0, 1]
    assert set(history[1].evals[0].regressions) == {f"{TASK}:pass", f"{TASK}:functional"}
    leaderboard = (tmp_path / "results" / "leaderboard.html").read_text(encoding="utf-8")
    assert 'id="trend"' in leaderboard and "pass@1 across nightly runs" in leaderboard


def test_the_same_candidate_against_itself_exits_0(
    tmp_path: Path, recordings: dict[str, Path]
) -> None:
    code, first = _nightly(tmp_path, recordings["mutant"])
    assert code == 0 and first["evals"][0]["blessed"]
    code, summary = _nightly(tmp_path, recordings["mutant"])
    assert code == 0, summary["headline"]
    checks = _checks(summary)
    assert {check["status"] for check in checks.values()} == {"unchanged"}
    assert all(check["pairs"] == SAMPLES for check in checks.values())
    assert summary["evals"][0]["flake_check"] is None  # nothing to confirm


def test_an_infrastructure_failure_is_not_a_regression(
    tmp_path: Path, recordings: dict[str, Path]
) -> None:
    assert _nightly(tmp_path, recordings["reference"])[0] == 0
    code, summary = _nightly(tmp_path, recordings["holey"])
    assert code == 0, summary["headline"]
    [evaluation] = summary["evals"]
    assert evaluation["infra_errors"] == 1 and evaluation["status"] == "ok"
    assert {check["pairs"] for check in evaluation["checks"]} == {SAMPLES - 1}
    assert not any(check["status"] == "regression" for check in evaluation["checks"])

    # Past the configured rate, the night is an infrastructure failure: exit 3.
    code, summary = _nightly(tmp_path, recordings["holey"], max_infra_error_rate=0.1)
    assert code == 3 and summary["status"] == "infrastructure failure"
    suites = ET.parse(tmp_path / "results" / "nightly" / "latest" / "junit.xml").getroot()
    errored = [case for case in suites.iter("testcase") if case.find("error") is not None]
    assert [case.get("name") for case in errored] == ["infrastructure"]


def test_a_drop_the_baseline_reproduces_when_regraded_is_flaky(
    tmp_path: Path, recordings: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flaky fixture remembers, in a file on the host, that it was graded before: the
    # local sandbox forbids exactly that (a private /tmp, nothing of the host), so this
    # one test runs its candidates unsandboxed.
    monkeypatch.setenv("HARNESS_LOCAL_SANDBOX", "off")
    code, first = _nightly(tmp_path, recordings["flaky"])
    assert code == 0 and first["evals"][0]["status"] == "blessed"
    code, summary = _nightly(tmp_path, recordings["mutant"])
    assert code == 0, summary["headline"]
    checks = _checks(summary)
    assert checks[f"{TASK}:pass"]["status"] == "flaky"
    assert "flaky" in checks[f"{TASK}:pass"]["note"]
    flakes = summary["evals"][0]["flake_check"]
    assert flakes["tasks"][TASK]["pass_flips"] == 1
    assert BROKEN_TESTS <= set(flakes["tasks"][TASK]["tests"])
    markdown = (tmp_path / "results" / "nightly" / "latest" / "summary.md").read_text()
    assert "Flaky (not counted as regressions)" in markdown
    suites = ET.parse(tmp_path / "results" / "nightly" / "latest" / "junit.xml").getroot()
    skipped = {
        case.get("name") for case in suites.iter("testcase") if case.find("skipped") is not None
    }
    assert f"{TASK}:pass" in skipped and suites.get("failures") == "0"
