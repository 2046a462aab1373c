"""An agent session's record for the drill-down (MODEL=claude-code: writes session.json
and transcript.jsonl into the sample folder): the summary's facts and the transcript as
readable text, clipped. Untrusted text: the page shows it as text, never as HTML.

Read from the files alone (the report imports no provider): the transcript is Claude
Code's stream JSON, one event per line: `system` (init), `assistant` (text and
`tool_use` blocks; `parent_tool_use_id` set inside a subagent), `user` (tool results)
and the final `result`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.files import AGENT_SESSION_FILE, AGENT_TRANSCRIPT_FILE
from harness.core.transcript import content_blocks, parse_events

SUMMARY = AGENT_SESSION_FILE
TRANSCRIPT = AGENT_TRANSCRIPT_FILE
_SHOWN_INPUT = 600
_SHOWN_RESULT = 1200


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f" ... [{len(text) - limit:,} more]"


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


def render(events: list[dict[str, Any]]) -> str:
    """The session as plain text, one entry per message block, subagent turns indented.
    Plain text only: the page shows it as text, never as HTML."""
    lines: list[str] = []
    for event in events:
        kind = event.get("type")
        indent = "    " if event.get("parent_tool_use_id") else ""
        if kind == "system" and event.get("subtype") == "init":
            lines.append(f"[session] model {event.get('model')}, cwd {event.get('cwd')}")
        elif kind == "assistant":
            for block in content_blocks(event):
                if block.get("type") == "text" and str(block.get("text", "")).strip():
                    lines.append(f"{indent}assistant: {_clip(str(block['text']), _SHOWN_RESULT)}")
                elif block.get("type") == "tool_use":
                    shown = _clip(json.dumps(block.get("input", {})), _SHOWN_INPUT)
                    lines.append(f"{indent}tool {block.get('name')}: {shown}")
        elif kind == "user":
            for block in content_blocks(event):
                if block.get("type") == "tool_result":
                    mark = " (error)" if block.get("is_error") else ""
                    text = _clip(_result_text(block), _SHOWN_RESULT)
                    lines.append(f"{indent}result{mark}: {text}")
        elif kind == "result":
            lines.append(
                f"[end] {event.get('subtype')}, {event.get('num_turns')} turns, "
                f"${event.get('total_cost_usd')}"
            )
    return "\n".join(lines)


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
