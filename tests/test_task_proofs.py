"""The benchmark's proof for every task: the reference passes everything on both
databases, and every mutant is caught by the hidden tests it names."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from harness.core.tasks import list_task_ids, load_task
from harness.graders.functional import hidden_test_names, robustness_test_names
from harness.graders.pytest_plugin import ROBUSTNESS_MARKER
from harness.grading.pipeline import PROOF_GRADERS
from harness.grading.selftest import failed_hidden_tests
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

TASKS = {task_id: load_task(task_id) for task_id in list_task_ids()}
KINDS = ["postgres", "mysql"]
MUTANTS = [(task.id, mutant.name) for task in TASKS.values() for mutant in task.mutants]
MIN_HIDDEN_TESTS = {"user-crud": 15}


_grade = partial(grade_files, graders=PROOF_GRADERS)


@pytest.mark.parametrize("task_id", TASKS)
def test_hidden_tests_and_mutants_are_well_formed(task_id: str) -> None:
    task = TASKS[task_id]
    names = hidden_test_names(task.hidden_dir)
    assert len(names) >= MIN_HIDDEN_TESTS.get(task_id, 20)
    assert len(names) == len(set(names)), "hidden test names must be unique"
    assert len(task.mutants) >= (4 if task_id == "user-crud" else 6)
    for mutant in task.mutants:
        assert set(mutant.must_fail) <= set(names), mutant.name
        task.mutant_files(mutant)


def _collected(hidden_dir: Path, marker_expression: str) -> set[str]:
    """The test names pytest itself selects with the graders' plugin and a marker expression."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "harness.graders.pytest_plugin"]
        + ["-p", "no:cacheprovider", "--collect-only", "-q", "-m", marker_expression]
        + [f"--rootdir={hidden_dir}", str(hidden_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    nodeids = [line for line in done.stdout.splitlines() if "::" in line]
    return {nodeid.split("::")[-1].split("[")[0] for nodeid in nodeids}


@pytest.mark.parametrize("task_id", TASKS)
def test_the_robustness_tests_read_from_source_are_the_ones_pytest_selects(task_id: str) -> None:
    """A mutant proof skips the pytest run of a grader none of whose tests it names; which
    tests are robustness is read from the source, so it must be what `-m` selects."""
    hidden_dir = TASKS[task_id].hidden_dir
    from_source = robustness_test_names(hidden_dir)
    assert from_source, "every task has robustness tests"
    assert from_source == _collected(hidden_dir, ROBUSTNESS_MARKER)
    others = set(hidden_test_names(hidden_dir)) - from_source
    assert others == _collected(hidden_dir, f"not {ROBUSTNESS_MARKER}")


def test_user_crud_hidden_tests_cover_the_contract() -> None:
    hidden = " ".join(hidden_test_names(TASKS["user-crud"].hidden_dir))
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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task_id", TASKS)
def test_reference_scores_full_marks(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    result = _grade(task, task.reference_files(), servers[kind], local_runtime, tmp_path)
    assert result.infra_error is None
    failures = [(f.check, f.evidence[:300]) for f in result.findings]
    assert result.scores["boot"] == 1.0, failures
    assert result.scores["functional"] == 1.0, failures
    assert result.scores["robustness"] == 1.0, failures
    assert result.boot.ok


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("task_id", "mutant"), MUTANTS)
def test_mutant_is_caught_by_the_tests_it_names(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    mutant: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    spec = task.mutant(mutant)
    # Only the tests the mutant names run: each must fail on its own.
    result = _grade(
        task,
        task.mutant_files(spec),
        servers[kind],
        local_runtime,
        tmp_path,
        only_hidden_tests=tuple(spec.must_fail),
    )
    assert result.infra_error is None
    ran = result.hidden_tests["total"] + result.robustness_tests["total"]
    assert ran == len(set(spec.must_fail))
    missed = set(spec.must_fail) - failed_hidden_tests(result)
    assert not missed, f"{task_id}/{mutant} on {kind} passed tests it must fail: {sorted(missed)}"


def test_selftest_cli_prints_the_matrix_and_exits_by_verdict(server_urls: dict[str, str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "selftest",
            "--tasks",
            "user-crud",
            "--db",
            "postgres,mysql",
            "--mutant",
            "duplicate-email",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **server_urls},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    reference = next(line for line in lines if line.split()[1:2] == ["reference"])
    assert reference.count("ok ") == 2
    mutant = next(line for line in lines if "duplicate-email-500" in line)
    assert mutant.count("caught by") == 2
    assert "4/4 cells as expected" in done.stdout


def test_selftest_fails_when_a_mutant_goes_uncaught(
    tmp_path: Path, server_urls: dict[str, str]
) -> None:
    """A 'mutant' that changes nothing must be reported uncaught, with a non-zero exit."""
    import shutil

    shutil.copytree(TASKS["user-crud"].root, tmp_path / "tasks" / "user-crud")
    harmless = tmp_path / "tasks" / "user-crud" / "mutants" / "harmless"
    harmless.mkdir()
    (harmless / "mutant.yaml").write_text(
        "description: Renames nothing of consequence.\n"
        "must_fail: [test_create_user_returns_201_with_fields]\n"
        "edits:\n  - file: main.py\n    find: 'app = FastAPI('\n    replace: 'app = FastAPI('\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "selftest",
            "--tasks",
            "user-crud",
            "--db",
            "postgres",
            "--mutant",
            "harmless",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **server_urls, "HARNESS_ROOT": str(tmp_path)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1/2 cells as expected" in done.stdout
    assert (
        "NOT AS EXPECTED user-crud/harmless/postgres: "
        "UNCAUGHT: passed test_create_user_returns_201_with_fields"
    ) in done.stdout
