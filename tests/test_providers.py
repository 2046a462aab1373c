"""The offline providers, and the `Provider` base class's declarations (cached and
capped unless a provider opts out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import HarnessError, InputFileError
from harness.core.extract import extract_files
from harness.core.tasks import load_task
from harness.providers import (
    GenerationRequest,
    ModelResponse,
    Provider,
    WrappedProvider,
    is_cacheable,
    is_metered,
    resolve_provider,
)
from harness.providers.cache import CachedProvider, ResponseCache, with_cache
from harness.providers.pricing import BudgetedProvider, CostCapReached, CostTracker
from harness.providers.reference import ReferenceProvider
from harness.providers.replay import ReplayProvider


def _request(task_id: str = "user-crud", sample: int = 0) -> GenerationRequest:
    return GenerationRequest(task_id=task_id, sample=sample, system_prompt="s", user_message="u")


def test_reference_answers_in_the_seed_format_and_extracts_back() -> None:
    response = resolve_provider("reference").generate(_request())
    assert response.text.startswith("```python\n# models.py\n")
    assert extract_files(response.text).files == load_task("user-crud").reference_files()
    assert response.finish_reason == "stop"


def test_replay_reads_one_file_per_task_and_sample(tmp_path: Path) -> None:
    (tmp_path / "user-crud").mkdir()
    (tmp_path / "user-crud" / "1.md").write_text("```python\n# main.py\napp = 1\n```\n")
    provider = resolve_provider(f"replay:{tmp_path}")
    assert "app = 1" in provider.generate(_request(sample=1)).text
    with pytest.raises(InputFileError, match=r"user-crud/0.md: no recorded response"):
        provider.generate(_request(sample=0))


def test_provider_spec_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"unknown model provider 'gpt9'.*reference"):
        resolve_provider("gpt9:large")
    with pytest.raises(HarnessError, match=r"replay:<dir>"):
        resolve_provider("replay")
    with pytest.raises(HarnessError, match=r"no such folder"):
        resolve_provider(f"replay:{tmp_path / 'missing'}")


class _NewPaidProvider(Provider):
    """What a new provider module would write: a name, a model, `generate`, nothing else."""

    name = "new-paid"
    model = "gpt-5.5"  # priced in prices.yaml

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, request: GenerationRequest) -> ModelResponse:
        self.calls += 1
        return ModelResponse(text="answer", model=self.model)


def test_a_new_provider_that_declares_nothing_is_cached_and_capped(tmp_path: Path) -> None:
    provider = _NewPaidProvider()
    assert is_cacheable(provider) and is_metered(provider)
    assert provider.endpoint is None and provider.stats() == {}
    cache = ResponseCache(tmp_path)
    tracker = CostTracker(max_cost=1e-9)  # below any call: the gate must refuse
    with pytest.raises(CostCapReached):
        with_cache(BudgetedProvider(provider, tracker), cache).generate(_request())
    assert provider.calls == 0
    wrapped = with_cache(BudgetedProvider(provider, CostTracker()), cache)
    assert isinstance(wrapped, CachedProvider) and wrapped.metered and wrapped.cacheable
    wrapped.generate(_request())
    assert wrapped.generate(_request()).cached  # the second ask is a hit
    assert provider.calls == 1
    assert wrapped.stats() == {"dir": str(tmp_path), "hits": 1, "misses": 1}


def test_the_offline_providers_opt_out_explicitly(tmp_path: Path) -> None:
    (tmp_path / "user-crud").mkdir()
    for spec in ("reference", f"replay:{tmp_path}"):
        provider = resolve_provider(spec)
        assert not is_cacheable(provider) and not is_metered(provider)
        assert "cacheable" in vars(type(provider)) and "metered" in vars(type(provider))
        assert with_cache(provider, ResponseCache(tmp_path / "cache")) is provider
    assert ReplayProvider.metered is False and ReferenceProvider.cacheable is False


def test_the_wrappers_share_one_delegation() -> None:
    inner = _NewPaidProvider()
    inner.endpoint = "https://api.example.test"
    for wrapper in (
        BudgetedProvider(inner, CostTracker()),
        CachedProvider(inner, ResponseCache(Path("/nonexistent"))),
    ):
        assert isinstance(wrapper, WrappedProvider)
        assert (wrapper.name, wrapper.model, wrapper.endpoint) == (
            "new-paid",
            "gpt-5.5",
            "https://api.example.test",
        )


def test_an_object_that_is_not_a_provider_gets_the_safe_defaults() -> None:
    class Bare:
        name = "bare"
        model = "bare"

    assert is_cacheable(Bare()) and is_metered(Bare())
