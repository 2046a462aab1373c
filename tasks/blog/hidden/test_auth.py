"""Hidden tests of the blog task: registration, login, tokens and the 401 rules."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt

from blog_support import (
    Account,
    assert_no_password,
    assert_not_server_error,
    author_of,
    create_comment,
    create_post,
    get_post,
    list_comments,
    list_posts,
    login,
    new_email,
    new_password,
    new_token,
    register,
)


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
    expired = {**claims, "iat": now - 7200, "exp": now - 3600}
    if "nbf" in claims:
        expired["nbf"] = now - 7200
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


def test_register_duplicate_email_returns_409(api: httpx.Client) -> None:
    email = new_email()
    register(api, email=email)
    response = api.post(
        "/auth/register",
        json={"email": email, "password": new_password(), "full_name": "Second"},
    )
    assert response.status_code == 409, f"{response.status_code} {response.text[:300]}"


def test_register_invalid_input_returns_422(api: httpx.Client) -> None:
    valid = {"email": new_email(), "password": new_password(), "full_name": "Valid Name"}
    for changes in (
        {"email": "not-an-email"},
        {"password": "short"},
        {"password": "z" * 129},
        {"full_name": ""},
        {"full_name": "n" * 101},
    ):
        response = api.post("/auth/register", json={**valid, **changes})
        assert response.status_code == 422, f"{changes}: {response.status_code}"
    for missing in ("email", "password", "full_name"):
        payload = {key: value for key, value in valid.items() if key != missing}
        response = api.post("/auth/register", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"


def test_login_returns_bearer_token_that_authenticates(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    user = register(api, email=email, password=password, full_name="Log In")
    tokens = login(api, email, password)
    assert str(tokens.get("token_type", "")).lower() == "bearer", tokens
    response = api.post(
        "/posts",
        json={"title": f"Token {new_token()}", "body": "Written with a fresh token"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 201, f"{response.status_code} {response.text[:300]}"
    assert response.json()["author"]["id"] == user["id"]


def test_access_token_is_hs256_with_user_id_subject(
    api: httpx.Client, alice: Account, jwt_secret: str
) -> None:
    header = jwt.get_unverified_header(alice.token)
    assert header.get("alg") == "HS256", f"token header {header}"
    claims = jwt.decode(alice.token, jwt_secret, algorithms=["HS256"])
    assert claims.get("sub") == str(alice.id), f"sub={claims.get('sub')!r}, user id {alice.id}"
    exp = claims.get("exp")
    assert isinstance(exp, int | float), f"exp={exp!r}"
    now = time.time()
    assert now < exp <= now + 3600 + 60, f"exp is {exp - now:.0f}s from now"


def test_login_failures_return_401(api: httpx.Client) -> None:
    email = new_email()
    password = new_password()
    register(api, email=email, password=password)
    wrong = api.post("/auth/login", json={"email": email, "password": password + "x"})
    assert wrong.status_code == 401, f"wrong password: {wrong.status_code}"
    unknown = api.post("/auth/login", json={"email": new_email("nobody"), "password": password})
    assert unknown.status_code == 401, f"unknown email: {unknown.status_code}"
    assert "access_token" not in wrong.text and "access_token" not in unknown.text


def test_create_post_without_valid_token_returns_401(
    api: httpx.Client, alice: Account, jwt_secret: str
) -> None:
    token = new_token()
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
    assert page["total"] == 0, f"posts were created without a valid token: {page}"


def test_changes_without_valid_token_return_401(
    api: httpx.Client, alice: Account, bob: Account, jwt_secret: str
) -> None:
    post = create_post(api, alice, title=f"Guarded {new_token()}", tags=["guarded"])
    comment = create_comment(api, bob, post["id"])
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
    assert stored["title"] == post["title"]
    assert stored["comment_count"] == 1
    assert [item["id"] for item in list_comments(api, post["id"])["items"]] == [comment["id"]]


def test_register_and_login_with_nul_character_are_not_server_errors(api: httpx.Client) -> None:
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
    else:
        register(api, email=email, password=password)
    for login_email in (f"{email}\x00x", f"x\x00{email}", "\x00"):
        response = api.post("/auth/login", json={"email": login_email, "password": password})
        assert_not_server_error(response, f"POST /auth/login with email {login_email!r}")
        assert response.status_code >= 400, f"{login_email!r} logged in: {response.status_code}"
