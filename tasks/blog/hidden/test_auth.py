"""Hidden tests of the blog task: registration, login, tokens and the 401 rules."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from blog_support import (
    Account,
    author_of,
    create_comment,
    create_post,
    delete_comment,
    delete_post,
    get_post,
    list_comments,
    list_posts,
    login,
    patch_post,
    register,
)
from harness.graders.testkit import (
    CLOCK_SLACK_S,
    MAX_ACCESS_TTL_S,
    assert_no_password,
    assert_not_server_error,
    assert_password_not_stored,
    assert_validation_detail,
    decode_access_token,
    new_email,
    new_password,
    new_token,
)
from sqlalchemy.engine import Engine


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_claims(token: str) -> dict[str, Any]:
    claims = jwt.decode(token, options={"verify_signature": False})
    assert isinstance(claims, dict)
    return claims


def unsigned_token(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}."


def bad_authorizations(account: Account, jwt_secret: str) -> dict[str, dict[str, str]]:
    """Authorization headers that must all be refused, built from a real access token."""
    claims = unverified_claims(account.token)
    now = int(time.time())
    expired = {**claims, "exp": now - 3600}
    for claim in ("iat", "nbf"):
        if claim in claims:
            expired[claim] = now - 7200
    basic = base64.b64encode(f"{account.email}:{account.password}".encode()).decode()
    head, payload, signature = account.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer"},
        "garbage token": {"Authorization": "Bearer not-a-jwt"},
        "basic scheme": {"Authorization": f"Basic {basic}"},
        "token without scheme": {"Authorization": account.token},
        "tampered signature": {"Authorization": f"Bearer {head}.{payload}.{flipped}"},
        "signed with another key": {
            "Authorization": "Bearer "
            + jwt.encode(claims, "another-secret-" + uuid.uuid4().hex, algorithm="HS256")
        },
        "alg none": {"Authorization": f"Bearer {unsigned_token(claims)}"},
        "expired": {
            "Authorization": "Bearer " + jwt.encode(expired, jwt_secret, algorithm="HS256")
        },
    }


def test_register_returns_201_user_without_password(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    response = api.post(
        "/auth/register",
        json={"email": email, "password": password, "full_name": "Reg Istered"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool)
    assert body["email"] == email
    assert body["full_name"] == "Reg Istered"
    assert_no_password(response, password)


def test_register_does_not_store_the_plaintext_password(api: httpx.Client, db: Engine) -> None:
    """Contract: "Passwords ... are stored hashed (bcrypt or argon2)": the rows holding the new
    user's email keep the password nowhere in plain text."""
    email = new_email()
    password = new_password()
    register(api, email=email, password=password, full_name="Hashed Keeper")
    login(api, email, password)
    assert_password_not_stored(db, email, password)


def test_register_duplicate_email_returns_409(api: httpx.Client) -> None:
    email = new_email()
    register(api, email=email)
    response = api.post(
        "/auth/register",
        json={"email": email, "password": new_password(), "full_name": "Second"},
    )
    assert response.status_code == 409, f"{response.status_code} {response.text[:300]}"


