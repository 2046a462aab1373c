"""A provider for crash tests: answers with the reference and logs every call to the
file named by COUNTING_PROVIDER_LOG, so a test can prove no call was repeated."""

from __future__ import annotations

import os

from harness.providers import GenerationRequest, ModelResponse, Provider, register_provider
from harness.providers.reference import ReferenceProvider


class CountingProvider(Provider):
    name = "counting"
    model = "counting"
    # Offline, like the reference it answers with: every call must reach the log.
    cacheable = False
    metered = False

    def generate(self, request: GenerationRequest) -> ModelResponse:
        with open(os.environ["COUNTING_PROVIDER_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{request.task_id} {request.sample}\n")
        response = ReferenceProvider().generate(request)
        return response.model_copy(update={"model": self.model})


@register_provider("counting", CountingProvider)
def make_counting(argument: str) -> Provider:
    return CountingProvider()
