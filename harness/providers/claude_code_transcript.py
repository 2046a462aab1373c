"""Reading a Claude Code session: its stream JSON (`--output-format stream-json
--verbose`: one JSON event per line) into a summary (the leaderboard renders it as text
itself, `harness/report/session.py`).

Events: `system` (init: tools, model), `assistant` (a message: text and `tool_use`
blocks; `parent_tool_use_id` set inside a subagent), `user` (tool results), and one final
`result` whose `subtype` says how the session ended (`success`, `error_max_turns`,
`error_max_budget_usd`, `error_during_execution`) with `num_turns`, `total_cost_usd`
and `usage`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.core.transcript import content_blocks

# How a session stopped by a limit is recorded (ModelResponse.finish_reason).
LIMIT_REASONS = {"error_max_turns": "max_turns", "error_max_budget_usd": "max_budget"}


@dataclass
class SessionSummary:
    """What the sample folder's session.json holds."""

    result: str | None = None  # the result event's subtype; None: the CLI never wrote one
    is_error: bool = False
    turns: int = 0
    tool_calls: dict[str, int] = field(default_factory=dict)
    subagent_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    final_text: str = ""
    events: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "is_error": self.is_error,
            "turns": self.turns,
            "tool_calls": dict(sorted(self.tool_calls.items())),
            "tool_calls_total": sum(self.tool_calls.values()),
            "subagent_calls": self.subagent_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": self.cost_usd,
            "events": self.events,
        }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summarise(events: list[dict[str, Any]]) -> SessionSummary:
    summary = SessionSummary(events=len(events))
    calls: Counter[str] = Counter()
    for event in events:
        if event.get("type") == "assistant":
            for block in content_blocks(event):
                if block.get("type") == "tool_use":
                    name = str(block.get("name", "?"))
                    calls[name] += 1
                    summary.subagent_calls += name in ("Agent", "Task")
        elif event.get("type") == "result":
            summary.result = str(event.get("subtype", ""))
            summary.is_error = bool(event.get("is_error", False))
            summary.turns = _int(event.get("num_turns"))
            cost = event.get("total_cost_usd")
            summary.cost_usd = float(cost) if isinstance(cost, int | float) else None
            summary.final_text = str(event.get("result") or "")
            raw_usage = event.get("usage")
            usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
            cache_read = _int(usage.get("cache_read_input_tokens"))
            summary.input_tokens = (
                _int(usage.get("input_tokens"))
                + cache_read
                + _int(usage.get("cache_creation_input_tokens"))
            )
            summary.cached_tokens = cache_read
            summary.output_tokens = _int(usage.get("output_tokens"))
    summary.tool_calls = dict(calls)
    return summary
