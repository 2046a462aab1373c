"""The `anthropic:` provider: the real `anthropic` SDK client against a local fake server
that speaks the Messages API (tests/fakes/llm_server.py). No SDK internals are patched."""

from __future__ import annotations

import time

import pytest
from fakes.llm_server import (
    FakeModelServer,
    Reply,
    anthropic_message,
    error_reply,
    json_reply,
)

from harness.core.errors import HarnessError
from harness.providers import GenerationParams, GenerationRequest, ProviderError, resolve_provider
from harness.providers.anthropic import AnthropicProvider
from harness.providers.retry import RetryPolicy

KEY = "sk-ant-test-0123456789abcdefghij"
FAST = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1)


def _request(sample: int = 0, **params: object) -> GenerationRequest:
    return GenerationRequest(
        task_id="user-crud",
        sample=sample,
        system_prompt="You build APIs.",
        user_message="Build a user API.",
        params=GenerationParams(**params),
    )


def _provider(server: FakeModelServer, **kwargs: object) -> AnthropicProvider:
    options: dict[str, object] = {"api_key": KEY, "base_url": server.url, "policy": FAST}
    options.update(kwargs)
    return AnthropicProvider("claude-sonnet-5-5", **options)


def test_a_normal_answer_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    body = anthropic_message("```python\n# main.py\napp = 1\n```\n", model="claude-sonnet-5-5")
    with FakeModelServer(json_reply(body)) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        provider = resolve_provider("anthropic:sonnet")  # the seed's alias
        response = provider.generate(_request(max_tokens=1234))
    assert provider.model == "claude-sonnet-5-5"
    assert response.text == "```python\n# main.py\napp = 1\n```\n"
    assert response.finish_reason == "stop" and not response.truncated
    assert response.usage.input_tokens == 100 and response.usage.output_tokens == 50
    assert response.model == "claude-sonnet-5-5"
    (sent,) = server.received
    assert sent.path == "/v1/messages"
    assert sent.body == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 1234,
        "system": "You build APIs.",
        "messages": [{"role": "user", "content": "Build a user API."}],
    }
    assert KEY in (sent.headers.get("x-api-key", "") + sent.headers.get("Authorization", ""))


def test_temperature_is_sent_only_when_set() -> None:
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        _provider(server).generate(_request(temperature=0.2, seed=7))
    assert server.received[0].body is not None
    assert server.received[0].body["temperature"] == 0.2
    assert "seed" not in server.received[0].body  # the Messages API has no seed


def test_a_multi_block_answer_joins_its_text_blocks_only() -> None:
    body = anthropic_message(
        {"type": "thinking", "thinking": "plan the models first", "signature": "sig"},
        "Here are the files.",
        "```python\n# models.py\nx = 1\n```\n",
        "Done.",
    )
    with FakeModelServer(json_reply(body)) as server:
        response = _provider(server).generate(_request())
    assert response.text == "Here are the files.\n```python\n# models.py\nx = 1\n```\nDone."
    assert "plan the models" not in response.text


def test_cache_reads_count_as_input_and_as_cached() -> None:
    body = anthropic_message("ok", input_tokens=40, output_tokens=5, cache_read=1000)
    with FakeModelServer(json_reply(body)) as server:
        usage = _provider(server).generate(_request()).usage
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (1040, 1000, 5)


def test_429_with_retry_after_waits_as_told_then_succeeds() -> None:
    limited = error_reply(429, "rate limited", **{"Retry-After": "1"})
    with FakeModelServer(limited, json_reply(anthropic_message("ok"))) as server:
        began = time.monotonic()
        response = _provider(server).generate(_request())
        elapsed = time.monotonic() - began
    assert response.text == "ok"
    assert server.count == 2
    assert server.received[1].at - server.received[0].at >= 1.0
    assert elapsed < 3.0


def test_a_500_is_retried_then_succeeds() -> None:
    with FakeModelServer(error_reply(500), json_reply(anthropic_message("ok"))) as server:
        assert _provider(server).generate(_request()).text == "ok"
    assert server.count == 2


def test_an_overloaded_server_exhausts_the_attempts() -> None:
    with FakeModelServer(error_reply(529, "Overloaded")) as server:
        with pytest.raises(ProviderError) as caught:
            _provider(server).generate(_request())
    assert server.count == 3
    error = caught.value
    assert (error.provider, error.status, error.attempts) == ("anthropic", 529, 3)
    assert "anthropic" in str(error) and "HTTP 529: Overloaded" in str(error)
    assert "after 3 attempts" in str(error)


def test_a_client_error_is_not_retried() -> None:
    with FakeModelServer(error_reply(400, "temperature is not supported")) as server:
        with pytest.raises(ProviderError, match=r"HTTP 400: temperature is not supported"):
            _provider(server).generate(_request(temperature=0.5))
    assert server.count == 1


def test_a_timeout_is_retried_then_reported() -> None:
    slow = json_reply(anthropic_message("too late"))
    slow.delay = 1.0
    with FakeModelServer(slow) as server:
        began = time.monotonic()
        with pytest.raises(ProviderError, match=r"timed out after 0.2s \(after 2 attempts\)"):
            _provider(server, timeout=0.2, policy=RetryPolicy(2, 0.05, 0.1)).generate(_request())
        elapsed = time.monotonic() - began
    assert server.count == 2
    assert elapsed < 1.5


def test_a_truncated_answer_is_marked_length() -> None:
    body = anthropic_message("```python\n# main.py\napp = Fast", stop_reason="max_tokens")
    with FakeModelServer(json_reply(body)) as server:
        response = _provider(server).generate(_request())
    assert response.finish_reason == "length" and response.truncated


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "{not json", {"Content-Type": "application/json"}),
        Reply(200, "<html>gateway</html>", {"Content-Type": "text/html"}),
        json_reply({"id": "msg", "type": "message", "usage": {"input_tokens": 1}}),
        json_reply({"content": "a string, not blocks", "usage": {}}),
    ],
    ids=["invalid-json", "html", "missing-content", "wrong-types"],
)
def test_a_malformed_body_is_a_provider_error_not_a_crash(reply: Reply) -> None:
    with FakeModelServer(reply) as server:
        with pytest.raises(ProviderError, match=r"malformed response body"):
            _provider(server).generate(_request())
    assert server.count == 1


def test_a_missing_key_names_the_variable_and_the_offline_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(HarnessError, match=r"ANTHROPIC_API_KEY is not set.*MODEL=reference"):
        resolve_provider("anthropic:claude-opus-5-5")


def test_spec_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with pytest.raises(HarnessError, match=r"anthropic:<model>"):
        resolve_provider("anthropic")
    with pytest.raises(HarnessError, match=r"'gpt' is an openai model"):
        resolve_provider("anthropic:gpt")
