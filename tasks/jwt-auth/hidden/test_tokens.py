"""Hidden tests for jwt-auth: token claims, forged tokens, refresh, /auth/me.

Fixtures come from harness.graders.pytest_plugin: ``api`` (httpx.Client on the app) and
``jwt_secret`` (the JWT_SECRET the app was started with), which lets a test forge tokens
the app must still refuse: expired ones, or ones naming a user that does not exist.

Every test of a refusal first shows that the genuine token is accepted, so an app that
refuses everything passes none of them.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from auth_api import (
    Account,
    assert_me_is,
    assert_refresh_works,
    assert_status,
    change_password,
    encode_segment,
    expired_claims,
    hs256_claims,
    login,
    login_account,
    me,
    refresh,
    register,
    sign_hs256,
    token_parts,
)

from harness.graders.testkit import (
    CLOCK_SLACK_S,
    MAX_ACCESS_TTL_S,
    UNKNOWN_ID,
    decode_access_token,
    new_password,
    parse_timestamp,
)


@pytest.fixture(scope="module")
def signed_in(api: httpx.Client) -> tuple[Account, dict[str, str]]:
    """One account and its login, shared by tests that only read with its tokens."""
    account = register(api, full_name="Token Holder")
    return account, login_account(api, account)


def assert_refused(response: httpx.Response, what: str) -> None:
    assert_status(response, 401, what)


def test_access_token_is_hs256_with_sub_and_exp(api: httpx.Client, jwt_secret: str) -> None:
    """Contract: "A JWT signed with HS256 using the JWT_SECRET environment variable. Its
    sub claim is the user's id as a string, and its exp claim is at most 60 minutes after
    it was issued."."""
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
    """/auth/me "responds with the user the access token belongs to": at least id, email,
    full_name and created_at (ISO 8601 with an offset, set on registration)."""
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


