"""`harness eval` with a real provider, as a user runs it: a subprocess driving the real
`anthropic` SDK at a fake Messages API, real grading on the session's PostgreSQL. A
re-run is answered from the response cache (the fake counts zero new calls); `--max-cost`
stops a run before a call could pass it; and no artifact, log line or page holds the key.

Needs the runner wiring of issue 6 (`--max-cost`, `--no-cache`, usage in run.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fakes.llm_server import FakeModelServer, Reply, anthropic_message, json_reply

from harness.core.extract import render_files_as_response
from harness.core.tasks import load_task

KEY = "sk-ant-e2e-secret-0123456789abcdefXYZ"


def _eval(home: Path, server: FakeModelServer, env: dict[str, str], *args: str):
    clean = {k: v for k, v in os.environ.items() if k not in ("HARNESS_RESPONSE_CACHE",)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--model",
            "anthropic:sonnet",
            "--tasks",
            "user-crud",
            "--db",
            "postgres",
            "--results-dir",
            str(home / "results"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **clean,
            **env,
            "ANTHROPIC_API_KEY": KEY,
            # One call at a time: which sample the cost cap stops at is then deterministic.
            "HARNESS_PROVIDER_CONCURRENCY": "1",
            "ANTHROPIC_BASE_URL": server.url,
            "HARNESS_RESPONSE_CACHE": str(home / "responses"),
            "HARNESS_GRADE_CACHE": str(home / "grades"),
        },
    )


def test_a_model_run_is_cached_capped_and_leaks_no_key(
    tmp_path: Path, server_urls: dict[str, str]
) -> None:
    answer = render_files_as_response(load_task("user-crud").reference_files())
    replies = [
        Reply(429, headers={"Retry-After": "0"}, echo_credential=True),  # quotes the key
        json_reply(anthropic_message(answer, model="claude-sonnet-5-5", output_tokens=3000)),
    ]
    common = ("--max-tokens", "8000", "--jobs", "1")
    with FakeModelServer(*replies) as server:
        first = _eval(
            tmp_path, server, server_urls, "--run-id", "first", "--max-cost", "1", "--no-report",
            *common,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert server.count == 2  # the 429, then the answer
        # Sample 0 again comes from the cache, free. A call's worst case is about $0.09
        # (8000 tokens at $10/M plus the prompt) and it costs $0.03: the cap has room for
        # sample 1, and not for sample 2 after it.
        second = _eval(
            tmp_path, server, server_urls, "--run-id", "second", "--samples", "3",
            "--max-cost", "0.1", *common,
        )  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert server.count == 3

    results = tmp_path / "results"
    first_info = json.loads((results / "first" / "run.json").read_text())
    assert first_info["status"] == "complete"
    assert first_info["config"]["model"] == "anthropic:claude-sonnet-5-5"
    assert first_info["config"]["requested_model"] == "anthropic:sonnet"
    assert first_info["usage"]["calls"] == 1 and first_info["usage"]["cost_usd"] > 0
    (row,) = [json.loads(line) for line in (results / "first" / "results.jsonl").open()]
    assert row["infra_error"] is None and row["scores"]["functional"] == 1.0
    second_info = json.loads((results / "second" / "run.json").read_text())
    assert second_info["status"] == "stopped: cost cap reached"
    assert second_info["response_cache"]["hits"] == 1
    assert second_info["usage"]["calls"] == 1 and second_info["usage"]["cost_usd"] <= 0.1
    assert "cost cap reached" in second.stderr
    rows = [json.loads(line) for line in (results / "second" / "results.jsonl").open()]
    assert sorted(r["sample"] for r in rows) == [0, 1]  # sample 2 was never asked for

    assert "HTTP 429" in first.stderr  # the retry was logged ...
    outputs = [first.stdout, first.stderr, second.stdout, second.stderr]
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            outputs.append(path.read_bytes().decode("utf-8", "replace"))
            scanned += 1
    assert scanned > 20 and (results / "leaderboard.html").exists()
    for text in outputs:
        assert KEY not in text and KEY[:16] not in text  # ... without the key
