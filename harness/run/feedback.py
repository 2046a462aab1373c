"""Between rounds (`--rounds`): boot a round's answer, run the task's public smoke check
and keep what a developer would see (`feedback.md` in the round's folder) as the next
round's user message. A stored feedback is reused, so a resumed run shows the model
exactly what it was shown before (and hits the response cache)."""

from __future__ import annotations

from harness.core.errors import InfrastructureError
from harness.core.files import FEEDBACK_DIR, FEEDBACK_FILE
from harness.core.store import RunStore, write_text_atomic
from harness.core.tasks import Task
from harness.grading.pipeline import INFRA_ATTEMPTS
from harness.grading.smoke import smoke_check
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import ServerPool


def round_feedback(
    store: RunStore,
    task: Task,
    sample: int,
    round_number: int,
    files: dict[str, str],
    pool: ServerPool,
    kind: str,
    runtime: Runtime,
) -> str:
    """The feedback on round `round_number`'s files, run on a fresh database of `kind`
    (the run's first database). InfrastructureError when the harness's servers fail
    INFRA_ATTEMPTS times (a failed server is recovered between attempts)."""
    folder = store.sample_dir(task.id, sample, round_number)
    path = folder / FEEDBACK_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8")
    error: InfrastructureError | None = None
    for _ in range(INFRA_ATTEMPTS):
        server = pool.get(kind)
        try:
            report = smoke_check(task, files, server, runtime, folder / FEEDBACK_DIR, sample)
        except InfrastructureError as exc:
            error = exc
            pool.recover(kind, server)
            continue
        text = report.feedback(round_number)
        write_text_atomic(path, text)
        return text
    assert error is not None
    raise error
