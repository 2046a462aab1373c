"""The `openai:` and `openai-compatible:` providers: the real `openai` SDK client against a
local fake server that speaks Chat Completions (tests/fakes/llm_server.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fakes.llm_server import FakeModelServer, Reply, error_reply, json_reply, openai_completion

from harness.core.errors import HarnessError
from harness.providers import GenerationParams, GenerationRequest, ProviderError, resolve_provider
from harness.providers.limits import set_concurrency_limit
from harness.providers.openai import OpenAIChatProvider
from harness.providers.openai_compatible import PLACEHOLDER_KEY
from harness.providers.retry import RetryPolicy

KEY = "sk-proj-test-0123456789abcdefghijkl"
FAST = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1)


def _request(sample: int = 0, **params: object) -> GenerationRequest:
    return GenerationRequest(
        task_id="user-crud",
        sample=sample,
        system_prompt="You build APIs.",
        user_message="Build a user API.",
        params=GenerationParams(**params),
    )


def _provider(server: FakeModelServer, **kwargs: object) -> OpenAIChatProvider:
    options: dict[str, object] = {"api_key": KEY, "base_url": f"{server.url}/v1", "policy": FAST}
    options.update(kwargs)
    return OpenAIChatProvider("gpt-5.5", **options)


def test_a_normal_answer_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    body = openai_completion("```python\n# main.py\napp = 1\n```", cached_tokens=64)
    with FakeModelServer(json_reply(body)) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        provider = resolve_provider("openai:gpt")  # an alias
        response = provider.generate(_request(max_tokens=999, temperature=0.0, seed=3))
    assert provider.model == "gpt-5.5"
    assert response.text == "```python\n# main.py\napp = 1\n```"
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.cached_tokens) == (100, 64)
    assert response.usage.output_tokens == 50
    (sent,) = server.received
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "model": "gpt-5.5",
        "messages": [
            {"role": "system", "content": "You build APIs."},
            {"role": "user", "content": "Build a user API."},
        ],
        "max_completion_tokens": 999,
        "temperature": 0.0,
        "seed": 3,
    }
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_429_with_an_http_date_retry_after_then_success() -> None:
    # An HTTP date has one-second resolution: two seconds ahead waits between one and two.
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    limited = error_reply(429, "slow down", **{"Retry-After": when})
    with FakeModelServer(limited, json_reply(openai_completion("ok"))) as server:
        assert _provider(server).generate(_request()).text == "ok"
    assert server.count == 2
    assert server.received[1].at - server.received[0].at >= 1.0


def test_429_with_retry_after_seconds_then_success() -> None:
    limited = error_reply(429, "slow down", **{"Retry-After": "1"})
    with FakeModelServer(limited, json_reply(openai_completion("ok"))) as server:
        assert _provider(server).generate(_request()).text == "ok"
    assert server.count == 2
    assert server.received[1].at - server.received[0].at >= 1.0


def test_a_500_is_retried_then_succeeds() -> None:
    with FakeModelServer(error_reply(500), json_reply(openai_completion("ok"))) as server:
        assert _provider(server).generate(_request()).text == "ok"
    assert server.count == 2


def test_a_timeout_is_retried_then_reported() -> None:
    slow = json_reply(openai_completion("too late"))
    slow.delay = 1.0
    with FakeModelServer(slow) as server:
        began = time.monotonic()
        with pytest.raises(ProviderError, match=r"timed out after 0.2s \(after 2 attempts\)"):
            _provider(server, timeout=0.2, policy=RetryPolicy(2, 0.05, 0.1)).generate(_request())
    assert server.count == 2
    assert time.monotonic() - began < 1.5


def test_a_connection_refused_is_retried_then_reported() -> None:
    with FakeModelServer() as server:
        url = f"{server.url}/v1"
    provider = OpenAIChatProvider("gpt-5.5", api_key=KEY, base_url=url, policy=FAST)
    with pytest.raises(ProviderError, match=r"connection error.*after 3 attempts"):
        provider.generate(_request())


def test_a_truncated_answer_is_marked_length() -> None:
    body = openai_completion("```python\n# main.py\napp = Fa", finish_reason="length")
    with FakeModelServer(json_reply(body)) as server:
        response = _provider(server).generate(_request())
    assert response.finish_reason == "length" and response.truncated


def test_a_refusal_is_recorded_as_such() -> None:
    body = openai_completion(None)
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    with FakeModelServer(json_reply(body)) as server:
        response = _provider(server).generate(_request())
    assert (response.text, response.finish_reason) == ("I can't help with that.", "refusal")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "{not json", {"Content-Type": "application/json"}),
        json_reply({"id": "x", "choices": []}),
        json_reply({"id": "x", "choices": [{"finish_reason": "stop"}]}),
    ],
    ids=["invalid-json", "no-choices", "no-message"],
)
def test_a_malformed_body_is_a_provider_error_not_a_crash(reply: Reply) -> None:
    with FakeModelServer(reply) as server:
        with pytest.raises(ProviderError, match=r"malformed response body"):
            _provider(server).generate(_request())
    assert server.count == 1


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(HarnessError, match=r"OPENAI_API_KEY is not set.*MODEL=reference"):
        resolve_provider("openai:gpt-5.5")


def test_openai_compatible_needs_a_base_url_but_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(HarnessError, match=r"OPENAI_BASE_URL is not set.*MODEL=reference"):
        resolve_provider("openai-compatible:qwen2.5-coder")
    body = openai_completion("hello", model="qwen2.5-coder")
    del body["usage"]  # local servers may leave usage out
    with FakeModelServer(json_reply(body)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        provider = resolve_provider("openai-compatible:qwen2.5-coder")
        response = provider.generate(_request(max_tokens=500, seed=1))
    assert (provider.name, provider.model) == ("openai-compatible", "qwen2.5-coder")
    assert response.text == "hello" and response.usage.input_tokens == 0
    (sent,) = server.received
    assert sent.headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    assert sent.body is not None
    assert sent.body["max_tokens"] == 500 and "max_completion_tokens" not in sent.body
    assert sent.body["seed"] == 1


def test_calls_beyond_the_concurrency_limit_wait_their_turn() -> None:
    slow = json_reply(openai_completion("ok"))
    slow.delay = 0.2
    set_concurrency_limit("openai-limited", 1)
    try:
        with FakeModelServer(slow) as server:
            provider = _provider(server, name="openai-limited")
            threads = [
                threading.Thread(target=provider.generate, args=(_request(n),)) for n in range(3)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=5)
    finally:
        set_concurrency_limit("openai-limited", 4)
    assert server.count == 3
    assert server.max_in_flight == 1
