"""`command:<cmd>`: any CLI agent that writes files into a workspace.

For each sample the harness makes an empty workspace, writes the prompt to files next to
it, runs the command through `/bin/sh` in the workspace with no stdin and a time limit,
and collects the text files the agent wrote. Placeholders in the command are replaced by
shell-quoted paths:

    {workspace}  the empty folder the agent writes its files into (also its cwd)
    {prompt}     the whole prompt: system prompt, a `---` line, then the task
    {system}     the system prompt alone          {user}  the task alone

The same paths are in the environment as HARNESS_WORKSPACE, HARNESS_PROMPT_FILE,
HARNESS_SYSTEM_FILE and HARNESS_USER_FILE. An agent that writes no file but prints its
answer is graded on its stdout, like a model's text. A non-zero exit is a ProviderError
(the agent did not work: an infra error); running out of time is the agent's own result:
it is killed with everything it started, and what it wrote so far is graded, recorded
with finish_reason "timeout".

Where it runs: in a docker sandbox (`harness.sandbox.docker.agent_container`): a container
that sees only the workspace (/workspace), the prompt files (/prompt/*.md) and the
read-only mounts the user configured for the agent program, with a scrubbed environment
and no network but an allow-listing proxy to its model endpoint. No engine: a clear
refusal, unless the user opts in to the old way with HARNESS_COMMAND_SANDBOX=none (on
the host, with the harness's environment, said loudly on stderr). The response records
which (`sandboxed`), and the mode is part of the response cache key.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core import settings
from harness.core.errors import HarnessError
from harness.providers.base import GenerationRequest, ModelResponse, Provider, register_provider
from harness.providers.limits import command_timeout, provider_slot
from harness.providers.retry import CallFailure, ProviderError
from harness.providers.secrets import scrub
from harness.sandbox.agent_run import CONTAINER_PATHS, AgentOutcome, tail
from harness.sandbox.agent_settings import SANDBOX_ENV, AgentSettings, sandbox_mode

if TYPE_CHECKING:  # the sandbox loads the Docker SDK: only when a command: agent runs
    from harness.sandbox.docker.agent_container import AgentSandbox

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 500
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv"})
_PATH_VARIABLES = {
    "workspace": settings.AGENT_WORKSPACE.name,
    "prompt": settings.AGENT_PROMPT_FILE.name,
    "system": settings.AGENT_SYSTEM_FILE.name,
    "user": settings.AGENT_USER_FILE.name,
}
UNSANDBOXED_WARNING = f"""\
harness: WARNING: {SANDBOX_ENV}=none: the command: agent runs UNSANDBOXED on this host.
harness: WARNING: it gets the harness's whole environment (API keys, HARNESS_* settings)
harness: WARNING: and can read and change whatever the harness can: the tasks' reference
harness: WARNING: solutions and hidden tests, the graders. Its answers are recorded with
harness: WARNING: sandboxed: false; unset {SANDBOX_ENV} to run it in the docker sandbox.
"""


def render_command(template: str, paths: dict[str, Path]) -> str:
    """Replace each `{name}` by its shell-quoted path; other braces are left alone."""
    command = template
    for name, path in paths.items():
        command = command.replace("{" + name + "}", shlex.quote(str(path)))
    return command


def collect_files(workspace: Path) -> dict[str, str]:
    """The agent's text files, by relative POSIX path. Hidden entries, caches, symlinks,
    binary and oversized files are left out: they are not source code to grade."""
    files: dict[str, str] = {}
    for folder, dirs, names in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_size > MAX_FILE_BYTES or len(files) >= MAX_FILES:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            files[path.relative_to(workspace).as_posix()] = scrub(text, shapes=False)
    return files


def write_prompt_files(root: Path, request: GenerationRequest) -> dict[str, Path]:
    """The empty workspace and the prompt files (in a folder of their own) under `root`."""
    prompts = root / "prompt"
    paths = {
        "workspace": root / "workspace",
        "prompt": prompts / "prompt.md",
        "system": prompts / "system.md",
        "user": prompts / "user.md",
    }
    paths["workspace"].mkdir()
    prompts.mkdir()
    paths["system"].write_text(request.system_prompt, encoding="utf-8")
    paths["user"].write_text(request.user_message, encoding="utf-8")
    paths["prompt"].write_text(
        f"{request.system_prompt}\n\n---\n\n{request.user_message}", encoding="utf-8"
    )
    return paths


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the agent and everything it started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def run_on_host(command: str, paths: dict[str, Path], root: Path, timeout: float) -> AgentOutcome:
    """The unsandboxed way (HARNESS_COMMAND_SANDBOX=none): a process group on this host,
    with the harness's environment."""
    env = dict(os.environ)
    for name, variable in _PATH_VARIABLES.items():
        env[variable] = str(paths[name])
    began = time.monotonic()
    with (root / "stdout").open("wb") as out, (root / "stderr").open("wb") as err:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=paths["workspace"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)  # also reaps whatever the agent left running
    return AgentOutcome(
        exit_code=None if timed_out else process.returncode,
        timed_out=timed_out,
        stdout=tail((root / "stdout").read_bytes()),
        stderr=tail((root / "stderr").read_bytes()),
        seconds=round(time.monotonic() - began, 3),
    )


