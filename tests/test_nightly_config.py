"""nightly.yaml: the repository's default loads and runs offline; every mistake is an
error naming the file and the field; relative paths start at the file's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import InputFileError
from harness.core.settings import PROJECT_ROOT
from harness.nightly.cli import main as nightly_main
from harness.nightly.config import eval_name, load_config


def _load(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nightly.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_config_runs_offline() -> None:
    config = load_config(PROJECT_ROOT / "nightly.yaml")
    [cell] = config.cells()
    assert (cell.model, cell.prompt) == ("reference", "fastapi-backend-engineer@v1")
    assert cell.name == "reference--fastapi-backend-engineer@v1"
    assert config.missing_baseline == "bless"
    assert config.results_path == PROJECT_ROOT / "results"
    assert config.baseline_path == PROJECT_ROOT / "results" / "baselines"
    assert config.history_path == PROJECT_ROOT / "results" / "nightly" / "history.jsonl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("samples: 0\n", "field 'samples': Input should be greater than or equal to 1"),
        ("sampels: 3\n", "field 'sampels': Extra inputs are not permitted"),
        ("thresholds: {speed: 0.1}\n", "field 'thresholds': Value error, unknown metric 'speed'"),
        ("thresholds: {pass: 1.5}\n", "field 'thresholds': Value error, pass: the smallest drop"),
        ("databases: [oracle]\n", "field 'databases.0': Input should be 'postgres' or 'mysql'"),
        ("alpha: 2\n", "field 'alpha': Input should be less than 1"),
        ("models: [reference, reference]\n", "listed more than once: reference"),
        ("flake_check: {max_samples: -1}\n", "field 'flake_check.max_samples'"),
        ("missing_baseline: maybe\n", "field 'missing_baseline': Input should be 'fail' or"),
        ("tasks: [user-crud, no-such-task]\n", "field 'tasks.1': no task 'no-such-task'"),
        ("prompts: [nobody@v9]\n", "field 'prompts.0': unknown prompt 'nobody@v9'"),
        ("models: ['replay:missing']\n", "field 'models.0': replay:missing: no folder"),
        ("name: x\nmodels: [reference, 'replay:.']\n", "name: only with one model and one"),
        ("- a list\n", "expected a mapping of fields at the top level"),
        ("samples: [\n", "invalid YAML"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = _load(tmp_path, text)
    with pytest.raises(InputFileError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_the_cli_exits_2_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _load(tmp_path, "samples: many\n")
    assert nightly_main(["nightly", "--config", str(path)]) == 2
    assert f"{path}: field 'samples'" in capsys.readouterr().err
    assert nightly_main(["nightly", "--config", str(tmp_path / "absent.yaml")]) == 2


def test_relative_paths_start_at_the_file(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    path = _load(
        tmp_path,
        "models: ['replay:recordings']\ntasks: user-crud,blog\nresults_dir: out\n"
        "databases: [postgres]\nseeds: {generation: 7}\n",
    )
    config = load_config(path)
    assert config.tasks == ["user-crud", "blog"]
    assert config.results_path == tmp_path / "out"
    assert config.output_path == tmp_path / "out" / "nightly"
    [cell] = config.cells()
    eval_config = config.eval_config(cell, "run-1")
    assert eval_config.model == f"replay:{tmp_path / 'recordings'}"
    assert eval_config.databases == ("postgres",)
    assert eval_config.params.seed == 7 and eval_config.tasks == "user-crud,blog"
    assert eval_config.results_dir == tmp_path / "out" and eval_config.run_id == "run-1"
    assert not eval_config.response_cache


def test_a_matrix_names_each_evaluation_after_model_and_prompt(tmp_path: Path) -> None:
    path = _load(
        tmp_path,
        "models: [reference, 'openai:gpt-5.5']\n"
        "prompts: [fastapi-backend-engineer@v1, fastapi-backend-engineer@v2]\n",
    )
    names = [cell.name for cell in load_config(path).cells()]
    assert names == [
        "reference--fastapi-backend-engineer@v1",
        "reference--fastapi-backend-engineer@v2",
        "openai-gpt-5.5--fastapi-backend-engineer@v1",
        "openai-gpt-5.5--fastapi-backend-engineer@v2",
    ]
    long = eval_name("command:" + "x" * 200, "agent@v1")
    assert len(long) <= 80 and long != eval_name("command:" + "x" * 201, "agent@v1")


def test_an_empty_file_is_the_defaults(tmp_path: Path) -> None:
    config = load_config(_load(tmp_path, ""))
    assert config.samples == 1 and config.thresholds == {"pass": 0.10, "overall": 0.05}
    assert config.missing_baseline == "fail" and config.flake_check.enabled


def test_nothing_runs_when_a_key_or_a_baseline_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    path = _load(tmp_path, "models: ['anthropic:claude-x']\ntasks: [user-crud]\nresults_dir: r\n")
    assert nightly_main(["nightly", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"{path}: models.0, prompts.0 (anthropic:claude-x" in error
    assert "ANTHROPIC_API_KEY" in error

    path = _load(tmp_path, "tasks: [user-crud]\nresults_dir: r\nmissing_baseline: fail\n")
    assert nightly_main(["nightly", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert "no baseline for reference--fastapi-backend-engineer@v1" in error
    assert "harness baseline set" in error
    assert not (tmp_path / "r").exists()  # nothing was evaluated
