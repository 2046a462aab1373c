"""`harness eval --rounds N`, as a user runs it: a subprocess on the session's real
PostgreSQL, grading for real. The first answer has a defect (the app does not boot), the
model is shown the boot log and the smoke check, and the second answer fixes it: round 1
fails, round 2 passes. A run killed between rounds resumes at the missing round; a chat
provider (the real `openai` SDK against a fake Chat Completions server) is sent the whole
conversation, and a re-run answers every round from the response cache; `--rounds 1`
writes the rows and folders it always did."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.llm_server import FakeModelServer, json_reply, openai_completion

from harness.core.extract import render_files_as_response
from harness.core.files import FEEDBACK_FILE, PROMPT_FILE, RESULTS_FILE, RUN_FILE
from harness.core.prompts import load_agent
from harness.core.records import BootRecord, SampleResult
from harness.core.run_record import RunRecord
from harness.core.store import RunStore
from harness.core.tasks import load_task
from harness.providers import Exchange, GenerationParams, GenerationRequest, Provider
from harness.providers.cache import CACHE_FORMAT, cache_key
from harness.report.frame import load_results, load_runs
from harness.report.leaderboard import build_leaderboard
from harness.run.generation import plan_run_cost

MISSING_MODULE = "no_such_module_in_round_one"


def _answers() -> tuple[str, str]:
    """(round 1: the reference with an import that fails at boot, round 2: the reference)."""
    files = load_task("user-crud").reference_files()
    broken = {**files, "main.py": f"import {MISSING_MODULE}\n" + files["main.py"]}
    return render_files_as_response(broken), render_files_as_response(files)


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One grade cache for the module: the same answers are graded once."""
    return tmp_path_factory.mktemp("caches")


