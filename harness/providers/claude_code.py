"""`claude-code:<model>`: the agent file run the way its users run it, by Claude Code.

For each sample the harness makes an empty workspace holding only the agent definition,
verbatim, as `.claude/agents/<name>.md` (a Claude Code subagent), and runs the real CLI
(pinned, see `claude_code_install`) headless in it:

    claude -p <instruction> --output-format stream-json --verbose --model <model>
           --max-turns N --max-budget-usd USD --dangerously-skip-permissions

The instruction asks the main session to build the task through that subagent; the
task's text is the one every provider gets. The CLI runs in the docker agent sandbox
(`harness.sandbox.docker.claude_code_container`): no network but the model endpoint
(ANTHROPIC_BASE_URL, default https://api.anthropic.com) through the egress proxy, a
throwaway database reachable through DATABASE_URL, and limits on time, turns and cost.
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 turns the CLI's own calls (telemetry,
update checks) off; whatever it tries anyway is refused by the proxy and counted.

What the workspace holds at the end is graded like any answer. The answer text is
empty (the closing chat message is in session.json): a workspace's files did not come
from a text, so the checklist's output-format check does not apply. A session stopped by a
limit keeps its files and is recorded as truncated (finish_reason `max_turns`,
`max_budget` or `timeout`). The transcript (the stream JSON, scrubbed of keys) and a
summary (turns, tool calls, tokens, cost, refused requests) go to the sample folder as
transcript.jsonl and session.json.

Settings (environment):

    ANTHROPIC_API_KEY                   required; passed to the CLI, never stored
    ANTHROPIC_BASE_URL                  the model endpoint (a gateway, a local server)
    HARNESS_CLAUDE_CODE_TIMEOUT         seconds per session (default 1800)
    HARNESS_CLAUDE_CODE_MAX_TURNS       turns per session (default 80)
    HARNESS_CLAUDE_CODE_MAX_BUDGET_USD  the CLI's own cost cap per session (default 5)
    HARNESS_CLAUDE_CODE_DB              postgres (default) | mysql: the agent's database
    HARNESS_CLAUDE_CODE_MEMORY_MB       the container's memory (default 2048)
    HARNESS_CLAUDE_CODE_TRAFFIC         quiet (default) | default: leave the CLI's
                                        non-essential traffic on (it is still blocked)
    HARNESS_CLAUDE_CODE_VERSION         the CLI version (default: the pinned one)
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import HarnessError
from harness.core.files import AGENT_SESSION_FILE, AGENT_TRANSCRIPT_FILE
from harness.core.transcript import parse_events
from harness.providers import claude_code_install
from harness.providers.base import (
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    register_provider,
)
from harness.providers.claude_code_settings import ClaudeCodeSettings
from harness.providers.claude_code_transcript import LIMIT_REASONS, summarise
from harness.providers.command import collect_files
from harness.providers.limits import provider_slot
from harness.providers.retry import CallFailure, ProviderError
from harness.providers.secrets import require_api_key, scrub
from harness.sandbox.agent_settings import CLAUDE_CODE_DIR, AgentSettings
from harness.sandbox.docker.egress_proxy import parse_endpoint

if TYPE_CHECKING:  # loads the Docker SDK: only when a session runs
    from harness.sandbox.docker.claude_code_container import ClaudeCodeSandbox, SessionOutcome

_AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}")
# The CLI writes a file through `<name>.tmp.<pid>.<hex>` and renames it; a session killed
# by a limit mid-write can leave one behind: not the agent's work.
_CLI_TEMP_FILE = re.compile(r"\.tmp\.\d+\.[0-9a-f]{6,}$")

INSTRUCTION = """\
Use the {agent} subagent (the Agent tool with subagent_type "{agent}") to build the \
backend described below in the current directory, {workspace}. Give it the whole \
request as written. The files it leaves in this directory are the deliverable: \
`main.py` at the top level exposing the FastAPI object `app`. A database server is \
running for you: DATABASE_URL in the environment is its SQLAlchemy async URL, and \
JWT_SECRET is set. When the subagent is done, reply with a one-line summary.

