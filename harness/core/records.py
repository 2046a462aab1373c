"""The records written to disk: one JSONL row per sample x database (DESIGN.md's
result format), plus what the run and each sample's extraction looked like."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from harness.graders.base import Finding


class BootRecord(BaseModel):
    ok: bool
    seconds: float
    error: str | None = None


class ExtractionRecord(BaseModel):
    shape: str
    truncated: bool
    problems: list[str]
    files: list[str]


class SampleResult(BaseModel):
    """One sample graded on one database."""

    task: str
    sample: int
    database: str
    boot: BootRecord
    scores: dict[str, float]
    findings: list[Finding]
    # All hidden tests pass and no high/critical security finding (None: not graded).
    correct_and_secure: bool | None = None
    infra_error: str | None = None
    timings: dict[str, float] = {}
    run_id: str = ""
    model: str = ""
    prompt: str = ""
    task_version: int = 0
    extraction: ExtractionRecord | None = None
    hidden_tests: dict[str, Any] = {}
    robustness_tests: dict[str, Any] = {}
    # Share of the task's contract operations the app implements (None: not measured).
    coverage: float | None = None
    # Whether the app ran in a sandbox that isolates it from the harness (docker, or the
    # local runtime's namespaces); False rows are flagged on the leaderboard.
    sandboxed: bool | None = None
    # The server that graded the row, `<engine> <version>` (`mariadb 10.11.6`,
    # `mysql 8.4.0`, `postgres 15.8`): MySQL and MariaDB are reported apart.
    database_engine: str | None = None

    def public_json(self) -> dict[str, Any]:
        """The DESIGN.md result object (what `harness grade --json` prints)."""
        return self.model_dump(mode="json")
