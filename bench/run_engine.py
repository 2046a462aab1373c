"""Run-engine figures: wall time per candidate x database, harness overhead share,
throughput with --jobs 1 vs --jobs 2, and an unchanged re-run as a share of the original.

Runs the offline reference on every task and both databases, each configuration in a
fresh results folder and a fresh grade cache. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = [sys.executable, "-m", "harness.cli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one `harness eval`; prints how many cores it kept busy (CPU time
    of the harness and everything it started: apps, hidden tests, database servers)."""
    cpu_before = _children_cpu()
    began = time.monotonic()
    subprocess.run([*HARNESS, "eval", "--no-report", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - began
    print(f"  {' '.join(args[:4])}: {wall:.1f}s wall, "
          f"{(_children_cpu() - cpu_before) / wall:.2f} cores busy on average")
    return wall


def _rows(results: Path) -> list[dict[str, object]]:
    (run,) = [p for p in results.iterdir() if (p / "results.jsonl").exists()]
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def main() -> int:
    tasks = sys.argv[1] if len(sys.argv) > 1 else "all"
    figures: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for jobs in (1, 2):
            home = Path(scratch) / f"jobs{jobs}"
            env = {**os.environ, "HARNESS_GRADE_CACHE": str(home / "cache")}
            wall = _run(["--tasks", tasks, "--jobs", str(jobs), "--results-dir",
                         str(home / "results")], env)
            rows = _rows(home / "results")
            figures[jobs] = wall
            totals = [float(r["timings"]["total"]) for r in rows]  # type: ignore[index]
            work = [sum(float(v) for k, v in r["timings"].items()  # type: ignore[union-attr]
                        if k not in ("total", "database")) for r in rows]
            overhead = 1 - sum(work) / sum(totals)
            print(f"--jobs {jobs}: {len(rows)} rows in {wall:.1f}s wall; per candidate x "
                  f"database median {statistics.median(totals):.2f}s; in-row overhead "
                  f"{overhead:.1%}; run-level overhead "
                  f"{1 - sum(totals) / (wall * jobs):.1%} of worker time")
            if jobs == 1:
                rerun = _run(["--tasks", tasks, "--jobs", "1", "--results-dir",
                              str(home / "results-again")], env)
                print(f"unchanged re-run: {rerun:.1f}s = {rerun / wall:.1%} of the original")
    print(f"throughput --jobs 2 vs --jobs 1: {figures[1] / figures[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
