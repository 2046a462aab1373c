"""Helpers shared by the jwt-auth hidden tests: accounts, logins, token forging, DB reads.

Every account gets a unique email, so tests are independent of each other, of their order
and of rows left behind by earlier runs.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

INT32_MAX = 2147483647
HASH_PREFIXES = ("$argon2", "$2a$", "$2b$", "$2y$", "$bcrypt-sha256$")
LEAKED_HASH_PREFIXES = HASH_PREFIXES + ("$pbkdf2", "pbkdf2", "$scrypt", "scrypt:")
CLOCK_SLACK_S = 5


def new_email(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}@example.com"


def new_password() -> str:
    return "Pw-" + uuid.uuid4().hex[:13]


@dataclass
class Account:
    """A registered user: what the test sent and what the app answered."""

    id: int
    email: str
    password: str
    full_name: str
    body: dict[str, Any]


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


def refresh(api: httpx.Client, refresh_token: str) -> httpx.Response:
    return api.post("/auth/refresh", json={"refresh_token": refresh_token})


def change_password(
    api: httpx.Client, token: str | None, current_password: str, new_password: str
) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    return api.post(
        "/auth/change-password",
        json={"current_password": current_password, "new_password": new_password},
        headers=headers,
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


def decode_access_token(token: str, secret: str) -> dict[str, Any]:
    """The access token's claims, verified the way the contract states (HS256, JWT_SECRET)."""
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", f"access token header alg is {header.get('alg')!r}"
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_aud": False, "verify_iss": False},
            leeway=CLOCK_SLACK_S,
        )
    except jwt.PyJWTError as exc:
        raise AssertionError(f"access token does not verify with JWT_SECRET: {exc!r}") from exc
    assert isinstance(claims, dict)
    return claims


def expired_claims(claims: dict[str, Any], seconds_ago: int) -> dict[str, Any]:
    now = int(time.time())
    forged = dict(claims)
    forged["exp"] = now - seconds_ago
    for claim in ("iat", "nbf"):
        if claim in forged:
            forged[claim] = now - seconds_ago - 1800
    return forged


def parse_timestamp(value: Any) -> datetime:
    assert isinstance(value, str), f"timestamp {value!r} is not a string"
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise AssertionError(f"timestamp {value!r} is not ISO 8601") from exc


def walk_json(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from walk_json(item)
    elif isinstance(value, list):
        for item in value:
            yield None, item
            yield from walk_json(item)


def assert_no_password_in(value: Any, plaintext: str, where: str) -> None:
    for key, item in walk_json(value):
        if key is not None:
            assert "password" not in key.lower(), f"{where} exposes a password field {key!r}"
        if isinstance(item, str):
            assert plaintext not in item, f"{where} contains the plaintext password"
            assert not item.startswith(LEAKED_HASH_PREFIXES), f"{where} exposes a hash {item!r}"


def assert_no_password(response: httpx.Response, plaintext: str, where: str) -> None:
    assert plaintext not in response.text, f"{where}: the plaintext password is in the response"
    if response.content:
        assert_no_password_in(response.json(), plaintext, where)


def user_rows(db: Engine, email: str) -> list[dict[str, Any]]:
    """Rows of the user tables (any table whose name contains "user") holding this email."""
    inspector = sa.inspect(db)
    tables = [name for name in inspector.get_table_names() if "user" in name.lower()]
    assert tables, f"no table whose name contains 'user' among {inspector.get_table_names()}"
    quote = db.dialect.identifier_preparer.quote
    found: list[dict[str, Any]] = []
    with db.connect() as connection:
        for table in tables:
            rows = connection.execute(sa.text(f"SELECT * FROM {quote(table)}")).mappings()
            for row in rows:
                values = [v for v in row.values() if isinstance(v, str)]
                if any(v.strip().lower() == email.lower() for v in values):
                    found.append(dict(row))
    assert found, f"no row holding {email!r} found in tables {tables}"
    return found


def as_text(value: Any) -> str | None:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None
