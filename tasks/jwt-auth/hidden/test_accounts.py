"""Hidden functional tests for jwt-auth: registration, login, password storage and change.

Fixtures come from graders.pytest_plugin: ``api`` (httpx.Client on the app), ``db`` (sync
SQLAlchemy engine on the app's database). Every test registers its own users.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine

from auth_api import (
    HASH_PREFIXES,
    INT32_MAX,
    as_text,
    assert_no_password,
    assert_no_password_in,
    change_password,
    login,
    login_account,
    login_response,
    me,
    new_email,
    new_password,
    parse_timestamp,
    refresh,
    register,
    token_parts,
    user_rows,
)

PRIVILEGE_MARKERS = ("admin", "superuser", "staff")
FALSE_VALUES = (None, False, 0, "0", "false", "f", "n", "no", "")


def test_register_returns_201_with_user_fields(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    response = api.post(
        "/auth/register",
        json={"email": email, "password": password, "full_name": "Ada Lovelace"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool), body
    assert body["email"] == email
    assert body["full_name"] == "Ada Lovelace"
    created = parse_timestamp(body["created_at"])
    assert created.tzinfo is not None, f"created_at={body['created_at']!r} has no UTC offset"
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=10), body["created_at"]
    assert_no_password(response, password, "register response")


def test_register_duplicate_email_returns_409(api: httpx.Client) -> None:
    first = register(api, full_name="First Owner")
    response = api.post(
        "/auth/register",
        json={"email": first.email, "password": new_password(), "full_name": "Second"},
    )
    assert response.status_code == 409, response.text
    profile = me(api, login_account(api, first)["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["full_name"] == "First Owner"


def test_register_invalid_email_returns_422(api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:10]
    long_email = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + f".{tag}.com"
    for email in (f"plain{tag}", f"missing-at{tag}.example.com", f"{tag}@", long_email):
        response = api.post(
            "/auth/register",
            json={"email": email, "password": new_password(), "full_name": "Bad Email"},
        )
        assert response.status_code == 422, (
            f"email {email[:40]!r}: {response.status_code} {response.text[:300]}"
        )


def test_register_rejects_password_outside_8_to_128(api: httpx.Client) -> None:
    for password in ("x" * 7, "y" * 129, ""):
        response = api.post(
            "/auth/register",
            json={"email": new_email(), "password": password, "full_name": "Pw Len"},
        )
        assert response.status_code == 422, (
            f"password of {len(password)} chars: {response.status_code} {response.text[:300]}"
        )


def test_register_accepts_password_of_8_and_128(api: httpx.Client) -> None:
    register(api, password="p" * 7 + "8", full_name="Pw Bounds")
    account = register(api, password="q" * 127 + "X", full_name="Pw Bounds")
    assert me(api, login_account(api, account)["access_token"]).status_code == 200


def test_register_full_name_bounds(api: httpx.Client) -> None:
    for full_name in ("", "n" * 101):
        response = api.post(
            "/auth/register",
            json={"email": new_email(), "password": new_password(), "full_name": full_name},
        )
        assert response.status_code == 422, (
            f"full_name of {len(full_name)} chars: {response.status_code} {response.text[:300]}"
        )
    account = register(api, full_name="m" * 100)
    assert account.body["full_name"] == "m" * 100


def test_register_missing_fields_returns_422(api: httpx.Client) -> None:
    complete = {"email": new_email(), "password": new_password(), "full_name": "Miss Ing"}
    for missing in ("email", "password", "full_name"):
        payload = {key: value for key, value in complete.items() if key != missing}
        response = api.post("/auth/register", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    assert api.post("/auth/register", json={}).status_code == 422
    malformed = api.post(
        "/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422, f"malformed JSON: {malformed.status_code}"


def test_register_ignores_is_admin_and_id(api: httpx.Client, db: Engine) -> None:
    injected_id = random.randint(1_000_000_000, INT32_MAX - 1)
    account = register(
        api,
        full_name="Mallory",
        extra={
            "is_admin": True,
            "is_superuser": True,
            "is_staff": True,
            "role": "admin",
            "roles": ["admin"],
            "id": injected_id,
        },
    )
    profile = me(api, login_account(api, account)["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == account.id, (account.body, profile.json())
    for where, body in (("register response", account.body), ("/auth/me", profile.json())):
        assert body["id"] != injected_id, f"{where}: the id sent on register was used"
        for key, value in body.items():
            lowered = key.lower()
            if any(marker in lowered for marker in PRIVILEGE_MARKERS):
                assert not value, f"{where}: {key}={value!r} after registering with is_admin"
            if "role" in lowered:
                assert "admin" not in str(value).lower(), f"{where}: {key}={value!r}"
    for row in user_rows(db, account.email):
        for column, value in row.items():
            lowered = column.lower()
            if any(marker in lowered for marker in PRIVILEGE_MARKERS):
                stored = value.lower() if isinstance(value, str) else value
                assert stored in FALSE_VALUES, f"column {column!r} stored {value!r}"
            if "role" in lowered:
                assert "admin" not in str(as_text(value) or value).lower(), (
                    f"column {column!r} stored {value!r}"
                )
            if lowered == "id":
                assert value != injected_id, "the id sent on register was stored"


def test_password_stored_as_hash(api: httpx.Client, db: Engine) -> None:
    password = new_password()
    account = register(api, password=password)
    rows = user_rows(db, account.email)
    hashes: list[str] = []
    for row in rows:
        for column, value in row.items():
            text = as_text(value)
            if text is None:
                continue
            assert password not in text, f"column {column!r} holds the plaintext password"
            if text.startswith(HASH_PREFIXES):
                hashes.append(column)
    assert hashes, (
        f"no column of the user's row starts like a bcrypt or argon2 hash {HASH_PREFIXES}; "
        f"columns: {sorted({column for row in rows for column in row})}"
    )


def test_password_never_returned(api: httpx.Client) -> None:
    password = new_password()
    account = register(api, password=password)
    assert_no_password_in(account.body, password, "register response")
    response = login_response(api, account.email, password)
    assert response.status_code == 200, response.text
    assert_no_password(response, password, "login response")
    tokens = response.json()
    _, claims, _ = token_parts(tokens["access_token"])
    assert_no_password_in(claims, password, "access token claims")
    assert_no_password(me(api, tokens["access_token"]), password, "/auth/me")
    refreshed = refresh(api, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert_no_password(refreshed, password, "refresh response")


def test_login_returns_token_pair(api: httpx.Client) -> None:
    account = register(api)
    response = api.post("/auth/login", json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("access_token"), str) and body["access_token"], body
    assert isinstance(body.get("refresh_token"), str) and body["refresh_token"], body
    assert body["access_token"] != body["refresh_token"]
    assert str(body.get("token_type", "")).lower() == "bearer", body
    profile = me(api, body["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["email"] == account.email


def test_login_wrong_password_returns_401(api: httpx.Client) -> None:
    account = register(api)
    for password in (account.password + "x", account.password.upper()):
        response = login_response(api, account.email, password)
        assert response.status_code == 401, f"{response.status_code} {response.text[:300]}"
        assert "access_token" not in response.text


def test_login_unknown_email_returns_401(api: httpx.Client) -> None:
    response = login_response(api, new_email("nobody"), new_password())
    assert response.status_code == 401, f"{response.status_code} {response.text[:300]}"
    assert "access_token" not in response.text


def test_login_failure_identical_for_unknown_email_and_wrong_password(
    api: httpx.Client,
) -> None:
    account = register(api)
    wrong_password = login_response(api, account.email, "Wrong-pass-123")
    unknown_email = login_response(api, new_email("ghost"), "Wrong-pass-123")
    assert wrong_password.status_code == unknown_email.status_code, (
        f"wrong password: {wrong_password.status_code}, unknown email: {unknown_email.status_code}"
    )
    assert wrong_password.status_code == 401, wrong_password.text
    assert wrong_password.content == unknown_email.content, (
        f"wrong password: {wrong_password.text[:300]!r}; "
        f"unknown email: {unknown_email.text[:300]!r}"
    )


def test_login_missing_fields_returns_422(api: httpx.Client) -> None:
    for payload in ({"email": new_email()}, {"password": new_password()}, {}):
        response = api.post("/auth/login", json=payload)
        assert response.status_code == 422, f"{sorted(payload)}: {response.status_code}"


def test_change_password_old_stops_working_new_works(api: httpx.Client) -> None:
    account = register(api)
    token = login_account(api, account)["access_token"]
    replacement = new_password()
    response = change_password(api, token, account.password, replacement)
    assert response.status_code == 204, f"{response.status_code} {response.text[:300]}"
    assert not response.content, f"204 with a body: {response.text[:200]!r}"
    old = login_response(api, account.email, account.password)
    assert old.status_code == 401, f"old password still logs in: {old.status_code}"
    tokens = login(api, account.email, replacement)
    profile = me(api, tokens["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == account.id


def test_change_password_wrong_current_password_returns_401(api: httpx.Client) -> None:
    account = register(api)
    token = login_account(api, account)["access_token"]
    replacement = new_password()
    response = change_password(api, token, "Not-the-password-1", replacement)
    assert response.status_code == 401, f"{response.status_code} {response.text[:300]}"
    assert login_response(api, account.email, replacement).status_code == 401, (
        "the new password works although the current password was wrong"
    )
    login(api, account.email, account.password)


def test_change_password_without_valid_token_returns_401(api: httpx.Client) -> None:
    account = register(api)
    replacement = new_password()
    for token in (None, "not-a-token", "a.b.c"):
        response = change_password(api, token, account.password, replacement)
        assert response.status_code == 401, f"token={token!r}: {response.status_code}"
    assert login_response(api, account.email, replacement).status_code == 401
    login(api, account.email, account.password)


def test_change_password_invalid_new_password_returns_422(api: httpx.Client) -> None:
    account = register(api)
    token = login_account(api, account)["access_token"]
    for replacement in ("short12", "z" * 129, ""):
        response = change_password(api, token, account.password, replacement)
        assert response.status_code == 422, (
            f"new_password of {len(replacement)} chars: {response.status_code}"
        )
    for payload in ({"current_password": account.password}, {"new_password": new_password()}):
        response = api.post(
            "/auth/change-password", json=payload, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 422, f"{sorted(payload)}: {response.status_code}"
    login(api, account.email, account.password)


def assert_not_server_error(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def test_register_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:12]
    cases = (("full_name", f"Nul {tag}\x00Name"), ("email", f"nul{tag}\x00@example.com"))
    for field, value in cases:
        payload = {"email": new_email(), "password": new_password(), "full_name": "Nul Field"}
        payload[field] = value
        response = api.post("/auth/register", json=payload)
        assert_not_server_error(response, f"POST /auth/register with a NUL in {field}")
        if response.is_success:
            assert response.json()[field] == value, f"{field} came back as {response.json()!r}"
            profile = me(api, login(api, payload["email"], payload["password"])["access_token"])
            assert profile.status_code == 200, profile.text
            assert profile.json()[field] == value, f"{field} was not stored as sent"


def test_login_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    account = register(api, full_name="Nul Login")
    for email in (f"{account.email}\x00x", f"x\x00{account.email}", "\x00"):
        response = login_response(api, email, account.password)
        assert_not_server_error(response, f"POST /auth/login with email {email!r}")
        assert response.status_code >= 400, f"email {email!r} logged in: {response.status_code}"
    tokens = login_account(api, account)
    for token in (tokens["refresh_token"] + "\x00", "\x00"):
        assert_not_server_error(refresh(api, token), "POST /auth/refresh with a NUL")
