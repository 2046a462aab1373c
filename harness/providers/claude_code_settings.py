"""Settings of `claude-code:` sessions (declared in harness/core/settings.py, where the
README's table of variables comes from)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.core import settings

DEFAULT_BASE_URL = "https://api.anthropic.com"


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
            timeout=settings.CLAUDE_CODE_TIMEOUT.get(),
            max_turns=settings.CLAUDE_CODE_MAX_TURNS.get(),
            max_budget_usd=settings.CLAUDE_CODE_MAX_BUDGET.get(),
            database=settings.CLAUDE_CODE_DB.get(),
            memory_mb=int(settings.CLAUDE_CODE_MEMORY.get()),
            quiet=settings.CLAUDE_CODE_TRAFFIC.get() == "quiet",
            version=settings.CLAUDE_CODE_VERSION.get(),
            base_url=os.environ.get("ANTHROPIC_BASE_URL", "").strip() or DEFAULT_BASE_URL,
        )

    def describe(self) -> str:
        """What decides a session besides the prompt: part of the response cache key."""
        return (
            f"claude-code={self.version} turns={self.max_turns} "
            f"budget={self.max_budget_usd:g} db={self.database} quiet={self.quiet}"
        )
