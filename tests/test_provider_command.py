"""The `command:` provider runs a real CLI agent (tests/fakes/cli_agent.py and friends) in
the docker sandbox, against the real engine, and collects what it wrote.

The fakes are mounted read-only at /agent (HARNESS_COMMAND_MOUNTS) and run on the
runtime image's Python. Hostile agents (tests/fakes/hostile_agent.py) try to read the
task's reference and hidden tests, the harness's environment, to edit a grader and to
reach hosts other than their model endpoint; each reports what it saw in report.json.
The unsandboxed way (HARNESS_COMMAND_SANDBOX=none) keeps its own tests at the end.

A test here needs the engine: it starts one (scripts/start-docker.sh) or fails saying
why, never skips.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from fakes.llm_server import FakeModelServer, anthropic_message, json_reply, openai_completion

from harness.core.errors import HarnessError
from harness.core.settings import CACHE_DIR, PROJECT_ROOT
from harness.core.tasks import load_task
from harness.providers import GenerationRequest, ProviderError, resolve_provider
from harness.providers.command import CommandProvider, render_command
from harness.providers.secrets import REDACTED
from harness.run.generation import extract_response
from harness.sandbox.agent_run import CONTAINER_PATHS
from harness.sandbox.agent_settings import AgentSettings, parse_mounts, parse_variables
from harness.sandbox.docker.egress_proxy import Destination, EgressProxy, parse_endpoint
from harness.sandbox.docker.engine import (
    LABEL_OWNER,
    LABEL_ROLE,
    PROXY_RULE_COMMENT,
    Owner,
    connect_engine,
    engine_answers,
    sweep_dead_openings,
)
from harness.sandbox.docker.images import ensure_images

FAKES = Path(__file__).parent / "fakes"
AGENT = FAKES / "cli_agent.py"
MOUNTS = f"{FAKES}:/agent"
COMMAND = "python3 /agent/cli_agent.py --workspace {workspace} --prompt-file {prompt}"
HOST_COMMAND = (
    f"{shlex.quote(sys.executable)} {shlex.quote(str(AGENT))} "
    "--workspace {workspace} --prompt-file {prompt}"
)
HOSTILE = "python3 /agent/hostile_agent.py"
SANDBOX_VARIABLES = (
    "HARNESS_COMMAND_SANDBOX",
    "HARNESS_COMMAND_IMAGE",
    "HARNESS_COMMAND_ENV",
    "HARNESS_COMMAND_ENDPOINT",
)


def _request(task_id: str = "user-crud") -> GenerationRequest:
    return GenerationRequest(
        task_id=task_id,
        sample=0,
        system_prompt="You are a backend engineer.",
        user_message="Build a user API.",
    )


@pytest.fixture(scope="module", autouse=True)
def engine() -> None:
    """Start the engine when none answers; fail clearly when that is impossible."""
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
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SANDBOX_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HARNESS_COMMAND_MOUNTS", MOUNTS)


@pytest.fixture
def providers() -> Iterator[list[CommandProvider]]:
    """Providers a test made, closed after it (the sandbox's session removes its own)."""
    made: list[CommandProvider] = []
    yield made
    for provider in made:
        provider.close()


def _provider(made: list[CommandProvider], command: str, **kwargs: Any) -> CommandProvider:
    provider = CommandProvider(command, **kwargs)
    made.append(provider)
    return provider


def _report(files: dict[str, str] | None) -> dict[str, Any]:
    assert files is not None and "report.json" in files, files
    return dict(json.loads(files["report.json"]))


def _owned_by_this_process(client: docker.DockerClient) -> list[str]:
    owner = f"{LABEL_OWNER}={Owner.current().label()}"
    names = []
    for role in ("command-agent", "command-agent-network"):
        labels = [owner, f"{LABEL_ROLE}={role}"]
        names += [str(c.name) for c in client.containers.list(all=True, filters={"label": labels})]
        names += [str(n.name) for n in client.networks.list(filters={"label": labels})]
    return names


# -- what the agent is asked and what is collected, in the sandbox -----------------------


def test_the_agent_writes_files_into_a_workspace(providers: list[CommandProvider]) -> None:
    provider = resolve_provider(f"command:{COMMAND}")
    assert isinstance(provider, CommandProvider)
    providers.append(provider)
    response = provider.generate(_request())
    assert provider.name == "command"
    assert response.sandboxed is True
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
    assert json.loads(response.model_dump_json())["sandboxed"] is True


def test_an_agent_that_only_prints_is_graded_on_its_stdout(
    providers: list[CommandProvider],
) -> None:
    response = _provider(providers, f"{COMMAND} --mode print").generate(_request())
    assert response.files is None
    files, record = extract_response(response)
    assert "main.py" in files and record.shape != "workspace"


def test_the_agent_gets_no_stdin(providers: list[CommandProvider]) -> None:
    response = _provider(providers, f"{COMMAND} --mode stdin", timeout=20).generate(_request())
    assert response.files is not None
    assert response.files["main.py"].startswith("# stdin had 0 chars")


def test_a_failing_agent_is_a_provider_error_with_its_stderr(
    providers: list[CommandProvider],
) -> None:
    with pytest.raises(ProviderError, match=r"exited with status 3: agent: cannot reach"):
        _provider(providers, f"{COMMAND} --mode fail").generate(_request())


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_the_timeout_kills_the_container_and_everything_in_it(
    providers: list[CommandProvider],
) -> None:
    marker = f"hang-{secrets.token_hex(6)}"
    # The pids file is the marker: every process of the agent has it in its environment.
    command = f"FAKE_AGENT_PIDS=/tmp/{marker} {COMMAND} --mode hang"
    provider = _provider(providers, command, timeout=4)
    began = time.monotonic()
    response = provider.generate(_request())
    assert time.monotonic() - began < 12
    assert response.finish_reason == "timeout" and response.truncated
    assert "killed after 4s" in response.text
    assert response.files is not None and "main.py" in response.files  # what it wrote so far
    assert _processes_with(marker) == [], "an agent process outlived its container"
    client = connect_engine()
    try:
        assert _owned_by_this_process(client) == []
    finally:
        client.close()


def test_keys_in_the_agents_output_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, providers: list[CommandProvider]
) -> None:
    key = "sk-agent-secret-0123456789abcdef"
    monkeypatch.setenv("FAKE_AGENT_KEY", key)
    monkeypatch.setenv("SOME_AGENT_API_KEY", key)  # credential-looking: scrubbed everywhere
    monkeypatch.setenv("HARNESS_COMMAND_ENV", "FAKE_AGENT_KEY")  # the agent's key, passed
    response = _provider(providers, f"{COMMAND} --mode leak").generate(_request())
    assert key not in response.text and REDACTED in response.text
    assert response.files is not None and key not in response.files["main.py"]
    assert REDACTED in response.files["main.py"]  # it did get the key it was given


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
    inside = render_command("a {workspace} {prompt} {system} {user}", CONTAINER_PATHS)
    assert inside == "a /workspace /prompt/prompt.md /prompt/system.md /prompt/user.md"


