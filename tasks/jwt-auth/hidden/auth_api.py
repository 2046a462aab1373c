"""Helpers shared by the jwt-auth hidden tests: accounts, logins, token forging, DB reads.

Every account gets a unique email, so tests are independent of each other, of their order
and of rows left behind by earlier runs.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import sqlalchemy as sa
from harness.graders.testkit import (
    CLAIMS_LEFT_TO_THE_APP,
    as_text,
    new_email,
    new_password,
)
from sqlalchemy.engine import Engine

# "They are stored only as a bcrypt or argon2 hash": how such a stored hash begins.
HASH_PREFIXES = ("$argon2", "$2a$", "$2b$", "$2y$", "$bcrypt-sha256$")


@dataclass
class Account:
    """A registered user: what the test sent and what the app answered."""

    id: int
    email: str
    password: str
    full_name: str
    body: dict[str, Any]


def register_response(
    api: httpx.Client,
    *,
    email: str | None = None,
    password: str | None = None,
    full_name: str = "Test User",
) -> httpx.Response:
    payload = {
        "email": new_email() if email is None else email,
        "password": new_password() if password is None else password,
        "full_name": full_name,
    }
    return api.post("/auth/register", json=payload)


def register(
    api: httpx.Client,
    *,
    email: str | None = None,
    password: str | None = None,
    full_name: str = "Test User",
    extra: dict[str, Any] | None = None,
) -> Account:
    payload: dict[str, Any] = {
        "email": email or new_email(),
        "password": password or new_password(),
        "full_name": full_name,
        **(extra or {}),
    }
    response = api.post("/auth/register", json=payload)
    assert response.status_code == 201, (
        f"POST /auth/register {payload['email']}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"POST /auth/register returned {body!r}, expected a user"
    user_id = body.get("id")
    assert isinstance(user_id, int) and not isinstance(user_id, bool), (
        f"user id is not an int: {body!r}"
    )
    return Account(user_id, payload["email"], payload["password"], full_name, body)


def login_response(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post("/auth/login", json={"email": email, "password": password})


def login(api: httpx.Client, email: str, password: str) -> dict[str, Any]:
    response = login_response(api, email, password)
    assert response.status_code == 200, (
        f"POST /auth/login {email}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"POST /auth/login returned {body!r}"
    for key in ("access_token", "refresh_token"):
        assert isinstance(body.get(key), str) and body[key], f"login lacks {key}: {body!r}"
    return body


def login_account(api: httpx.Client, account: Account) -> dict[str, Any]:
    return login(api, account.email, account.password)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(api: httpx.Client, token: str) -> httpx.Response:
    return api.get("/auth/me", headers=bearer(token))


def assert_me_is(api: httpx.Client, token: str, account: Account, what: str) -> None:
    """GET /auth/me with `token` answers 200 with `account`'s user."""
    response = me(api, token)
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.json().get("id") == account.id, f"{what}: {response.json()!r}"


def refresh(api: httpx.Client, refresh_token: str) -> httpx.Response:
    return api.post("/auth/refresh", json={"refresh_token": refresh_token})


def assert_refresh_works(api: httpx.Client, refresh_token: str, what: str) -> str:
    """POST /auth/refresh with `refresh_token` answers 200 with an access token."""
    response = refresh(api, refresh_token)
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("access_token"), str), (
        f"{what}: no access_token in {body!r}"
    )
    return str(body["access_token"])


def change_password(
    api: httpx.Client, token: str | None, current_password: str, new_password: str
) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    return api.post(
        "/auth/change-password",
        json={"current_password": current_password, "new_password": new_password},
        headers=headers,
    )


def assert_status(response: httpx.Response, expected: int, what: str) -> None:
    assert response.status_code == expected, (
        f"{what}: expected {expected}, got {response.status_code} {response.text[:300]}"
    )


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, payload and signature segment of a JWT, without verifying anything."""
    pieces = token.split(".")
    assert len(pieces) == 3, f"the access token is not a JWS compact JWT: {token[:80]!r}"
    header = json.loads(b64url_decode(pieces[0]))
    payload = json.loads(b64url_decode(pieces[1]))
    assert isinstance(header, dict) and isinstance(payload, dict), "JWT parts are not objects"
    return header, payload, pieces[2]


def encode_segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def sign_hs256(payload: dict[str, Any], secret: str, header: dict[str, Any]) -> str:
    """A JWT with the given claims, signed HS256 with `secret`, keeping extra header fields."""
    fields = {name: value for name, value in header.items() if name not in ("alg", "typ")}
    return jwt.encode(payload, secret, algorithm="HS256", headers=fields)


def hs256_claims(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of `token` when it is a JWT whose HS256 signature verifies with `secret`
    (no claim is checked, expiry included); None when it is not such a token."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"verify_signature": True, "verify_exp": False, **CLAIMS_LEFT_TO_THE_APP},
        )
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def expired_claims(claims: dict[str, Any], seconds_ago: int) -> dict[str, Any]:
    """The claims with `exp` moved to `seconds_ago` seconds before now, and `iat`/`nbf`
    moved back by the same amount (the token keeps its lifetime)."""
    now = int(time.time())
    exp = claims.get("exp")
    target = now - seconds_ago
    shift = int(exp) - target if isinstance(exp, int | float) else 3600 + seconds_ago
    forged = dict(claims)
    forged["exp"] = target
    for claim in ("iat", "nbf"):
        if isinstance(forged.get(claim), int | float):
            forged[claim] = int(forged[claim]) - shift
    return forged


def stored_text_values(db: Engine) -> set[str]:
    """Every text value stored in any table of the app's database (tables named freely)."""
    inspector = sa.inspect(db)
    quote = db.dialect.identifier_preparer.quote
    values: set[str] = set()
    with db.connect() as connection:
        for table in inspector.get_table_names():
            for row in connection.execute(sa.text(f"SELECT * FROM {quote(table)}")):
                values.update(text for text in map(as_text, row) if text is not None)
    return values
