"""The offline default model: answers each task with its gold solution."""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.extract import render_files_as_response
from harness.core.settings import TASKS_DIR
from harness.core.tasks import load_task
from harness.providers.base import GenerationRequest, ModelResponse, Provider, register_provider


class ReferenceProvider(Provider):
    """Renders the task's reference solution in the seed's output format."""

    name = "reference"
    model = "reference"
    # Offline: the answer is a file that may change under the same prompt, and free.
    cacheable = False
    metered = False
    multi_round = True  # the gold answer, every round

    def __init__(self, tasks_dir: Path = TASKS_DIR) -> None:
        self.tasks_dir = tasks_dir

    def generate(self, request: GenerationRequest) -> ModelResponse:
        files = load_task(request.task_id, self.tasks_dir).reference_files()
        return ModelResponse(text=render_files_as_response(files), model=self.model)


@register_provider("reference", ReferenceProvider)
def make_reference(argument: str) -> Provider:
    if argument:
        raise HarnessError(f"MODEL=reference takes no argument (got 'reference:{argument}')")
    return ReferenceProvider()