def test_an_empty_command_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match=r"MODEL='command:my-agent"):
        resolve_provider("command:")


# -- what the sandbox lets the agent be ------------------------------------------------


def test_the_agent_is_unprivileged_limited_read_only_and_offline(
    providers: list[CommandProvider],
) -> None:
    response = _provider(providers, f"{HOSTILE} inspect").generate(_request())
    seen = _report(response.files)
    assert seen["uid"] == 10001 and seen["gid"] == 10001
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert f"ok: {512 * 2**20}" in seen["memory"]
    assert "ok: 128" in seen["pids"]
    mounts = {line.split()[1]: line.split()[3] for line in seen["mounts"].splitlines()}
    assert mounts["/"].startswith("ro")
    assert mounts["/agent"].startswith("ro") and mounts["/prompt"].startswith("ro")
    assert mounts["/workspace"].startswith("rw") and "/tmp" in mounts
    assert seen["network"] == ["lo"], "no endpoint configured: no network at all"
    writes = seen["writes"]
    assert writes["/tmp/ok"].startswith("ok") and writes["/workspace/ok.txt"].startswith("ok")
    assert "Read-only file system" in writes["/etc/planted"]
    assert "Read-only file system" in writes["/opt/planted"]
    assert response.files is not None and response.files["ok.txt"] == "x"


