"""Named points where a test can make the harness die, to prove crash safety.

`HARNESS_FAILPOINTS="after-generate:2,mid-grading:1"` SIGKILLs the process the 2nd time
it passes `after-generate`, or the 1st time it passes `mid-grading`. Unset (always, outside
the crash tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

from harness.core import settings

_lock = threading.Lock()
_passes: Counter[str] = Counter()


def _armed() -> dict[str, int]:
    spec = settings.FAILPOINTS.get()
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition(":")
        armed[name] = int(count or "1")
    return armed


def failpoint(name: str) -> None:
    """Die here, by SIGKILL, if the environment armed this point for this pass."""
    armed = _armed()
    if name not in armed:
        return
    with _lock:
        _passes[name] += 1
        if _passes[name] == armed[name]:
            os.kill(os.getpid(), signal.SIGKILL)
