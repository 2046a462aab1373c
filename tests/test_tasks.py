"""Task files load, and malformed ones fail loudly naming the file and the field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from harness.core.errors import HarnessError, InputFileError
from harness.core.settings import TASKS_DIR
from harness.core.tasks import load_task, load_tasks


@pytest.fixture
def task_copy(tmp_path: Path) -> Path:
    shutil.copytree(TASKS_DIR / "user-crud", tmp_path / "user-crud")
    return tmp_path


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_user_crud_loads_with_agent_visible_brief() -> None:
    task = load_task("user-crud")
    brief = task.brief()
    assert task.spec.version >= 1
    assert "POST" in brief.contract and "/users" in brief.contract
    assert brief.request
    assert task.reference_files().keys() >= {"main.py", "models.py", "schemas.py"}
    assert len(task.mutants) >= 4


def test_all_tasks_is_the_default_selection() -> None:
    assert [t.id for t in load_tasks(None)] == [t.id for t in load_tasks("all")]
    assert "user-crud" in [t.id for t in load_tasks("all")]


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(HarnessError, match=r"unknown task 'nope'.*user-crud"):
        load_task("nope")


def test_missing_field_names_file_and_field(task_copy: Path) -> None:
    _rewrite(task_copy / "user-crud/task.yaml", "title:", "ttle:")
    with pytest.raises(InputFileError) as caught:
        load_task("user-crud", task_copy)
    message = str(caught.value)
    assert "user-crud/task.yaml" in message
    assert "field 'title'" in message and "field 'ttle'" in message


def test_wrong_type_names_the_field(task_copy: Path) -> None:
    path = task_copy / "user-crud/task.yaml"
    path.write_text(re.sub(r"(?m)^version: \d+$", "version: first", path.read_text()))
    with pytest.raises(InputFileError, match=r"task.yaml: field 'version'"):
        load_task("user-crud", task_copy)


def test_invalid_yaml_names_the_file(task_copy: Path) -> None:
    (task_copy / "user-crud/task.yaml").write_text("id: [unclosed\n")
    with pytest.raises(InputFileError, match=r"task.yaml: invalid YAML"):
        load_task("user-crud", task_copy)


def test_missing_request_file_names_the_field(task_copy: Path) -> None:
    (task_copy / "user-crud/request.md").unlink()
    with pytest.raises(InputFileError, match=r"field 'request': file 'request.md' not found"):
        load_task("user-crud", task_copy)


def test_id_must_match_folder(task_copy: Path) -> None:
    _rewrite(task_copy / "user-crud/task.yaml", "id: user-crud", "id: users")
    with pytest.raises(InputFileError, match=r"field 'id'"):
        load_task("user-crud", task_copy)


def test_mutant_whose_edit_no_longer_matches_fails_loudly(task_copy: Path) -> None:
    task = load_task("user-crud", task_copy)
    mutant = task.mutants[0]
    edited = task_copy / "user-crud/reference" / mutant.edits[0].file
    edited.write_text(edited.read_text().replace(mutant.edits[0].find, ""))
    with pytest.raises(InputFileError, match=rf"{mutant.name}/mutant.yaml: field 'edits.0.find'"):
        task.mutant_files(mutant)


def test_malformed_mutant_names_file_and_field(task_copy: Path) -> None:
    folder = task_copy / "user-crud/mutants/broken"
    folder.mkdir()
    (folder / "mutant.yaml").write_text("description: x\nedits: []\n")
    with pytest.raises(InputFileError) as caught:
        _ = load_task("user-crud", task_copy).mutants
    assert "broken/mutant.yaml" in str(caught.value)
    assert "field 'must_fail'" in str(caught.value)


@pytest.mark.parametrize("name", ["grading/probes.yaml", "grading/schema.yaml"])
def test_missing_grading_data_is_an_error_naming_the_file(task_copy: Path, name: str) -> None:
    (task_copy / "user-crud" / name).unlink()
    with pytest.raises(InputFileError, match=rf"user-crud/{name}: missing"):
        load_task("user-crud", task_copy)


def test_every_task_keeps_its_grading_data_with_it() -> None:
    for task in load_tasks("all"):
        assert task.probe_plan_path.is_file() and task.schema_expectations_path.is_file()
        assert task.probe_plan_path.parent == task.contract_openapi_path.parent
