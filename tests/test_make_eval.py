"""The README's promise: on a clean copy of the project, `make eval` builds what it
needs, runs the offline reference on every task and writes the leaderboard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from harness.core.settings import PROJECT_ROOT
from harness.core.tasks import list_task_ids


def _clean_copy(destination: Path) -> None:
    """What `git clone` would give: tracked and new (not ignored) files only."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_make_eval_from_a_clean_copy(tmp_path: Path) -> None:
    project = tmp_path / "project"
    _clean_copy(project)
    assert (
        not (project / ".venv").exists() and not (project / "results" / "leaderboard.html").exists()
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HARNESS_", "VIRTUAL_ENV", "PYTEST"))
    }
    done = subprocess.run(
        ["make", "eval"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [p for p in (project / "results").iterdir() if (p / "run.json").exists()]
    assert len(runs) == 1
    rows = [json.loads(line) for line in (runs[0] / "results.jsonl").read_text().splitlines()]
    assert {(r["task"], r["database"]) for r in rows} == {
        (task, db) for task in list_task_ids() for db in ("postgres", "mysql")
    }
    assert all(r["infra_error"] is None and r["scores"]["functional"] == 1.0 for r in rows)
    html = (project / "results" / "leaderboard.html").read_text()
    assert "reference" in html and "user-crud" in html
