"""Run-engine figures: wall time per candidate x database, harness overhead share,
throughput with --jobs 1 vs --jobs 2, and an unchanged re-run as a share of the original.

Runs the offline reference on every task and both databases, in the local and the docker
runtime, each configuration in a fresh results folder and a fresh grade cache. Prints the
figures (and how many cores each run kept busy); asserts nothing.

    python bench/run_engine.py [TASKS] [--runtime local,docker]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.core.files import RESULTS_FILE

HARNESS = [sys.executable, "-m", "harness.cli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one `harness eval`; prints how many cores it kept busy (CPU time
    of the harness and everything it started: apps, hidden tests, database servers)."""
    cpu_before = _children_cpu()
    began = time.monotonic()
    subprocess.run(
        [*HARNESS, "eval", "--no-report", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.monotonic() - began
    print(
        f"  {' '.join(args[:4])}: {wall:.1f}s wall, "
        f"{(_children_cpu() - cpu_before) / wall:.2f} cores busy on average"
    )
    return wall


def _rows(results: Path) -> list[dict[str, object]]:
    (run,) = [p for p in results.iterdir() if (p / RESULTS_FILE).exists()]
    return [json.loads(line) for line in (run / RESULTS_FILE).read_text().splitlines()]


def _figures(rows: list[dict[str, object]], wall: float, jobs: int) -> str:
    totals = [float(r["timings"]["total"]) for r in rows]  # type: ignore[index]
    work = [
        sum(
            float(v)
            for k, v in r["timings"].items()  # type: ignore[union-attr]
            if k not in ("total", "database")
        )
        for r in rows
    ]
    stages: dict[str, list[float]] = {}
    for row in rows:
        for name, seconds in row["timings"].items():  # type: ignore[union-attr]
            if name != "total":
                stages.setdefault(name, []).append(float(seconds))
    breakdown = ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in stages.items())
    return (
        f"{len(rows)} rows in {wall:.1f}s wall; per candidate x database median "
        f"{statistics.median(totals):.2f}s (median per stage: {breakdown}); in-row "
        f"overhead {1 - sum(work) / sum(totals):.1%}; run-level overhead "
        f"{1 - sum(totals) / (wall * jobs):.1%} of worker time"
    )


def bench_runtime(runtime: str, tasks: str, scratch: Path) -> None:
    walls: dict[int, float] = {}
    for jobs in (1, 2):
        home = scratch / f"{runtime}-jobs{jobs}"
        env = {**os.environ, "HARNESS_GRADE_CACHE": str(home / "cache")}
        common = ["--tasks", tasks, "--runtime", runtime, "--jobs", str(jobs)]
        wall = _run([*common, "--results-dir", str(home / "results")], env)
        walls[jobs] = wall
        print(f"[{runtime}] --jobs {jobs}: {_figures(_rows(home / 'results'), wall, jobs)}")
        if jobs == 1:
            rerun = _run([*common, "--results-dir", str(home / "results-again")], env)
            print(
                f"[{runtime}] unchanged re-run: {rerun:.1f}s = {rerun / wall:.1%} of the original"
            )
    print(f"[{runtime}] throughput --jobs 2 vs --jobs 1: {walls[1] / walls[2]:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tasks", nargs="?", default="all")
    parser.add_argument(
        "--runtime",
        default="local,docker",
        help="comma-separated runtimes to measure (default: local,docker)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for runtime in args.runtime.split(","):
            bench_runtime(runtime.strip(), args.tasks, Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