def test_a_snooping_agent_finds_no_task_no_grader_and_no_harness_environment(
    monkeypatch: pytest.MonkeyPatch, providers: list[CommandProvider]
) -> None:
    marker = f"harness-secret-{secrets.token_hex(6)}"
    monkeypatch.setenv("HARNESS_LEAK_MARKER", marker)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-key-0123456789abcdef")
    monkeypatch.setenv("AGENT_SETTING", "given-to-the-agent")
    monkeypatch.setenv("HARNESS_COMMAND_ENV", "AGENT_SETTING")
    command = f"{HOSTILE} snoop --repo {shlex.quote(str(PROJECT_ROOT))} --task user-crud"
    response = _provider(providers, command).generate(_request())
    assert response.files is not None
    assert "stolen.py" not in response.files, "the harness followed the agent's symlink"
    seen = _report(response.files)
    assert seen["symlink"].startswith("ok")  # it may plant one; nothing reads through it
    for path, result in seen["reads"].items():
        assert "No such file or directory" in result, (path, result)
    assert all("No such file" in r for p, r in seen["listings"].items() if p != "/")
    assert seen["found"] == []
    reference = (PROJECT_ROOT / "tasks/user-crud/reference/main.py").read_text()
    assert reference[:200] not in response.files["report.json"]
    env = seen["env"]
    assert env["HARNESS_WORKSPACE"] == "/workspace"
    assert env["HARNESS_PROMPT_FILE"] == "/prompt/prompt.md"
    assert env["AGENT_SETTING"] == "given-to-the-agent"
    image_env = {line.split("=", 1)[0] for line in _image_env()}
    given = {
        "HARNESS_WORKSPACE",
        "HARNESS_PROMPT_FILE",
        "HARNESS_SYSTEM_FILE",
        "HARNESS_USER_FILE",
        "HOME",
        "TMPDIR",
        "LANG",
        "HOSTNAME",
        "PWD",  # /bin/sh's
        "AGENT_SETTING",
    }
    assert set(env) - image_env - given == set(), "a variable of the host's reached the agent"
    assert marker not in response.files["report.json"] and marker not in response.text
    assert "ANTHROPIC_API_KEY" not in env and "sk-ant-host" not in response.files["report.json"]


def _image_env() -> list[str]:
    client = connect_engine()
    try:
        settings = AgentSettings.from_env()
        image = settings.image or ensure_images(client, build=False).runtime
        return list(client.images.get(image).attrs["Config"]["Env"] or [])
    finally:
        client.close()


def test_a_tampering_agent_leaves_the_graders_unchanged(
    providers: list[CommandProvider],
) -> None:
    grader = PROJECT_ROOT / "harness" / "graders" / "security.py"
    marker = secrets.token_hex(8)
    command = f"{HOSTILE} tamper --file {shlex.quote(str(grader))} --marker {marker}"
    response = _provider(providers, command).generate(_request())
    seen = _report(response.files)
    assert marker not in grader.read_text(), "the agent edited a grader"
    assert not grader.with_name("evil.py").exists() and not (FAKES / "planted.py").exists()
    writes = seen["writes"]
    assert not [path for path, result in writes.items() if result.startswith("ok")], writes
    assert "No such file or directory" in writes[str(grader)]  # the repository is not there
    assert "Read-only file system" in writes["/agent/planted.py"]
    assert "Permission denied" in writes["/prompt/prompt.md"]  # root's file, and ro anyway
    assert "Read-only file system" in writes["/planted"]


