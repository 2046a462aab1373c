"""Model providers, one module each: reference, replay, command, and the SDK-backed
anthropic, openai and openai_compatible, which are imported on first use (see
`register_lazy_provider`). Importing this package makes every one resolvable."""

from harness.agents import command, reference, replay
from harness.agents.base import (
    GenerationParams,
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    register_lazy_provider,
    register_provider,
    registered_providers,
    resolve_provider,
)
from harness.agents.retry import ProviderError, RetryPolicy

register_lazy_provider("anthropic", "harness.agents.anthropic")
register_lazy_provider("openai", "harness.agents.openai")
register_lazy_provider("openai-compatible", "harness.agents.openai_compatible")

__all__ = [
    "GenerationParams",
    "GenerationRequest",
    "ModelResponse",
    "Provider",
    "ProviderError",
    "RetryPolicy",
    "Usage",
    "command",
    "reference",
    "register_lazy_provider",
    "register_provider",
    "registered_providers",
    "replay",
    "resolve_provider",
]
