"""Usage, cost and `--max-cost`: the dated price table, the plan before a run, and the
tracker that refuses the call that could pass the cap (calls counted on a fake server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.llm_server import FakeModelServer, anthropic_message, error_reply, json_reply

from harness.core.errors import HarnessError, InputFileError
from harness.providers import GenerationParams, GenerationRequest, ProviderError, Usage
from harness.providers.anthropic import AnthropicProvider
from harness.providers.cache import ResponseCache, with_cache
from harness.providers.pricing import (
    BudgetedProvider,
    CostCapReached,
    CostTracker,
    PriceTable,
    estimate_cost,
    plan_cost,
    worst_case_cost,
)
from harness.providers.retry import RetryPolicy

KEY = "sk-ant-cost-test-0123456789abcdef"
MODEL = "claude-sonnet-5-5"  # $2 in, $10 out, $0.10 cached, per million tokens


def _request(sample: int = 0, max_tokens: int = 1000) -> GenerationRequest:
    return GenerationRequest(
        task_id="user-crud",
        sample=sample,
        system_prompt="s" * 500,
        user_message="u" * 500,
        params=GenerationParams(max_tokens=max_tokens),
    )


def _provider(server: FakeModelServer) -> AnthropicProvider:
    return AnthropicProvider(MODEL, api_key=KEY, base_url=server.url, policy=RetryPolicy(1))


def test_the_table_is_dated_and_prices_snapshots_as_their_base_model() -> None:
    table = PriceTable.load()
    assert table.as_of == "2026-11-26"
    assert table.lookup("claude-haiku-4-5-20251001") == table.lookup("claude-haiku-4-5")
    assert table.lookup("gpt-5-2025-08-07") == table.lookup("gpt-5")
    assert table.lookup("anthropic/claude-sonnet-5-5") == table.lookup(MODEL)
    assert table.lookup("gpt-5-pro") is None  # a different model, not a snapshot of gpt-5
    assert table.lookup("qwen2.5-coder") is None


def test_cost_of_a_call_counts_cached_input_at_its_rate() -> None:
    usage = Usage(input_tokens=1_000_000, cached_tokens=400_000, output_tokens=100_000)
    # 600k uncached x $2 + 400k cached x $0.10 + 100k out x $10
    assert estimate_cost(MODEL, usage) == pytest.approx(1.2 + 0.04 + 1.0)
    assert estimate_cost("qwen2.5-coder", usage) is None


def test_users_extend_the_table_with_their_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "my-prices.yaml"
    extra.write_text(
        "models:\n  qwen2.5-coder: {input: 0, output: 0}\n"
        "  claude-sonnet-5-5: {input: 1.5, output: 7.5}\n"
    )
    monkeypatch.setenv("HARNESS_PRICES_FILE", str(extra))
    table = PriceTable.load()
    assert estimate_cost("qwen2.5-coder", Usage(input_tokens=10), table) == 0.0
    assert estimate_cost(MODEL, Usage(output_tokens=1_000_000), table) == pytest.approx(7.5)
    assert str(extra) in table.sources
    extra.write_text("models:\n  x: {input: -1, output: 2}\n")
    with pytest.raises(InputFileError, match=r"my-prices.yaml: field 'models.x.input'"):
        PriceTable.load()


def test_the_plan_before_a_run() -> None:
    per_call = worst_case_cost(MODEL, prompt_chars=1000, max_tokens=1000)
    assert per_call == pytest.approx((400 * 2 + 1000 * 10) / 1e6)
    plan = plan_cost(MODEL, 0.05, calls=10, prompt_chars=1000, max_tokens=1000)
    assert plan.calls_that_fit == 4
    assert "at least 4 fit" in plan.describe() and "stops before" in plan.describe()
    roomy = plan_cost(MODEL, 1.0, calls=10, prompt_chars=1000, max_tokens=1000)
    assert "within the cap" in roomy.describe()
    with pytest.raises(HarnessError, match=r"below the worst case of a single call"):
        plan_cost(MODEL, 0.001, calls=1, prompt_chars=1000, max_tokens=1000)
    with pytest.raises(HarnessError, match=r"needs a price for model 'command:agent'"):
        plan_cost("command:agent", 5.0, calls=1, prompt_chars=10, max_tokens=10)


def test_the_tracker_stops_before_the_cap_is_exceeded() -> None:
    # Worst case per call: 400 prompt tokens x $2 + 1000 x $10 = $0.0108; actual $0.0007.
    tracker = CostTracker(max_cost=0.025)
    body = anthropic_message("ok", input_tokens=100, output_tokens=50)
    with FakeModelServer(json_reply(body)) as server:
        provider = BudgetedProvider(_provider(server), tracker)
        provider.generate(_request(0))
        provider.generate(_request(1))
        # Spent $0.0014 + next worst $0.0108 fits; a smaller cap would not.
        tracker.max_cost = 0.012
        with pytest.raises(CostCapReached, match=r"cost cap reached: \$0.0014 spent of \$0.01"):
            provider.generate(_request(2))
        assert server.count == 2  # the refused call never reached the server
    summary = tracker.summary()
    assert summary["calls"] == 2 and summary["input_tokens"] == 200
    assert summary["cost_usd"] == pytest.approx(0.0014)
    assert summary["cost_usd"] <= summary["max_cost_usd"]
    assert summary["prices_as_of"] == "2026-11-26"


def test_a_failed_call_gives_its_reservation_back() -> None:
    tracker = CostTracker(max_cost=0.02)
    with FakeModelServer(error_reply(400), json_reply(anthropic_message("ok"))) as server:
        provider = BudgetedProvider(_provider(server), tracker)
        with pytest.raises(ProviderError):
            provider.generate(_request())
        assert tracker.reserved == 0.0
        provider.generate(_request())  # fits again
    assert tracker.calls == 1


def test_cache_hits_cost_nothing_and_pass_the_cap(tmp_path: Path) -> None:
    tracker = CostTracker(max_cost=0.011)  # room for one worst case ($0.0108), not two
    with FakeModelServer(json_reply(anthropic_message("ok"))) as server:
        provider = with_cache(BudgetedProvider(_provider(server), tracker), ResponseCache(tmp_path))
        provider.generate(_request(0))
        with pytest.raises(CostCapReached):
            provider.generate(_request(1))  # a new call could pass the cap
        assert provider.generate(_request(0)).cached  # the stored one is still served
        assert server.count == 1
    assert tracker.calls == 1


def test_a_cap_needs_a_priced_model() -> None:
    tracker = CostTracker(max_cost=1.0)
    with pytest.raises(HarnessError, match=r"HARNESS_PRICES_FILE"):
        tracker.reserve("my-local-model", _request())
    assert CostTracker().reserve("my-local-model", _request()) == 0.0  # no cap, no price needed
