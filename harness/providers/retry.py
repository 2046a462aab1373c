"""The one retry policy every network provider uses.

The SDKs' own retries are switched off (`max_retries=0`) so that this module alone
decides: bounded exponential backoff with jitter, `Retry-After` honoured, a fixed number
of attempts, and a `ProviderError` naming the provider, the status and the attempts when
they run out. The runner turns a `ProviderError` into an infra_error row: a provider's
failure is never scored as the model's.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from harness.core.errors import HarnessError
from harness.providers.limits import provider_slot
from harness.providers.secrets import scrub

T = TypeVar("T")

# 408 timeout, 409 lock conflict, 425 too early, 429 rate limit, 5xx server trouble
# (529 is Anthropic's "overloaded").
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_4XX or status >= 500


class CallFailure(Exception):
    """One attempt's failure, classified: may it be retried, and after how long?"""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = scrub(reason)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class ProviderError(HarnessError):
    """A provider could not answer, after every attempt the policy allows."""

    def __init__(self, provider: str, model: str, failure: CallFailure, attempts: int) -> None:
        self.provider = provider
        self.model = model
        self.status = failure.status
        self.attempts = attempts
        self.reason = failure.reason
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(
            scrub(f"{provider} model {model!r}: {failure.reason} (after {attempts} {plural})")
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0
    # A server asking for a longer pause than this gets this: the run must move on.
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise HarnessError(f"a retry policy needs at least one attempt (got {self.attempts})")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before retry number `retry` (0-based). A server's Retry-After wins,
        plus a little jitter so that parallel callers do not return in lockstep."""
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), self.max_retry_after)
            return wait + rng.uniform(0, min(1.0, wait * 0.1))
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        return rng.uniform(ceiling / 2, ceiling)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _log(message: str) -> None:
    print(f"harness: {scrub(message)}", file=sys.stderr, flush=True)


def call_with_retries(
    provider: str,
    model: str,
    policy: RetryPolicy,
    attempt: Callable[[], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `attempt` (which raises `CallFailure`) under the policy, one provider slot at a
    time; the slot is released while waiting so other calls can use it."""
    rng = rng or random.Random()
    for number in range(1, policy.attempts + 1):
        try:
            with provider_slot(provider):
                return attempt()
        except CallFailure as failure:
            if not failure.retryable or number == policy.attempts:
                raise ProviderError(provider, model, failure, number) from None
            wait = policy.delay(number - 1, failure.retry_after, rng)
            _log(
                f"{provider} {model}: {failure.reason}; "
                f"retry {number}/{policy.attempts - 1} in {wait:.1f}s"
            )
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
