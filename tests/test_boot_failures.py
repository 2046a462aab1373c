"""Broken candidates are boot failures with the error in the finding, within the
startup timeout, and the harness goes on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.core.tasks import Task
from harness.grading.pipeline import DEFAULT_GRADERS
from harness.providers import ModelResponse
from harness.run.generation import extract_response
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

FIXTURES = Path(__file__).parent / "fixtures" / "responses"
STARTUP_TIMEOUT_S = 4.0


def _grade(name: str, task: Task, server: DatabaseServer, runtime: Runtime, tmp_path: Path):
    response = ModelResponse(text=(FIXTURES / name).read_text(), model="fixture")
    files, _ = extract_response(response)
    began = time.monotonic()
    result = grade_files(
        task, files, server, runtime, tmp_path, DEFAULT_GRADERS, startup_timeout_s=STARTUP_TIMEOUT_S
    )
    return result, time.monotonic() - began


def _boot_finding(result):
    return next(f for f in result.findings if f.grader == "boot" and f.check == "app-starts")


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_code_that_does_not_import_is_a_boot_failure_with_the_error(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    user_crud: Task,
    tmp_path: Path,
    kind: str,
) -> None:
    result, elapsed = _grade("syntax-error.md", user_crud, servers[kind], local_runtime, tmp_path)
    assert result.infra_error is None
    assert result.boot.ok is False
    assert result.scores["boot"] == 0.0 and result.scores["functional"] == 0.0
    assert "SyntaxError" in _boot_finding(result).evidence
    assert elapsed < STARTUP_TIMEOUT_S + 5


def test_app_that_never_becomes_ready_fails_at_the_timeout(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, user_crud: Task, tmp_path: Path
) -> None:
    result, elapsed = _grade(
        "never-ready.md", user_crud, servers["postgres"], local_runtime, tmp_path
    )
    assert result.boot.ok is False
    assert f"not ready within {STARTUP_TIMEOUT_S:.0f}s" in _boot_finding(result).evidence
    assert STARTUP_TIMEOUT_S <= elapsed < STARTUP_TIMEOUT_S + 8


def test_app_that_crashes_in_startup_fails_fast_with_its_traceback(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, user_crud: Task, tmp_path: Path
) -> None:
    result, elapsed = _grade(
        "exits-at-startup.md", user_crud, servers["mysql"], local_runtime, tmp_path
    )
    assert result.boot.ok is False
    evidence = _boot_finding(result).evidence
    assert "RuntimeError: cannot connect to" in evidence
    assert elapsed < STARTUP_TIMEOUT_S
    assert (tmp_path / "app.log").read_text().count("RuntimeError") >= 1


def test_a_code_free_answer_is_graded_not_crashed(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, user_crud: Task, tmp_path: Path
) -> None:
    result, _ = _grade("prose-only.md", user_crud, servers["postgres"], local_runtime, tmp_path)
    assert result.infra_error is None
    assert result.scores["overall"] == 0.0
    assert "no code" in _boot_finding(result).evidence
