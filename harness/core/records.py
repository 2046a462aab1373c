"""The records written to disk: one JSONL row per sample x database (DESIGN.md's
result format), what each grader returned (`GradeResult`, its `Finding`s), plus what the
run and each sample's extraction looked like."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Severity = Literal["info", "low", "medium", "high", "critical"]


class Finding(BaseModel):
    grader: str
    check: str
    severity: Severity
    message: str
    evidence: str = ""
    # What the check was about, where one check has many: the operation a fuzz check
    # failed on, the table or column a schema check names. Empty otherwise.
    subject: str = ""


class GradeResult(BaseModel):
    grader: str
    score: float = Field(ge=0.0, le=1.0)
    findings: list[Finding] = []
    details: dict[str, Any] = {}
    seconds: float = 0.0


# The `correct_and_secure` rule's inputs: the hidden tests' grader must score 1.0 and the
# security grader must report nothing at these severities (BaxBench's sec_pass).
CORRECTNESS_GRADER = "functional"
SECURITY_GRADER = "security"
INSECURE_SEVERITIES = frozenset({"high", "critical"})


def correct_and_secure(scores: Mapping[str, float], findings: Sequence[Finding]) -> bool | None:
    """Every hidden test passes and no high or critical security finding; None when the
    functional or security grader did not run (nothing to say either way). Computed once
    when a row is scored and stored in it; `SampleResult.is_correct_and_secure` derives
    it with this same rule for rows written before it was stored."""
    if CORRECTNESS_GRADER not in scores or SECURITY_GRADER not in scores:
        return None
    insecure = any(
        f.grader == SECURITY_GRADER and f.severity in INSECURE_SEVERITIES for f in findings
    )
    return scores[CORRECTNESS_GRADER] == 1.0 and not insecure


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
    # Which answer of the sample (`--rounds`): 1 is the first. Written only from round 2
    # on, so a one-round row is exactly what it was before rounds existed, and a row
    # without it (every older run) is round 1.
    round: int = 1

    @model_serializer(mode="wrap")
    def _omit_first_round(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("round") == 1:
            del data["round"]
        return data

    def is_correct_and_secure(self) -> bool | None:
        """The stored flag; for a row written before it was stored, the same rule applied
        to the row's scores and findings (None for an infrastructure row)."""
        if self.correct_and_secure is not None or self.infra_error is not None:
            return self.correct_and_secure
        return correct_and_secure(self.scores, self.findings)

    def public_json(self) -> dict[str, Any]:
        """The DESIGN.md result object (what `harness grade --json` prints)."""
        return self.model_dump(mode="json")
