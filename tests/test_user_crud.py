"""The benchmark's proof for user-crud: the reference passes everything on both
databases, and every mutant is caught by the hidden tests it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.functional import hidden_test_names
from harness.grading import CandidateRun, grade_candidate
from harness.results import SampleResult
from harness.sandbox.databases import DatabaseServer
from harness.tasks import Task, load_task

TASK = load_task("user-crud")
KINDS = ["postgres", "mysql"]


def _grade(
    task: Task, files: dict[str, str], server: DatabaseServer, python: Path, folder: Path
) -> SampleResult:
    run = CandidateRun(
        task=task,
        files=files,
        files_dir=folder,
        sample=0,
        server=server,
        artifacts_dir=folder,
        python=python,
    )
    return grade_candidate(run)


def test_hidden_tests_cover_the_contract() -> None:
    names = hidden_test_names(TASK.hidden_dir)
    assert len(names) >= 15
    hidden = " ".join(names)
    for topic in (
        "create",
        "duplicate",
        "list",
        "limit",
        "offset",
        "search",
        "sort",
        "get",
        "patch",
        "delete",
        "404",
        "422",
    ):
        assert topic in hidden, topic


def test_every_mutant_names_existing_hidden_tests() -> None:
    names = set(hidden_test_names(TASK.hidden_dir))
    assert len(TASK.mutants) >= 4
    for mutant in TASK.mutants:
        assert set(mutant.must_fail) <= names, mutant.name


@pytest.mark.parametrize("kind", KINDS)
def test_reference_scores_full_marks(
    servers: dict[str, DatabaseServer], runtime_python: Path, tmp_path: Path, kind: str
) -> None:
    result = _grade(TASK, TASK.reference_files(), servers[kind], runtime_python, tmp_path)
    assert result.infra_error is None
    failures = [(f.check, f.evidence[:300]) for f in result.findings]
    assert result.scores["boot"] == 1.0, failures
    assert result.scores["functional"] == 1.0, failures
    assert result.hidden_tests["total"] >= 15
    assert result.boot.ok and result.boot.seconds < 20


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mutant", [m.name for m in TASK.mutants])
def test_mutant_is_caught_by_the_tests_it_names(
    servers: dict[str, DatabaseServer],
    runtime_python: Path,
    tmp_path: Path,
    mutant: str,
    kind: str,
) -> None:
    spec = TASK.mutant(mutant)
    result = _grade(TASK, TASK.mutant_files(spec), servers[kind], runtime_python, tmp_path)
    assert result.infra_error is None
    assert result.scores["functional"] < 1.0
    missed = set(spec.must_fail) - set(result.hidden_tests["failed"])
    assert not missed, f"{mutant} on {kind} passed tests it must fail: {sorted(missed)}"