class _Listener:
    """A service on every host interface, counting who connects."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("0.0.0.0", 0))
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.accepted = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                self.socket.accept()[0].close()
                self.accepted += 1
            except TimeoutError:
                continue

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.socket.close()


def test_an_agent_reaches_its_endpoint_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
    providers: list[CommandProvider],
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "sk-ant-agent-key-0123456789abcdef"
    answer = json.dumps({"main.py": "app = None\n"})
    listener = _Listener()
    with (
        FakeModelServer(json_reply(anthropic_message(answer))) as endpoint,
        FakeModelServer(json_reply(anthropic_message("{}"))) as other,
    ):
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", endpoint.url)
        monkeypatch.setenv("HARNESS_COMMAND_ENV", "ANTHROPIC_API_KEY,ANTHROPIC_BASE_URL")
        monkeypatch.setenv("HARNESS_COMMAND_ENDPOINT", endpoint.url)
        endpoint_port = endpoint.url.rsplit(":", 1)[1]
        others = [
            other.url.removeprefix("http://"),  # another service on the host's loopback
            f"localhost:{endpoint_port}",  # the endpoint under another name
            f"GATEWAY:{listener.port}",  # a service on every host interface
            "pypi.org:443",
            "1.1.1.1:53",
        ]
        command = f"{HOSTILE} egress --api anthropic --others {','.join(others)}"
        try:
            response = _provider(providers, command, timeout=60).generate(_request())
        finally:
            listener.close()
        assert other.count == 0 and listener.accepted == 0
        assert endpoint.count == 1
        headers = {k.lower(): v for k, v in endpoint.received[0].headers.items()}
        assert headers["x-api-key"] == key
    seen = _report(response.files)
    print(json.dumps(seen, indent=1))
    assert response.files is not None and response.files["main.py"] == "app = None\n"
    assert seen["endpoint"] == "ok: ['main.py']"
    for target in seen["connect"]:
        assert seen["connect"][target].startswith("ok: HTTP/1.1 403"), (target, seen["connect"])
        assert seen["forward"][target].startswith("ok: HTTP/1.1 403"), (target, seen["forward"])
        assert seen["direct"][target].startswith("error"), (target, seen["direct"])
    assert seen["resolve"].startswith("error") and "403" in seen["urllib"]
    assert "egress proxy refused" in capsys.readouterr().err


def test_an_agent_reaches_an_openai_endpoint_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch, providers: list[CommandProvider]
) -> None:
    answer = json.dumps({"main.py": "app = 1\n"})
    with FakeModelServer(json_reply(openai_completion(answer))) as endpoint:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-agent-0123456789abcdef")
        monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url + "/v1")
        monkeypatch.setenv("HARNESS_COMMAND_ENV", "OPENAI_API_KEY,OPENAI_BASE_URL")
        monkeypatch.setenv("HARNESS_COMMAND_ENDPOINT", endpoint.url + "/v1")
        command = "python3 /agent/llm_agent.py --api openai"
        response = _provider(providers, command, timeout=60).generate(_request())
        assert endpoint.received[0].path == "/v1/chat/completions"
    assert response.files == {"main.py": "app = 1\n"}


def test_the_egress_proxy_tunnels_and_forwards_only_to_its_destinations() -> None:
    reply = json_reply(anthropic_message("hi"))
    with FakeModelServer(reply) as allowed, FakeModelServer(reply) as refused:
        port = int(allowed.url.rsplit(":", 1)[1])
        proxy = EgressProxy("127.0.0.1", [Destination("127.0.0.1", port)]).start()
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
            body = opener.open(urllib.request.Request(allowed.url + "/v1", data=b"{}")).read()
            assert json.loads(body)["content"][0]["text"] == "hi"
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as tunnel:
                tunnel.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
                assert tunnel.recv(100).startswith(b"HTTP/1.1 200")
                tunnel.sendall(b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                answer = b""
                while chunk := tunnel.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.0 200") and b'"text": "hi"' in answer
            with pytest.raises(urllib.error.HTTPError, match="403"):
                opener.open(urllib.request.Request(refused.url + "/v1", data=b"{}"))
            assert allowed.count == 2 and refused.count == 0
            assert proxy.refused == [f"POST {refused.url}/v1"]
        finally:
            proxy.close()


# -- what a user may configure ---------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        str(PROJECT_ROOT),
        str(PROJECT_ROOT / "tasks"),
        str(PROJECT_ROOT / "tasks" / "user-crud" / "hidden"),
        str(PROJECT_ROOT / "harness" / "graders" / "probes"),
        str(PROJECT_ROOT / "results"),
        str(CACHE_DIR.parent),
        "/",
        "/tmp",
        "/var/run",
    ],
)
def test_a_mount_that_would_expose_tasks_graders_or_caches_is_refused(host: str) -> None:
    Path(host).mkdir(parents=True, exist_ok=True)
    with pytest.raises(HarnessError, match="would show the agent"):
        parse_mounts(f"{host}:/agent")


def test_mount_and_variable_settings_are_checked(tmp_path: Path) -> None:
    (mount,) = parse_mounts(f"{FAKES}:/agent")
    assert mount.host == FAKES.resolve() and mount.container == "/agent"
    assert parse_mounts(f"{tmp_path}:/opt/agent,")[0].container == "/opt/agent"
    for container in ("/workspace", "/workspace/x", "/prompt", "/tmp", "/", "relative"):
        with pytest.raises(HarnessError, match="HARNESS_COMMAND_MOUNTS"):
            parse_mounts(f"{tmp_path}:{container}")
    with pytest.raises(HarnessError, match="not an existing absolute path"):
        parse_mounts(f"{tmp_path}/missing:/agent")
    with pytest.raises(HarnessError, match="not host:container"):
        parse_mounts(str(tmp_path))
    assert parse_variables("A_KEY, B_URL,A_KEY") == ("A_KEY", "B_URL")
    with pytest.raises(HarnessError, match="harness's own setting"):
        parse_variables("HARNESS_POSTGRES_URL")
    assert parse_endpoint("https://API.example.com/v1") == Destination("api.example.com", 443)
    assert parse_endpoint("http://127.0.0.1:8080") == Destination("127.0.0.1", 8080)
    with pytest.raises(HarnessError, match="not an http"):
        parse_endpoint("api.example.com:443")


def test_a_variable_the_host_does_not_set_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, providers: list[CommandProvider]
) -> None:
    monkeypatch.setenv("HARNESS_COMMAND_ENV", "NO_SUCH_AGENT_VARIABLE")
    with pytest.raises(HarnessError, match="names NO_SUCH_AGENT_VARIABLE"):
        _provider(providers, COMMAND).generate(_request())


# -- no engine, and the unsandboxed opt-in ---------------------------------------------


def test_without_an_engine_command_refuses_and_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(HarnessError) as raised:
        resolve_provider(f"command:{COMMAND}")
    message = str(raised.value)
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in message
    assert "make docker" in message and "HARNESS_COMMAND_SANDBOX=none" in message


def test_the_unsandboxed_opt_in_runs_on_the_host_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("HARNESS_COMMAND_SANDBOX", "none")
    provider = resolve_provider(f"command:{HOST_COMMAND}")
    assert "UNSANDBOXED" in capsys.readouterr().err
    response = provider.generate(_request())
    assert response.sandboxed is False
    assert response.files is not None and sorted(response.files) == [
        "main.py",
        "models.py",
        "notes/plan.md",
    ]
    assert getattr(provider, "endpoint", None) == "sandbox=none"  # its own cache key


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of ours may linger as a zombie until reaped: that is not running.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_unsandboxed_the_timeout_kills_the_agent_and_everything_it_started(
    tmp_path: Path,
) -> None:
    pids_file = tmp_path / "pids"
    command = f"FAKE_AGENT_PIDS={shlex.quote(str(pids_file))} {HOST_COMMAND} --mode hang"
    began = time.monotonic()
    response = CommandProvider(command, timeout=1.5, sandbox=False).generate(_request())
    assert time.monotonic() - began < 5
    assert response.finish_reason == "timeout" and response.truncated
    assert "killed after 1.5s" in response.text
    assert response.files is not None and "main.py" in response.files  # what it wrote so far
    agent_pid, child_pid = (int(p) for p in pids_file.read_text().split())
    deadline = time.monotonic() + 2
    while (_alive(agent_pid) or _alive(child_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(agent_pid) and not _alive(child_pid)


# -- end to end ------------------------------------------------------------------------


def test_harness_eval_grades_what_the_sandboxed_agent_wrote(
    tmp_path: Path, server_urls: dict[str, str]
) -> None:
    key = "sk-ant-e2e-agent-0123456789abcdefXYZ"
    answer = json.dumps(load_task("user-crud").reference_files())
    with FakeModelServer(json_reply(anthropic_message(answer))) as endpoint:
        env = {
            **{k: v for k, v in os.environ.items() if k not in SANDBOX_VARIABLES},
            **server_urls,
            "ANTHROPIC_API_KEY": key,
            "ANTHROPIC_BASE_URL": endpoint.url,
            "HARNESS_COMMAND_MOUNTS": MOUNTS,
            "HARNESS_COMMAND_ENV": "ANTHROPIC_API_KEY,ANTHROPIC_BASE_URL",
            "HARNESS_COMMAND_ENDPOINT": endpoint.url,
            "HARNESS_RESPONSE_CACHE": str(tmp_path / "responses"),
            "HARNESS_GRADE_CACHE": str(tmp_path / "grades"),
        }
        done = subprocess.run(
            [
                sys.executable, "-m", "harness.cli", "eval",
                "--model", "command:python3 /agent/llm_agent.py",
                "--tasks", "user-crud", "--db", "postgres", "--runtime", "local",
                "--results-dir", str(tmp_path / "results"), "--run-id", "agent",
                "--no-report", "--jobs", "1",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert endpoint.count == 1
    run = tmp_path / "results" / "agent"
    (row,) = [json.loads(line) for line in (run / "results.jsonl").open()]
    assert row["infra_error"] is None and row["scores"]["functional"] == 1.0, row
    response = json.loads((run / "samples" / "user-crud" / "0" / "response.json").read_text())
    assert response["sandboxed"] is True and response["finish_reason"] == "stop"
    assert "UNSANDBOXED" not in done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path


def test_the_opening_of_a_dead_harness_is_swept() -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = Owner(socket.gethostname(), finished.pid, "1").label()
    rule = [
        "-i", "hbe-sweeptest", "-d", "10.255.255.1/32", "-p", "tcp", "-m", "tcp",
        "--dport", "9", "-m", "comment", "--comment", f"{PROXY_RULE_COMMENT} {dead}",
        "-j", "ACCEPT",
    ]  # fmt: skip
    subprocess.run(["iptables", "-w", "-I", "INPUT", "1", *rule], check=True)
    try:
        assert sweep_dead_openings() >= 1
        listing = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True)
        assert dead not in listing.stdout
    finally:
        subprocess.run(["iptables", "-w", "-D", "INPUT", *rule], capture_output=True, check=False)


def test_zz_nothing_of_the_sandboxes_is_left() -> None:
    client = connect_engine()
    try:
        assert _owned_by_this_process(client) == []
    finally:
        client.close()
    rules = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True)
    mine = [line for line in rules.stdout.splitlines() if Owner.current().label() in line]
    assert not [line for line in mine if PROXY_RULE_COMMENT in line], mine
