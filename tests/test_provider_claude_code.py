"""`claude-code:<model>` runs the real Claude Code CLI (the pinned npm package) in the
docker agent sandbox, offline, against a local fake Anthropic Messages server that
streams scripted turns (tests/fakes/anthropic_stream.py).

The scripted session is the one the provider asks for: the main session hands the task
to the agent file's subagent (the Agent tool), and the subagent writes the user-crud
reference's files with the CLI's own Write tool and runs one command (a query on the
database the sandbox gives it). Then its workspace is graded like any answer and must
grade like the reference. Limits (turns, budget, time) stop a session as truncated with
its files kept; the CLI's own calls beyond the model endpoint are refused without
failing the run; no key reaches any artifact.

Needs the engine (started when none answers, else a failure, never a skip) and npm's
registry the first time (the CLI is installed once into the harness's cache).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.anthropic_stream import FakeAnthropicServer, Received, ToolCall, Turn

from harness.core.errors import HarnessError
from harness.core.prompts import load_agent
from harness.core.settings import PROJECT_ROOT
from harness.core.tasks import load_task
from harness.providers import GenerationRequest, ProviderError, resolve_provider
from harness.providers.claude_code import ClaudeCodeProvider, prepare_workspace
from harness.providers.command import collect_files
from harness.providers.pricing import (
    BudgetedProvider,
    CostCapReached,
    CostTracker,
    max_cost_per_call,
    plan_cost,
)
from harness.report.leaderboard import render_leaderboard
from harness.sandbox.docker.engine import (
    LABEL_OWNER,
    LABEL_ROLE,
    Owner,
    connect_engine,
    engine_answers,
)

AGENT = load_agent("fastapi-backend-engineer@v1")
AGENT_FILE = AGENT.path.read_text(encoding="utf-8")
KEY = "sk-ant-claude-code-test-0123456789abcdefXYZ"
MODEL = "claude-sonnet-4-5"
DB_CHECK = """python3 - <<'EOF'
import asyncio, os
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine

async def main() -> None:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.connect() as connection:
        value = (await connection.execute(sqlalchemy.text("SELECT 41 + 1"))).scalar()
    await engine.dispose()
    print("database answers", value)
    print("the key the CLI holds:", os.environ.get("ANTHROPIC_API_KEY"))

asyncio.run(main())
EOF"""
# Untrusted text the page must show as text.
HOSTILE = '</script><script>alert("session")</script><b>bold</b>'
ENV_NAMES = [name for name in os.environ if name.startswith("HARNESS_CLAUDE_CODE_")]


def host_address() -> str:
    """A non-loopback address of this host: the sandbox reaches the fake through the
    egress proxy, and loopback inside the container is the container's own."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
            address = str(probe.getsockname()[0])
        except OSError:
            address = "127.0.0.1"
    if not address.startswith("127."):
        return address
    client = connect_engine()
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"]
        return str(config[0]["Gateway"])
    finally:
        client.close()


def write_calls(files: dict[str, str]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall("Write", {"file_path": f"/workspace/{path}", "content": content})
        for path, content in sorted(files.items())
    )


def is_subagent(request: Received) -> bool:
    return "You are a senior backend engineer specializing in Python and FastAPI" in (
        request.system
    )


