"""Grade a set of files on one database, locally, the way the graders' tests need."""

from __future__ import annotations

from pathlib import Path

from harness.config import STARTUP_TIMEOUT_S
from harness.grading import PROOF_GRADERS, CandidateRun, grade_candidate
from harness.results import SampleResult
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from harness.tasks import Task


def grade_files(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    python: Path | None,
    folder: Path,
    graders: tuple[str, ...] = PROOF_GRADERS,
    *,
    must_boot: bool = False,
    runtime: Runtime | None = None,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    only_hidden_tests: tuple[str, ...] | None = None,
) -> SampleResult:
    """Grade `files` with `graders`, in the local runtime of `python` unless a `runtime`
    is given; artifacts go to `folder`. `must_boot`: fail the test when the
    infrastructure failed or the app did not boot."""
    run = CandidateRun(
        task=task,
        files=files,
        files_dir=folder,
        sample=0,
        server=server,
        artifacts_dir=folder,
        python=python,
        graders=graders,
        runtime=runtime,
        startup_timeout_s=startup_timeout_s,
        only_hidden_tests=only_hidden_tests,
    )
    result = grade_candidate(run)
    if must_boot:
        assert result.infra_error is None, result.infra_error
        assert result.scores["boot"] == 1.0, result.findings
    return result
