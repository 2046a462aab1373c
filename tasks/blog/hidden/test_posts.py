"""Hidden tests of the blog task: creating, reading, updating and deleting posts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from blog_support import (
    INT32_MAX,
    Account,
    assert_not_server_error,
    author_of,
    comment_rows_containing,
    create_comment,
    create_post,
    get_post,
    ids_of,
    list_comments,
    list_posts,
    new_token,
    parse_timestamp,
)


def patch_post(
    api: httpx.Client, account: Account, post_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    response = api.patch(f"/posts/{post_id}", json=changes, headers=account.headers)
    assert response.status_code == 200, (
        f"PATCH /posts/{post_id} {changes}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict)
    return body


def test_create_post_returns_201_with_fields(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    tags = [f"a{token}", f"b{token}"]
    response = api.post(
        "/posts",
        json={"title": f"Hello {token}", "body": "First post body", "tags": tags},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    post = response.json()
    assert isinstance(post["id"], int) and not isinstance(post["id"], bool)
    assert post["title"] == f"Hello {token}"
    assert post["body"] == "First post body"
    assert sorted(post["tags"]) == tags
    assert author_of(post) == (alice.id, alice.full_name)
    assert post["comment_count"] == 0
    parse_timestamp(post["created_at"])
    parse_timestamp(post["updated_at"])


def test_create_post_without_tags_has_no_tags(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    assert post["tags"] == []
    assert get_post(api, post["id"])["tags"] == []


def test_create_post_invalid_title_or_body_returns_422(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    valid = {"title": f"Valid {token}", "body": "Valid body"}
    for changes in (
        {"title": ""},
        {"title": "t" * 201},
        {"body": ""},
        {"body": "b" * 10001},
        {"title": None},
        {"title": 12345},
    ):
        response = api.post("/posts", json={**valid, **changes}, headers=alice.headers)
        assert response.status_code == 422, f"{changes}: {response.status_code} {response.text}"
    for missing in ("title", "body"):
        payload = {key: value for key, value in valid.items() if key != missing}
        response = api.post("/posts", json=payload, headers=alice.headers)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    assert list_posts(api, search=token)["total"] == 0
    longest = create_post(api, alice, title="T" * 200, body="B" * 10000)
    assert (len(longest["title"]), len(longest["body"])) == (200, 10000)


def test_create_post_invalid_tags_returns_422(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    for tags in (
        "not-a-list",
        [""],
        ["x" * 51],
        [f"t{index}{token}" for index in range(11)],
        [None],
    ):
        response = api.post(
            "/posts",
            json={"title": f"Tags {token}", "body": "Body", "tags": tags},
            headers=alice.headers,
        )
        assert response.status_code == 422, f"tags={tags!r}: {response.status_code}"
    assert list_posts(api, search=token)["total"] == 0
    tags = [f"{index}{token}".ljust(50, "z") for index in range(10)]
    post = create_post(api, alice, title=f"Max tags {token}", tags=tags)
    assert sorted(post["tags"]) == sorted(tags)


def test_get_post_returns_200(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    created = create_post(api, alice, title=f"Get {token}", body="Readable", tags=[f"g{token}"])
    fetched = get_post(api, created["id"])
    for key in ("id", "title", "body", "comment_count"):
        assert fetched[key] == created[key], key
    assert fetched["tags"] == [f"g{token}"]
    assert author_of(fetched) == (alice.id, alice.full_name)
    assert parse_timestamp(fetched["created_at"]) == parse_timestamp(created["created_at"])
    assert parse_timestamp(fetched["updated_at"]) == parse_timestamp(created["updated_at"])


def test_get_unknown_post_returns_404(api: httpx.Client) -> None:
    response = api.get(f"/posts/{INT32_MAX}")
    assert response.status_code == 404, response.text
    for post_id in (2**31, 2**63, 10**20):
        response = api.get(f"/posts/{post_id}")
        assert response.status_code in (404, 422), f"id={post_id}: {response.status_code}"


def test_patch_post_by_author_updates_given_fields(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Before {token}", body="Old body", tags=[f"o{token}"])
    renamed = patch_post(api, alice, post["id"], {"title": f"After {token}"})
    assert renamed["title"] == f"After {token}"
    assert renamed["body"] == "Old body"
    assert renamed["tags"] == [f"o{token}"]
    assert author_of(renamed) == (alice.id, alice.full_name)
    retagged = patch_post(api, alice, post["id"], {"tags": [f"n{token}", f"m{token}"]})
    assert sorted(retagged["tags"]) == [f"m{token}", f"n{token}"]
    assert retagged["title"] == f"After {token}"
    rewritten = patch_post(api, alice, post["id"], {"body": "New body", "tags": []})
    assert (rewritten["body"], rewritten["tags"]) == ("New body", [])
    stored = get_post(api, post["id"])
    assert (stored["title"], stored["body"], stored["tags"]) == (f"After {token}", "New body", [])
    assert parse_timestamp(stored["created_at"]) == parse_timestamp(post["created_at"])
    assert list_posts(api, tag=f"o{token}")["total"] == 0


def test_patch_post_moves_updated_at(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    before = parse_timestamp(post["updated_at"])
    after = parse_timestamp(patch_post(api, alice, post["id"], {"title": "Changed"})["updated_at"])
    if after == before and before.microsecond == 0:
        time.sleep(1.05)
        again = patch_post(api, alice, post["id"], {"title": "Changed again"})
        after = parse_timestamp(again["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"
    assert parse_timestamp(get_post(api, post["id"])["updated_at"]) == after


def test_patch_post_by_other_user_returns_403(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Mine {token}", body="Hands off", tags=[f"h{token}"])
    for changes in ({"title": f"Stolen {token}"}, {"body": "Defaced"}, {"tags": []}):
        response = api.patch(f"/posts/{post['id']}", json=changes, headers=bob.headers)
        assert response.status_code == 403, f"{changes}: {response.status_code} {response.text}"
    stored = get_post(api, post["id"])
    assert (stored["title"], stored["body"], stored["tags"]) == (
        f"Mine {token}",
        "Hands off",
        [f"h{token}"],
    )
    assert author_of(stored) == (alice.id, alice.full_name)


def test_patch_post_invalid_input_returns_422(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice, title="Stays Valid", body="Valid body", tags=["valid"])
    for changes in (
        {"title": ""},
        {"title": "t" * 201},
        {"body": ""},
        {"body": "b" * 10001},
        {"tags": "not-a-list"},
        {"tags": ["x" * 51]},
        {"title": None},
        {"body": None},
    ):
        response = api.patch(f"/posts/{post['id']}", json=changes, headers=alice.headers)
        assert response.status_code == 422, f"{changes}: {response.status_code} {response.text}"
    stored = get_post(api, post["id"])
    assert (stored["title"], stored["body"], stored["tags"]) == (
        "Stays Valid",
        "Valid body",
        ["valid"],
    )


def test_patch_unknown_post_returns_404(api: httpx.Client, alice: Account) -> None:
    response = api.patch(f"/posts/{INT32_MAX}", json={"title": "Nobody"}, headers=alice.headers)
    assert response.status_code == 404, response.text


def test_delete_post_by_other_user_returns_403(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    post = create_post(api, alice)
    comment = create_comment(api, bob, post["id"])
    response = api.delete(f"/posts/{post['id']}", headers=bob.headers)
    assert response.status_code == 403, f"{response.status_code} {response.text}"
    stored = get_post(api, post["id"])
    assert stored["title"] == post["title"]
    assert stored["comment_count"] == 1
    assert [item["id"] for item in list_comments(api, post["id"])["items"]] == [comment["id"]]


def test_delete_post_returns_204_and_post_is_gone(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Doomed {token}", tags=[f"d{token}"])
    response = api.delete(f"/posts/{post['id']}", headers=alice.headers)
    assert response.status_code == 204, response.text
    assert not response.content, f"204 with a body: {response.text[:200]}"
    assert api.get(f"/posts/{post['id']}").status_code == 404
    page = list_posts(api, search=token)
    assert (page["items"], page["total"]) == ([], 0)
    assert list_posts(api, tag=f"d{token}")["total"] == 0
    assert api.delete(f"/posts/{post['id']}", headers=alice.headers).status_code == 404
    patched = api.patch(f"/posts/{post['id']}", json={"title": "Ghost"}, headers=alice.headers)
    assert patched.status_code == 404


def test_delete_post_removes_its_comments(
    api: httpx.Client, db: Engine, alice: Account, bob: Account, carol: Account
) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"With comments {token}")
    create_comment(api, bob, post["id"], body=f"First {token} remark")
    create_comment(api, carol, post["id"], body=f"Second {token} remark")
    create_comment(api, alice, post["id"], body=f"Author {token} reply")
    other = create_post(api, bob)
    survivor = create_comment(api, alice, other["id"], body=f"Elsewhere {token} stays")
    assert len(comment_rows_containing(db, token)) == 4, "comments are not stored as rows"
    response = api.delete(f"/posts/{post['id']}", headers=alice.headers)
    assert response.status_code == 204, f"{response.status_code} {response.text[:500]}"
    comments = api.get(f"/posts/{post['id']}/comments")
    assert comments.status_code == 404, f"comments of a deleted post: {comments.status_code}"
    remaining = comment_rows_containing(db, token)
    assert [row for row in remaining if f"Elsewhere {token}" not in str(row)] == [], (
        f"comments of the deleted post are still stored: {remaining}"
    )
    assert len(remaining) == 1, f"a comment of another post was deleted too: {remaining}"
    assert ids_of(list_comments(api, other["id"])) == [survivor["id"]]
    assert get_post(api, other["id"])["comment_count"] == 1


def test_delete_unknown_post_returns_404(api: httpx.Client, alice: Account) -> None:
    response = api.delete(f"/posts/{INT32_MAX}", headers=alice.headers)
    assert response.status_code == 404, response.text
    response = api.delete(f"/posts/{2**63}", headers=alice.headers)
    assert response.status_code in (404, 422), response.text


def test_timestamps_include_utc_offset(api: httpx.Client, alice: Account, bob: Account) -> None:
    post = create_post(api, alice)
    comment = create_comment(api, bob, post["id"])
    now = datetime.now(UTC)
    bodies: list[dict[str, Any]] = [post, get_post(api, post["id"])]
    bodies.extend(list_posts(api, search=post["title"])["items"])
    for body in bodies:
        for key in ("created_at", "updated_at"):
            stamp = parse_timestamp(body[key])
            assert stamp.tzinfo is not None, f"post {key}={body[key]!r} has no UTC offset"
            assert abs(stamp - now) < timedelta(minutes=10), f"{key}={body[key]!r}, now {now}"
    for item in [comment, *list_comments(api, post["id"])["items"]]:
        stamp = parse_timestamp(item["created_at"])
        assert stamp.tzinfo is not None, f"comment created_at={item['created_at']!r} is naive"
        assert abs(stamp - now) < timedelta(minutes=10), f"{item['created_at']!r}, now {now}"


def test_post_and_comment_with_nul_character_are_not_server_errors(
    api: httpx.Client, alice: Account
) -> None:
    token = new_token()
    title = f"Nul {token}\x00Title"
    body = f"Body {token}\x00with a NUL"
    for payload in (
        {"title": title, "body": "Plain body"},
        {"title": "Plain title", "body": body},
        {"title": "Plain title", "body": "Plain body", "tags": [f"nul\x00{token}"]},
    ):
        response = api.post("/posts", json=payload, headers=alice.headers)
        assert_not_server_error(response, f"POST /posts {payload}")
        if response.is_success:
            stored = get_post(api, response.json()["id"])
            for field, value in payload.items():
                assert stored[field] == value, f"{field} was stored as {stored[field]!r}"
    post = create_post(api, alice, title="Before Nul", tags=["plain"])
    for field, value in (("title", title), ("body", body), ("tags", [f"nul\x00{token}"])):
        response = api.patch(f"/posts/{post['id']}", json={field: value}, headers=alice.headers)
        assert_not_server_error(response, f"PATCH /posts/{{id}} with a NUL in {field}")
        expected = value if response.is_success else post[field]
        assert get_post(api, post["id"])[field] == expected, f"{field} after the PATCH"
    response = api.post(f"/posts/{post['id']}/comments", json={"body": body}, headers=alice.headers)
    assert_not_server_error(response, "POST /posts/{id}/comments with a NUL in body")
    bodies = [item["body"] for item in list_comments(api, post["id"])["items"]]
    assert bodies == ([body] if response.is_success else []), f"comments: {bodies!r}"