def _eval(
    home: Path, caches: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return subprocess.run(
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
            "local",
            "--results-dir",
            str(home / "results"),
            "--no-report",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        env={
            **clean,
            **env,
            "HARNESS_RESPONSE_CACHE": str(caches / "responses"),
            "HARNESS_GRADE_CACHE": str(caches / "grades"),
        },
    )


def _rows(run: Path) -> dict[int, SampleResult]:
    lines = (run / RESULTS_FILE).read_text().splitlines()
    rows = [SampleResult.model_validate_json(line) for line in lines]
    assert len(rows) == len({row.round for row in rows})
    return {row.round: row for row in rows}


def _round_one_fails_round_two_passes(run: Path) -> str:
    rows = _rows(run)
    assert sorted(rows) == [1, 2]
    first, second = rows[1], rows[2]
    assert first.infra_error is None and second.infra_error is None
    assert not first.boot.ok and first.scores["functional"] == 0.0
    assert second.boot.ok and second.scores["functional"] == 1.0
    assert second.hidden_tests["failed"] == []
    feedback = (run / "samples/user-crud/0" / FEEDBACK_FILE).read_text()
    assert "The app did not start" in feedback and MISSING_MODULE in feedback
    conversation = json.loads((run / "samples/user-crud/0/round-2" / PROMPT_FILE).read_text())
    assert [t["role"] for t in conversation["conversation"]] == ["user", "assistant", "user"]
    assert conversation["conversation"][2]["content"] == feedback
    assert MISSING_MODULE in conversation["conversation"][1]["content"]
    return feedback


def test_a_run_killed_between_rounds_resumes_and_round_two_fixes_round_one(
    tmp_path: Path, caches: Path, server_urls: dict[str, str]
) -> None:
    broken, fixed = _answers()
    recordings = tmp_path / "recordings" / "user-crud"
    recordings.mkdir(parents=True)
    (recordings / "0.md").write_text(broken)
    (recordings / "0.round-2.md").write_text(fixed)
    model = ["--model", f"replay:{recordings.parent}", "--rounds", "2", "--run-id", "r"]

    killed = _eval(
        tmp_path, caches, {**server_urls, "HARNESS_FAILPOINTS": "after-generate:1"}, *model
    )
    assert killed.returncode == -9, killed.stderr
    run = tmp_path / "results" / "r"
    assert (run / "samples/user-crud/0/response.json").is_file()
    assert not (run / "samples/user-crud/0/round-2").exists()

    resumed = _eval(tmp_path, caches, server_urls, "--resume", "r")
    assert resumed.returncode == 0, resumed.stderr
    _round_one_fails_round_two_passes(run)
    record = json.loads((run / RUN_FILE).read_text())
    assert record["config"]["rounds"] == 2 and record["status"] == "complete"
    assert record["counters"]["reused_responses"] == 1  # round 1 was not asked again
    assert record["counters"]["generated"] == 1

    # `harness regrade` grades every round again from the stored answers: no model call
    # (the replay folder is gone), the same rows by round, the old rows kept beside.
    (recordings / "0.md").unlink()
    (recordings / "0.round-2.md").unlink()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    regraded = subprocess.run(
        [sys.executable, "-m", "harness.cli", "regrade", "r", "--results-dir", str(run.parent)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        env={**clean, **server_urls, "HARNESS_RESPONSE_CACHE": str(caches / "responses")},
    )
    assert regraded.returncode == 0, regraded.stderr
    _round_one_fails_round_two_passes(run)
    record = json.loads((run / RUN_FILE).read_text())
    assert record["status"] == "complete" and record["counters"]["generated"] == 0
    assert record["counters"]["graded"] == 2
    assert len(list(run.glob("results.*.jsonl"))) == 1, sorted(p.name for p in run.iterdir())


def test_a_chat_model_gets_the_conversation_and_a_rerun_is_cached(
    tmp_path: Path, caches: Path, server_urls: dict[str, str]
) -> None:
    broken, fixed = _answers()
    env = {**server_urls, "OPENAI_API_KEY": "sk-rounds-test-0123456789"}
    with FakeModelServer(
        json_reply(openai_completion(broken)), json_reply(openai_completion(fixed))
    ) as server:
        env["OPENAI_BASE_URL"] = f"{server.url}/v1"
        args = ("--model", "openai-compatible:rounds-model", "--rounds", "2")
        first = _eval(tmp_path, caches, env, *args, "--run-id", "chat")
        assert first.returncode == 0, first.stderr
        assert server.count == 2
        again = _eval(tmp_path, caches, env, *args, "--run-id", "again")
        assert again.returncode == 0, again.stderr
        assert server.count == 2  # both rounds answered from the response cache
    feedback = _round_one_fails_round_two_passes(tmp_path / "results" / "chat")
    _round_one_fails_round_two_passes(tmp_path / "results" / "again")
    first_call, second_call = (r.body for r in server.received)
    assert first_call is not None and second_call is not None
    assert [m["role"] for m in first_call["messages"]] == ["system", "user"]
    assert [m["role"] for m in second_call["messages"]] == ["system", "user", "assistant", "user"]
    assert second_call["messages"][1] == first_call["messages"][1]
    assert second_call["messages"][2]["content"] == broken
    assert second_call["messages"][3]["content"] == feedback


def test_one_round_writes_what_it_always_did(
    tmp_path: Path, caches: Path, server_urls: dict[str, str]
) -> None:
    done = _eval(tmp_path, caches, server_urls, "--model", "reference", "--run-id", "one")
    assert done.returncode == 0, done.stderr
    run = tmp_path / "results" / "one"
    (line,) = (run / RESULTS_FILE).read_text().splitlines()
    row = json.loads(line)
    assert "round" not in row  # the row of a run before --rounds
    assert set(row) == set(SampleResult.model_fields) - {"round"}
    assert row["scores"]["overall"] == 1.0
    sample = run / "samples/user-crud/0"
    assert not (sample / FEEDBACK_FILE).exists() and not (sample / "round-2").exists()
    assert set(json.loads((sample / PROMPT_FILE).read_text())) == {"system", "user"}


def test_a_first_round_cache_key_is_the_one_before_rounds() -> None:
    """Answers cached before --rounds existed are still hits; a later round is a new key."""
    provider = Provider()
    provider.name, provider.model = "openai", "gpt-test"
    request = GenerationRequest("user-crud", 0, "system text", "user text")
    material = {
        "format": CACHE_FORMAT,
        "provider": "openai",
        "endpoint": None,
        "model": "gpt-test",
        "system": "system text",
        "user": "user text",
        "params": GenerationParams().model_dump(mode="json"),
        "sample": 0,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert cache_key(provider, request) == hashlib.sha256(canonical.encode()).hexdigest()
    later = GenerationRequest(
        "user-crud", 0, "system text", "user text", history=(Exchange("answer", "feedback"),)
    )
    other = GenerationRequest(
        "user-crud", 0, "system text", "user text", history=(Exchange("answer", "other"),)
    )
    assert len({cache_key(provider, r) for r in (request, later, other)}) == 3


def test_the_cost_plan_counts_every_round() -> None:
    provider = Provider()
    provider.name, provider.model = "anthropic", "claude-sonnet-4-5"
    agent, task = load_agent("fastapi-backend-engineer@v1"), load_task("user-crud")
    params = GenerationParams(max_tokens=1000)
    one = plan_run_cost(provider, "m", 100.0, agent, [task], 2, params, rounds=1)
    three = plan_run_cost(provider, "m", 100.0, agent, [task], 2, params, rounds=3)
    assert one is not None and three is not None
    assert (one.calls, three.calls) == (2, 6)
    assert three.per_call > one.per_call  # a later round resends the conversation


def test_an_agent_that_cannot_take_feedback_is_refused(
    tmp_path: Path, caches: Path, server_urls: dict[str, str]
) -> None:
    """Refused from the provider's class, before its sandbox opens: no Docker engine is
    asked for (DOCKER_HOST points at a socket nobody listens on)."""
    nobody = {**server_urls, "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    for model in ("command:true", "claude-code:claude-sonnet-4-5"):
        refused = _eval(tmp_path, caches, nobody, "--model", model, "--rounds", "2")
        assert refused.returncode == 2, refused.stderr
        name = model.split(":")[0]
        assert f"--rounds above 1 is not supported by the '{name}' provider" in refused.stderr
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def _write_run(root: Path, run_id: str, rounds: dict[int, float], model: str) -> None:
    """A run folder whose user-crud sample scored `rounds[k]` overall in round k."""
    store = RunStore(root / run_id)
    store.write_run_record(RunRecord(run_id=run_id, status="complete"))
    for number, overall in rounds.items():
        functional = 1.0 if overall == 1.0 else 0.0
        store.append_result(
            SampleResult(
                task="user-crud",
                sample=0,
                database="postgres",
                boot=BootRecord(ok=True, seconds=1.0),
                scores={"functional": functional, "overall": overall},
                findings=[],
                run_id=run_id,
                model=model,
                prompt="agent@v1",
                round=number,
            )
        )


def test_the_leaderboard_shows_the_last_round_and_the_score_by_round(tmp_path: Path) -> None:
    _write_run(tmp_path, "two-rounds", {1: 0.2, 2: 1.0}, "model-a")
    _write_run(tmp_path, "before-rounds", {1: 0.5}, "model-b")
    lines = (tmp_path / "before-rounds" / RESULTS_FILE).read_text()
    assert '"round"' not in lines  # a one-round row is written as before rounds existed
    results = load_results(tmp_path)
    shown = {(r.model, r.round): r for r in results.frame.itertuples()}
    assert sorted(shown) == [("model-a", 2), ("model-b", 1)]  # the last round by default
    assert shown[("model-a", 2)].passed == 1.0
    assert results.all_rounds is not None and len(results.all_rounds) == 3
    table = results.rounds_table()
    assert [(r.model, r.round, r.overall, r.rows) for r in table.itertuples()] == [
        ("model-a", 1, 0.2, 1),
        ("model-a", 2, 1.0, 1),
    ]
    html = build_leaderboard(results, resamples=50).html
    assert 'id="by-round"' in html
    by_round = html.split('id="by-round"')[1].split("</table>")[0]
    assert "model-a" in by_round and "model-b" not in by_round
    assert "0.20" in by_round and "1.00" in by_round
    single = build_leaderboard(load_runs([tmp_path / "before-rounds"]), resamples=50).html
    assert 'id="by-round"' not in single


def test_rounds_on_a_ray_cluster_are_refused_before_it_is_asked_for(
    tmp_path: Path, caches: Path, server_urls: dict[str, str]
) -> None:
    refused = _eval(
        tmp_path,
        caches,
        server_urls,
        "--rounds",
        "2",
        "--executor",
        "ray",
        "--ray-address",
        "127.0.0.1:1",
    )
    assert refused.returncode == 2, refused.stderr
    assert "--rounds above 1 is not supported with --executor ray" in refused.stderr
