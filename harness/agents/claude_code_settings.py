"""Settings of `claude-code:` sessions, read from the environment and checked (the
table is in claude_code.py's docstring and the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.agents import claude_code_install
from harness.errors import HarnessError

DEFAULT_BASE_URL = "https://api.anthropic.com"
_DATABASE_KINDS = ("postgres", "mysql")
_TRAFFIC = ("quiet", "default")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise HarnessError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise HarnessError(f"{name} must be positive (got {raw})")
    return value


def _choice(name: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise HarnessError(f"{name}={value!r}: use one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class ClaudeCodeSettings:
    timeout: float
    max_turns: int
    max_budget_usd: float
    database: str
    memory_mb: int
    quiet: bool
    version: str
    base_url: str

    @classmethod
    def from_env(cls) -> ClaudeCodeSettings:
        return cls(
            timeout=_number("HARNESS_CLAUDE_CODE_TIMEOUT", 1800),
            max_turns=int(_number("HARNESS_CLAUDE_CODE_MAX_TURNS", 80)),
            max_budget_usd=_number("HARNESS_CLAUDE_CODE_MAX_BUDGET_USD", 5.0),
            database=_choice("HARNESS_CLAUDE_CODE_DB", _DATABASE_KINDS),
            memory_mb=int(_number("HARNESS_CLAUDE_CODE_MEMORY_MB", 2048)),
            quiet=_choice("HARNESS_CLAUDE_CODE_TRAFFIC", _TRAFFIC) == "quiet",
            version=claude_code_install.pinned_version(),
            base_url=os.environ.get("ANTHROPIC_BASE_URL", "").strip() or DEFAULT_BASE_URL,
        )

    def describe(self) -> str:
        """What decides a session besides the prompt: part of the response cache key."""
        return (
            f"claude-code={self.version} turns={self.max_turns} "
            f"budget={self.max_budget_usd:g} db={self.database} quiet={self.quiet}"
        )
