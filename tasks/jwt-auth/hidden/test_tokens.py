"""Hidden functional tests for jwt-auth: token claims, forged tokens, refresh, /auth/me.

Fixtures come from graders.pytest_plugin: ``api`` (httpx.Client on the app) and
``jwt_secret`` (the JWT_SECRET the app was started with), which lets a test forge tokens
the app must still refuse: expired ones, or ones naming a user that does not exist.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from auth_api import (
    CLOCK_SLACK_S,
    INT32_MAX,
    Account,
    bearer,
    decode_access_token,
    encode_segment,
    expired_claims,
    login_account,
    me,
    parse_timestamp,
    refresh,
    register,
    sign_hs256,
    token_parts,
)

MAX_ACCESS_TTL_S = 60 * 60


@pytest.fixture(scope="module")
def signed_in(api: httpx.Client) -> tuple[Account, dict[str, str]]:
    """One account and its login, shared by tests that only read with its tokens."""
    account = register(api, full_name="Token Holder")
    return account, login_account(api, account)


def assert_refused(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, (
        f"{what}: expected 401, got {response.status_code} {response.text[:300]}"
    )


def test_access_token_is_hs256_with_sub_and_exp(api: httpx.Client, jwt_secret: str) -> None:
    account = register(api)
    before = time.time()
    tokens = login_account(api, account)
    after = time.time()
    claims = decode_access_token(tokens["access_token"], jwt_secret)
    assert claims["sub"] == str(account.id), f"sub={claims['sub']!r}, user id {account.id}"
    exp = float(claims["exp"])
    assert exp > after, f"exp {exp} is not in the future (now {after})"
    assert exp <= before + MAX_ACCESS_TTL_S + CLOCK_SLACK_S, (
        f"access token lives {exp - before:.0f} s, more than 60 minutes"
    )


def test_me_returns_current_user(api: httpx.Client) -> None:
    first = register(api, full_name="First Person")
    second = register(api, full_name="Second Person")
    for account in (first, second):
        response = me(api, login_account(api, account)["access_token"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == account.id
        assert body["email"] == account.email
        assert body["full_name"] == account.full_name
        created = parse_timestamp(body["created_at"])
        assert created.tzinfo is not None, f"created_at={body['created_at']!r} has no offset"
        assert abs(created - datetime.now(UTC)) < timedelta(minutes=10), body["created_at"]


def test_me_without_credentials_returns_401(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    token = signed_in[1]["access_token"]
    assert_refused(api.get("/auth/me"), "no Authorization header")
    for header in (f"Basic {token}", f"Token {token}", token, "Bearer"):
        response = api.get("/auth/me", headers={"Authorization": header})
        assert_refused(response, f"Authorization: {header[:20]!r}...")


def test_me_rejects_malformed_tokens(api: httpx.Client) -> None:
    for token in ("not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 500):
        assert_refused(me(api, token), f"token {token[:20]!r}")


def test_alg_none_token_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    header, claims, _ = token_parts(signed_in[1]["access_token"])
    for alg in ("none", "None", "NONE"):
        forged = f"{encode_segment({**header, 'alg': alg})}.{encode_segment(claims)}."
        assert_refused(me(api, forged), f"alg={alg!r} token with the real claims")


def test_token_signed_with_another_key_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    header, claims, _ = token_parts(signed_in[1]["access_token"])
    forged = sign_hs256(claims, secrets.token_urlsafe(32), header)
    assert_refused(me(api, forged), "token with the real claims signed with another key")


def test_tampered_payload_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    victim = register(api, full_name="Victim")
    token = signed_in[1]["access_token"]
    header_segment, _, signature = token.split(".")
    _, claims, _ = token_parts(token)
    tampered = f"{header_segment}.{encode_segment({**claims, 'sub': str(victim.id)})}.{signature}"
    response = me(api, tampered)
    assert victim.email not in response.text, "a tampered token returned the victim's profile"
    assert_refused(response, "token whose sub was changed after signing")
    stretched = {**claims, "exp": int(time.time()) + 30 * 24 * 3600}
    response = me(api, f"{header_segment}.{encode_segment(stretched)}.{signature}")
    assert_refused(response, "token whose exp was changed after signing")


def test_expired_access_token_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    token = signed_in[1]["access_token"]
    header, claims, _ = token_parts(token)
    decode_access_token(token, jwt_secret)
    for seconds_ago in (900, 7 * 24 * 3600):
        forged = sign_hs256(expired_claims(claims, seconds_ago), jwt_secret, header)
        assert_refused(me(api, forged), f"token expired {seconds_ago} s ago, real secret")


def test_token_for_unknown_user_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    header, claims, _ = token_parts(signed_in[1]["access_token"])
    forged = sign_hs256({**claims, "sub": str(INT32_MAX)}, jwt_secret, header)
    assert_refused(me(api, forged), f"valid token for user {INT32_MAX}, who does not exist")


def test_token_with_malformed_subject_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    account, tokens = signed_in
    header, claims, _ = token_parts(tokens["access_token"])
    for subject in ("abc", "", "-1", "99999999999999999999", f"{account.id} OR 1=1"):
        forged = sign_hs256({**claims, "sub": subject}, jwt_secret, header)
        assert_refused(me(api, forged), f"signed token with sub={subject!r}")
    without_sub = {key: value for key, value in claims.items() if key != "sub"}
    assert_refused(me(api, sign_hs256(without_sub, jwt_secret, header)), "token without sub")


def test_refresh_token_refused_as_access_token(api: httpx.Client) -> None:
    account = register(api)
    tokens = login_account(api, account)
    response = me(api, tokens["refresh_token"])
    assert account.email not in response.text, "the refresh token opened /auth/me"
    assert_refused(response, "refresh token used as a Bearer access token on /auth/me")
    response = api.post(
        "/auth/change-password",
        json={"current_password": account.password, "new_password": "Changed-pass-99"},
        headers=bearer(tokens["refresh_token"]),
    )
    assert_refused(response, "refresh token used as a Bearer access token on change-password")


def test_refresh_returns_working_access_token(api: httpx.Client, jwt_secret: str) -> None:
    account = register(api)
    tokens = login_account(api, account)
    response = refresh(api, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("access_token"), str) and body["access_token"], body
    assert str(body.get("token_type", "")).lower() == "bearer", body
    claims = decode_access_token(body["access_token"], jwt_secret)
    assert claims["sub"] == str(account.id)
    assert float(claims["exp"]) <= time.time() + MAX_ACCESS_TTL_S + CLOCK_SLACK_S
    profile = me(api, body["access_token"])
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == account.id


def test_access_token_refused_at_refresh(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    response = refresh(api, signed_in[1]["access_token"])
    assert "access_token" not in response.text, "an access token was exchanged for a new one"
    assert_refused(response, "access token sent to /auth/refresh")


def test_refresh_rejects_invalid_tokens(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    genuine = signed_in[1]["refresh_token"]
    ending = "A" * 8 if genuine[-8:] != "A" * 8 else "B" * 8
    for token in ("not-a-token", "a.b.c", genuine[:-8] + ending):
        response = refresh(api, token)
        assert "access_token" not in response.text, f"refresh_token {token[:20]!r} accepted"
        assert_refused(response, f"refresh_token {token[:20]!r}")
    missing = api.post("/auth/refresh", json={})
    assert missing.status_code == 422, f"no refresh_token: {missing.status_code}"
