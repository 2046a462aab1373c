"""Hidden tests for jwt-auth: registration, login, password storage and change.

Fixtures come from harness.graders.pytest_plugin: ``api`` (httpx.Client on the app), ``db`` (sync
SQLAlchemy engine on the app's database). Every test registers its own users.

Every test of an error first shows that the endpoint's success path works, so an app that
answers every request the same way passes none of them. Rows are found by the values they
hold, whatever the app named its tables and columns.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from auth_api import (
    HASH_PREFIXES,
    Account,
    assert_me_is,
    assert_refresh_works,
    assert_status,
    change_password,
    login,
    login_account,
    login_response,
    me,
    refresh,
    register,
    register_response,
    stored_text_values,
    token_parts,
)
from sqlalchemy.engine import Engine

from harness.graders.testkit import (
    as_text,
    assert_no_password,
    assert_password_not_stored,
    new_email,
    new_password,
    parse_timestamp,
    password_leaks,
    rows_holding,
)

PRIVILEGE_MARKERS = ("admin", "superuser", "staff", "role")
FALSE_VALUES = (None, False, 0, "0", "false", "f", "n", "no", "", "user", "member")


def changed_password(api: httpx.Client, account: Account) -> tuple[Account, str]:
    """Changes the account's password once (the success path of change-password) and
    returns the account with its new password and a fresh access token."""
    token = login_account(api, account)["access_token"]
    replacement = new_password()
    response = change_password(api, token, account.password, replacement)
    assert_status(response, 204, "POST /auth/change-password with the right password")
    account.password = replacement
    return account, login_account(api, account)["access_token"]


def test_register_returns_201_with_user_fields(api: httpx.Client) -> None:
    """Contract: "Responds with the new user": at least id, email, full_name and
    created_at (ISO 8601 with an offset, set on registration), and never the password."""
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
    """Contract: "An email that is already registered is a 409"; the first account is left as it was
    (its name and password)."""
    first = register(api, full_name="First Owner")
    response = register_response(api, email=first.email, full_name="Second")
    assert_status(response, 409, "registering the same email again")
    profile = me(api, login_account(api, first)["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["full_name"] == "First Owner"


def test_register_invalid_email_returns_422(api: httpx.Client) -> None:
    """Contract: "email: a valid email address, at most 255 characters"; "a missing or invalid field
    is a 422"."""
    register(api, full_name="Good Email")
    tag = uuid.uuid4().hex[:10]
    long_email = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + f".{tag}.com"
    for email in (f"plain{tag}", f"missing-at{tag}.example.com", f"{tag}@", long_email):
        response = register_response(api, email=email, full_name="Bad Email")
        assert_status(response, 422, f"email {email[:40]!r} ({len(email)} chars)")


def test_register_rejects_password_outside_8_to_128(api: httpx.Client) -> None:
    """Contract: "password: 8 to 128 characters"; "a missing or invalid field is a 422"."""
    register(api, full_name="Pw Len")
    for password in ("x" * 7, "y" * 129, ""):
        response = register_response(api, password=password, full_name="Pw Len")
        assert_status(response, 422, f"password of {len(password)} chars")


def test_register_accepts_password_of_8_and_128(api: httpx.Client) -> None:
    """Contract: "password: 8 to 128 characters": both bounds register and log in."""
    for password in ("p" * 7 + "8", "q" * 127 + "X"):
        account = register(api, password=password, full_name="Pw Bounds")
        assert_me_is(api, login_account(api, account)["access_token"], account, "login")


def test_register_full_name_outside_1_to_100_returns_422(api: httpx.Client) -> None:
    """Contract: "full_name: 1 to 100 characters": 100 registers, 0 and 101 are a 422."""
    account = register(api, full_name="m" * 100)
    assert account.body["full_name"] == "m" * 100
    for full_name in ("", "n" * 101):
        response = register_response(api, full_name=full_name)
        assert_status(response, 422, f"full_name of {len(full_name)} chars")


