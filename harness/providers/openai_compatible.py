"""`openai-compatible:<model>`: any server speaking Chat Completions (vLLM, Ollama,
LiteLLM and other gateways), through the `openai` SDK pointed at OPENAI_BASE_URL.

The key is optional (local servers rarely check one): OPENAI_API_KEY if set, else a
placeholder, because the SDK refuses to start without some key. The token limit is sent
as `max_tokens`, the parameter every such server understands.
"""

from __future__ import annotations

import os

from harness.core.errors import HarnessError
from harness.providers.base import Provider, register_provider
from harness.providers.openai import KEY_VARIABLE, OpenAIChatProvider
from harness.providers.secrets import register_secret

BASE_URL_VARIABLE = "OPENAI_BASE_URL"
PLACEHOLDER_KEY = "not-needed"


@register_provider("openai-compatible", OpenAIChatProvider)
def make_openai_compatible(argument: str) -> Provider:
    if not argument:
        raise HarnessError(
            "MODEL=openai-compatible needs a model: openai-compatible:<model> "
            "(the name the server knows it by, e.g. qwen2.5-coder)"
        )
    base_url = os.environ.get(BASE_URL_VARIABLE, "").strip()
    if not base_url:
        raise HarnessError(
            f"MODEL=openai-compatible:... needs the server's address: {BASE_URL_VARIABLE} "
            f"is not set (e.g. export {BASE_URL_VARIABLE}=http://localhost:8000/v1), "
            "or run offline with MODEL=reference"
        )
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if key:
        register_secret(key)
    return OpenAIChatProvider(
        argument,
        name="openai-compatible",
        api_key=key or PLACEHOLDER_KEY,
        base_url=base_url,
        limit_parameter="max_tokens",
    )
