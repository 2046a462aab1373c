"""Helpers shared by the blog task's hidden tests (accounts, posts, comments, pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from harness.graders.testkit import (
    new_email,
    new_password,
    new_token,
)


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    password: str
    full_name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(
    api: httpx.Client,
    *,
    email: str | None = None,
    password: str | None = None,
    full_name: str = "Blog Writer",
) -> dict[str, Any]:
    payload = {
        "email": email or new_email(),
        "password": password or new_password(),
        "full_name": full_name,
    }
    response = api.post("/auth/register", json=payload)
    assert response.status_code == 201, (
        f"POST /auth/register {payload['email']}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"POST /auth/register returned {body!r}, expected a user"
    assert isinstance(body.get("id"), int), f"registered user id is not an int: {body!r}"
    return body


def login(api: httpx.Client, email: str, password: str) -> dict[str, Any]:
    response = api.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, (
        f"POST /auth/login {email}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"POST /auth/login returned {body!r}"
    assert isinstance(body.get("access_token"), str) and body["access_token"], (
        f"login response has no access_token: {body!r}"
    )
    return body


def new_account(api: httpx.Client, full_name: str = "Blog Writer") -> Account:
    email = new_email()
    password = new_password()
    user = register(api, email=email, password=password, full_name=full_name)
    tokens = login(api, email, password)
    return Account(
        id=user["id"],
        email=email,
        password=password,
        full_name=full_name,
        token=tokens["access_token"],
    )


def create_post(
    api: httpx.Client,
    author: Account,
    *,
    title: str | None = None,
    body: str | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": title or f"Post {new_token()}",
        "body": body or f"Body of a post {new_token()}",
    }
    if tags is not None:
        payload["tags"] = tags
    response = api.post("/posts", json=payload, headers=author.headers)
    assert response.status_code == 201, (
        f"POST /posts {payload}: {response.status_code} {response.text[:500]}"
    )
    post = response.json()
    assert isinstance(post, dict), f"POST /posts returned {post!r}, expected a post"
    assert isinstance(post.get("id"), int), f"post id is not an int: {post!r}"
    return post


def patch_post(
    api: httpx.Client, account: Account, post_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    response = api.patch(f"/posts/{post_id}", json=changes, headers=account.headers)
    assert response.status_code == 200, (
        f"PATCH /posts/{post_id} {changes}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"PATCH /posts/{post_id} returned {body!r}"
    return body


def delete_post(api: httpx.Client, account: Account, post_id: int) -> None:
    response = api.delete(f"/posts/{post_id}", headers=account.headers)
    assert response.status_code == 204, (
        f"DELETE /posts/{post_id}: {response.status_code} {response.text[:500]}"
    )


def create_comment(
    api: httpx.Client, author: Account, post_id: int, body: str | None = None
) -> dict[str, Any]:
    payload = {"body": body or f"Comment {new_token()}"}
    response = api.post(f"/posts/{post_id}/comments", json=payload, headers=author.headers)
    assert response.status_code == 201, (
        f"POST /posts/{post_id}/comments: {response.status_code} {response.text[:500]}"
    )
    comment = response.json()
    assert isinstance(comment, dict), f"comment creation returned {comment!r}"
    assert isinstance(comment.get("id"), int), f"comment id is not an int: {comment!r}"
    return comment


def delete_comment(api: httpx.Client, account: Account, comment_id: int) -> None:
    response = api.delete(f"/comments/{comment_id}", headers=account.headers)
    assert response.status_code == 204, (
        f"DELETE /comments/{comment_id}: {response.status_code} {response.text[:500]}"
    )


def get_post(api: httpx.Client, post_id: int) -> dict[str, Any]:
    response = api.get(f"/posts/{post_id}")
    assert response.status_code == 200, (
        f"GET /posts/{post_id}: {response.status_code} {response.text[:500]}"
    )
    post = response.json()
    assert isinstance(post, dict), f"GET /posts/{post_id} returned {post!r}"
    return post


def check_page(response: httpx.Response, what: str) -> dict[str, Any]:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:500]}"
    page = response.json()
    assert isinstance(page, dict), f"{what} returned {page!r}, expected a page object"
    for key in ("items", "total", "limit", "offset"):
        assert key in page, f"{what} page lacks {key!r}: {page!r}"
    assert isinstance(page["items"], list), f"{what}: items is not a list: {page!r}"
    return page


def list_posts(api: httpx.Client, **params: Any) -> dict[str, Any]:
    return check_page(api.get("/posts", params=params), f"GET /posts {params}")


def list_comments(api: httpx.Client, post_id: int, **params: Any) -> dict[str, Any]:
    return check_page(
        api.get(f"/posts/{post_id}/comments", params=params),
        f"GET /posts/{post_id}/comments {params}",
    )


def author_of(item: dict[str, Any]) -> tuple[Any, Any]:
    author = item.get("author")
    assert isinstance(author, dict), f"author is not an object: {item!r}"
    return author.get("id"), author.get("full_name")
