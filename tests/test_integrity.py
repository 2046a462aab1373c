"""The graders' code and data cannot change under a run: a change between two grades
stops the run, naming the file, before anything is graded with the changed version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.settings import TASKS_DIR
from harness.grading.integrity import GRADERS_DIR, SourceIntegrity
from harness.providers import GenerationRequest, ModelResponse, Provider
from harness.providers.reference import ReferenceProvider
from harness.run.config import EvalConfig
from harness.run.engine import EvalRun


def test_a_changed_added_or_removed_file_is_named(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    (root / "t" / "hidden").mkdir(parents=True)
    test_file = root / "t" / "hidden" / "test_x.py"
    test_file.write_text("def test_x(): assert False\n")
    (root / "t" / "hidden" / "__pycache__").mkdir()
    integrity = SourceIntegrity((root,))
    integrity.verify()
    (root / "t" / "hidden" / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    integrity.verify()  # caches are not sources
    test_file.write_text("def test_x(): assert True\n")
    (root / "t" / "hidden" / "conftest.py").write_text("")
    with pytest.raises(HarnessError) as raised:
        integrity.verify()
    assert "changed tasks/t/hidden/test_x.py" in str(raised.value)
    assert "added tasks/t/hidden/conftest.py" in str(raised.value)


def test_the_default_covers_tasks_and_graders() -> None:
    integrity = SourceIntegrity()
    assert any(key.startswith("tasks/user-crud/hidden/") for key in integrity.baseline)
    assert "graders/functional.py" in integrity.baseline
    assert GRADERS_DIR.name == "graders" and TASKS_DIR.name == "tasks"


class EditingProvider(Provider):
    """Answers with the reference, and edits a hidden test while it does: what an
    agent with access to the repository could try."""

    name = "editing"
    model = "editing"
    cacheable = False
    metered = False

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def generate(self, request: GenerationRequest) -> ModelResponse:
        self.victim.write_text(self.victim.read_text() + "\n# edited by the candidate\n")
        return ReferenceProvider().generate(request)


def test_an_edit_during_the_run_stops_it_before_grading(tmp_path: Path) -> None:
    copy = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR / "user-crud", copy / "user-crud")
    victim = copy / "user-crud" / "hidden" / "test_users.py"
    config = EvalConfig(
        tasks="user-crud",
        databases=("postgres",),
        runtime="local",
        results_dir=tmp_path / "results",
        run_id="edited",
        grade_cache=False,
        response_cache=False,
        jobs=1,
    )
    run = EvalRun(config, provider=EditingProvider(victim))
    run.integrity = SourceIntegrity((copy, GRADERS_DIR))
    with pytest.raises(HarnessError, match="changed tasks/user-crud/hidden/test_users.py"):
        run.execute()
    assert (
        not (tmp_path / "results" / "edited" / "results.jsonl").exists()
        or not (tmp_path / "results" / "edited" / "results.jsonl").read_text().strip()
    )
