"""Usage and cost: the dated price table, the cost of a call, and the `--max-cost` cap.

The cap is enforced on worst cases, so it is never exceeded: before each model call the
tracker reserves what that call could cost at most (its prompt, counted pessimistically,
plus every token `max_tokens` allows) and refuses the call if spend plus reservations
would pass the cap. The runner turns the refusal into "stopped: cost cap reached" and
keeps what finished. Cache hits cost nothing and never reach the tracker.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core import settings
from harness.core.errors import HarnessError, InputFileError, describe_validation_error
from harness.providers.base import (
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    WrappedProvider,
)

PRICES_FILE = Path(__file__).resolve().parent / "prices.yaml"
PRICES_FILE_VARIABLE = settings.PRICES_FILE.name
# Pessimistic on purpose (English and code run 3-4 characters a token): the estimate
# guards a cap, and overestimating only stops a run a little early.
CHARS_PER_TOKEN = 2.5
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: str | None = None
    models: dict[str, ModelPrice] = {}


def _read_price_file(path: Path) -> _PriceFile:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot read the price table: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"not valid YAML: {exc}") from exc
    try:
        return _PriceFile.model_validate(data or {})
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, ModelPrice]
    as_of: str | None
    sources: tuple[str, ...]

    @classmethod
    def load(cls, extra: Path | None = None) -> PriceTable:
        """The repo's table, overridden by `extra` or the file HARNESS_PRICES_FILE names."""
        base = _read_price_file(PRICES_FILE)
        prices = dict(base.models)
        sources = [str(PRICES_FILE)]
        extra = extra or settings.PRICES_FILE.get()
        if extra is not None:
            prices.update(_read_price_file(extra).models)
            sources.append(str(extra))
        return cls(prices=prices, as_of=base.as_of, sources=tuple(sources))

    def lookup(self, model: str) -> ModelPrice | None:
        """Exact id first, then without a `vendor/` prefix and a date or `-latest` suffix."""
        for candidate in (model, model.rsplit("/", 1)[-1]):
            if candidate in self.prices:
                return self.prices[candidate]
            base = _DATE_SUFFIX.sub("", candidate)
            if base in self.prices:
                return self.prices[base]
        return None


def estimate_cost(model: str, usage: Usage, prices: PriceTable | None = None) -> float | None:
    """USD for one call's usage, or None when the model has no price."""
    price = (prices or PriceTable.load()).lookup(model)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return (
        (usage.input_tokens - cached) * price.input
        + cached * cached_rate
        + usage.output_tokens * price.output
    ) / 1_000_000


def response_cost(
    response: ModelResponse, requested_model: str, prices: PriceTable | None = None
) -> float | None:
    """USD for one answer: what the agent reported, else priced as the model that answered
    (a dated snapshot id) or, when that id has no price (a gateway's own name), as the
    model asked for."""
    if response.cost_usd is not None:
        return response.cost_usd  # what the agent itself counted (Claude Code's result)
    prices = prices or PriceTable.load()
    cost = estimate_cost(response.model, response.usage, prices)
    return cost if cost is not None else estimate_cost(requested_model, response.usage, prices)


def worst_case_cost(
    model: str, prompt_chars: int, max_tokens: int, prices: PriceTable | None = None
) -> float | None:
    """The most one call can cost: the prompt, uncached and counted pessimistically, plus
    every output token `max_tokens` allows."""
    usage = Usage(input_tokens=math.ceil(prompt_chars / CHARS_PER_TOKEN), output_tokens=max_tokens)
    return estimate_cost(model, usage, prices)


def _request_chars(request: GenerationRequest) -> int:
    """Everything the call sends: the system prompt and the whole conversation (a later
    round of `--rounds` resends the earlier answers and their feedback)."""
    return len(request.system_prompt) + sum(len(t["content"]) for t in request.conversation())


def _no_price(model: str) -> HarnessError:
    return HarnessError(
        f"--max-cost needs a price for model {model!r} and the price table has none: add it "
        f"to a file in the format of {PRICES_FILE.name} named by {PRICES_FILE_VARIABLE}"
    )


@dataclass(frozen=True)
class CostPlan:
    """The worst case of a whole run, worked out before it starts."""

    model: str
    max_cost: float
    per_call: float
    calls: int

    @property
    def total(self) -> float:
        return self.per_call * self.calls

    @property
    def calls_that_fit(self) -> int:
        return min(self.calls, math.floor(self.max_cost / self.per_call)) if self.per_call else 0

    def describe(self) -> str:
        if self.total <= self.max_cost:
            return (
                f"cost cap ${self.max_cost:.2f}: the worst case of {self.calls} call(s) "
                f"is ${self.total:.2f}, within the cap"
            )
        return (
            f"cost cap ${self.max_cost:.2f}: the worst case of {self.calls} call(s) is "
            f"${self.total:.2f} (${self.per_call:.4f} each); at least {self.calls_that_fit} "
            "fit, and the run stops before a call could pass the cap"
        )