class CommandProvider(Provider):
    """Runs a CLI agent per sample; the command string is what run.json calls the model.

    `sandbox=None` reads HARNESS_COMMAND_SANDBOX: the docker sandbox unless it says
    `none`. Pass `sandbox=False` to run on the host."""

    name = "command"
    # Its answers are cached (keyed on the sandbox it ran in, `endpoint`). It stays
    # metered: the agent may pay for a model the harness cannot see, so `--max-cost`
    # with it is refused for want of a price rather than silently ignored.
    cacheable = True
    metered = True

    def __init__(
        self,
        command: str,
        *,
        timeout: float | None = None,
        sandbox: AgentSandbox | bool | None = None,
    ) -> None:
        self.command = command
        self.model = command
        self.timeout = timeout or command_timeout()
        if sandbox is None:
            sandbox = sandbox_mode() == "docker"
        if sandbox is True:
            from harness.sandbox.docker.agent_container import AgentSandbox

            sandbox = AgentSandbox.open(AgentSettings.from_env())
        self.sandbox: AgentSandbox | None = sandbox or None
        if self.sandbox is None:
            print(UNSANDBOXED_WARNING, end="", file=sys.stderr, flush=True)
        # Part of the response cache key: a sandboxed answer never stands in for an
        # unsandboxed one, nor one from another image or endpoint.
        self.endpoint = self.sandbox.describe() if self.sandbox else "sandbox=none"

    def generate(self, request: GenerationRequest) -> ModelResponse:
        with tempfile.TemporaryDirectory(prefix="harness-agent-") as scratch:
            root = Path(scratch)
            paths = write_prompt_files(root, request)
            with provider_slot(self.name):
                if self.sandbox is None:
                    command = render_command(self.command, paths)
                    outcome = run_on_host(command, paths, root, self.timeout)
                else:
                    command = render_command(self.command, CONTAINER_PATHS)
                    outcome = self.sandbox.run(
                        command, paths["workspace"], paths["prompt"].parent, self.timeout
                    )
            return self._response(outcome, paths["workspace"])

    def _response(self, outcome: AgentOutcome, workspace: Path) -> ModelResponse:
        if outcome.refused and self.sandbox is not None:
            shown = "; ".join(outcome.refused[:5]) + (" ..." if len(outcome.refused) > 5 else "")
            allowed = ", ".join(str(d) for d in self.sandbox.settings.endpoints)
            print(
                f"harness: command agent: the egress proxy refused {len(outcome.refused)} "
                f"request(s) (only {allowed} is allowed): " + scrub(shown),
                file=sys.stderr,
                flush=True,
            )
        stdout = scrub(outcome.stdout, shapes=False)
        if not outcome.timed_out and outcome.exit_code != 0:
            stderr = " ".join(outcome.stderr.split())[-500:]
            failure = CallFailure(
                f"the agent exited with status {outcome.exit_code}{outcome.note}: "
                f"{stderr or '(no stderr)'}",
                retryable=False,
            )
            raise ProviderError(self.name, self.model, failure, 1)
        files = collect_files(workspace)
        if outcome.timed_out:
            stdout += f"\n[harness: the agent was killed after {self.timeout:g}s]\n"
        return ModelResponse(
            text=stdout,
            model=self.model,
            finish_reason="timeout" if outcome.timed_out else "stop",
            seconds=outcome.seconds,
            files=files or None,  # no files: grade what it printed, like a model's text
            sandboxed=self.sandbox is not None,
        )

    def close(self) -> None:
        """Remove whatever the sandbox still holds (also done when the process exits)."""
        if self.sandbox is not None:
            self.sandbox.close()


@register_provider("command", CommandProvider)
def make_command(argument: str) -> Provider:
    if not argument.strip():
        raise HarnessError(
            "MODEL=command needs a command: "
            "MODEL='command:my-agent --workspace {workspace} --prompt-file {prompt}'"
        )
    return CommandProvider(argument)
