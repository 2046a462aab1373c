"""Keeping API keys out of everything the harness writes or prints.

A key can reach a message by many roads: an SDK error that quotes a response body, a
gateway that echoes the credential it rejected, a CLI agent that prints its settings.
So every message and stored text from a provider passes through `scrub`, which removes
the keys the harness read, the values of credential-looking environment variables, and
anything shaped like a bearer token or a provider key.
"""

from __future__ import annotations

import os
import re
import threading

from harness.core.errors import HarnessError

REDACTED = "[REDACTED]"
# Environment variables whose values are credentials, by the usual naming habits.
_SECRET_NAME = re.compile(r"(API_KEY|_TOKEN|SECRET_KEY)$")
# Key shapes worth removing even when the harness never saw the value.
_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}|(?i:bearer)\s+[A-Za-z0-9_\-\.=]{8,})"
)
# Shorter values are too likely to be ordinary words to redact everywhere.
_MIN_SECRET_LENGTH = 8

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a credential so that `scrub` removes it from any later text."""
    if len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def known_secrets() -> list[str]:
    """Registered keys plus credential-looking environment values, longest first (so a
    key that contains another is removed whole)."""
    values = {
        value
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
    }
    with _lock:
        values |= _registered
    return sorted(values, key=len, reverse=True)


def scrub(text: str, *, shapes: bool = True) -> str:
    """The text with every known secret replaced by a marker, and with `shapes`, every
    key-shaped token too. A model's answer is scrubbed without `shapes`: its code may hold
    harmless look-alikes (`"Bearer invalid-token"` in a test) and must grade as written."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text) if shapes else text


def require_api_key(variable: str, provider: str) -> str:
    """The key in `variable`, or a clear error that names it and the offline way out."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise HarnessError(
            f"MODEL={provider}:... needs an API key: {variable} is not set "
            f"(export {variable}=...), or run offline with MODEL=reference"
        )
    register_secret(value)
    return value
