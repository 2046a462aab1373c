"""Recorded answers: `replay:<dir>` reads `<dir>/<task>/<sample>.md`, and for round
k >= 2 of `--rounds` `<dir>/<task>/<sample>.round-<k>.md` where one is recorded."""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import HarnessError, InputFileError
from harness.providers.base import GenerationRequest, ModelResponse, Provider, register_provider


class ReplayProvider(Provider):
    """Replays recorded responses, one file per task and sample."""

    name = "replay"
    # Offline: the recordings may change under the same prompt, and cost nothing.
    cacheable = False
    metered = False
    # Round k >= 2 reads `<sample>.round-<k>.md` when recorded, else `<sample>.md` again.
    multi_round = True

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise HarnessError(f"MODEL=replay:{root}: no such folder")
        self.root = root
        self.model = f"replay:{root.name}"

    def path_for(self, task_id: str, sample: int, round_number: int = 1) -> Path:
        if round_number > 1:
            later = self.root / task_id / f"{sample}.round-{round_number}.md"
            if later.is_file():
                return later
        return self.root / task_id / f"{sample}.md"

    def generate(self, request: GenerationRequest) -> ModelResponse:
        path = self.path_for(request.task_id, request.sample, request.round)
        if not path.is_file():
            raise InputFileError(path, "no recorded response for this task and sample")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(path, f"cannot read recorded response: {exc}") from exc
        return ModelResponse(text=text, model=self.model)


@register_provider("replay", ReplayProvider)
def make_replay(argument: str) -> Provider:
    if not argument:
        raise HarnessError("MODEL=replay needs a folder: MODEL=replay:<dir>")
    return ReplayProvider(Path(argument))
