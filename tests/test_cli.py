"""`harness grade` and `harness eval` as a user runs them: real subprocesses, real
servers (the session's, passed by URL as a user with their own servers would). A
reference graded by `harness grade`, one result object per database, is in
tests/test_grade_runtimes.py (each runtime)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _harness(args: list[str], env: dict[str, str], timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )


def test_grade_errors_are_clear_and_non_zero(tmp_path: Path, server_urls: dict[str, str]) -> None:
    unknown = _harness(["grade", "--task", "nope", "--response", "x.md"], server_urls)
    assert unknown.returncode == 2
    assert "unknown task 'nope'" in unknown.stderr and "user-crud" in unknown.stderr
    missing = _harness(
        ["grade", "--task", "user-crud", "--response", str(tmp_path / "no.md")], server_urls
    )
    assert missing.returncode == 2 and "no.md: cannot read the response" in missing.stderr
    answer = tmp_path / "a.md"
    answer.write_text("```python\n# main.py\n```\n")
    bad_db = _harness(
        ["grade", "--task", "user-crud", "--response", str(answer), "--db", "oracle"], server_urls
    )
    assert bad_db.returncode == 2 and "unknown database 'oracle'" in bad_db.stderr


def test_grade_without_a_reachable_server_is_an_error(tmp_path: Path) -> None:
    answer = tmp_path / "a.md"
    answer.write_text("```python\n# main.py\n```\n")
    done = _harness(
        [
            "grade",
            "--task",
            "user-crud",
            "--response",
            str(answer),
            "--db",
            "postgres",
            "--results-dir",
            str(tmp_path),
        ],
        {"HARNESS_POSTGRES_URL": "postgresql://x:y@127.0.0.1:1/postgres"},
    )
    assert done.returncode == 2
    assert "postgres server at 127.0.0.1:1" in done.stderr


def test_eval_with_replayed_answers_writes_rows_and_the_leaderboard(
    tmp_path: Path, server_urls: dict[str, str]
) -> None:
    replay = tmp_path / "replay" / "user-crud"
    replay.mkdir(parents=True)
    (replay / "0.md").write_text(
        Path(__file__).parent.joinpath("fixtures/responses/syntax-error.md").read_text()
    )
    results = tmp_path / "results"
    done = _harness(
        [
            "eval",
            "--model",
            f"replay:{replay.parent}",
            "--tasks",
            "user-crud",
            "--samples",
            "2",
            "--db",
            "postgres",
            "--results-dir",
            str(results),
            "--run-id",
            "r1",
        ],
        server_urls,
    )
    assert done.returncode == 0, done.stderr
    rows = [
        json.loads(line) for line in (results / "r1" / "results.jsonl").read_text().splitlines()
    ]
    rows.sort(key=lambda r: r["sample"])
    assert [(r["sample"], r["infra_error"] is None) for r in rows] == [(0, True), (1, False)]
    assert rows[0]["scores"]["boot"] == 0.0
    assert "1.md: no recorded response" in rows[1]["infra_error"]
    info = json.loads((results / "r1" / "run.json").read_text())
    assert info["status"] == "complete"
    assert "PostgreSQL" in info["database_servers"]["postgres"]
    assert info["config"]["prompt"] == "fastapi-backend-engineer@v1"
    assert (results / "r1" / "samples" / "user-crud" / "0" / "response.md").exists()
    assert (results / "leaderboard.html").exists()