def test_me_without_bearer_token_returns_401(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "A missing header, another scheme, or a token that is malformed ... is a 401"."""
    account, tokens = signed_in
    token = tokens["access_token"]
    assert_me_is(api, token, account, "GET /auth/me with the genuine access token")
    assert_refused(api.get("/auth/me"), "no Authorization header")
    for header in (f"Basic {token}", f"Token {token}", token, "Bearer"):
        response = api.get("/auth/me", headers={"Authorization": header})
        assert_refused(response, f"Authorization: {header[:20]!r}...")


def test_me_rejects_malformed_tokens(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    for token in ("not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 500):
        assert_refused(me(api, token), f"token {token[:20]!r}")


def test_alg_none_token_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "An unsigned alg: none token ... is a 401"."""
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    header, claims, _ = token_parts(tokens["access_token"])
    for alg in ("none", "None", "NONE"):
        forged = f"{encode_segment({**header, 'alg': alg})}.{encode_segment(claims)}."
        assert_refused(me(api, forged), f"alg={alg!r} token with the real claims")


def test_token_signed_with_another_key_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "A token signed with another key ... is a 401"."""
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    header, claims, _ = token_parts(tokens["access_token"])
    forged = sign_hs256(claims, secrets.token_urlsafe(32), header)
    assert_refused(me(api, forged), "token with the real claims signed with another key")


def test_tampered_payload_rejected(
    api: httpx.Client, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "A token whose payload was altered is a 401": here its sub, then its exp."""
    account, tokens = signed_in
    victim = register(api, full_name="Victim")
    token = tokens["access_token"]
    assert_me_is(api, token, account, "the genuine access token")
    header_segment, _, signature = token.split(".")
    _, claims, _ = token_parts(token)
    tampered = f"{header_segment}.{encode_segment({**claims, 'sub': str(victim.id)})}.{signature}"
    assert_refused(me(api, tampered), "token whose sub was changed after signing")
    stretched = {**claims, "exp": int(time.time()) + 30 * 24 * 3600}
    response = me(api, f"{header_segment}.{encode_segment(stretched)}.{signature}")
    assert_refused(response, "token whose exp was changed after signing")


def test_expired_access_token_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "The app accepts only tokens ... that have not expired": the real token re-signed
    with JWT_SECRET and exp in the past is a 401."""
    account, tokens = signed_in
    token = tokens["access_token"]
    header, claims, _ = token_parts(token)
    decode_access_token(token, jwt_secret)
    assert_me_is(api, token, account, "the genuine access token")
    for seconds_ago in (900, 7 * 24 * 3600):
        forged = sign_hs256(expired_claims(claims, seconds_ago), jwt_secret, header)
        assert_refused(me(api, forged), f"token expired {seconds_ago} s ago, real secret")


def test_token_for_unknown_user_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """Contract: "A token that ... names no existing user is a 401"."""
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    header, claims, _ = token_parts(tokens["access_token"])
    forged = sign_hs256({**claims, "sub": str(UNKNOWN_ID)}, jwt_secret, header)
    assert_refused(me(api, forged), f"valid token for user {UNKNOWN_ID}, who does not exist")


def test_token_with_malformed_subject_rejected(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """A signed token whose sub is not a user id (or is missing) "is malformed ... or names
    no existing user": a 401."""
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    header, claims, _ = token_parts(tokens["access_token"])
    for subject in ("abc", "", "-1", f"{account.id} OR 1=1"):
        forged = sign_hs256({**claims, "sub": subject}, jwt_secret, header)
        assert_refused(me(api, forged), f"signed token with sub={subject!r}")
    without_sub = {key: value for key, value in claims.items() if key != "sub"}
    assert_refused(me(api, sign_hs256(without_sub, jwt_secret, header)), "token without sub")


@pytest.mark.robustness
def test_token_with_subject_beyond_int64_is_401(
    api: httpx.Client, jwt_secret: str, signed_in: tuple[Account, dict[str, str]]
) -> None:
    """A signed token whose sub is a number beyond int64 "names no existing user": a 401."""
    account, tokens = signed_in
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    header, claims, _ = token_parts(tokens["access_token"])
    for subject in ("99999999999999999999", str(2**63)):
        forged = sign_hs256({**claims, "sub": subject}, jwt_secret, header)
        assert_refused(me(api, forged), f"signed token with sub={subject!r}")


def test_refresh_token_refused_as_access_token(api: httpx.Client) -> None:
    """Contract: "A refresh token is not accepted where an access token is expected": /auth/me and
    /auth/change-password answer it with a 401, and the password stays unchanged."""
    account = register(api)
    tokens = login_account(api, account)
    assert_me_is(api, tokens["access_token"], account, "the genuine access token")
    assert_refused(me(api, tokens["refresh_token"]), "refresh token as Bearer on /auth/me")
    replacement = new_password()
    response = change_password(api, tokens["refresh_token"], account.password, replacement)
    assert_refused(response, "refresh token as Bearer on /auth/change-password")
    login(api, account.email, account.password)
    response = change_password(api, tokens["access_token"], account.password, replacement)
    assert_status(response, 204, "change-password with the genuine access token")


def test_refresh_returns_working_access_token(api: httpx.Client, jwt_secret: str) -> None:
    """/auth/refresh "responds with {access_token, token_type: bearer}"; the new access token
    follows the access token rules and opens /auth/me."""
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
    assert_me_is(api, body["access_token"], account, "the refreshed access token")


def test_access_token_refused_at_refresh(api: httpx.Client) -> None:
    """Contract: "An access token is not accepted where a refresh token is expected": a 401."""
    account = register(api)
    tokens = login_account(api, account)
    assert_refresh_works(api, tokens["refresh_token"], "the genuine refresh token")
    assert_refused(refresh(api, tokens["access_token"]), "access token sent to /auth/refresh")


def test_refresh_rejects_invalid_tokens(api: httpx.Client) -> None:
    """Contract: "A refresh token that is invalid ... is a 401": made-up strings and a
    genuine refresh token with its last 8 characters changed."""
    account = register(api)
    assert_refresh_works(api, login_account(api, account)["refresh_token"], "genuine token")
    # The altered token is made from a second, never used one, so an app that accepts each
    # refresh token only once cannot refuse it for that instead of its signature.
    genuine = login_account(api, account)["refresh_token"]
    ending = "A" * 8 if genuine[-8:] != "A" * 8 else "B" * 8
    for token in ("not-a-token", "a.b.c", genuine[:-8] + ending):
        assert_refused(refresh(api, token), f"refresh_token {token[:20]!r}")


def test_refresh_without_refresh_token_returns_422(api: httpx.Client) -> None:
    """Contract: "A body without refresh_token is a 422"."""
    account = register(api)
    assert_refresh_works(api, login_account(api, account)["refresh_token"], "genuine token")
    assert_status(api.post("/auth/refresh", json={}), 422, "POST /auth/refresh with {}")


def test_expired_refresh_token_returns_401(api: httpx.Client, jwt_secret: str) -> None:
    """Contract: "A refresh token that is invalid or expired ... is a 401". The refresh
    token's format and lifetime are the app's choice, so this test can only expire one it
    can re-sign: a JWT whose HS256 signature verifies with JWT_SECRET and that carries an
    exp claim. Such a token, re-signed with exp in the past (iat and nbf moved back as
    much), is a 401. Other refresh tokens skip the test."""
    account = register(api)
    used = login_account(api, account)["refresh_token"]
    assert_refresh_works(api, used, "the genuine refresh token")
    # The copies are made from a second, never used token of the same kind, so an app that
    # accepts each refresh token only once cannot refuse them for that instead of expiry.
    token = login_account(api, account)["refresh_token"]
    claims = hs256_claims(token, jwt_secret)
    if claims is None:
        pytest.skip("the refresh token is not a JWT signed HS256 with JWT_SECRET")
    if not isinstance(claims.get("exp"), int | float):
        pytest.skip("the refresh token JWT has no numeric exp claim: its lifetime is not in it")
    header = token_parts(token)[0]
    for seconds_ago in (900, 30 * 24 * 3600):
        forged = sign_hs256(expired_claims(claims, seconds_ago), jwt_secret, header)
        assert_refused(refresh(api, forged), f"refresh token expired {seconds_ago} s ago")
