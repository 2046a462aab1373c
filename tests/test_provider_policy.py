"""The retry policy's arithmetic (no network: the sleeps are recorded, not slept) and
the model alias table."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from harness.core.errors import HarnessError
from harness.core.prompts import load_agent
from harness.providers import ProviderError, registered_providers
from harness.providers.aliases import MODEL_ALIASES, expand_model_spec, resolve_model_alias
from harness.providers.retry import CallFailure, RetryPolicy, call_with_retries, parse_retry_after

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Thu, 26 Nov 2026 12:00:07 GMT"}, 7.0),
        ({"retry-after": "Thu, 26 Nov 2026 11:59:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(headers: dict[str, str], expected: float) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_backoff_grows_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(attempts=8, base_delay=1.0, max_delay=5.0, max_retry_after=30.0)
    rng = random.Random(0)
    waits = [policy.delay(n, None, rng) for n in range(6)]
    for n, wait in enumerate(waits):
        ceiling = min(5.0, 2.0**n)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(waits)) == len(waits)  # jittered
    assert 10.0 <= policy.delay(0, 10.0, rng) <= 11.0  # the server's word, plus a little
    assert 30.0 <= policy.delay(0, 3600.0, rng) <= 31.0  # but never an hour


def _script(*outcomes: CallFailure | str) -> tuple[list[float], Callable[[], str]]:
    sleeps: list[float] = []
    queue = list(outcomes)

    def attempt() -> str:
        outcome = queue.pop(0)
        if isinstance(outcome, CallFailure):
            raise outcome
        return outcome

    return sleeps, attempt


def test_retries_honour_retry_after_then_return() -> None:
    sleeps, attempt = _script(
        CallFailure("HTTP 429", retryable=True, status=429, retry_after=2.0),
        CallFailure("HTTP 503", retryable=True, status=503),
        "answer",
    )
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=1.0)
    result = call_with_retries("p", "m", policy, attempt, sleep=sleeps.append)
    assert result == "answer"
    assert len(sleeps) == 2 and 2.0 <= sleeps[0] <= 2.2 and 0.5 <= sleeps[1] <= 1.0


def test_a_non_retryable_failure_stops_at_once() -> None:
    sleeps, attempt = _script(CallFailure("HTTP 401: bad key", retryable=False, status=401))
    with pytest.raises(ProviderError, match=r"p model 'm': HTTP 401: bad key \(after 1 attempt\)"):
        call_with_retries("p", "m", RetryPolicy(), attempt, sleep=sleeps.append)
    assert sleeps == []


def test_a_policy_needs_an_attempt() -> None:
    with pytest.raises(HarnessError, match=r"at least one attempt"):
        RetryPolicy(attempts=0)


def test_the_seed_agents_alias_maps_to_a_concrete_model() -> None:
    assert load_agent("fastapi-backend-engineer@v1").model == "sonnet"
    assert resolve_model_alias("sonnet") == "claude-sonnet-5-5"
    assert resolve_model_alias("Opus") == "claude-opus-5-5"
    assert resolve_model_alias("claude-sonnet-5-5") is None
    assert {"sonnet", "opus", "haiku"} <= set(MODEL_ALIASES)


@pytest.mark.parametrize(
    ("spec", "agent_model", "expected"),
    [
        ("reference", "sonnet", "reference"),
        ("replay:some/dir", "sonnet", "replay:some/dir"),
        ("agent", "sonnet", "anthropic:claude-sonnet-5-5"),
        ("haiku", None, "anthropic:claude-haiku-5-5"),
        ("claude-opus-4-8", None, "anthropic:claude-opus-4-8"),
        ("gpt-5.4-mini", None, "openai:gpt-5.4-mini"),
        ("anthropic:", "opus", "anthropic:claude-opus-5-5"),
        ("anthropic:sonnet", "opus", "anthropic:claude-sonnet-5-5"),
        ("openai:sonnet", None, "openai:sonnet"),  # left for the provider's clear error
        ("openai-compatible:qwen", "sonnet", "openai-compatible:qwen"),
    ],
)
def test_model_specs_expand(spec: str, agent_model: str | None, expected: str) -> None:
    assert expand_model_spec(spec, agent_model, registered_providers()) == expected


def test_model_spec_errors_are_clear() -> None:
    providers = registered_providers()
    with pytest.raises(HarnessError, match=r"names no model"):
        expand_model_spec("agent", "inherit", providers)
    with pytest.raises(HarnessError, match=r"unknown model alias 'sonet'"):
        expand_model_spec("agent", "sonet", providers)
    with pytest.raises(HarnessError, match=r"asks for 'sonnet', not an openai model"):
        expand_model_spec("openai:", "sonnet", providers)
