"""Grade a set of files on one database, the way the graders' tests need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.records import SampleResult
from harness.core.tasks import Task
from harness.grading import pipeline as grading
from harness.grading.pipeline import PROOF_GRADERS
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime


def grade_files(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    runtime: Runtime,
    folder: Path,
    graders: tuple[str, ...] = PROOF_GRADERS,
    *,
    must_boot: bool = False,
    **options: Any,
) -> SampleResult:
    """`harness.grading.pipeline.grade_files`; `must_boot`: fail the test when the infrastructure
    failed or the app did not boot."""
    result = grading.grade_files(task, files, server, runtime, folder, graders, **options)
    if must_boot:
        assert result.infra_error is None, result.infra_error
        assert result.scores["boot"] == 1.0, result.findings
    return result
