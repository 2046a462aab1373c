"""What the engine hands an executor to grade is plain data, and the thread executor
runs calls the way the engine schedules them."""

from __future__ import annotations

import threading
import time

from harness.core.records import ExtractionRecord
from harness.core.tasks import load_task
from harness.run.executor import Executor, ThreadExecutor
from harness.run.jobs import GradingJob, current_graders, make_jobs


def test_a_grading_job_survives_serialization() -> None:
    task = load_task("user-crud")
    files = task.reference_files()
    extraction = ExtractionRecord(shape="fenced", truncated=False, problems=[], files=sorted(files))
    jobs = make_jobs(task, 3, ["postgres", "mysql"], files, extraction, "the answer")
    assert [job.database for job in jobs] == ["postgres", "mysql"]
    for job in jobs:
        assert (job.task_id, job.task_hash, job.sample) == ("user-crud", task.content_hash(), 3)
        assert job.graders == current_graders()
        again = GradingJob.model_validate_json(job.model_dump_json())
        assert again == job


def test_the_thread_executor_yields_results_as_they_finish() -> None:
    def slow(delay: float) -> float:
        time.sleep(delay)
        return delay

    executor: Executor = ThreadExecutor(2, "test")
    try:
        assert list(executor.map_unordered(slow, [0.3, 0.0])) == [0.0, 0.3]
        assert executor.submit(threading.current_thread).result().name.startswith("test")
    finally:
        executor.close()
