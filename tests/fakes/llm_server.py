"""A fake model API on loopback that speaks the Anthropic Messages and OpenAI Chat
Completions wire protocols, so the tests drive the real SDK clients over real HTTP.

Each server plays a script of replies in order (then repeats its last one) and records
every request it received, so a test can assert on what the client sent and how often.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a status, headers and a raw body, after an optional delay."""

    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Answer with the credential the client sent quoted in the body, as some gateways do.
    echo_credential: bool = False

    def encoded(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    at: float


def anthropic_message(
    *blocks: str | dict[str, Any],
    stop_reason: str = "end_turn",
    input_tokens: int = 100,
    output_tokens: int = 50,
    cache_read: int = 0,
    model: str = "claude-test",
) -> dict[str, Any]:
    """A Messages API response body; a str block is a text block."""
    content = [{"type": "text", "text": b} if isinstance(b, str) else b for b in blocks]
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": 0,
        },
    }


def openai_completion(
    content: str | None,
    *,
    finish_reason: str = "stop",
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    cached_tokens: int = 0,
    model: str = "gpt-test",
) -> dict[str, Any]:
    """A Chat Completions response body."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        },
    }


def json_reply(body: dict[str, Any], status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, {"Content-Type": "application/json", **headers})


def error_reply(status: int, message: str = "boom", **headers: str) -> Reply:
    body = {"type": "error", "error": {"type": "api_error", "message": message}}
    return json_reply(body, status, **headers)


class FakeModelServer:
    """A threaded HTTP server on 127.0.0.1 with a random port; use as a context manager."""

    def __init__(self, *replies: Reply) -> None:
        self.script: list[Reply] = list(replies)
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def count(self) -> int:
        return len(self.received)

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def __enter__(self) -> FakeModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if not self.script:
                return error_reply(500, "the fake server has no scripted reply")
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                received = Received(self.path, dict(self.headers.items()), body, time.monotonic())
                reply = fake._next_reply(received)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    payload = reply.encoded()
                    if reply.echo_credential:
                        credential = self.headers.get("x-api-key") or self.headers.get(
                            "Authorization", ""
                        )
                        message = f"invalid credential {credential!r}"
                        payload = json.dumps({"error": {"message": message}}).encode()
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer
                finally:
                    fake._done()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
