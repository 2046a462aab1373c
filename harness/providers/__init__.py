"""Model providers, one module each: reference, replay, command, and the SDK-backed
anthropic, openai and openai_compatible and the Claude Code CLI's claude_code, which
are imported on first use (see `register_lazy_provider`). Importing this package makes
every one resolvable."""

from harness.providers import command, reference, replay
from harness.providers.base import (
    Exchange,
    GenerationParams,
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    WrappedProvider,
    is_cacheable,
    is_metered,
    is_multi_round,
    provider_class,
    register_lazy_provider,
    register_provider,
    registered_providers,
    resolve_provider,
)
from harness.providers.retry import ProviderError, RetryPolicy

register_lazy_provider("anthropic", "harness.providers.anthropic")
register_lazy_provider("openai", "harness.providers.openai")
register_lazy_provider("openai-compatible", "harness.providers.openai_compatible")
register_lazy_provider("claude-code", "harness.providers.claude_code")

__all__ = [
    "Exchange",
    "GenerationParams",
    "GenerationRequest",
    "ModelResponse",
    "Provider",
    "ProviderError",
    "RetryPolicy",
    "Usage",
    "WrappedProvider",
    "command",
    "is_cacheable",
    "is_metered",
    "is_multi_round",
    "reference",
    "register_lazy_provider",
    "register_provider",
    "provider_class",
    "registered_providers",
    "replay",
    "resolve_provider",
]
