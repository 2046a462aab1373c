"""What a `command:` agent's run produced, wherever it ran, and the paths it sees in the
sandbox. Light on purpose: the provider imports it without loading the Docker SDK."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.sandbox.agent_settings import PROMPT_DIR, WORKSPACE

MAX_OUTPUT_BYTES = 1_000_000
# The placeholders' values inside the container.
CONTAINER_PATHS = {
    "workspace": Path(WORKSPACE),
    "prompt": Path(PROMPT_DIR) / "prompt.md",
    "system": Path(PROMPT_DIR) / "system.md",
    "user": Path(PROMPT_DIR) / "user.md",
}


@dataclass(frozen=True)
class AgentOutcome:
    """How a CLI agent's run ended."""

    exit_code: int | None  # None: killed at its time limit
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float
    note: str = ""  # why it died, when the sandbox knows (out of memory)
    refused: tuple[str, ...] = ()  # requests the egress proxy turned down


def tail(data: bytes) -> str:
    """The last MAX_OUTPUT_BYTES of a stream, decoded leniently."""
    return data[-MAX_OUTPUT_BYTES:].decode("utf-8", "replace")