def test_register_invalid_input_returns_422(api: httpx.Client) -> None:
    """`email` a valid address, `password` 8 to 128 characters, `full_name` 1 to 100
    characters, all required; invalid input is a 422 in FastAPI's field-level format."""
    valid = {"email": new_email(), "password": new_password(), "full_name": "Valid Name"}
    register(api, **valid)
    for changes in (
        {"email": "not-an-email"},
        {"password": "short"},
        {"password": "z" * 129},
        {"full_name": ""},
        {"full_name": "n" * 101},
    ):
        response = api.post("/auth/register", json={**valid, "email": new_email(), **changes})
        assert response.status_code == 422, f"{changes}: {response.status_code}"
        assert_validation_detail(response)
    for missing in ("email", "password", "full_name"):
        payload = {**valid, "email": new_email()}
        del payload[missing]
        response = api.post("/auth/register", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
        assert_validation_detail(response)


def test_login_access_token_authenticates_the_user(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    user = register(api, email=email, password=password, full_name="Log In")
    tokens = login(api, email, password)
    response = api.post(
        "/posts",
        json={"title": f"Token {new_token()}", "body": "Written with a fresh token"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 201, f"{response.status_code} {response.text[:300]}"
    assert author_of(response.json())[0] == user["id"]


def test_login_returns_refresh_token_and_bearer_token_type(api: httpx.Client) -> None:
    """Login "returns `{"access_token": <str>, "refresh_token": <str>, "token_type":
    "bearer"}`" (the token type compared case-insensitively, as OAuth 2 defines it)."""
    email = new_email()
    password = new_password()
    register(api, email=email, password=password)
    tokens = login(api, email, password)
    refresh = tokens.get("refresh_token")
    assert isinstance(refresh, str) and refresh, f"no refresh_token in {tokens!r}"
    assert refresh != tokens["access_token"], "the refresh token is the access token"
    token_type = tokens.get("token_type")
    assert isinstance(token_type, str) and token_type.lower() == "bearer", tokens


def test_access_token_is_hs256_with_user_id_subject_and_exp_within_60_minutes(
    api: httpx.Client, jwt_secret: str
) -> None:
    """Contract: "The access token is a JWT signed with HS256 using the JWT_SECRET environment
    variable, with `sub` = the user's id as a string and `exp` at most 60 minutes after
    issue." Other claims are free."""
    email = new_email()
    password = new_password()
    user = register(api, email=email, password=password)
    before = time.time()
    token = login(api, email, password)["access_token"]
    claims = decode_access_token(token, jwt_secret)
    assert claims.get("sub") == str(user["id"]), f"sub={claims.get('sub')!r}, id {user['id']}"
    exp = claims.get("exp")
    assert isinstance(exp, int | float) and not isinstance(exp, bool), f"exp={exp!r}"
    assert exp > time.time(), f"the new token has already expired (exp={exp})"
    assert exp <= before + MAX_ACCESS_TTL_S + CLOCK_SLACK_S, (
        f"exp is {exp - before:.0f}s after login, more than 60 minutes"
    )


def test_login_with_wrong_password_or_unknown_email_returns_401(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    register(api, email=email, password=password)
    login(api, email, password)
    wrong = api.post("/auth/login", json={"email": email, "password": password + "x"})
    assert wrong.status_code == 401, f"wrong password: {wrong.status_code}"
    unknown = api.post("/auth/login", json={"email": new_email("nobody"), "password": password})
    assert unknown.status_code == 401, f"unknown email: {unknown.status_code}"


def test_create_post_without_valid_token_returns_401(
    api: httpx.Client, alice: Account, jwt_secret: str
) -> None:
    """A missing header, another scheme, a malformed token, a bad signature, an expired
    token or a refresh token is a 401; nothing is created."""
    token = new_token()
    create_post(api, alice, title=f"{token} genuine")
    attempts = bad_authorizations(alice, jwt_secret)
    refresh = login(api, alice.email, alice.password).get("refresh_token")
    if isinstance(refresh, str) and refresh:
        attempts["refresh token"] = {"Authorization": f"Bearer {refresh}"}
    for label, headers in attempts.items():
        response = api.post(
            "/posts",
            json={"title": f"{token} {label}", "body": "Should never be stored"},
            headers=headers,
        )
        assert response.status_code == 401, f"{label}: {response.status_code} {response.text}"
    page = list_posts(api, search=token)
    assert page["total"] == 1, f"posts were created without a valid token: {page}"


def test_changes_without_valid_token_return_401(
    api: httpx.Client, alice: Account, bob: Account, jwt_secret: str
) -> None:
    """PATCH and DELETE of a post, POST of a comment and DELETE of a comment refuse a
    missing, malformed, wrongly signed or expired token with a 401 and change nothing;
    the same requests with the owners' valid tokens succeed."""
    post = create_post(api, alice, title=f"Guarded {new_token()}", tags=["guarded"])
    comment = create_comment(api, bob, post["id"])
    title = f"Guarded and renamed {new_token()}"
    patch_post(api, alice, post["id"], {"title": title})
    attempts = bad_authorizations(alice, jwt_secret)
    for label in ("no header", "garbage token", "signed with another key", "expired"):
        headers = attempts[label]
        checks = (
            (
                "PATCH post",
                api.patch(f"/posts/{post['id']}", json={"title": "Hacked"}, headers=headers),
            ),
            ("DELETE post", api.delete(f"/posts/{post['id']}", headers=headers)),
            (
                "POST comment",
                api.post(f"/posts/{post['id']}/comments", json={"body": "x"}, headers=headers),
            ),
            ("DELETE comment", api.delete(f"/comments/{comment['id']}", headers=headers)),
        )
        for action, response in checks:
            assert response.status_code == 401, f"{action} with {label}: {response.status_code}"
    stored = get_post(api, post["id"])
    assert stored["title"] == title
    assert stored["comment_count"] == 1
    assert [item["id"] for item in list_comments(api, post["id"])["items"]] == [comment["id"]]
    delete_comment(api, bob, comment["id"])
    delete_post(api, alice, post["id"])


@pytest.mark.robustness
def test_register_with_nul_in_full_name_is_rejected_or_stored_intact(api: httpx.Client) -> None:
    """A NUL character in `full_name` is never a 5xx: either the registration is refused
    with a 4xx, or it succeeds and the name is kept exactly as sent."""
    register(api)
    email = new_email()
    password = new_password()
    full_name = f"Nul {new_token()}\x00Writer"
    response = api.post(
        "/auth/register", json={"email": email, "password": password, "full_name": full_name}
    )
    assert_not_server_error(response, "POST /auth/register with a NUL in full_name")
    if response.is_success:
        assert response.json()["full_name"] == full_name, response.json()
        token = login(api, email, password)["access_token"]
        account = Account(response.json()["id"], email, password, full_name, token)
        assert author_of(create_post(api, account))[1] == full_name, "full_name not stored as sent"


@pytest.mark.robustness
def test_login_with_nul_in_email_is_refused_without_server_error(api: httpx.Client) -> None:
    """An email with a NUL character matches no account: a 4xx, never a 5xx."""
    email = new_email()
    password = new_password()
    register(api, email=email, password=password)
    login(api, email, password)
    for login_email in (f"{email}\x00x", f"x\x00{email}", "\x00"):
        response = api.post("/auth/login", json={"email": login_email, "password": password})
        assert_not_server_error(response, f"POST /auth/login with email {login_email!r}")
        assert response.status_code >= 400, f"{login_email!r} logged in: {response.status_code}"
