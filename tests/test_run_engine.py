"""The run engine survives crashes: a run SIGKILLed at any stage resumes to the same
results, with no duplicate row and no repeated model call; an unchanged re-run grades
nothing; a database server that dies mid-run is replaced and the run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core.settings import PROJECT_ROOT

VOLATILE = {"timings", "run_id"}
LAUNCH = (
    "import sys, tests.support.counting_provider; from harness.cli import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def _eval(args: list[str], home: Path, failpoints: str = "", timeout: float = 600):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")},
        "PYTHONPATH": str(PROJECT_ROOT),
        "COUNTING_PROVIDER_LOG": str(home / "calls.log"),
        "HARNESS_GRADE_CACHE": str(home / "grade-cache"),
        "HARNESS_FAILPOINTS": failpoints,
        # One generation at a time, so a failpoint fires with no other call in flight (a
        # call killed mid-flight never completed, and is asked again on resume).
        "HARNESS_PROVIDER_CONCURRENCY": "1",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "eval",
            "--no-report",
            "--runtime",
            "local",  # the run engine, not the runtime, is under test (local postmasters)
            "--results-dir",
            str(home / "results"),
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _rows(run: Path) -> list[dict[str, object]]:
    lines = (run / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _comparable(rows: list[dict[str, object]]) -> list[str]:
    stable = []
    for row in rows:
        kept = {k: v for k, v in row.items() if k not in VOLATILE}
        kept["boot"] = {**row["boot"], "seconds": None}  # type: ignore[dict-item]
        stable.append(json.dumps(kept, sort_keys=True))
    return sorted(stable)


RUN_ARGS = [
    "--model",
    "counting",
    "--tasks",
    "user-crud",
    "--samples",
    "2",
    "--db",
    "postgres",
    "--jobs",
    "1",
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    home = tmp_path_factory.mktemp("uninterrupted")
    code, output = _finish(_eval([*RUN_ARGS, "--run-id", "clean"], home))
    assert code == 0, output
    return _comparable(_rows(home / "results" / "clean"))


@pytest.mark.parametrize(
    "failpoint",
    ["after-generate:1", "after-boot:1", "mid-grading:2", "mid-append:1", "mid-append:2"],
)
def test_a_run_killed_anywhere_resumes_to_identical_results(
    tmp_path: Path, uninterrupted: list[str], failpoint: str
) -> None:
    code, output = _finish(_eval([*RUN_ARGS, "--run-id", "r"], tmp_path, failpoints=failpoint))
    assert code == -signal.SIGKILL, output
    code, output = _finish(_eval(["--resume", "r"], tmp_path))
    assert code == 0, output
    rows = _rows(tmp_path / "results" / "r")
    keys = [(r["task"], r["sample"], r["database"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2
    assert _comparable(rows) == uninterrupted
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert sorted(calls) == ["user-crud 0", "user-crud 1"], "a model call was repeated"
    info = json.loads((tmp_path / "results" / "r" / "run.json").read_text())
    assert info["status"] == "complete"


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    code, output = _finish(
        _eval([*RUN_ARGS, "--run-id", "r"], tmp_path, failpoints="after-generate:1")
    )
    assert code == -signal.SIGKILL, output
    code, output = _finish(
        _eval([*RUN_ARGS[:-4], "--samples", "3", "--db", "postgres", "--run-id", "r"], tmp_path)
    )
    assert code == 2
    assert "was started with samples=2" in output


def test_an_unchanged_rerun_grades_nothing(tmp_path: Path) -> None:
    code, output = _finish(_eval([*RUN_ARGS, "--run-id", "first"], tmp_path))
    assert code == 0, output
    began = time.monotonic()
    code, output = _finish(_eval([*RUN_ARGS, "--run-id", "second"], tmp_path))
    assert code == 0, output
    first = json.loads((tmp_path / "results" / "first" / "run.json").read_text())
    assert first["database_servers_started"] == ["postgres"]
    info = json.loads((tmp_path / "results" / "second" / "run.json").read_text())
    assert info["counters"]["graded"] == 0
    assert info["counters"]["cached_grades"] == 2
    # Nothing to grade, so no database server was started just to be asked its version.
    assert info["database_servers_started"] == []
    assert info["database_servers"] == first["database_servers"]
    assert _comparable(_rows(tmp_path / "results" / "first")) == _comparable(
        _rows(tmp_path / "results" / "second")
    )
    print(f"unchanged re-run took {time.monotonic() - began:.1f}s")


def _postmasters_of(pid: int) -> list[int]:
    listing = subprocess.run(
        ["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]
    return [
        int(line.split()[0])
        for line in listing
        if int(line.split()[1]) == pid and "postgres -D" in line
    ]


def test_a_database_server_killed_mid_run_is_replaced_and_the_run_completes(
    tmp_path: Path,
) -> None:
    process = _eval(
        [
            *RUN_ARGS[:4],
            "--samples",
            "3",
            "--db",
            "postgres",
            "--jobs",
            "1",
            "--run-id",
            "k",
            "--no-grade-cache",
        ],
        tmp_path,
    )
    results = tmp_path / "results" / "k" / "results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and results.read_text().count("\n") >= 1:
            break
        time.sleep(0.1)
    victims = _postmasters_of(process.pid)
    assert len(victims) == 1
    os.kill(victims[0], signal.SIGKILL)
    code, output = _finish(process)
    assert code == 0, output
    rows = _rows(tmp_path / "results" / "k")
    assert len(rows) == 3
    assert all(r["infra_error"] is None and r["scores"]["functional"] == 1.0 for r in rows), output
    info = json.loads((tmp_path / "results" / "k" / "run.json").read_text())
    assert info["server_restarts"] == 1
    assert "server died" in output
