"""The offline providers behind the provider protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import HarnessError, InputFileError
from harness.core.extract import extract_files
from harness.core.tasks import load_task
from harness.providers import GenerationRequest, resolve_provider


def _request(task_id: str = "user-crud", sample: int = 0) -> GenerationRequest:
    return GenerationRequest(task_id=task_id, sample=sample, system_prompt="s", user_message="u")


def test_reference_answers_in_the_seed_format_and_extracts_back() -> None:
    response = resolve_provider("reference").generate(_request())
    assert response.text.startswith("```python\n# models.py\n")
    assert extract_files(response.text).files == load_task("user-crud").reference_files()
    assert response.finish_reason == "stop"


def test_replay_reads_one_file_per_task_and_sample(tmp_path: Path) -> None:
    (tmp_path / "user-crud").mkdir()
    (tmp_path / "user-crud" / "1.md").write_text("```python\n# main.py\napp = 1\n```\n")
    provider = resolve_provider(f"replay:{tmp_path}")
    assert "app = 1" in provider.generate(_request(sample=1)).text
    with pytest.raises(InputFileError, match=r"user-crud/0.md: no recorded response"):
        provider.generate(_request(sample=0))


def test_provider_spec_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"unknown model provider 'gpt9'.*reference"):
        resolve_provider("gpt9:large")
    with pytest.raises(HarnessError, match=r"replay:<dir>"):
        resolve_provider("replay")
    with pytest.raises(HarnessError, match=r"no such folder"):
        resolve_provider(f"replay:{tmp_path / 'missing'}")
