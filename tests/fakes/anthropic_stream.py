"""A fake Anthropic Messages API on loopback that streams (server-sent events) and uses
tools, so the real Claude Code CLI can be driven offline through a scripted session.

The server does not play replies in arrival order: a CLI sends side requests (titles,
summaries, quota checks) whose number and order are its own business. A `Brain` decides
each reply from the request itself (its system prompt, tools and conversation so far),
which keeps a session deterministic whatever else the CLI asks.

Wire format (https://docs.anthropic.com/en/api/messages-streaming): `message_start`,
then per content block `content_block_start` / `content_block_delta` (`text_delta`, or
`input_json_delta` for a tool call's input, sent in pieces) / `content_block_stop`, then
`message_delta` (stop reason, output tokens) and `message_stop`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One assistant message: some text, then tool calls (none: the turn ends)."""

    text: str = ""
    calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 1000
    output_tokens: int = 200
    delay: float = 0.0
    # Not 200: answer with an API error of this status instead of a message.
    status: int = 200

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.calls else "end_turn"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def system(self) -> str:
        """The system prompt as one text, whichever shape it was sent in."""
        system = self.body.get("system", "")
        if isinstance(system, list):
            return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
        return str(system)

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("name")) for t in self.body.get("tools", []) if isinstance(t, dict)]

    @property
    def assistant_turns(self) -> int:
        """How many assistant messages the conversation already holds."""
        return sum(1 for m in self.body.get("messages", []) if m.get("role") == "assistant")

    def tool_results(self) -> list[str]:
        """The text of every tool result in the conversation, oldest first."""
        found: list[str] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    if isinstance(inner, list):
                        inner = "\n".join(str(b.get("text", "")) for b in inner)
                    found.append(str(inner))
        return found


Brain = Callable[[Received], Turn]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def stream_events(turn: Turn, model: str, message_id: str) -> list[bytes]:
    """The SSE events of one assistant message."""
    events = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": turn.input_tokens,
                        "output_tokens": 1,
                        "cache_read_input_tokens": 0,
                        "cache_creation_input_tokens": 0,
                    },
                },
            },
        )
    ]
    index = 0
    if turn.text:
        events.append(
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        events.append(
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": turn.text},
                },
            )
        )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    for number, call in enumerate(turn.calls):
        block = {
            "type": "tool_use",
            "id": f"toolu_{message_id}_{number}",
            "name": call.name,
            "input": {},
        }
        events.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        encoded = json.dumps(call.input)
        for start in range(0, len(encoded), 400):  # the input arrives in pieces, as it does
            delta = {"type": "input_json_delta", "partial_json": encoded[start : start + 400]}
            events.append(
                _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": turn.output_tokens},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


def message_body(turn: Turn, model: str, message_id: str) -> dict[str, Any]:
    """The same message, whole (for a request with `stream: false`)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{message_id}_{n}", "name": c.name, "input": c.input}
        for n, c in enumerate(turn.calls)
    ]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": turn.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
    }


class FakeAnthropicServer:
    """A threaded HTTP server on `host` (127.0.0.1 unless told) with a random port; use as
    a context manager. Every request is recorded (headers included) in `received`."""

    def __init__(
        self, brain: Brain, model: str = "claude-sonnet-4-5", host: str = "127.0.0.1"
    ) -> None:
        self.brain = brain
        self.model = model
        self.received: list[Received] = []
        self.other_paths: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAnthropicServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, received: Received) -> int:
        with self._lock:
            self.received.append(received)
            return len(self.received)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send_json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with server._lock:
                    server.other_paths.append(f"GET {self.path}")
                self._send_json(
                    404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}}
                )

            def do_HEAD(self) -> None:  # noqa: N802
                self.do_GET()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                if path.endswith("/count_tokens"):
                    self._send_json(200, {"input_tokens": 1000})
                    return
                if not path.endswith("/v1/messages"):
                    with server._lock:
                        server.other_paths.append(f"POST {self.path}")
                    self._send_json(
                        404,
                        {"type": "error", "error": {"type": "not_found_error", "message": "no"}},
                    )
                    return
                body = json.loads(raw or b"{}")
                received = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                number = server._record(received)
                turn = server.brain(received)
                if turn.delay:
                    time.sleep(turn.delay)
                if turn.status != 200:
                    error = {"type": "invalid_request_error", "message": turn.text or "no"}
                    self._send_json(turn.status, {"type": "error", "error": error})
                    return
                message_id = f"msg_{number:04d}"
                model = str(body.get("model") or server.model)
                if not body.get("stream"):
                    self._send_json(200, message_body(turn, model, message_id))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for event in stream_events(turn, model, message_id):
                        self.wfile.write(event)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
