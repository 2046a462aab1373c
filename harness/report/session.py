"""An agent session's record for the drill-down (MODEL=claude-code: writes session.json
and transcript.jsonl into the sample folder): the summary's facts and the transcript as
readable text, clipped. Untrusted text: the page shows it as text, never as HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.agents.claude_code_transcript import parse_events, render

SUMMARY = "session.json"
TRANSCRIPT = "transcript.jsonl"


def agent_session(folder: Path, limit: int, shown_path: str) -> dict[str, Any] | None:
    """None when the sample has no session (every provider but claude-code)."""
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    try:
        transcript = render(parse_events((folder / TRANSCRIPT).read_text(encoding="utf-8")))
    except OSError:
        transcript = ""
    note = None
    if len(transcript) > limit:
        note = f"showing the first {limit:,} of {len(transcript):,} characters; all in {shown_path}"
        transcript = transcript[:limit]
    calls = summary.get("tool_calls")
    facts = [
        ["ended", str(summary.get("finish_reason", "?"))],
        ["turns", str(summary.get("turns", "?"))],
        [
            "tool calls",
            ", ".join(f"{k} {v}" for k, v in calls.items()) if isinstance(calls, dict) else "?",
        ],
        [
            "tokens in / out",
            f"{summary.get('input_tokens', '?')} / {summary.get('output_tokens', '?')}",
        ],
        ["cost (USD)", str(summary.get("cost_usd"))],
        ["refused requests", str(len(summary.get("refused_requests") or []))],
    ]
    return {"facts": facts, "transcript": transcript, "note": note}