def test_register_missing_fields_or_malformed_json_returns_422(api: httpx.Client) -> None:
    """Contract: "Body: {email, password, full_name} (all required). A missing or invalid field is a
    422"; a body that is not JSON is invalid input as well."""
    register(api, full_name="Miss Ing")
    complete = {"email": new_email(), "password": new_password(), "full_name": "Miss Ing"}
    for missing in ("email", "password", "full_name"):
        payload = {key: value for key, value in complete.items() if key != missing}
        assert_status(api.post("/auth/register", json=payload), 422, f"without {missing}")
    assert_status(api.post("/auth/register", json={}), 422, "empty body")
    malformed = api.post(
        "/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_status(malformed, 422, "malformed JSON")


def privileges(document: dict[str, Any]) -> dict[str, Any]:
    """The fields or columns whose name speaks of a privilege (admin, staff, role...)."""
    return {
        key: value
        for key, value in document.items()
        if any(marker in key.lower() for marker in PRIVILEGE_MARKERS)
    }


def test_register_ignores_privilege_fields_and_id(api: httpx.Client, db: Engine) -> None:
    """Contract: "Any other field in the body (for example is_admin, role or id) is ignored: it
    neither fails the request nor changes anything about the user that is created." The
    user registered with is_admin, role, id... has the same privilege fields and columns
    as one registered without them, and not the id that was sent."""
    injected_id = random.randint(500_000_000, 900_000_000)
    plain = register(api, full_name="Plain User")
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
    plain_response = me(api, login_account(api, plain)["access_token"])
    assert plain_response.status_code == 200, plain_response.text
    plain_profile = plain_response.json()
    assert profile.json()["id"] == account.id, (account.body, profile.json())
    for where, body, control in (
        ("register response", account.body, plain.body),
        ("/auth/me", profile.json(), plain_profile),
    ):
        assert body["id"] != injected_id, f"{where}: the id sent on register was used"
        assert privileges(body) == privileges(control), (
            f"{where}: {privileges(body)!r} after registering with is_admin, role...; "
            f"{privileges(control)!r} without"
        )
    plain_rows = {table: row for table, row in rows_holding(db, plain.email)}
    for table, row in rows_holding(db, account.email):
        assert injected_id not in row.values(), f"{table}: the id sent on register was stored"
        control = plain_rows.get(table)
        for column, value in privileges(row).items():
            if control is not None and column in control:
                assert value == control[column], (
                    f"{table}.{column} is {value!r} after registering with is_admin, role...; "
                    f"{control[column]!r} without"
                )
            else:
                text = as_text(value)
                stored = text.lower() if text is not None else value
                assert stored in FALSE_VALUES, f"{table}.{column} stored {value!r}"


def test_password_stored_as_bcrypt_or_argon2_hash(api: httpx.Client, db: Engine) -> None:
    """Passwords "are stored only as a bcrypt or argon2 hash, never as plain text":
    registering stores a new bcrypt or argon2 hash (in whichever table) and the plaintext
    nowhere in the user's rows."""
    before = stored_text_values(db)
    password = new_password()
    account = register(api, password=password)
    assert_password_not_stored(db, account.email, password)
    added = stored_text_values(db) - before
    assert all(password not in value for value in added), "the plaintext password is stored"
    hashes = [value for value in added if value.startswith(HASH_PREFIXES)]
    assert hashes, (
        f"registering stored no value that starts like a bcrypt or argon2 hash "
        f"{HASH_PREFIXES}; new values start: {sorted(value[:12] for value in added)}"
    )


def test_password_never_returned(api: httpx.Client) -> None:
    """Contract: "Passwords are never returned, in any form (neither the plain text nor a hash)":
    not by register, login, the access token's claims, /auth/me or refresh."""
    password = new_password()
    account = register(api, password=password)
    leaks = password_leaks(account.body, password)
    assert not leaks, f"register response: {leaks}"
    response = login_response(api, account.email, password)
    assert response.status_code == 200, response.text
    assert_no_password(response, password, "login response")
    tokens = response.json()
    _, claims, _ = token_parts(tokens["access_token"])
    leaks = password_leaks(claims, password)
    assert not leaks, f"access token claims: {leaks}"
    assert_no_password(me(api, tokens["access_token"]), password, "/auth/me")
    refreshed = refresh(api, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert_no_password(refreshed, password, "refresh response")


def test_login_returns_token_pair(api: httpx.Client) -> None:
    """Login "responds with {access_token, refresh_token, token_type: bearer}"; the access
    token opens /auth/me and the refresh token /auth/refresh."""
    account = register(api)
    response = api.post("/auth/login", json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("access_token"), str) and body["access_token"], body
    assert isinstance(body.get("refresh_token"), str) and body["refresh_token"], body
    assert body["access_token"] != body["refresh_token"]
    assert str(body.get("token_type", "")).lower() == "bearer", body
    assert_me_is(api, body["access_token"], account, "the access token from login")
    assert_refresh_works(api, body["refresh_token"], "the refresh token from login")


def test_login_wrong_password_returns_401(api: httpx.Client) -> None:
    account = register(api)
    login(api, account.email, account.password)
    for password in (account.password + "x", account.password.upper()):
        assert_status(login_response(api, account.email, password), 401, "a wrong password")


def test_login_unknown_email_returns_401(api: httpx.Client) -> None:
    account = register(api)
    login(api, account.email, account.password)
    response = login_response(api, new_email("nobody"), account.password)
    assert_status(response, 401, "an email that has no account")


def test_login_failure_identical_for_unknown_email_and_wrong_password(
    api: httpx.Client,
) -> None:
    """Contract: "A wrong password and an email that has no account are both a 401 with exactly the
    same response body"."""
    account = register(api)
    login(api, account.email, account.password)
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
    """Contract: "A body missing either field is a 422"."""
    account = register(api)
    login(api, account.email, account.password)
    for payload in ({"email": account.email}, {"password": account.password}, {}):
        response = api.post("/auth/login", json=payload)
        assert_status(response, 422, f"login body with only {sorted(payload)}")


def test_change_password_old_stops_working_new_works(api: httpx.Client) -> None:
    """Contract: "204 with no body on success ... After a successful change, logging in with the old
    password is a 401 and logging in with the new one succeeds"."""
    account = register(api)
    token = login_account(api, account)["access_token"]
    replacement = new_password()
    response = change_password(api, token, account.password, replacement)
    assert response.status_code == 204, f"{response.status_code} {response.text[:300]}"
    assert not response.content, f"204 with a body: {response.text[:200]!r}"
    old = login_response(api, account.email, account.password)
    assert old.status_code == 401, f"old password still logs in: {old.status_code}"
    tokens = login(api, account.email, replacement)
    assert_me_is(api, tokens["access_token"], account, "a login with the new password")


def test_change_password_wrong_current_password_returns_401(api: httpx.Client) -> None:
    """Contract: "A wrong current_password is a 401 and the password stays unchanged"."""
    account, token = changed_password(api, register(api))
    replacement = new_password()
    response = change_password(api, token, "Not-the-password-1", replacement)
    assert_status(response, 401, "change-password with a wrong current_password")
    assert login_response(api, account.email, replacement).status_code == 401, (
        "the new password works although the current password was wrong"
    )
    login(api, account.email, account.password)


def test_change_password_without_valid_token_returns_401(api: httpx.Client) -> None:
    """Contract: "Without a valid access token it is a 401" (and nothing changes)."""
    account, _ = changed_password(api, register(api))
    replacement = new_password()
    for token in (None, "not-a-token", "a.b.c"):
        response = change_password(api, token, account.password, replacement)
        assert_status(response, 401, f"change-password with token {token!r}")
    assert login_response(api, account.email, replacement).status_code == 401
    login(api, account.email, account.password)


def test_change_password_invalid_body_returns_422(api: httpx.Client) -> None:
    """Contract: "new_password follows the password rules (8 to 128 characters) ... an invalid
    new_password is a 422 and the password stays unchanged"; both fields are required."""
    account, token = changed_password(api, register(api))
    for replacement in ("short12", "z" * 129, ""):
        response = change_password(api, token, account.password, replacement)
        assert_status(response, 422, f"new_password of {len(replacement)} chars")
    for payload in ({"current_password": account.password}, {"new_password": new_password()}):
        response = api.post(
            "/auth/change-password", json=payload, headers={"Authorization": f"Bearer {token}"}
        )
        assert_status(response, 422, f"change-password body with only {sorted(payload)}")
    login(api, account.email, account.password)


@pytest.mark.robustness
def test_register_with_nul_in_full_name_is_not_a_server_error(api: httpx.Client) -> None:
    """A full_name holding a NUL character is refused or accepted, never a 5xx; when
    accepted, the account works and /auth/me shows the name register answered with."""
    register(api, full_name="No Nul")
    name = f"Nul {uuid.uuid4().hex[:12]}\x00Name"
    email, password = new_email("nul"), new_password()
    response = register_response(api, email=email, password=password, full_name=name)
    assert response.status_code < 500, f"{response.status_code} {response.text[:300]}"
    if response.is_success:
        profile = me(api, login(api, email, password)["access_token"])
        assert profile.status_code == 200, profile.text
        assert profile.json()["full_name"] == response.json()["full_name"], profile.json()


@pytest.mark.robustness
def test_register_with_nul_in_email_returns_422(api: httpx.Client) -> None:
    """An email holding a NUL character is not "a valid email address": a 422."""
    register(api, full_name="No Nul")
    tag = uuid.uuid4().hex[:12]
    for email in (f"nul{tag}\x00@example.com", f"nul{tag}@exam\x00ple.com"):
        response = register_response(api, email=email, full_name="Nul Email")
        assert_status(response, 422, f"register with email {email!r}")


@pytest.mark.robustness
def test_login_with_nul_in_email_is_401_or_422(api: httpx.Client) -> None:
    """No account has an email holding a NUL character, so logging in with one is a 401
    (or a 422 for an invalid field), never a 5xx nor a login."""
    account = register(api, full_name="Nul Login")
    login_account(api, account)
    for email in (f"{account.email}\x00x", f"x\x00{account.email}", "\x00"):
        response = login_response(api, email, account.password)
        assert response.status_code in (401, 422), (
            f"login with email {email!r}: {response.status_code} {response.text[:300]}"
        )


@pytest.mark.robustness
def test_refresh_with_nul_in_token_is_401_or_422(api: httpx.Client) -> None:
    """A refresh token holding a NUL character is invalid: a 401 (or a 422), never a 5xx."""
    account = register(api, full_name="Nul Refresh")
    tokens = login_account(api, account)
    assert_refresh_works(api, tokens["refresh_token"], "the genuine refresh token")
    fresh = login_account(api, account)["refresh_token"]
    for token in (fresh + "\x00", "\x00", fresh[:10] + "\x00" + fresh[10:]):
        response = refresh(api, token)
        assert response.status_code in (401, 422), (
            f"refresh_token {token[:20]!r}: {response.status_code} {response.text[:300]}"
        )
