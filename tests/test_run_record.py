"""run.json and response.json are typed records; folders written by older versions
(before a field existed) still load everywhere they are read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.files import RESPONSE_FILE, RUN_FILE, sample_folder
from harness.core.run_record import ResponseRecord, RunRecord
from harness.core.store import RunStore
from harness.nightly.cli import baseline_name_for
from harness.nightly.config import NightlyConfig
from harness.report.frame import _run_defaults, read_usage
from harness.run.config import config_from_run

# run.json as an early version wrote it: no requested_runtime, requested_model,
# max_cost_usd, response_cache, usage or agent; a field this version does not know.
OLD_RUN = {
    "run_id": "old",
    "status": "complete",
    "config": {
        "model": "reference",
        "prompt": "fastapi-backend-engineer@v1",
        "tasks": ["user-crud"],
        "samples": 2,
        "databases": ["postgres"],
        "runtime": "local",
        "params": {"temperature": None, "max_tokens": 16000, "seed": None},
    },
    "graders": {"boot": "1"},
    "legacy_field": {"kept": True},
    "started_at": "2025-01-01T00:00:00+00:00",
}


def _old_run(tmp_path: Path) -> Path:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / RUN_FILE).write_text(json.dumps(OLD_RUN))
    return folder


def test_an_old_run_json_resumes_with_its_configuration(tmp_path: Path) -> None:
    _old_run(tmp_path)
    config = config_from_run(tmp_path, "old")
    assert (config.model, config.tasks, config.samples) == ("reference", "user-crud", 2)
    assert config.runtime == "local"  # no requested_runtime: the resolved one
    assert config.max_cost is None and config.response_cache is True


def test_an_old_run_json_round_trips_what_it_said(tmp_path: Path) -> None:
    record = RunStore(_old_run(tmp_path)).read_run_record()
    assert record.config is not None and record.config.model_as_typed == "reference"
    assert record.to_json() == OLD_RUN


def test_an_old_run_json_feeds_the_report_and_nightly(tmp_path: Path) -> None:
    folder = _old_run(tmp_path)
    assert _run_defaults(folder) == {"model": "reference", "prompt": "fastapi-backend-engineer@v1"}
    config = NightlyConfig(
        models=["replay:elsewhere", "reference"], prompts=["fastapi-backend-engineer@v1"]
    )
    (cell,) = [c for c in config.cells() if c.model == "reference"]
    assert baseline_name_for(folder, config) == cell.name


def test_a_run_json_without_what_resume_needs_is_malformed(tmp_path: Path) -> None:
    folder = _old_run(tmp_path)
    info = json.loads((folder / RUN_FILE).read_text())
    del info["config"]["params"]
    (folder / RUN_FILE).write_text(json.dumps(info))
    with pytest.raises(HarnessError, match="malformed"):
        config_from_run(tmp_path, "old")


def test_a_minimal_run_json_loads(tmp_path: Path) -> None:
    (tmp_path / RUN_FILE).write_text(json.dumps({"run_id": "r"}))
    record = RunRecord.read(tmp_path / RUN_FILE)
    assert record.run_id == "r" and record.config is None and record.status is None
    assert _run_defaults(tmp_path) == {"model": "", "prompt": ""}


def test_an_old_response_json_loads(tmp_path: Path) -> None:
    folder = sample_folder(tmp_path, "user-crud", 0)
    folder.mkdir(parents=True)
    # Before cost_usd, sandboxed and cached were recorded.
    old = {
        "text": "",
        "model": "m",
        "finish_reason": "stop",
        "seconds": 3.5,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }
    (folder / RESPONSE_FILE).write_text(json.dumps(old))
    record = ResponseRecord.read(folder / RESPONSE_FILE)
    assert record is not None and record.cost_usd is None and record.usage.output_tokens == 20
    usage = read_usage(folder / RESPONSE_FILE)
    assert (usage["input_tokens"], usage["output_tokens"], usage["gen_seconds"]) == (10, 20, 3.5)
    assert math.isnan(usage["cost_usd"]) and math.isnan(usage["cached_tokens"])
    (folder / RESPONSE_FILE).write_text("{}")
    assert all(math.isnan(v) for v in read_usage(folder / RESPONSE_FILE).values())