class BuildThroughSubagent:
    """Main session: one Agent call to the subagent, then a summary. Subagent: write
    the files, run the database check, report. Anything else the CLI asks: a word."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def __call__(self, request: Received) -> Turn:
        if is_subagent(request):
            step = request.assistant_turns
            if step == 0:
                return Turn(text="Writing the service.", calls=write_calls(self.files))
            if step == 1:
                return Turn(
                    calls=(ToolCall("Bash", {"command": DB_CHECK, "description": "Query the DB"}),)
                )
            return Turn(text=f"Done: user CRUD written and the database answers. {HOSTILE}")
        if "Agent" in request.tool_names:
            if request.assistant_turns == 0:
                call = ToolCall(
                    "Agent",
                    {
                        "description": "Build the user CRUD API",
                        "prompt": "Build the backend in /workspace as the request says.",
                        "subagent_type": AGENT.name,
                    },
                )
                return Turn(calls=(call,))
            return Turn(text="The subagent built the user CRUD service.")
        return Turn(text="ok", input_tokens=10, output_tokens=2)


class WriteThenLoop:
    """The main session writes the files itself, then keeps running commands; from the
    second turn on each takes `delay` seconds and costs `input_tokens`."""

    def __init__(self, files: dict[str, str], delay: float = 0.0, input_tokens: int = 1000):
        self.files = files
        self.delay = delay
        self.input_tokens = input_tokens

    def __call__(self, request: Received) -> Turn:
        if "Agent" not in request.tool_names:
            return Turn(text="ok", input_tokens=10, output_tokens=2)
        if request.assistant_turns == 0:  # cheap and quick: the files are written
            return Turn(calls=write_calls(self.files))
        tokens = self.input_tokens
        bash = ToolCall("Bash", {"command": "echo again", "description": "Say again"})
        return Turn(calls=(bash,), delay=self.delay, input_tokens=tokens)


@pytest.fixture(scope="module", autouse=True)
def engine() -> None:
    if engine_answers()[0]:
        return
    started = subprocess.run(
        ["bash", str(PROJECT_ROOT / "scripts" / "start-docker.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    ok, detail = engine_answers()
    if not ok:
        pytest.fail(f"no Docker engine ({detail}):\n{started.stderr[-2000:]}", pytrace=False)


@pytest.fixture(autouse=True)
def claude_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_TIMEOUT", "240")


@pytest.fixture(scope="module")
def reference() -> dict[str, str]:
    return load_task("user-crud").reference_files()


@pytest.fixture
def providers() -> Iterator[list[ClaudeCodeProvider]]:
    made: list[ClaudeCodeProvider] = []
    yield made
    for provider in made:
        provider.close()


def _provider(
    made: list[ClaudeCodeProvider], server: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> ClaudeCodeProvider:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    provider = resolve_provider(f"claude-code:{MODEL}")
    assert isinstance(provider, ClaudeCodeProvider)
    made.append(provider)
    return provider


def _request() -> GenerationRequest:
    task = load_task("user-crud")
    from harness.core.prompts import build_user_message

    return GenerationRequest(
        task_id=task.id,
        sample=0,
        system_prompt=AGENT.system_prompt,
        user_message=build_user_message(task.brief()),
        agent_name=AGENT.name,
        agent_file=AGENT_FILE,
    )


def _events(transcript: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in transcript.splitlines() if line.strip()]


# -- a whole session through the subagent ---------------------------------------------


@pytest.mark.parametrize(
    ("loopback", "database"),
    [(False, "postgres"), (True, "postgres"), (False, "mysql")],
    ids=["postgres", "loopback-endpoint", "mysql"],
)
def test_the_cli_builds_the_task_through_the_subagent(
    providers: list[ClaudeCodeProvider],
    reference: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    loopback: bool,
    database: str,
) -> None:
    """Also with the model endpoint on the host's loopback (a local gateway: the sandbox
    reaches it through the proxy) and with a MySQL-protocol database for the agent."""
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_DB", database)
    host = "127.0.0.1" if loopback else host_address()
    with FakeAnthropicServer(BuildThroughSubagent(reference), host=host) as server:
        provider = _provider(providers, server, monkeypatch)
        response = provider.generate(_request())
    assert response.finish_reason == "stop" and response.sandboxed is True
    assert response.files == reference
    # The subagent's system prompt is the agent file's body; its tools are the CLI's own.
    sub = [r for r in server.received if is_subagent(r)]
    assert len(sub) == 3, [r.system[:80] for r in server.received]
    assert AGENT.system_prompt.strip() in sub[0].system
    assert {"Write", "Bash"} <= set(sub[0].tool_names)
    # The one command ran inside the sandbox against the database it was given.
    assert any("database answers 42" in text for text in sub[-1].tool_results())
    # Every model call carried the key; the transcript, summary and answer do not.
    assert all(r.headers.get("x-api-key") == KEY for r in server.received)
    assert response.artifacts is not None
    for text in [response.text, *response.artifacts.values(), response.model_dump_json()]:
        assert KEY not in text
    # The command printed the key; the transcript holds the marker in its place.
    assert "the key the CLI holds: [REDACTED]" in response.artifacts["transcript.jsonl"]
    summary = json.loads(response.artifacts["session.json"])
    assert summary["result"] == "success" and summary["subagent_calls"] == 1
    assert summary["tool_calls"]["Write"] == len(reference) and summary["tool_calls"]["Bash"] == 1
    assert summary["refused_requests"] == []  # non-essential traffic off: nothing else tried
    assert response.cost_usd is not None and response.cost_usd > 0
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    kinds = {event["type"] for event in _events(response.artifacts["transcript.jsonl"])}
    assert {"system", "assistant", "user", "result"} <= kinds


def test_the_clis_own_traffic_is_refused_without_failing_the_run(
    providers: list[ClaudeCodeProvider],
    reference: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_TRAFFIC", "default")  # let the CLI try
    with FakeAnthropicServer(BuildThroughSubagent(reference), host=host_address()) as server:
        provider = _provider(providers, server, monkeypatch)
        response = provider.generate(_request())
    assert response.finish_reason == "stop" and response.files == reference
    assert response.artifacts is not None
    refused = json.loads(response.artifacts["session.json"])["refused_requests"]
    assert refused and all("api.anthropic.com" in entry for entry in refused), refused


def test_a_failed_session_is_a_provider_error_without_the_key(
    providers: list[ClaudeCodeProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API refuses the request, quoting the key back (as some gateways do): the session
    fails, which is the infrastructure's failure (ProviderError), not the model's, and the
    key is gone from the message. (A 400: the CLI retries a 401 for minutes first.)"""
    refusal = Turn(text=f"rejected request with x-api-key {KEY}", status=400)
    with FakeAnthropicServer(lambda request: refusal, host=host_address()) as server:
        provider = _provider(providers, server, monkeypatch)
        with pytest.raises(ProviderError) as failed:
            provider.generate(_request())
    assert server.received, "the CLI never reached the model endpoint"
    assert "Claude Code session failed" in str(failed.value) and KEY not in str(failed.value)


