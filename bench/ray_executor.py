"""Ray executor figures: rows per minute for the local executor (threads) vs Ray with 1
and 2 worker nodes on this machine, and the per-row overhead Ray adds (Ray at 1 node vs
the local executor at the same number of slots). Each configuration grades the offline
reference in a fresh results folder and grade cache; cluster start-up is not counted.
With 2 cores the scaling figure is limited by the machine: every configuration keeps
all cores busy. Prints the figures; asserts nothing.

    python bench/ray_executor.py [TASKS]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.ray_cluster import LocalRayCluster  # noqa: E402

TASKS = sys.argv[1] if len(sys.argv) > 1 else "user-crud,blog"
SLOTS = 2  # this machine's cores, in every configuration


def timed_eval(cluster: LocalRayCluster, run_id: str, *extra: str) -> tuple[float, int]:
    env = {k: v for k, v in cluster.env("driver").items() if not k.startswith("HARNESS_")}
    env["HARNESS_GRADE_CACHE"] = str(cluster.root / "grade-cache" / run_id)
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--tasks",
            TASKS,
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
        env=env,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    wall = time.monotonic() - started
    rows = len((cluster.root / "results" / run_id / "results.jsonl").read_text().splitlines())
    return wall, rows


def main() -> None:
    figures: dict[str, tuple[float, int]] = {}
    one = LocalRayCluster(cpus_per_node=SLOTS)
    try:
        figures["local executor (threads)"] = timed_eval(one, "local", "--jobs", str(SLOTS))
        one.start_head()
        one.add_worker()
        one.wait_for_nodes(2)
        figures["ray, 1 worker node"] = timed_eval(
            one, "ray1", "--executor", "ray", "--ray-address", one.address
        )
    finally:
        one.stop()
    two = LocalRayCluster(cpus_per_node=SLOTS // 2)
    try:
        two.start_head()
        two.add_worker()
        two.add_worker()
        two.wait_for_nodes(3)
        figures["ray, 2 worker nodes"] = timed_eval(
            two, "ray2", "--executor", "ray", "--ray-address", two.address
        )
    finally:
        two.stop()
    for name, (wall, rows) in figures.items():
        print(f"{name:28s} {rows} rows in {wall:6.1f} s: {rows / wall * 60:5.2f} rows/min")
    local_wall, rows = figures["local executor (threads)"]
    ray_wall, _ = figures["ray, 1 worker node"]
    print(
        f"Ray overhead per row (1 node vs threads, {SLOTS} slots each): "
        f"{(ray_wall - local_wall) / rows * SLOTS:+.2f} s per grade "
        f"({(ray_wall / local_wall - 1) * 100:+.1f} % wall time)"
    )


if __name__ == "__main__":
    main()
