"""`harness regrade`: a run's stored responses graded again with the current graders,
without any model call; the previous rows are kept beside the new ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.files import regrade_backup
from harness.core.store import RunStore
from harness.providers import GenerationRequest, ModelResponse, Provider
from harness.run.config import config_from_run, replace_config
from harness.run.engine import EvalRun


class StoredResponsesOnly(Provider):
    """The provider for `harness regrade`: every response must already be stored."""

    name = "stored"
    multi_round = True  # every round is answered from storage
    cacheable = False
    metered = False

    def __init__(self, model: str) -> None:
        self.model = model

    def generate(self, request: GenerationRequest) -> ModelResponse:
        raise HarnessError(
            f"no stored response for {request.task_id} #{request.sample}: regrade makes no "
            "model call (resume the run instead)"
        )


def regrade_run(results_dir: Path, run_id: str) -> Path:
    """Re-grade a run's stored responses with the current graders; no model call."""
    config = replace_config(config_from_run(results_dir, run_id), grade_cache=False, max_cost=None)
    store = RunStore(results_dir / run_id)
    if store.results_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        store.results_path.rename(store.root / regrade_backup(stamp))
    return EvalRun(config, provider=StoredResponsesOnly(config.model)).execute()
