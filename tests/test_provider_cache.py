"""The content-addressed response cache: a re-run makes no model call (counted on a fake
server that speaks the Messages API), errors are never stored, entries can be pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fakes.llm_server import FakeModelServer, anthropic_message, error_reply, json_reply

from harness.providers import GenerationParams, GenerationRequest, ProviderError, resolve_provider
from harness.providers.anthropic import AnthropicProvider
from harness.providers.cache import CachedProvider, ResponseCache, cache_key, with_cache
from harness.providers.retry import RetryPolicy

KEY = "sk-ant-cache-test-0123456789abcdef"
ONE_ATTEMPT = RetryPolicy(attempts=1)


def _request(
    sample: int = 0, user: str = "Build a user API.", **params: object
) -> GenerationRequest:
    return GenerationRequest(
        task_id="user-crud",
        sample=sample,
        system_prompt="You build APIs.",
        user_message=user,
        params=GenerationParams(**params),
    )


def _provider(server: FakeModelServer) -> AnthropicProvider:
    return AnthropicProvider(
        "claude-sonnet-5-5", api_key=KEY, base_url=server.url, policy=ONE_ATTEMPT
    )


def test_a_rerun_makes_no_model_call(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "responses")
    body = anthropic_message("```python\n# main.py\napp = 1\n```", stop_reason="max_tokens")
    with FakeModelServer(json_reply(body)) as server:
        first = CachedProvider(_provider(server), cache).generate(_request())
        assert server.count == 1 and not first.cached
        # A second run: new provider objects, same cache folder.
        rerun = CachedProvider(_provider(server), cache)
        second = rerun.generate(_request())
        assert server.count == 1
    assert second.cached and rerun.stats()["hits"] == 1
    assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert second.truncated  # a truncated answer is an answer: cached, still marked
    assert len(cache.entries()) == 1
    assert not list(cache.root.rglob("*.tmp"))  # written atomically, nothing left over


def test_the_key_covers_prompts_params_and_sample(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        provider = CachedProvider(_provider(server), cache)
        for request in (
            _request(),
            _request(sample=1),
            _request(user="Build a blog."),
            _request(max_tokens=100),
            _request(temperature=0.7),
            _request(),  # the first again: a hit
        ):
            provider.generate(request)
        assert server.count == 5
    inner = _provider_for_key()
    assert cache_key(inner, _request()) == cache_key(inner, _request())
    assert cache_key(inner, _request()) != cache_key(inner, _request(seed=1))


def _provider_for_key() -> AnthropicProvider:
    return AnthropicProvider("claude-sonnet-5-5", api_key=KEY, base_url="http://127.0.0.1:9")


def test_errors_are_never_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with FakeModelServer(
        error_reply(400, "bad request"), json_reply(anthropic_message("ok"))
    ) as server:
        provider = CachedProvider(_provider(server), cache)
        with pytest.raises(ProviderError):
            provider.generate(_request())
        assert cache.entries() == []
        assert provider.generate(_request()).text == "ok"
        assert server.count == 2


def test_a_corrupt_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        provider = _provider(server)
        path = cache.path_for(cache_key(provider, _request()))
        path.parent.mkdir(parents=True)
        path.write_text("{torn", encoding="utf-8")
        assert CachedProvider(provider, cache).generate(_request()).text == "ok"
        assert server.count == 1
    assert cache.get(cache_key(provider, _request())) is not None


def test_prune_removes_entries_unused_for_long_enough(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        provider = CachedProvider(_provider(server), cache)
        provider.generate(_request(sample=0))
        provider.generate(_request(sample=1))
    old, recent = cache.entries()
    month_ago = time.time() - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    assert cache.prune(older_than_days=7) == 1
    assert cache.entries() == [recent]
    assert cache.prune(older_than_days=0) == 1
    assert cache.entries() == []


def test_a_hit_refreshes_the_entry_so_prune_keeps_it(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        provider = CachedProvider(_provider(server), cache)
        provider.generate(_request())
        (entry,) = cache.entries()
        month_ago = time.time() - 30 * 86400
        os.utime(entry, (month_ago, month_ago))
        provider.generate(_request())  # a hit
    assert cache.prune(older_than_days=7) == 0


def test_offline_providers_are_not_cached(tmp_path: Path) -> None:
    reference = resolve_provider("reference")
    assert with_cache(reference, ResponseCache(tmp_path)) is reference
    assert with_cache(_provider_for_key(), None).name == "anthropic"  # --no-cache
    assert isinstance(with_cache(_provider_for_key(), ResponseCache(tmp_path)), CachedProvider)
