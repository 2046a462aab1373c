"""An agent session's transcript as the Claude Code CLI streams it (`--output-format
stream-json`: one JSON event per line), read by the provider that records it and by the
leaderboard's drill-down that shows it."""

from __future__ import annotations

import json
from typing import Any


def parse_events(stream: str) -> list[dict[str, Any]]:
    """The JSON events of a stream; lines that are not a JSON object are skipped."""
    events: list[dict[str, Any]] = []
    for line in stream.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def content_blocks(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The content blocks (text, tool_use, tool_result) of an event's message."""
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
