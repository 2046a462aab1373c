"""The `command:` provider runs a real CLI agent process (tests/fakes/cli_agent.py) in an
empty workspace and collects what it wrote."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from harness.agents import GenerationRequest, ProviderError, resolve_provider
from harness.agents.command import CommandProvider, render_command
from harness.agents.secrets import REDACTED
from harness.errors import HarnessError
from harness.runner import extract_response

AGENT = Path(__file__).parent / "fakes" / "cli_agent.py"
BASE = f"{shlex.quote(sys.executable)} {shlex.quote(str(AGENT))} --workspace {{workspace}}"
COMMAND = f"{BASE} --prompt-file {{prompt}}"


def _request() -> GenerationRequest:
    return GenerationRequest(
        task_id="user-crud",
        sample=0,
        system_prompt="You are a backend engineer.",
        user_message="Build a user API.",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of ours may linger as a zombie until reaped: that is not running.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_the_agent_writes_files_into_a_workspace() -> None:
    provider = resolve_provider(f"command:{COMMAND}")
    response = provider.generate(_request())
    assert provider.name == "command"
    assert response.finish_reason == "stop" and not response.truncated
    assert response.files is not None
    assert sorted(response.files) == [
        "main.py",
        "models.py",
        "notes/plan.md",
    ]  # no cache, no dotfile
    assert response.files["main.py"].startswith("from fastapi import FastAPI")
    # The prompt file holds the system prompt first, then the task.
    assert response.files["models.py"].startswith("# prompt starts: You are a backend engineer.")
    assert response.text.strip() == "wrote 5 entries"
    files, record = extract_response(response)
    assert record.shape == "workspace" and files == response.files


def test_an_agent_that_only_prints_is_graded_on_its_stdout() -> None:
    response = CommandProvider(f"{COMMAND} --mode print").generate(_request())
    assert response.files is None
    files, record = extract_response(response)
    assert "main.py" in files and record.shape != "workspace"


def test_the_agent_gets_no_stdin() -> None:
    response = CommandProvider(f"{COMMAND} --mode stdin", timeout=10).generate(_request())
    assert response.files is not None
    assert response.files["main.py"].startswith("# stdin had 0 chars")


def test_a_failing_agent_is_a_provider_error_with_its_stderr() -> None:
    with pytest.raises(ProviderError, match=r"exited with status 3: agent: cannot reach"):
        CommandProvider(f"{COMMAND} --mode fail").generate(_request())


def test_the_timeout_kills_the_agent_and_everything_it_started(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    command = f"FAKE_AGENT_PIDS={shlex.quote(str(pids_file))} {COMMAND} --mode hang"
    began = time.monotonic()
    response = CommandProvider(command, timeout=1.5).generate(_request())
    assert time.monotonic() - began < 5
    assert response.finish_reason == "timeout" and response.truncated
    assert "killed after 1.5s" in response.text
    assert response.files is not None and "main.py" in response.files  # what it wrote so far
    agent_pid, child_pid = (int(p) for p in pids_file.read_text().split())
    deadline = time.monotonic() + 2
    while (_alive(agent_pid) or _alive(child_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(agent_pid) and not _alive(child_pid)


def test_keys_in_the_agents_output_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-agent-secret-0123456789abcdef"
    monkeypatch.setenv("FAKE_AGENT_KEY", key)
    monkeypatch.setenv("SOME_AGENT_API_KEY", key)  # credential-looking: scrubbed everywhere
    response = CommandProvider(f"{COMMAND} --mode leak").generate(_request())
    assert key not in response.text and REDACTED in response.text
    assert response.files is not None and key not in response.files["main.py"]


def test_placeholders_are_shell_quoted() -> None:
    paths = {"workspace": Path("/tmp/a b"), "prompt": Path("/tmp/it's.md")}
    rendered = render_command("agent --ws {workspace} --p {prompt} --json '{\"x\": 1}'", paths)
    assert shlex.split(rendered) == [
        "agent",
        "--ws",
        "/tmp/a b",
        "--p",
        "/tmp/it's.md",
        "--json",
        '{"x": 1}',
    ]


def test_an_empty_command_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match=r"MODEL='command:my-agent"):
        resolve_provider("command:")
