"""Build time and file size of the leaderboard over synthetic results (default 10,000
rows: 5 models x 2 prompt versions x 4 tasks x 125 samples x 2 databases, six graders,
findings, hidden tests, files and logs on disk like a real run). Targets: under 5 s and
under 2 MB. Prints the figures; asserts nothing.

    .venv/bin/python bench/leaderboard_build.py [--rows 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from harness.core.files import (
    APP_LOG,
    FILES_DIR,
    HIDDEN_TESTS,
    RESPONSE_FILE,
    RESULTS_FILE,
    RUN_FILE,
    sample_folder,
    test_report,
)
from harness.core.records import BootRecord, ExtractionRecord, SampleResult
from harness.graders.base import Finding
from harness.report.aggregate import aggregate_results
from harness.report.drilldown import build_drilldown
from harness.report.frame import load_results
from harness.report.leaderboard import build_leaderboard

MODELS = ["claude-sonnet-4-5", "gpt-5", "qwen3-coder", "llama-4", "reference"]
PROMPTS = ["fastapi-backend-engineer@v1", "fastapi-backend-engineer@v2"]
TASKS = ["user-crud", "jwt-auth", "blog", "orders-inventory"]
DATABASES = ["postgres", "mysql"]
GRADERS = ["boot", "functional", "fuzz", "security", "schema", "checklist"]
TESTS = [f"test_case_{i:02d}" for i in range(30)]
FILES = ["main.py", "models.py", "schemas.py", "routes.py", "database.py", "dependencies.py"]


def _row(
    rng: random.Random, model: int, run_id: str, prompt: str, task: str, sample: int, database: str
) -> SampleResult:
    skill = 0.55 + 0.08 * model
    if rng.random() < 0.01:
        return SampleResult(
            task=task,
            sample=sample,
            database=database,
            run_id=run_id,
            model=MODELS[model],
            prompt=prompt,
            boot=BootRecord(ok=False, seconds=0.0),
            scores={},
            findings=[],
            infra_error="the postgres server died during grading",
        )
    boots = rng.random() < skill + 0.3
    failed = [t for t in TESTS if rng.random() > skill + 0.35] if boots else []
    scores = {g: round(min(1.0, max(0.0, rng.gauss(skill, 0.2))), 4) for g in GRADERS}
    scores["boot"] = 1.0 if boots else 0.0
    scores["functional"] = round((len(TESTS) - len(failed)) / len(TESTS), 4) if boots else 0.0
    scores["overall"] = round(sum(scores.values()) / len(scores), 4)
    findings = [
        Finding(
            grader="functional",
            check=name,
            severity="high",
            message=f"hidden test failed: test_users.py::{name}",
            evidence="assert 500 == 201\n +  where 500 = <Response [500]>.status_code",
        )
        for name in failed
    ]
    if rng.random() > skill:
        findings.append(
            Finding(
                grader="security",
                check="password-stored-plaintext",
                severity="high",
                message="passwords are stored as given",
                evidence="users.password = 'hunter22'",
            )
        )
    if rng.random() > skill:
        findings.append(
            Finding(
                grader="fuzz",
                check="server-error",
                severity="medium",
                message="500 Internal Server Error on POST /users",
                evidence='curl -X POST http://app/users -d \'{"email": "\\u0000"}\'',
            )
        )
    return SampleResult(
        task=task,
        sample=sample,
        database=database,
        run_id=run_id,
        model=MODELS[model],
        prompt=prompt,
        boot=BootRecord(ok=boots, seconds=0.8),
        scores=scores,
        findings=findings,
        timings={"boot": 0.8, "functional": 4.0, "total": 6.0},
        extraction=ExtractionRecord(
            shape="file-comment-fences", truncated=False, problems=[], files=FILES
        ),
        hidden_tests={"passed": len(TESTS) - len(failed), "total": len(TESTS), "failed": failed}
        if boots
        else {},
    )


def write_synthetic(root: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    per_cell = max(1, rows // (len(MODELS) * len(PROMPTS) * len(TASKS) * len(DATABASES)))
    code = "\n".join(f"def handler_{i}(request):\n    return {{'ok': {i}}}\n" for i in range(40))
    log = "\n".join(
        f'INFO:     127.0.0.1:4{i:04d} - "GET /users/{i} HTTP/1.1" 200 OK' for i in range(120)
    )
    for m, model in enumerate(MODELS):
        for prompt in PROMPTS:
            run_id = f"20260101-000000-{model}-{prompt.replace('@', '-')}"
            run = root / run_id
            run.mkdir(parents=True)
            (run / RUN_FILE).write_text(json.dumps({"run_id": run_id}))
            lines = []
            for task in TASKS:
                for sample in range(per_cell):
                    folder = sample_folder(run, task, sample)
                    (folder / FILES_DIR).mkdir(parents=True)
                    for name in FILES:
                        (folder / FILES_DIR / name).write_text(code)
                    (folder / RESPONSE_FILE).write_text(
                        json.dumps(
                            {
                                "usage": {
                                    "input_tokens": 4000 + 100 * m,
                                    "output_tokens": 3000,
                                    "cached_tokens": 3500,
                                },
                                "cost_usd": 0.01 * (m + 1),
                                "seconds": 30.0,
                            }
                        )
                    )
                    for database in DATABASES:
                        row = _row(rng, m, run_id, prompt, task, sample, database)
                        lines.append(row.model_dump_json())
                        artifacts = folder / database
                        artifacts.mkdir()
                        (artifacts / APP_LOG).write_text(log)
                        failed = set(row.hidden_tests.get("failed", []))
                        (artifacts / test_report(HIDDEN_TESTS)).write_text(
                            json.dumps(
                                [
                                    {
                                        "nodeid": f"test_users.py::{t}",
                                        "name": t,
                                        "outcome": "failed" if t in failed else "passed",
                                        "message": "assert 500 == 201" if t in failed else "",
                                        "duration": 0.1,
                                    }
                                    for t in TESTS
                                ]
                            )
                        )
            (run / RESULTS_FILE).write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    root = args.keep or scratch / "results"
    try:
        began = time.perf_counter()
        write_synthetic(root, args.rows)
        print(f"synthetic results written in {time.perf_counter() - began:.1f} s (not timed)")
        start = time.perf_counter()
        results = load_results(root)
        loaded = time.perf_counter()
        page = build_leaderboard(results)
        out = root / "leaderboard.html"
        out.write_text(page.html, encoding="utf-8")
        written = time.perf_counter()
        size = out.stat().st_size
        # The parts again, separately, for where the time goes.
        began = time.perf_counter()
        board = aggregate_results(results)
        aggregated = time.perf_counter()
        drill = build_drilldown(results)
        drilled = time.perf_counter()
        print(f"rows: {len(results.frame):,} in {board.table.shape[0]} (model, prompt) groups")
        print(f"build: {written - start:.2f} s (target < 5 s)")
        print(f"  load JSONL + response.json: {loaded - start:.2f} s")
        print(
            f"  page (aggregate + drill-down + render + write): {written - loaded:.2f} s, of which"
        )
        print(f"    aggregate, {board.resamples} bootstrap resamples: {aggregated - began:.2f} s")
        print(f"    drill-down, artifacts of {drill.shown:,} rows: {drilled - aggregated:.2f} s")
        print(f"drill-down stopped by: {drill.stopped_by or 'nothing'}")
        kept = f" -> {out}" if args.keep else ""
        print(f"file size: {size / 1e6:.2f} MB (target < 2 MB){kept}")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
