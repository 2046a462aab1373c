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
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from harness.agents.base import GenerationRequest, ModelResponse, Provider, register_provider
from harness.agents.limits import command_timeout, provider_slot
from harness.agents.retry import CallFailure, ProviderError
from harness.agents.secrets import scrub
from harness.errors import HarnessError

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 500
MAX_OUTPUT_BYTES = 1_000_000
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv"})
_PATH_VARIABLES = {
    "workspace": "HARNESS_WORKSPACE",
    "prompt": "HARNESS_PROMPT_FILE",
    "system": "HARNESS_SYSTEM_FILE",
    "user": "HARNESS_USER_FILE",
}


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


def _tail(path: Path) -> str:
    """The last MAX_OUTPUT_BYTES of a captured stream, decoded leniently."""
    with path.open("rb") as stream:
        stream.seek(max(path.stat().st_size - MAX_OUTPUT_BYTES, 0))
        return stream.read().decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the agent and everything it started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


class CommandProvider:
    """Runs a CLI agent per sample; the command string is what run.json calls the model."""

    name = "command"
    cacheable = True

    def __init__(self, command: str, *, timeout: float | None = None) -> None:
        self.command = command
        self.model = command
        self.timeout = timeout or command_timeout()

    def generate(self, request: GenerationRequest) -> ModelResponse:
        with tempfile.TemporaryDirectory(prefix="harness-agent-") as scratch:
            root = Path(scratch)
            paths = {
                "workspace": root / "workspace",
                "prompt": root / "prompt.md",
                "system": root / "system.md",
                "user": root / "user.md",
            }
            paths["workspace"].mkdir()
            paths["system"].write_text(request.system_prompt, encoding="utf-8")
            paths["user"].write_text(request.user_message, encoding="utf-8")
            paths["prompt"].write_text(
                f"{request.system_prompt}\n\n---\n\n{request.user_message}", encoding="utf-8"
            )
            with provider_slot(self.name):
                return self._run(render_command(self.command, paths), paths, root)

    def _run(self, command: str, paths: dict[str, Path], root: Path) -> ModelResponse:
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
                process.wait(timeout=self.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process)  # also reaps whatever the agent left running
        seconds = round(time.monotonic() - began, 3)
        stdout = scrub(_tail(root / "stdout"), shapes=False)
        if not timed_out and process.returncode != 0:
            stderr = " ".join(_tail(root / "stderr").split())[-500:]
            failure = CallFailure(
                f"the agent exited with status {process.returncode}: {stderr or '(no stderr)'}",
                retryable=False,
            )
            raise ProviderError(self.name, self.model, failure, 1)
        files = collect_files(paths["workspace"])
        if timed_out:
            stdout += f"\n[harness: the agent was killed after {self.timeout:g}s]\n"
        return ModelResponse(
            text=stdout,
            model=self.model,
            finish_reason="timeout" if timed_out else "stop",
            seconds=seconds,
            files=files or None,  # no files: grade what it printed, like a model's text
        )


@register_provider("command")
def make_command(argument: str) -> Provider:
    if not argument.strip():
        raise HarnessError(
            "MODEL=command needs a command: "
            "MODEL='command:my-agent --workspace {workspace} --prompt-file {prompt}'"
        )
    return CommandProvider(argument)
