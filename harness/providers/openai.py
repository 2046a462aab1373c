"""`openai:<model>`: OpenAI models through Chat Completions, with the `openai` SDK.

The key comes from OPENAI_API_KEY. `max_completion_tokens` is sent (the only limit the
reasoning models accept; it counts their reasoning tokens too), and temperature only
when set, since reasoning models reject any other value. `OpenAIChatProvider` also
serves `openai-compatible:` (harness/providers/openai_compatible.py).
"""

from __future__ import annotations

import time

import openai
from pydantic import BaseModel, Field

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

KEY_VARIABLE = "OPENAI_API_KEY"


class _Message(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _PromptDetails(BaseModel):
    cached_tokens: int | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None


class _Completion(BaseModel):
    """The fields of a Chat Completions response that the harness uses. Usage is
    optional: some compatible servers leave it out."""

    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


def to_response(completion: _Completion, requested_model: str, seconds: float) -> ModelResponse:
    choice = completion.choices[0]
    usage = completion.usage or _Usage()
    details = usage.prompt_tokens_details
    if choice.message.content is None and choice.message.refusal:
        text, reason = choice.message.refusal, "refusal"
    else:
        text, reason = choice.message.content or "", choice.finish_reason or "unknown"
    return ModelResponse(
        text=scrub(text, shapes=False),
        model=completion.model or requested_model,
        finish_reason=reason,  # already "stop" | "length" | "content_filter" | ...
        usage=Usage(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            cached_tokens=(details.cached_tokens or 0) if details else 0,
        ),
        seconds=seconds,
    )


class OpenAIChatProvider(Provider):
    """One Chat Completions call per sample, under the harness's retry policy.
    A paid API: cached and capped (the base class's defaults)."""

    multi_round = True  # the earlier rounds are sent as the conversation

    def __init__(
        self,
        model: str,
        *,
        name: str = "openai",
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
        limit_parameter: str = "max_completion_tokens",
    ) -> None:
        self.name = name
        self.model = model
        self.timeout = timeout or request_timeout()
        self.policy = policy or RetryPolicy()
        # Older compatible servers (Ollama, some gateways) know only `max_tokens`.
        self.limit_parameter = limit_parameter
        self.client = openai.OpenAI(
            api_key=api_key or require_api_key(KEY_VARIABLE, name),
            base_url=base_url,
            max_retries=0,  # the harness's policy is the only one (harness/providers/retry.py)
            timeout=self.timeout,
        )
        self.endpoint = str(self.client.base_url)

    def _attempt(self, request: GenerationRequest) -> _Completion:
        params = request.params
        limit = params.max_tokens
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": request.system_prompt},
                    *request.conversation(),  # type: ignore[list-item]
                ],
                max_completion_tokens=limit
                if self.limit_parameter == "max_completion_tokens"
                else openai.omit,
                max_tokens=limit if self.limit_parameter == "max_tokens" else openai.omit,
                temperature=openai.omit if params.temperature is None else params.temperature,
                seed=openai.omit if params.seed is None else params.seed,
            )
        except openai.APIError as exc:
            raise classify_sdk_error(exc, self.timeout) from None
        return decode_body(raw.http_response.content, _Completion)

    def generate(self, request: GenerationRequest) -> ModelResponse:
        began = time.monotonic()
        completion = call_with_retries(
            self.name, self.model, self.policy, lambda: self._attempt(request)
        )
        return to_response(completion, self.model, round(time.monotonic() - began, 3))


@register_provider("openai", OpenAIChatProvider)
def make_openai(argument: str) -> Provider:
    if not argument:
        raise HarnessError("MODEL=openai needs a model: openai:<model> (e.g. openai:gpt-5.5)")
    return OpenAIChatProvider(model_for("openai", argument))
