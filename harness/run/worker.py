"""Grading one job: a cached grade when its inputs are unchanged, else grade it on a
server from the run's pool (recovering a server that fails), and keep the grade."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness.core.errors import HarnessError
from harness.core.files import FILES_DIR
from harness.core.records import SampleResult
from harness.core.store import RunStore
from harness.core.tasks import Task
from harness.grading.pipeline import INFRA_ATTEMPTS, CandidateRun, grade_candidate
from harness.providers import ModelResponse
from harness.run.generation import graded_text, store_extraction
from harness.run.grade_cache import GradeCache, grade_key
from harness.run.jobs import GradingJob, current_graders
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import ServerPool


@dataclass
class GradingWorker:
    """What grading a job needs: the run's tasks, folder, servers and runtime."""

    tasks: Mapping[str, Task]
    store: RunStore
    pool: ServerPool
    runtime: Runtime
    grade_cache: GradeCache | None
    # Raises (HarnessError) when tasks/ or the graders changed since the run started.
    verify_integrity: Callable[[], None]
    count: Callable[[str], None]
    # Grades a job elsewhere (a cluster node: harness/run/ray_executor.py) instead of on
    # this worker's servers; the cache is still checked and filled here.
    remote: Callable[[GradingJob], SampleResult] | None = None

    def grade(self, job: GradingJob) -> SampleResult:
        """The job's row (its extraction attached)."""
        result = self._grade(job)
        result.extraction = job.extraction
        result.round = job.round
        return result

    def _task(self, job: GradingJob) -> Task:
        task = self.tasks[job.task_id]
        if task.content_hash() != job.task_hash:
            raise HarnessError(f"task {job.task_id} changed since its grading job was made")
        if list(job.graders) != current_graders():
            raise HarnessError("the graders changed since the grading job was made")
        return task

    def _grade(self, job: GradingJob) -> SampleResult:
        """A cached grade when the inputs are unchanged; else grade, recovering servers."""
        self.verify_integrity()
        task = self._task(job)
        sample, kind, files = job.sample, job.database, job.files
        pool, runtime, response_text = self.pool, self.runtime, job.response_text
        key = grade_key(
            files,
            job.task_hash,
            job.graders,
            runtime.describe(),
            pool.version(kind),
            kind,
            response_text,
        )
        if self.grade_cache is not None and (cached := self.grade_cache.get(key)):
            self.count("cached_grades")
            return replace_sample(cached, sample)
        result = self.remote(job) if self.remote is not None else self.grade_here(job, task)
        self.count("graded")
        # Checked again before the grade is kept: a candidate that tampered while it was
        # graded must not leave its grade behind (in the cache or the results).
        self.verify_integrity()
        if self.grade_cache is not None and not has_grader_error(result):
            self.grade_cache.put(key, result)
        return result

    def grade_here(self, job: GradingJob, task: Task) -> SampleResult:
        """Grade on this worker's servers and runtime, recovering a server that fails."""
        sample, kind = job.sample, job.database
        run = CandidateRun(
            task=task,
            files=job.files,
            sample=sample,
            server=self.pool.get(kind),
            files_dir=self.store.sample_dir(task.id, sample, job.round) / FILES_DIR,
            artifacts_dir=self.store.database_dir(task.id, sample, kind, job.round),
            runtime=self.runtime,
            response_text=job.response_text,
        )
        return grade_candidate(run, attempts=INFRA_ATTEMPTS, servers=self.pool)


def grade_response(
    task: Task,
    response: ModelResponse,
    sample: int,
    servers: dict[str, DatabaseServer],
    runtime: Runtime,
    store: RunStore,
) -> list[SampleResult]:
    """Extract, store and grade one response on every database server given."""
    files, extraction = store_extraction(store, task, sample, response)
    results = []
    for kind, server in servers.items():
        result = grade_candidate(
            CandidateRun(
                task=task,
                files=files,
                files_dir=store.sample_dir(task.id, sample) / FILES_DIR,
                sample=sample,
                server=server,
                artifacts_dir=store.database_dir(task.id, sample, kind),
                runtime=runtime,
                response_text=graded_text(response),
            )
        )
        result.extraction = extraction
        results.append(result)
    return results


def has_grader_error(result: SampleResult) -> bool:
    """Whether a grader raised on this row: never cached, so a fixed grader grades again."""
    return any(finding.check == "grader-error" for finding in result.findings)


def replace_sample(result: SampleResult, sample: int) -> SampleResult:
    return result.model_copy(update={"sample": sample})
