"""When a candidate app is ready, in any runtime: the first HTTP answer on its port
(uvicorn answers only after the app's startup ran), failing fast when it exits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class BootOutcome:
    """Whether the app came up, how long it took, and why not."""

    ok: bool
    seconds: float
    error: str | None = None
    infra_error: str | None = None


def wait_until_ready(
    base_url: str,
    started: float,
    timeout_s: float,
    exited: Callable[[], BootOutcome | None],
    log_tail: Callable[[], str],
) -> BootOutcome:
    """Poll `base_url` until any HTTP answer; `exited` returns the outcome when the app's
    process or container has ended (else None). `started` is a time.monotonic()."""
    deadline = started + timeout_s
    with httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5), trust_env=False) as client:
        while time.monotonic() < deadline:
            outcome = exited()
            if outcome is not None:
                return outcome
            try:
                client.get(f"{base_url}/openapi.json")
                return BootOutcome(True, time.monotonic() - started)
            except httpx.TransportError:
                time.sleep(POLL_INTERVAL_S)
    return BootOutcome(
        False, time.monotonic() - started, f"app not ready within {timeout_s:.0f}s:\n" + log_tail()
    )
