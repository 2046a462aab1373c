"""The standing proof that no grader rewards doing nothing: each null agent (an app that
boots and implements nothing, harness/null_agents.py) graded on every task and both
databases with every grader scores overall <= 0.05, passes no hidden test (functional or
robustness), and gets 0 on fuzz, security and schema. Graded in parallel: 32 grades."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.core.records import SampleResult
from harness.core.tasks import list_task_ids, load_task
from harness.grading.null_agents import NULL_AGENTS, null_agent_files
from harness.grading.pipeline import DEFAULT_GRADERS, grade_files
from harness.grading.selftest import null_agent_problems
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime

KINDS = ("postgres", "mysql")
CASES = [(task, name, kind) for task in list_task_ids() for name in NULL_AGENTS for kind in KINDS]


@pytest.fixture(scope="module")
def null_grades(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str, str], SampleResult]:
    # Folders are made before the threads start: pytest's first mktemp is not thread-safe.
    folders = {case: tmp_path_factory.mktemp("-".join(case)) for case in CASES}

    def grade(case: tuple[str, str, str]) -> SampleResult:
        task_id, name, kind = case
        folder = folders[case]
        return grade_files(
            load_task(task_id),
            null_agent_files(name),
            servers[kind],
            local_runtime,
            folder,
            DEFAULT_GRADERS,
        )

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(CASES, pool.map(grade, CASES), strict=True))


@pytest.mark.parametrize(("task_id", "name", "kind"), CASES)
def test_null_agent_scores_about_zero(
    null_grades: dict[tuple[str, str, str], SampleResult], task_id: str, name: str, kind: str
) -> None:
    result = null_grades[(task_id, name, kind)]
    assert result.infra_error is None, result.infra_error
    assert set(result.scores) >= set(DEFAULT_GRADERS), result.scores
    assert not null_agent_problems(result), (null_agent_problems(result), result.scores)
    assert result.coverage == 0.0


def test_a_null_agent_that_passed_a_test_would_be_reported() -> None:
    """The judge itself can fail: a grade with a passing hidden test or a fuzz score."""
    from harness.core.records import BootRecord

    result = SampleResult(
        task="user-crud",
        sample=0,
        database="postgres",
        boot=BootRecord(ok=True, seconds=0.1),
        scores={
            "functional": 0.1,
            "robustness": 0.0,
            "fuzz": 1.0,
            "security": 0.0,
            "schema": 0.0,
            "overall": 0.2,
        },
        findings=[],
        hidden_tests={"passed": 1, "total": 10, "failed": []},
    )
    problems = null_agent_problems(result)
    assert "functional 0.1" in problems and "fuzz 1.0" in problems
    assert "1 hidden test(s) passed" in problems
    assert any(p.startswith("overall 0.2") for p in problems)
