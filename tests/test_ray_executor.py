"""`harness eval --executor ray` on a real Ray cluster on this machine: a head and two
worker nodes (`ray start`, separate temp dirs, custom resources), each node grading with
its own runtime and database servers. The reference of two tasks on both databases,
graded on the cluster with one worker's raylet killed while it holds a job, gives the
same rows as the local executor, timings aside: no row lost, the lost job counted as an
infra retry; an unchanged re-run on the cluster grades nothing (the head's grade cache);
a run whose head (the driver) is killed resumes on the cluster to the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.run.ray_executor import node_resources, resource
from tests.support.ray_cluster import LocalRayCluster

# Two tasks on both databases: the executor is what is tested, and `make test` must stay
# under 30 minutes (every task's grading is proven by the task proofs and the corpus).
TASKS = "user-crud,blog"
RESUME_TASKS = TASKS
VOLATILE = {"timings", "run_id"}
EVAL_TIMEOUT_S = 600
# The local run and the cluster's together, on two cores: past the suite's 600 s.
pytestmark = pytest.mark.timeout(1200)


def _eval(
    cluster: LocalRayCluster, run_id: str, *extra: str, tasks: str = TASKS
) -> subprocess.Popen[str]:
    env = cluster.env("driver")
    env["HARNESS_GRADE_CACHE"] = str(cluster.root / "grade-cache" / run_id.split("-")[0])
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--model",
            "reference",
            "--tasks",
            tasks,
            "--db",
            "postgres,mysql",
            "--runtime",
            "local",
            "--results-dir",
            str(cluster.root / "results"),
            "--run-id",
            run_id,
            "--no-report",
            *extra,
        ],
        env={
            k: v
            for k, v in env.items()
            if not k.startswith("HARNESS_") or k == "HARNESS_GRADE_CACHE"
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    try:
        output, _ = process.communicate(timeout=EVAL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"harness eval did not finish in {EVAL_TIMEOUT_S} s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]
    return output


def _comparable(run: Path) -> dict[tuple[str, str], str]:
    rows = {}
    for line in (run / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        kept = {k: v for k, v in row.items() if k not in VOLATILE}
        kept["boot"] = {**row["boot"], "seconds": None}
        rows[(row["task"], row["database"])] = json.dumps(kept, sort_keys=True)
    return rows


def _differences(got: dict[tuple[str, str], str], expected: dict[tuple[str, str], str]) -> str:
    """Each differing row's scores and findings, both sides: what a mismatch needs to be
    understood (a flaky grade or the executor)."""
    lines = []
    for key in sorted(set(got) | set(expected)):
        if got.get(key) == expected.get(key):
            continue
        for side, rows in (("got", got), ("expected", expected)):
            row = json.loads(rows[key]) if key in rows else {}
            findings = [
                f"{f.get('grader')}:{f.get('check')}: {str(f.get('message'))[:200]}"
                for f in row.get("findings", [])
            ]
            lines.append(f"{key} {side}: scores {row.get('scores')} findings {findings}")
    return "\n".join(lines) + "\n"


def _artifacts(run: Path) -> set[str]:
    return {
        str(path.relative_to(run))
        for path in (run / "samples").rglob("*")
        if path.is_file() and path.parent.name in ("postgres", "mysql")
    }


@pytest.fixture(scope="module")
def started() -> Iterator[tuple[LocalRayCluster, subprocess.Popen[str]]]:
    """The cluster, and the same eval on the local executor (threads) to compare with,
    started first so that it runs while the cluster starts."""
    running = LocalRayCluster(cpus_per_node=1)
    local = _eval(running, "local-run", "--executor", "threads", "--jobs", "2")
    try:
        running.start_head()
        running.add_worker()
        running.add_worker()
        running.wait_for_nodes(3)
        yield running, local
    finally:
        if local.poll() is None:
            local.kill()
            local.communicate(timeout=30)
        running.stop()


@pytest.fixture(scope="module")
def cluster(started: tuple[LocalRayCluster, subprocess.Popen[str]]) -> LocalRayCluster:
    return started[0]


@pytest.fixture(scope="module")
def local_run(started: tuple[LocalRayCluster, subprocess.Popen[str]]) -> str:
    return _finish(started[1])


def test_node_resources_name_the_runtime_and_engines() -> None:
    assert node_resources("docker", ["postgres"]) == {
        resource("docker"): 1.0,
        resource("postgres"): 1.0,
    }
    assert resource("local") == "harness_local"


def test_the_cluster_grades_as_the_local_executor_and_survives_a_lost_node(
    cluster: LocalRayCluster, local_run: str
) -> None:
    local_output = local_run
    ray_run = _eval(cluster, "ray-run", "--executor", "ray", "--ray-address", cluster.address)
    # Kill the second worker's raylet once its grader holds a job: the job must be
    # graded again on the first worker.
    deadline = time.monotonic() + 180
    while not cluster.node_busy("worker2") and ray_run.poll() is None:
        assert time.monotonic() < deadline, "worker2 never got a job"
        time.sleep(0.2)
    assert ray_run.poll() is None, "the run ended before worker2 could be killed"
    cluster.kill_node("worker2")
    ray_output = _finish(ray_run)

    results = cluster.root / "results"
    local_rows, ray_rows = _comparable(results / "local-run"), _comparable(results / "ray-run")
    assert len(local_rows) == 4, local_output[-3000:]
    assert ray_rows == local_rows, _differences(ray_rows, local_rows) + ray_output[-2000:]
    assert all(json.loads(row)["infra_error"] is None for row in ray_rows.values())
    assert _artifacts(results / "ray-run") == _artifacts(results / "local-run")

    info = json.loads((results / "ray-run" / "run.json").read_text())
    assert info["counters"]["infra_retries"] >= 1, ray_output[-3000:]
    assert info["counters"]["graded"] == 4
    assert info["runtime"]["executor"] == "ray"
    assert "lost" in ray_output

    # An unchanged re-run on the (now one-worker) cluster: every grade from the cache.
    again = _eval(cluster, "ray-again", "--executor", "ray", "--ray-address", cluster.address)
    _finish(again)
    rerun = json.loads((results / "ray-again" / "run.json").read_text())
    assert rerun["counters"]["graded"] == 0
    assert rerun["counters"]["cached_grades"] == 4
    assert _comparable(results / "ray-again") == local_rows


def test_a_killed_head_resumes_to_the_same_rows(cluster: LocalRayCluster, local_run: str) -> None:
    """The driver (the head's `harness eval`) SIGKILLed once a row is written; `--resume`
    on the cluster finishes the run: every row once, equal to the local executor's."""
    results = cluster.root / "results"
    first = _eval(
        cluster,
        "resume-run",
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        tasks=RESUME_TASKS,
    )
    rows_file = results / "resume-run" / "results.jsonl"
    deadline = time.monotonic() + EVAL_TIMEOUT_S
    while not (rows_file.is_file() and rows_file.read_text().strip()):
        assert first.poll() is None, "the run ended before its head could be killed"
        assert time.monotonic() < deadline, "no row was written"
        time.sleep(0.2)
    first.kill()
    first.communicate(timeout=30)
    written = len(rows_file.read_text().splitlines())
    assert written < 4, "the run finished before its head was killed"

    env = {
        k: v
        for k, v in cluster.env("driver").items()
        if not k.startswith("HARNESS_") or k == "HARNESS_GRADE_CACHE"
    }
    env["HARNESS_GRADE_CACHE"] = str(cluster.root / "grade-cache" / "resume")
    resumed = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--resume",
            "resume-run",
            "--results-dir",
            str(results),
            "--executor",
            "ray",
            "--ray-address",
            cluster.address,
            "--no-report",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _finish(resumed)
    keys = [
        (row["task"], row["database"])
        for row in map(json.loads, rows_file.read_text().splitlines())
        if row["infra_error"] is None
    ]
    assert sorted(keys) == sorted(set(keys)), output[-3000:]
    local_rows = _comparable(results / "local-run")
    expected = {key: row for key, row in local_rows.items() if key[0] in RESUME_TASKS.split(",")}
    assert len(expected) == 4
    resumed_rows = _comparable(results / "resume-run")
    assert resumed_rows == expected, _differences(resumed_rows, expected) + output[-2000:]
    info = json.loads((results / "resume-run" / "run.json").read_text())
    assert info["status"] == "complete"


def test_no_node_for_the_runtime_is_an_error_naming_the_resource(
    cluster: LocalRayCluster,
) -> None:
    env = {k: v for k, v in cluster.env("driver").items() if not k.startswith("HARNESS_")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--tasks",
            "user-crud",
            "--db",
            "postgres",
            "--runtime",
            "docker",
            "--executor",
            "ray",
            "--ray-address",
            cluster.address,
            "--results-dir",
            str(cluster.root / "results"),
            "--run-id",
            "docker-run",
            "--no-report",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "harness_docker" in out.stderr, out.stderr[-2000:]
