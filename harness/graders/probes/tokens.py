"""JSON Web Tokens as an attacker sees them: split without verifying, re-encoded,
and checked against the well-known keys of `common-jwt-secrets.txt`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

COMMON_SECRETS_PATH = Path(__file__).resolve().parent / "common-jwt-secrets.txt"


def b64url_json(segment: str) -> Any:
    """One unpadded base64url segment of a JWT, as JSON."""
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def b64url(data: Any) -> str:
    """JSON as an unpadded base64url JWT segment."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def split_token(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims, unverified; None when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = b64url_json(parts[0]), b64url_json(parts[1])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


@cache
def common_jwt_secrets() -> tuple[str, ...]:
    """Well-known signing keys (`harness/graders/probes/common-jwt-secrets.txt`)."""
    lines = COMMON_SECRETS_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def hmac_signs(token: str, key: str, algorithm: str) -> bool:
    """Whether `token`'s HMAC signature was made with `key` (no other claim checked)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(
        algorithm
    )
    head, _, signature = token.rpartition(".")
    if digest is None or not head:
        return False
    expected = hmac.new(key.encode(), head.encode(), digest).digest()
    encoded = base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
    return hmac.compare_digest(encoded, signature)
