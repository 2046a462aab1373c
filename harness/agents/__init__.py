"""Model providers. Importing this package registers every built-in provider."""

from harness.agents import reference, replay
from harness.agents.base import (
    GenerationParams,
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    register_provider,
    resolve_provider,
)

__all__ = [
    "GenerationParams",
    "GenerationRequest",
    "ModelResponse",
    "Provider",
    "Usage",
    "reference",
    "register_provider",
    "replay",
    "resolve_provider",
]
