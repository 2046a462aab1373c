"""The unit of grading work: one candidate on one database, as plain data.

A job names its task by id and content hash (not a `Task` object), carries the answer's
files, and the graders (names and versions) it is to be graded with, so it serializes
(`model_dump_json`) and a worker in another process or on another machine can receive
it and check that its tasks and graders are the ones the run started with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from harness.core.records import ExtractionRecord
from harness.core.tasks import Task
from harness.grading.pipeline import DEFAULT_GRADERS, grader_versions
from harness.grading.scoring import composite_version


class GradingJob(BaseModel):
    """One candidate on one database: the unit the grading executor runs."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    task_hash: str
    sample: int
    database: str
    files: dict[str, str]
    extraction: ExtractionRecord
    # The answer text the checklist grades for format; None for a workspace agent.
    response_text: str | None
    # (name, version) of each grader to run, then ("composite", version): part of the
    # grade's cache key.
    graders: list[tuple[str, str]]
    # Which answer of the sample (`--rounds`); its files live in that round's folder.
    round: int = 1


def current_graders() -> list[tuple[str, str]]:
    """The graders a job made now is graded with, and the composite's version."""
    return [*grader_versions(DEFAULT_GRADERS), ("composite", composite_version())]


def make_jobs(
    task: Task,
    sample: int,
    kinds: list[str],
    files: dict[str, str],
    extraction: ExtractionRecord,
    response_text: str | None,
    round_number: int = 1,
) -> list[GradingJob]:
    """One job per database for one extracted response."""
    graders = current_graders()
    task_hash = task.content_hash()
    return [
        GradingJob(
            task_id=task.id,
            task_hash=task_hash,
            sample=sample,
            database=kind,
            files=files,
            extraction=extraction,
            response_text=response_text,
            graders=graders,
            round=round_number,
        )
        for kind in kinds
    ]