{task}
"""


def _no_proxy(base_url: str) -> str:
    """Hosts the agent reaches directly: its own app and its database. A loopback model
    endpoint must go through the proxy, so loopback is left out then."""
    host = parse_endpoint(base_url).host
    try:
        loopback_endpoint = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback_endpoint = False
    local = [] if loopback_endpoint else ["localhost", "127.0.0.1", "::1"]
    return ",".join([*local, "postgres", "mysql"])


def agent_name_of(request: GenerationRequest) -> str:
    name = request.agent_name or "backend-engineer"
    if not _AGENT_NAME.fullmatch(name):
        raise HarnessError(f"MODEL=claude-code: the agent name {name!r} is not a file name")
    return name


def agent_file_of(request: GenerationRequest, name: str) -> str:
    """The definition as Claude Code reads it; a bare system prompt gets front matter."""
    if request.agent_file is not None:
        return request.agent_file
    description = "Builds the backend the user asks for."
    return f"---\nname: {name}\ndescription: {description}\n---\n\n{request.system_prompt}\n"


def prepare_workspace(root: Path, request: GenerationRequest) -> tuple[Path, Path, str]:
    """The workspace (holding only the subagent) and the prompts folder (the instruction)."""
    name = agent_name_of(request)
    workspace, prompts = root / "workspace", root / "prompt"
    agents = workspace / ".claude" / "agents"
    agents.mkdir(parents=True)
    prompts.mkdir()
    (agents / f"{name}.md").write_text(agent_file_of(request, name), encoding="utf-8")
    instruction = INSTRUCTION.format(agent=name, workspace="/workspace", task=request.user_message)
    (prompts / "instruction.md").write_text(instruction, encoding="utf-8")
    for folder in (workspace / ".claude", agents):
        folder.chmod(0o755)
    (agents / f"{name}.md").chmod(0o644)
    return workspace, prompts, name


def cli_command(model: str, settings: ClaudeCodeSettings) -> str:
    """The shell command the container runs (the instruction is read from its file)."""
    return (
        f'exec {CLAUDE_CODE_DIR}/claude.exe -p "$(cat /prompt/instruction.md)" '
        "--output-format stream-json --verbose --dangerously-skip-permissions "
        f"--model {shlex.quote(model)} --max-turns {settings.max_turns} "
        f"--max-budget-usd {settings.max_budget_usd:g}"
    )


class ClaudeCodeProvider(Provider):
    """Runs a Claude Code session per sample; `model` is the model the CLI asks for."""

    name = "claude-code"
    cacheable = True

    def __init__(self, model: str, *, sandbox: ClaudeCodeSandbox | None = None) -> None:
        self.model = model
        self.settings = ClaudeCodeSettings.from_env()
        # --max-cost reserves a whole session's budget per sample (the CLI stops a session
        # at the first turn past it, so one turn's cost more at worst).
        self.max_cost_per_call = self.settings.max_budget_usd
        self.api_key = require_api_key("ANTHROPIC_API_KEY", self.name)
        cli = claude_code_install.install(self.settings.version)
        if sandbox is None:
            from harness.sandbox.docker.claude_code_container import ClaudeCodeSandbox

            agent_settings = AgentSettings(
                image=None,
                mounts=(),
                variables=(),
                endpoints=(parse_endpoint(self.settings.base_url),),
            )
            sandbox = ClaudeCodeSandbox.for_claude_code(
                agent_settings, cli.parent, self.settings.database, self.settings.memory_mb
            )
        self.sandbox = sandbox
        self.endpoint = f"{self.settings.base_url} {self.settings.describe()} {sandbox.describe()}"

    def _environment(self) -> dict[str, str]:
        env = {
            "ANTHROPIC_API_KEY": self.api_key,
            "ANTHROPIC_BASE_URL": self.settings.base_url,
            "IS_SANDBOX": "1",
            "DISABLE_AUTOUPDATER": "1",
            "JWT_SECRET": secrets.token_urlsafe(32),
            "NO_PROXY": _no_proxy(self.settings.base_url),
        }
        env["no_proxy"] = env["NO_PROXY"]
        if self.settings.quiet:
            env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        return env

    def generate(self, request: GenerationRequest) -> ModelResponse:
        with tempfile.TemporaryDirectory(prefix="harness-claude-code-") as scratch:
            workspace, prompts, _ = prepare_workspace(Path(scratch), request)
            with provider_slot(self.name):
                session = self.sandbox.run_session(
                    cli_command(self.model, self.settings),
                    workspace,
                    prompts,
                    self.settings.timeout,
                    self._environment(),
                )
            return self._response(session, workspace)

    def _response(self, session: SessionOutcome, workspace: Path) -> ModelResponse:
        outcome = session.outcome
        transcript = scrub(session.stdout)
        events = parse_events(transcript)
        summary = summarise(events)
        limit = LIMIT_REASONS.get(summary.result or "")
        if outcome.timed_out:
            finish = "timeout"
        elif limit is not None:
            finish = limit
        elif outcome.exit_code == 0 and summary.result == "success" and not summary.is_error:
            finish = "stop"
        else:
            detail = summary.final_text or " ".join(outcome.stderr.split())[-500:]
            failure = CallFailure(
                f"the Claude Code session failed (exit {outcome.exit_code}{outcome.note}, "
                f"result {summary.result or 'none'}): {scrub(detail) or '(no output)'}",
                retryable=False,
            )
            raise ProviderError(self.name, self.model, failure, 1)
        if outcome.refused:
            print(
                f"harness: claude-code: the egress proxy refused {len(outcome.refused)} "
                "request(s) besides the model endpoint (blocked, the session went on)",
                file=sys.stderr,
                flush=True,
            )
        record = {
            **summary.as_json(),
            "finish_reason": finish,
            "exit_code": outcome.exit_code,
            "seconds": outcome.seconds,
            "refused_requests": [scrub(r) for r in outcome.refused],
            "limits": {
                "timeout_s": self.settings.timeout,
                "max_turns": self.settings.max_turns,
                "max_budget_usd": self.settings.max_budget_usd,
            },
            "cli_version": self.settings.version,
            "database": self.settings.database,
            "final_message": scrub(summary.final_text),
        }
        files = {
            path: text
            for path, text in collect_files(workspace).items()
            if not _CLI_TEMP_FILE.search(path)
        }
        # No answer text: the deliverable is the workspace. The session's closing chat
        # message is kept in session.json, not graded as if it were the answer.
        return ModelResponse(
            text="",
            model=self.model,
            finish_reason=finish,
            usage=Usage(
                input_tokens=summary.input_tokens,
                output_tokens=summary.output_tokens,
                cached_tokens=summary.cached_tokens,
            ),
            seconds=outcome.seconds,
            files=files or None,
            sandboxed=True,
            cost_usd=summary.cost_usd,
            artifacts={
                AGENT_TRANSCRIPT_FILE: transcript,
                AGENT_SESSION_FILE: json.dumps(record, indent=2) + "\n",
            },
        )

    def close(self) -> None:
        self.sandbox.close()


@register_provider("claude-code", ClaudeCodeProvider)
def make_claude_code(argument: str) -> Provider:
    if not argument.strip():
        raise HarnessError("MODEL=claude-code needs a model: MODEL=claude-code:claude-sonnet-4-5")
    return ClaudeCodeProvider(argument.strip())
