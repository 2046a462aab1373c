"""The one small protocol every model provider implements, and the records it trades."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from harness.core.errors import HarnessError
from harness.core.run_record import ResponseFields
from harness.core.run_record import Usage as Usage  # response.json records it too


class GenerationParams(BaseModel):
    """Sampling parameters; recorded in run.json with every run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = None
    max_tokens: int = 16000
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """What a provider is asked: one task, one sample. The task id lets the offline
    providers (reference, replay) find their answer; real models see only the prompts."""

    task_id: str
    sample: int
    system_prompt: str
    user_message: str
    params: GenerationParams = field(default_factory=GenerationParams)


class ModelResponse(ResponseFields):
    """A provider's answer. `files` is set by providers that write a workspace
    instead of answering in text; otherwise files are extracted from `text`."""

    text: str
    model: str

    @property
    def truncated(self) -> bool:
        """Cut off before the model finished: max tokens, or a CLI agent's time limit."""
        return self.finish_reason in ("length", "timeout")


class Provider(Protocol):
    """A source of answers: a real model, a recording, or the gold solution."""

    name: str
    model: str

    def generate(self, request: GenerationRequest) -> ModelResponse: ...


ProviderFactory = Callable[[str], Provider]
_REGISTRY: dict[str, ProviderFactory] = {}
# Providers whose module loads a heavy SDK, imported when first asked for: `harness tasks`
# or MODEL=reference should not spend seconds loading the anthropic and openai SDKs.
_LAZY_MODULES: dict[str, str] = {}


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a factory taking the text after `name:` in a MODEL spec."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def register_lazy_provider(name: str, module: str) -> None:
    """Declare that importing `module` registers the provider `name`."""
    _LAZY_MODULES[name] = module


def registered_providers() -> list[str]:
    """The provider names a MODEL spec may start with."""
    return sorted(set(_REGISTRY) | set(_LAZY_MODULES))


def resolve_provider(spec: str) -> Provider:
    """`reference`, `replay:<dir>`, `anthropic:<model>` ... -> a provider."""
    name, _, argument = spec.partition(":")
    if name not in _REGISTRY and name in _LAZY_MODULES:
        importlib.import_module(_LAZY_MODULES[name])
    factory = _REGISTRY.get(name)
    if factory is None:
        known = ", ".join(registered_providers())
        raise HarnessError(f"unknown model provider {name!r} in MODEL={spec!r} (known: {known})")
    return factory(argument)
