"""The public smoke checks (`tasks/<id>/smoke.yaml`) and the feedback a model gets
between rounds: every reference passes every smoke step on both real databases, the
do-nothing apps fail them, and a malformed plan names its file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.core.errors import InputFileError
from harness.core.tasks import list_task_ids, load_task
from harness.grading.null_agents import NULL_AGENTS, null_agent_files
from harness.grading.smoke import smoke_check
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime


@pytest.mark.parametrize("task_id", list_task_ids())
@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_the_reference_passes_every_smoke_step(
    task_id: str,
    kind: str,
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
) -> None:
    task = load_task(task_id)
    report = smoke_check(task, task.reference_files(), servers[kind], local_runtime, tmp_path)
    failed = [(o.step.name, o.status, o.detail) for o in report.steps if not o.ok]
    assert report.booted, report.boot_error
    assert failed == []
    assert len(report.steps) == len(task.smoke_plan.steps)
    text = report.feedback(1)
    assert f"{len(report.steps)} of {len(report.steps)} requests as expected" in text
    assert "Application startup complete" in text  # the boot log's tail is shown


@pytest.mark.parametrize("agent", sorted(NULL_AGENTS))
def test_a_do_nothing_app_fails_the_smoke_check(
    agent: str, servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task = load_task("user-crud")
    report = smoke_check(
        task, null_agent_files(agent), servers["postgres"], local_runtime, tmp_path
    )
    assert not report.all_passed
    assert report.passed < len(task.smoke_plan.steps)
    assert "FAIL" in report.feedback(1) or "did not start" in report.feedback(1)


def test_an_app_that_does_not_boot_gets_its_error_and_log(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task = load_task("user-crud")
    files = {"main.py": "import no_such_module_anywhere\n"}
    report = smoke_check(task, files, servers["postgres"], local_runtime, tmp_path)
    assert not report.booted and report.steps == []
    text = report.feedback(2)
    assert "did not start" in text and "no_such_module_anywhere" in text
    assert "round 2" in text


def _task_copy(tmp_path: Path, smoke: str) -> Path:
    root = tmp_path / "tasks"
    shutil.copytree(load_task("user-crud").root, root / "user-crud")
    (root / "user-crud" / "smoke.yaml").write_text(smoke, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("smoke", "message"),
    [
        (
            "task: user-crud\nsteps:\n  - {name: a, method: GET, path: /users, expect: 3xx}\n",
            "steps.0.expect",
        ),
        (
            "task: user-crud\nsteps:\n  - {name: a, method: GET, path: /nowhere, expect: 2xx}\n",
            "field 'steps.0': GET /nowhere is not a contract operation",
        ),
        (
            "task: user-crud\nsteps:\n  - {name: a, method: GET, path: /users, expect: 2xx}\n",
            "POST /users has 0 steps",
        ),
        (
            "task: user-crud\nsteps:\n"
            "  - {name: a, method: GET, path: '/users/{u}', expect: 2xx}\n",
            "field 'steps.0': u not saved by an earlier step",
        ),
        (
            "task: blog\nsteps:\n  - {name: a, method: GET, path: /users, expect: 2xx}\n",
            "field 'task'",
        ),
    ],
)
def test_a_malformed_smoke_plan_names_the_file_and_field(
    tmp_path: Path, smoke: str, message: str
) -> None:
    root = _task_copy(tmp_path, smoke)
    with pytest.raises(InputFileError) as caught:
        load_task("user-crud", root)
    assert "smoke.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_the_smoke_plan_is_not_part_of_the_graded_task_hash(tmp_path: Path) -> None:
    """Editing the public feedback never invalidates a cached grade."""
    original = load_task("user-crud")
    root = _task_copy(tmp_path, (original.root / "smoke.yaml").read_text() + "# edited\n")
    assert load_task("user-crud", root).content_hash() == original.content_hash()
