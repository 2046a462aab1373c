"""`anthropic:<model>`: Claude through the Messages API, with the `anthropic` SDK.

The key comes from ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL (read by the SDK) points the
client elsewhere, e.g. at a gateway. Anthropic takes no seed: a `--seed` is recorded in
run.json but not sent. Temperature is sent only when set, because current models reject
any non-default sampling parameter (a 400, reported as a ProviderError).
"""

from __future__ import annotations

import time

import anthropic
from pydantic import BaseModel

from harness.core.errors import HarnessError
from harness.providers.aliases import model_for
from harness.providers.base import (
    GenerationRequest,
    ModelResponse,
    Provider,
    Usage,
    register_provider,
)
from harness.providers.limits import request_timeout
from harness.providers.retry import RetryPolicy, call_with_retries
from harness.providers.sdk import classify_sdk_error, decode_body
from harness.providers.secrets import require_api_key, scrub

KEY_VARIABLE = "ANTHROPIC_API_KEY"
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class _Block(BaseModel):
    type: str
    text: str | None = None


class _Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Message(BaseModel):
    """The fields of a Messages API response that the harness uses."""

    model: str | None = None
    content: list[_Block]
    stop_reason: str | None = None
    usage: _Usage


def join_text_blocks(blocks: list[str]) -> str:
    """Concatenate text blocks; a block opening a code fence starts on its own line, so
    that two blocks never fuse into a broken fence."""
    text = ""
    for block in blocks:
        if text and not text.endswith("\n") and block.startswith("```"):
            text += "\n"
        text += block
    return text


def to_response(message: _Message, requested_model: str, seconds: float) -> ModelResponse:
    usage = message.usage
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    reason = message.stop_reason or "unknown"
    return ModelResponse(
        text=scrub(
            join_text_blocks([b.text or "" for b in message.content if b.type == "text"]),
            shapes=False,
        ),
        model=message.model or requested_model,
        finish_reason=_FINISH_REASONS.get(reason, reason),
        # Anthropic counts cache reads and writes apart from `input_tokens`.
        usage=Usage(
            input_tokens=usage.input_tokens + cache_read + cache_write,
            output_tokens=usage.output_tokens,
            cached_tokens=cache_read,
        ),
        seconds=seconds,
    )


class AnthropicProvider(Provider):
    """Claude, one Messages API call per sample, under the harness's retry policy.
    A paid API: cached and capped (the base class's defaults)."""

    name = "anthropic"
    multi_round = True  # the earlier rounds are sent as the conversation

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.timeout = timeout or request_timeout()
        self.policy = policy or RetryPolicy()
        self.client = anthropic.Anthropic(
            api_key=api_key or require_api_key(KEY_VARIABLE, self.name),
            base_url=base_url,
            max_retries=0,  # the harness's policy is the only one (harness/providers/retry.py)
            timeout=self.timeout,
        )
        self.endpoint = str(self.client.base_url)

    def _attempt(self, request: GenerationRequest) -> _Message:
        temperature = request.params.temperature
        try:
            raw = self.client.messages.with_raw_response.create(
                model=self.model,
                max_tokens=request.params.max_tokens,
                system=request.system_prompt,
                messages=request.conversation(),  # type: ignore[arg-type]
                # This SDK no longer has a `temperature` argument (current models reject
                # one); older models still take it, so a set value goes in the body.
                extra_body=None if temperature is None else {"temperature": temperature},
            )
        except anthropic.APIError as exc:
            raise classify_sdk_error(exc, self.timeout) from None
        return decode_body(raw.http_response.content, _Message)

    def generate(self, request: GenerationRequest) -> ModelResponse:
        began = time.monotonic()
        message = call_with_retries(
            self.name, self.model, self.policy, lambda: self._attempt(request)
        )
        return to_response(message, self.model, round(time.monotonic() - began, 3))


@register_provider("anthropic", AnthropicProvider)
def make_anthropic(argument: str) -> Provider:
    if not argument:
        raise HarnessError(
            "MODEL=anthropic needs a model: anthropic:<model> (e.g. anthropic:sonnet)"
        )
    return AnthropicProvider(model_for("anthropic", argument))
