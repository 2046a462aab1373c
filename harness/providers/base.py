"""The one small protocol every model provider implements, and the records it trades."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from harness.core.errors import HarnessError
from harness.core.run_record import ResponseFields
from harness.core.run_record import Usage as Usage  # response.json records it too
from harness.core.settings import DEFAULT_MAX_TOKENS


class GenerationParams(BaseModel):
    """Sampling parameters; recorded in run.json with every run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None


@dataclass(frozen=True)
class Exchange:
    """One earlier round of a conversation (`--rounds`): the model's answer, then the
    feedback it was shown (what a developer sees: boot log and smoke check)."""

    answer: str
    feedback: str


@dataclass(frozen=True)
class GenerationRequest:
    """What a provider is asked: one task, one sample. The task id lets the offline
    providers (reference, replay) find their answer; real models see only the prompts."""

    task_id: str
    sample: int
    system_prompt: str
    user_message: str
    params: GenerationParams = field(default_factory=GenerationParams)
    # The agent definition as a file (front matter and all), for agents that load it
    # themselves (`claude-code:` installs it as a Claude Code subagent).
    agent_name: str | None = None
    agent_file: str | None = None
    # Earlier rounds, oldest first (empty in round 1): a chat provider sends them as the
    # conversation before this answer, then the last feedback as the user's next message.
    history: tuple[Exchange, ...] = ()

    @property
    def round(self) -> int:
        return len(self.history) + 1

    def conversation(self) -> list[dict[str, str]]:
        """The user and assistant turns, in order: the task, then per earlier round the
        answer and its feedback. A one-round request is the task alone."""
        turns = [{"role": "user", "content": self.user_message}]
        for exchange in self.history:
            turns.append({"role": "assistant", "content": exchange.answer})
            turns.append({"role": "user", "content": exchange.feedback})
        return turns


# finish_reason values of an answer stopped by a limit rather than finished.
TRUNCATING_REASONS = frozenset({"length", "timeout", "max_turns", "max_budget"})


class ModelResponse(ResponseFields):
    """A provider's answer. `files` is set by providers that write a workspace
    instead of answering in text; otherwise files are extracted from `text`."""

    text: str
    model: str
    # What the call cost as the agent reported it (Claude Code's result event); None:
    # priced from `usage` with the price table.
    cost_usd: float | None = None
    # Files kept beside the answer in the sample folder (a session's transcript.jsonl).
    artifacts: dict[str, str] | None = None

    @property
    def truncated(self) -> bool:
        """Cut off before the model finished: max tokens, or a CLI agent's time, turn or
        cost limit."""
        return self.finish_reason in TRUNCATING_REASONS


class Provider:
    """A source of answers: a real model, a recording, or the gold solution.

    A provider declares what the run may do around it. The defaults are the safe ones
    for a paid API, so a new provider that says nothing is cached and capped; one that
    makes no paid call (reference, replay) opts out explicitly:

    - `cacheable`: may its answers be stored and replayed (harness/providers/cache.py)?
    - `metered`: does a call cost money, so `--max-cost` applies (harness/providers/pricing.py)?
    - `endpoint`: where its calls go (part of the response cache key; None: nowhere).
    - `multi_round`: can it answer a round after the first (`--rounds N`), given the
      conversation so far (`GenerationRequest.history`)? Off by default: a provider that
      would ignore the feedback is refused rather than asked the same question again.
    """

    name: str
    model: str
    cacheable: bool = True
    metered: bool = True
    endpoint: str | None = None
    multi_round: bool = False

    def generate(self, request: GenerationRequest) -> ModelResponse:
        raise NotImplementedError

    def stats(self) -> dict[str, object]:
        """Counters the provider keeps for run.json (none by default)."""
        return {}


def declaration(provider: object, name: str) -> object:
    """A provider's declaration (`cacheable`, `metered`, `endpoint`); an object that is
    not a `Provider` (a test double) gets the base class's, the safe defaults."""
    return getattr(provider, name, getattr(Provider, name))


def is_cacheable(provider: object) -> bool:
    """May the response cache store and replay this provider's answers?"""
    return bool(declaration(provider, "cacheable"))


def is_metered(provider: object) -> bool:
    """Does a call cost money, so that `--max-cost` applies to it?"""
    return bool(declaration(provider, "metered"))


def is_multi_round(provider: object) -> bool:
    """Can it answer rounds after the first (`--rounds N`)?"""
    return bool(declaration(provider, "multi_round"))


def endpoint_of(provider: object) -> str | None:
    value = declaration(provider, "endpoint")
    return None if value is None else str(value)


class WrappedProvider(Provider):
    """A provider in front of another (the response cache, the cost gate): it answers
    for the inner one, under its name, model, endpoint and declarations."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.endpoint = endpoint_of(inner)
        self.cacheable = is_cacheable(inner)
        self.metered = is_metered(inner)
        self.multi_round = is_multi_round(inner)

    def generate(self, request: GenerationRequest) -> ModelResponse:
        return self.inner.generate(request)

    def stats(self) -> dict[str, object]:
        stats = getattr(self.inner, "stats", None)  # a test double may keep none
        return dict(stats()) if callable(stats) else {}


ProviderFactory = Callable[[str], Provider]
_REGISTRY: dict[str, ProviderFactory] = {}
# The class each factory makes: its declarations can be read before one is built (a
# refused `--rounds` must not first open a Docker sandbox).
_CLASSES: dict[str, type[Provider]] = {}
# Providers whose module loads a heavy SDK, imported when first asked for: `harness tasks`
# or MODEL=reference should not spend seconds loading the anthropic and openai SDKs.
_LAZY_MODULES: dict[str, str] = {}


def register_provider(
    name: str, provider_class: type[Provider]
) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a factory taking the text after `name:` in a MODEL spec, and the class of
    provider it makes."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        _REGISTRY[name] = factory
        _CLASSES[name] = provider_class
        return factory

    return decorate


def register_lazy_provider(name: str, module: str) -> None:
    """Declare that importing `module` registers the provider `name`."""
    _LAZY_MODULES[name] = module


def registered_providers() -> list[str]:
    """The provider names a MODEL spec may start with."""
    return sorted(set(_REGISTRY) | set(_LAZY_MODULES))


def _registered_name(spec: str) -> str:
    name = spec.partition(":")[0]
    if name not in _REGISTRY and name in _LAZY_MODULES:
        importlib.import_module(_LAZY_MODULES[name])
    if name not in _REGISTRY:
        known = ", ".join(registered_providers())
        raise HarnessError(f"unknown model provider {name!r} in MODEL={spec!r} (known: {known})")
    return name


def provider_class(spec: str) -> type[Provider]:
    """The class of provider a MODEL spec makes, without making one: its declarations
    (`multi_round`, `metered` ...) can be checked before a sandbox or client opens."""
    return _CLASSES[_registered_name(spec)]


def resolve_provider(spec: str) -> Provider:
    """`reference`, `replay:<dir>`, `anthropic:<model>` ... -> a provider."""
    name = _registered_name(spec)
    return _REGISTRY[name](spec.partition(":")[2])
