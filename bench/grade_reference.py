"""Time one full grade of the user-crud reference per database (boot, functional, total),
median of 5 runs. Prints the figures; asserts nothing."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from harness.core.settings import DATABASE_KINDS
from harness.core.tasks import load_task
from harness.grading.pipeline import DEFAULT_GRADERS, grade_files
from harness.sandbox.backend import open_backend
from harness.sandbox.servers import database_servers

RUNS = 5


def main() -> int:
    task_id = sys.argv[1] if len(sys.argv) > 1 else "user-crud"
    task = load_task(task_id)
    files = task.reference_files()
    print(f"task {task_id}: median of {RUNS} grades of the reference per database")
    with open_backend("local") as backend, database_servers(DATABASE_KINDS, backend) as servers:
        for kind, server in servers.items():
            timings: dict[str, list[float]] = {"boot": [], "functional": [], "total": []}
            for _ in range(RUNS):
                with tempfile.TemporaryDirectory() as folder:
                    result = grade_files(
                        task, files, server, backend.runtime, Path(folder), DEFAULT_GRADERS
                    )
                if result.infra_error or result.scores.get("functional") != 1.0:
                    print(f"{kind}: unexpected result {result.scores} {result.infra_error}")
                    return 1
                for name in timings:
                    timings[name].append(result.timings[name])
            figures = "  ".join(f"{k} {statistics.median(v):.2f}s" for k, v in timings.items())
            both = statistics.median(timings["boot"]) + statistics.median(timings["functional"])
            print(f"{kind:8s} {figures}  (boot+functional {both:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
