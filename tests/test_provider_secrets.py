"""API keys never appear in an exception, a log line or a stored response, even when a
server (or the model) quotes them back."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from fakes.llm_server import (
    FakeModelServer,
    Reply,
    anthropic_message,
    json_reply,
    openai_completion,
)

from harness.providers import GenerationRequest, ProviderError, resolve_provider
from harness.providers.cache import ResponseCache, with_cache
from harness.providers.retry import RetryPolicy
from harness.providers.secrets import REDACTED, scrub

ANTHROPIC_KEY = "sk-ant-leak-test-0123456789abcdefXYZ"
OPENAI_KEY = "sk-proj-leak-test-0123456789abcdefXYZ"
KEYS = (ANTHROPIC_KEY, OPENAI_KEY)


def _request() -> GenerationRequest:
    return GenerationRequest(task_id="t", sample=0, system_prompt="s", user_message="u")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)


def _assert_clean(text: str) -> None:
    for key in KEYS:
        assert key not in text
        assert key[:20] not in text  # not even a recognisable prefix


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("spec", ["anthropic:claude-sonnet-5-5", "openai:gpt-5.5"])
def test_a_quoted_key_never_reaches_the_error_or_the_log(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 429 quoting the key (retried, so logged), then 401 quoting it (the final error).
    replies = [
        Reply(429, headers={"Retry-After": "0"}, echo_credential=True),
        Reply(401, echo_credential=True),
    ]
    with FakeModelServer(*replies) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        provider = resolve_provider(spec)
        provider.policy = RetryPolicy(attempts=3, base_delay=0.01)
        with pytest.raises(ProviderError) as caught:
            provider.generate(_request())
    assert server.count == 2
    message = str(caught.value)
    assert "HTTP 401: invalid credential" in message and REDACTED in message
    _assert_clean(message)
    _assert_clean("".join(traceback.format_exception(caught.value)))
    logged = capsys.readouterr().err
    assert "HTTP 429" in logged
    _assert_clean(logged)


@pytest.mark.usefixtures("keys")
def test_no_key_in_any_cached_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResponseCache(tmp_path / "responses")
    # The model "answers" with the key in its code: stored redacted.
    anthropic_body = anthropic_message(f"```python\n# main.py\nKEY = '{ANTHROPIC_KEY}'\n```")
    openai_body = openai_completion(f"API_KEY = '{OPENAI_KEY}'")
    with (
        FakeModelServer(json_reply(anthropic_body)) as a,
        FakeModelServer(json_reply(openai_body)) as o,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", a.url)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{o.url}/v1")
        for spec in ("anthropic:sonnet", "openai:gpt-5.5"):
            response = with_cache(resolve_provider(spec), cache).generate(_request())
            _assert_clean(response.model_dump_json())
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 2
    for path in files:
        _assert_clean(path.read_text(encoding="utf-8"))


def test_scrub_removes_key_shapes_and_known_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_GATEWAY_TOKEN", "gw-0123456789")
    text = "auth Bearer abc.def-0123456789 key sk-ant-api03-xyz0123456789 gw gw-0123456789"
    cleaned = scrub(text)
    assert "abc.def" not in cleaned and "sk-ant-api03" not in cleaned
    assert "gw-0123456789" not in cleaned
    # A model's code keeps harmless look-alikes: only known values are removed from it.
    code = 'headers = {"Authorization": "Bearer not-a-real-token"}'
    assert scrub(code, shapes=False) == code