def plan_cost(
    model: str,
    max_cost: float,
    *,
    calls: int,
    prompt_chars: int,
    max_tokens: int,
    prices: PriceTable | None = None,
    per_call: float | None = None,
) -> CostPlan:
    """Check a run against `--max-cost` before it starts: the model must have a price and
    the cap must allow at least one call; a cap below the whole run's worst case is fine
    (the run stops early), and `describe()` says so."""
    if max_cost <= 0:
        raise HarnessError(f"--max-cost must be positive (got {max_cost})")
    if per_call is None:  # else the provider caps each call itself (an agent's budget)
        per_call = worst_case_cost(model, prompt_chars, max_tokens, prices)
    if per_call is None:
        raise _no_price(model)
    if per_call > max_cost:
        raise HarnessError(
            f"--max-cost ${max_cost:.2f} is below the worst case of a single call to {model} "
            f"(${per_call:.4f} with max tokens {max_tokens}): raise the cap or lower --max-tokens"
        )
    return CostPlan(model=model, max_cost=max_cost, per_call=per_call, calls=calls)


def max_cost_per_call(provider: object) -> float | None:
    """The most one call of `provider` can cost when it caps its calls itself (Claude
    Code's budget per session), else None: worked out from tokens."""
    value = getattr(provider, "max_cost_per_call", None)
    return float(value) if isinstance(value, int | float) else None


class CostCapReached(HarnessError):
    """The next call could pass `--max-cost`: the run stops, keeping what finished."""


class CostTracker:
    """What a run spent on model calls, and the gate that keeps it under the cap."""

    def __init__(self, max_cost: float | None = None, prices: PriceTable | None = None) -> None:
        self.max_cost = max_cost
        self.prices = prices or PriceTable.load()
        self.spent = 0.0
        self.reserved = 0.0
        self.calls = 0
        self.unpriced_calls = 0
        self.truncated = 0
        self.usage = Usage()
        self._lock = threading.Lock()

    def reserve(self, model: str, request: GenerationRequest, worst: float | None = None) -> float:
        """Set aside the call's worst case (`worst` when the provider caps its calls
        itself), or raise CostCapReached; returns the amount."""
        if self.max_cost is None:
            return 0.0
        if worst is None:
            worst = worst_case_cost(
                model, _request_chars(request), request.params.max_tokens, self.prices
            )
        if worst is None:
            raise _no_price(model)
        with self._lock:
            if self.spent + self.reserved + worst > self.max_cost:
                raise CostCapReached(
                    f"cost cap reached: ${self.spent:.4f} spent of ${self.max_cost:.2f}, and "
                    f"the next call to {model} could cost up to ${worst:.4f}"
                )
            self.reserved += worst
        return worst

    def release(self, reserved: float) -> None:
        """The call failed: give its reservation back."""
        with self._lock:
            self.reserved = max(self.reserved - reserved, 0.0)

    def settle(self, reserved: float, response: ModelResponse, model: str) -> None:
        """The call answered: replace its reservation by what it actually cost."""
        cost = response_cost(response, model, self.prices)
        with self._lock:
            self.reserved = max(self.reserved - reserved, 0.0)
            self.calls += 1
            self.truncated += int(response.truncated)
            self.usage = Usage(
                input_tokens=self.usage.input_tokens + response.usage.input_tokens,
                output_tokens=self.usage.output_tokens + response.usage.output_tokens,
                cached_tokens=self.usage.cached_tokens + response.usage.cached_tokens,
            )
            if cost is None:
                self.unpriced_calls += 1
            else:
                self.spent += cost

    def summary(self) -> dict[str, Any]:
        """Totals for run.json. `cost_usd` is None when no call had a price, and a lower
        bound when only some did (`unpriced_calls` says how many had none)."""
        priced = self.calls - self.unpriced_calls
        return {
            "calls": self.calls,
            **self.usage.model_dump(),
            "truncated": self.truncated,
            "cost_usd": round(self.spent, 6) if priced or not self.calls else None,
            "unpriced_calls": self.unpriced_calls,
            "max_cost_usd": self.max_cost,
            "prices_as_of": self.prices.as_of,
            "price_files": list(self.prices.sources),
        }


class BudgetedProvider(WrappedProvider):
    """A provider whose every call is reserved against the tracker first. Place it inside
    the cache (`with_cache(BudgetedProvider(p, t), cache)`) so hits skip the gate. Every
    call is counted (usage in run.json); the tracker has a cap only when the run has one
    and the provider is metered (`is_metered`)."""

    def __init__(self, inner: Provider, tracker: CostTracker) -> None:
        super().__init__(inner)
        self.tracker = tracker

    def generate(self, request: GenerationRequest) -> ModelResponse:
        reserved = self.tracker.reserve(self.model, request, max_cost_per_call(self.inner))
        try:
            response = self.inner.generate(request)
        except BaseException:
            self.tracker.release(reserved)
            raise
        self.tracker.settle(reserved, response, self.model)
        return response
