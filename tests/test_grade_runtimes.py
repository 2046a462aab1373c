"""`harness grade --runtime`: the same reference answer graded in each backend, as a user
runs it (a real subprocess), one JSON result object per database on stdout. Local grades
on the session's servers (given by URL); docker starts its own server containers and
removes them, and everything else it made, at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.providers import GenerationRequest, resolve_provider
from harness.sandbox.docker.engine import engine_answers
from harness.sandbox.servers import SERVER_URL_ENV

RESULT_KEYS = {"task", "sample", "database", "boot", "scores", "findings", "infra_error", "timings"}


def _reference_answer(folder: Path) -> Path:
    answer = folder / "answer.md"
    request = GenerationRequest(task_id="user-crud", sample=0, system_prompt="", user_message="")
    answer.write_text(resolve_provider("reference").generate(request).text)
    return answer


def _grade(runtime: str, folder: Path, env: dict[str, str]) -> list[dict]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "grade",
            "--task",
            "user-crud",
            "--response",
            str(_reference_answer(folder)),
            "--db",
            "postgres,mysql",
            "--runtime",
            runtime,
            "--json",
            "--results-dir",
            str(folder / "r"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"harness: grading in the {runtime} runtime" in done.stderr, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["database"] for row in rows] == ["postgres", "mysql"]
    for row in rows:
        assert RESULT_KEYS <= row.keys()
        assert 0.0 <= row["scores"]["overall"] <= 1.0
        assert row["infra_error"] is None, row["infra_error"]
        assert row["boot"]["ok"] is True
        assert row["scores"]["functional"] == 1.0, row["findings"]
        assert row["scores"]["robustness"] == 1.0, row["findings"]
        assert row["sandboxed"] is True
    assert list((folder / "r" / "grades").glob("*/samples/user-crud/0/mysql/app.log"))
    return rows


def test_grade_runtime_local_grades_the_reference(
    tmp_path: Path, server_urls: dict[str, str]
) -> None:
    _grade("local", tmp_path, {**os.environ, **server_urls})


def test_grade_runtime_docker_grades_the_reference(tmp_path: Path) -> None:
    ok, detail = engine_answers()
    if not ok:
        pytest.fail(f"`harness grade --runtime docker` needs a Docker engine: {detail}")
    env = {k: v for k, v in os.environ.items() if k not in SERVER_URL_ENV.values()}
    _grade("docker", tmp_path, env)


def test_grade_runtime_unknown_is_an_error(tmp_path: Path) -> None:
    answer = _reference_answer(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "grade", "--task", "user-crud"]
        + ["--response", str(answer), "--runtime", "vm"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown runtime 'vm' (known: auto, local, docker)" in done.stderr
