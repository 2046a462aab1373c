"""How hard the harness may lean on a provider: concurrent calls and time per call.

Concurrency is limited per provider name (every `anthropic:*` model shares one pool),
because rate limits are per account, not per model. The limits are read from the
environment when first needed, so a bad value is a clear error, not an import crash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness.core import settings
from harness.core.errors import HarnessError

# Defaults (harness/core/settings.py): 4 calls per provider; 600 s a request (a 16k-token
# answer can take minutes to generate); 1800 s a CLI agent (it runs tools, tests and
# retries of its own).

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def request_timeout() -> float:
    """Seconds one HTTP request to a model API may take (HARNESS_REQUEST_TIMEOUT)."""
    return settings.REQUEST_TIMEOUT.get()


def command_timeout() -> float:
    """Seconds a `command:` agent may run before it is killed (HARNESS_COMMAND_TIMEOUT)."""
    return settings.COMMAND_TIMEOUT.get()


def concurrency_limit() -> int:
    """Calls in flight per provider (HARNESS_PROVIDER_CONCURRENCY)."""
    return int(settings.PROVIDER_CONCURRENCY.get())


def set_concurrency_limit(provider: str, limit: int) -> None:
    """Replace a provider's pool (calls already holding a slot finish undisturbed)."""
    if limit < 1:
        raise HarnessError(f"the concurrency limit of {provider} must be at least 1")
    with _slots_lock:
        _slots[provider] = threading.BoundedSemaphore(limit)


@contextmanager
def provider_slot(provider: str) -> Iterator[None]:
    """Hold one of the provider's slots for the duration of one call."""
    with _slots_lock:
        slot = _slots.get(provider)
        if slot is None:
            slot = _slots[provider] = threading.BoundedSemaphore(concurrency_limit())
    with slot:
        yield