# -- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "brain_kwargs", "finish"),
    [
        ("HARNESS_CLAUDE_CODE_MAX_TURNS", "3", {}, "max_turns"),
        ("HARNESS_CLAUDE_CODE_MAX_BUDGET_USD", "1", {"input_tokens": 400_000}, "max_budget"),
        ("HARNESS_CLAUDE_CODE_TIMEOUT", "25", {"delay": 120.0}, "timeout"),
    ],
)
def test_a_session_past_its_limit_is_truncated_with_its_files_kept(
    providers: list[ClaudeCodeProvider],
    reference: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    brain_kwargs: dict[str, Any],
    finish: str,
) -> None:
    monkeypatch.setenv(setting, value)
    brain = WriteThenLoop(reference, **brain_kwargs)
    with FakeAnthropicServer(brain, host=host_address()) as server:
        provider = _provider(providers, server, monkeypatch)
        response = provider.generate(_request())
    assert response.finish_reason == finish and response.truncated
    assert response.files == reference
    assert response.artifacts is not None and KEY not in response.artifacts["transcript.jsonl"]


# -- end to end: harness eval grades the workspace like the reference ---------------------


def _eval(model: str, tmp_path: Path, run_id: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable, "-m", "harness.cli", "eval", "--model", model,
            "--tasks", "user-crud", "--db", "postgres", "--runtime", "local",
            "--results-dir", str(tmp_path / "results"), "--run-id", run_id,
            "--no-report", "--jobs", "1", "--no-grade-cache",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = [json.loads(line) for line in (tmp_path / "results" / run_id / "results.jsonl").open()]
    return dict(row)


def test_harness_eval_grades_the_session_like_the_reference(
    tmp_path: Path, reference: dict[str, str], server_urls: dict[str, str]
) -> None:
    with FakeAnthropicServer(BuildThroughSubagent(reference), host=host_address()) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CLAUDE_CODE_")},
            **server_urls,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": server.url,
            "HARNESS_RESPONSE_CACHE": str(tmp_path / "responses"),
        }
        session = _eval(f"claude-code:{MODEL}", tmp_path, "session", env)
    gold = _eval("reference", tmp_path, "gold", env)
    assert session["infra_error"] is None, session
    assert session["scores"] == gold["scores"], (session["scores"], gold["scores"])
    sample = tmp_path / "results" / "session" / "samples" / "user-crud" / "0"
    assert json.loads((sample / "session.json").read_text())["result"] == "success"
    response = json.loads((sample / "response.json").read_text())
    assert response["finish_reason"] == "stop" and response["cost_usd"] > 0
    # Run again: the cached session answers (no model call) and brings its transcript.
    calls = len(server.received)
    _eval(f"claude-code:{MODEL}", tmp_path, "again", env)
    assert len(server.received) == calls
    again = tmp_path / "results" / "again" / "samples" / "user-crud" / "0"
    assert (again / "transcript.jsonl").read_text() == (sample / "transcript.jsonl").read_text()
    # The drill-down shows the session: facts, and the transcript collapsed, as text.
    page = render_leaderboard(tmp_path / "results", tmp_path / "leaderboard.html")
    html = page.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<b>bold" not in html
    data = re.search(
        r'<script type="application/json" id="drilldown-data">(.*?)</script>', html, re.S
    )
    assert data is not None
    samples = json.loads(data.group(1))["samples"]
    sessions = [s["session"] for s in samples.values() if "session" in s]
    assert len(sessions) == 2  # the session run and the cached re-run
    for shown in sessions:
        assert dict(shown["facts"])["ended"] == "stop"
        assert HOSTILE in shown["transcript"] and "database answers 42" in shown["transcript"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


# -- the workspace, settings and the run's cost cap ------------------------------------------


def test_the_workspace_holds_only_the_agent_file_verbatim(tmp_path: Path) -> None:
    workspace, prompts, name = prepare_workspace(tmp_path, _request())
    assert name == "fastapi-backend-engineer"
    agent_file = workspace / ".claude" / "agents" / f"{name}.md"
    assert agent_file.read_text(encoding="utf-8") == AGENT_FILE
    assert sorted(p.relative_to(workspace).as_posix() for p in workspace.rglob("*")) == [
        ".claude",
        ".claude/agents",
        f".claude/agents/{name}.md",
    ]
    instruction = (prompts / "instruction.md").read_text(encoding="utf-8")
    assert f'subagent_type "{name}"' in instruction and _request().user_message in instruction
    assert collect_files(workspace) == {}  # the definition itself is never graded


def test_a_missing_key_or_a_bad_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(HarnessError, match="ANTHROPIC_API_KEY"):
        resolve_provider(f"claude-code:{MODEL}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_DB", "sqlite")
    with pytest.raises(HarnessError, match="HARNESS_CLAUDE_CODE_DB"):
        resolve_provider(f"claude-code:{MODEL}")
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_DB", "mysql")
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_MAX_TURNS", "0")
    with pytest.raises(HarnessError, match="HARNESS_CLAUDE_CODE_MAX_TURNS"):
        resolve_provider(f"claude-code:{MODEL}")
    with pytest.raises(HarnessError, match="needs a model"):
        resolve_provider("claude-code:")


def test_max_cost_reserves_a_whole_session_budget(
    providers: list[ClaudeCodeProvider],
    reference: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARNESS_CLAUDE_CODE_MAX_BUDGET_USD", "2")
    plan = plan_cost(MODEL, 5.0, calls=4, prompt_chars=10, max_tokens=100, per_call=2.0)
    assert plan.calls_that_fit == 2
    with FakeAnthropicServer(BuildThroughSubagent(reference), host=host_address()) as server:
        provider = _provider(providers, server, monkeypatch)
        assert max_cost_per_call(provider) == 2.0
        budgeted = BudgetedProvider(provider, CostTracker(max_cost=1.5))
        with pytest.raises(CostCapReached):
            budgeted.generate(_request())
    assert server.received == []  # refused before the CLI ever ran


def test_zz_nothing_of_the_sessions_is_left() -> None:
    owner = f"{LABEL_OWNER}={Owner.current().label()}"
    client = connect_engine()
    try:
        left: list[str] = []
        for role in ("command-agent", "claude-code-network", "claude-code-database"):
            labels = {"label": [owner, f"{LABEL_ROLE}={role}"]}
            left += [str(c.name) for c in client.containers.list(all=True, filters=labels)]
            left += [str(n.name) for n in client.networks.list(filters=labels)]
    finally:
        client.close()
    assert left == []
