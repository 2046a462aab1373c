"""Hidden tests of the blog task: creating, reading, updating and deleting posts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from harness.graders.testkit import (
    UNKNOWN_ID,
    assert_no_password,
    assert_not_server_error,
    assert_validation_detail,
    ids_of,
    new_token,
    parse_timestamp,
    rows_holding,
)
from sqlalchemy.engine import Engine

from blog_support import (
    Account,
    author_of,
    create_comment,
    create_post,
    delete_post,
    get_post,
    list_comments,
    list_posts,
    patch_post,
)

# A timestamp in a create response may carry fractions of a second the database then
# rounds away (MySQL/MariaDB DATETIME without fsp): the stored value is within a second.
STORED_PRECISION = timedelta(seconds=1)


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


def test_posts_and_comments_never_show_the_authors_password(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    """Contract: "Passwords are never returned, in any form"; an author is `{id, full_name}`, "never
    the password"."""
    token = new_token()
    created = api.post(
        "/posts", json={"title": f"Safe {token}", "body": "Body"}, headers=alice.headers
    )
    assert created.status_code == 201, f"{created.status_code} {created.text[:300]}"
    post_id = created.json()["id"]
    commented = api.post(f"/posts/{post_id}/comments", json={"body": "Hello"}, headers=bob.headers)
    assert commented.status_code == 201, f"{commented.status_code} {commented.text[:300]}"
    responses = (
        created,
        commented,
        api.get(f"/posts/{post_id}"),
        api.get("/posts", params={"search": token}),
        api.get(f"/posts/{post_id}/comments"),
    )
    for response in responses:
        assert response.status_code in (200, 201), f"{response.request.url}: {response.status_code}"
        assert_no_password(response, alice.password)
        assert_no_password(response, bob.password)


def test_create_post_invalid_title_or_body_returns_422(api: httpx.Client, alice: Account) -> None:
    """`title` 1 to 200 characters, `body` 1 to 10000, both required strings."""
    longest = create_post(api, alice, title="T" * 200, body="B" * 10000)
    assert (len(longest["title"]), len(longest["body"])) == (200, 10000)
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
        assert_validation_detail(response)
    for missing in ("title", "body"):
        payload = {key: value for key, value in valid.items() if key != missing}
        response = api.post("/posts", json=payload, headers=alice.headers)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
        assert_validation_detail(response)
    assert list_posts(api, search=token)["total"] == 0


def test_create_post_invalid_tags_returns_422(api: httpx.Client, alice: Account) -> None:
    """`tags`: a list of strings, at most 10 tags, each 1 to 50 characters."""
    token = new_token()
    tags = [f"{index}{token}".ljust(50, "z") for index in range(10)]
    post = create_post(api, alice, title=f"Max tags {token}", tags=tags)
    assert sorted(post["tags"]) == sorted(tags)
    for bad in (
        "not-a-list",
        [""],
        ["x" * 51],
        [f"t{index}{token}" for index in range(11)],
        [None],
    ):
        response = api.post(
            "/posts",
            json={"title": f"Bad tags {token}", "body": "Body", "tags": bad},
            headers=alice.headers,
        )
        assert response.status_code == 422, f"tags={bad!r}: {response.status_code}"
        assert_validation_detail(response)
    assert list_posts(api, search=f"Bad tags {token}")["total"] == 0


def test_get_post_returns_200(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    created = create_post(api, alice, title=f"Get {token}", body="Readable", tags=[f"g{token}"])
    fetched = get_post(api, created["id"])
    for key in ("id", "title", "body", "comment_count"):
        assert fetched[key] == created[key], key
    assert fetched["tags"] == [f"g{token}"]
    assert author_of(fetched) == (alice.id, alice.full_name)
    for key in ("created_at", "updated_at"):
        gap = abs(parse_timestamp(fetched[key]) - parse_timestamp(created[key]))
        assert gap < STORED_PRECISION, f"{key}: created {created[key]}, read {fetched[key]}"


def test_get_unknown_post_returns_404(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    get_post(api, post["id"])
    response = api.get(f"/posts/{UNKNOWN_ID}")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_patch_post_by_author_updates_given_fields(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Before {token}", body="Old body", tags=[f"o{token}"])
    created_at = get_post(api, post["id"])["created_at"]
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
    assert parse_timestamp(stored["created_at"]) == parse_timestamp(created_at), "created_at moved"
    assert list_posts(api, tag=f"o{token}")["total"] == 0


def test_patch_post_moves_updated_at(api: httpx.Client, alice: Account) -> None:
    """Contract: "`updated_at` moves forward on every successful update", compared on stored values
    (GET); a store that keeps whole seconds gets a second update a second later."""
    post = create_post(api, alice)
    before = parse_timestamp(get_post(api, post["id"])["updated_at"])
    patch_post(api, alice, post["id"], {"title": "Changed"})
    after = parse_timestamp(get_post(api, post["id"])["updated_at"])
    if after == before and before.microsecond == 0:
        time.sleep(1.05)
        patch_post(api, alice, post["id"], {"title": "Changed again"})
        after = parse_timestamp(get_post(api, post["id"])["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"


def test_patch_post_by_other_user_returns_403(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Draft {token}", body="Hands off", tags=[f"h{token}"])
    patch_post(api, alice, post["id"], {"title": f"Mine {token}"})
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
    """PATCH applies the create rules, and `null` is not a valid value for any field."""
    post = create_post(api, alice, title="Draft", body="Valid body", tags=["draft"])
    patch_post(api, alice, post["id"], {"title": "Stays Valid", "tags": ["valid"]})
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
    post = create_post(api, alice)
    patch_post(api, alice, post["id"], {"title": "Known"})
    response = api.patch(f"/posts/{UNKNOWN_ID}", json={"title": "Nobody"}, headers=alice.headers)
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


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
    assert ids_of(list_comments(api, post["id"])) == [comment["id"]]
    delete_post(api, alice, post["id"])


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
    """Contract: "its comments are deleted from the database as well (no comment of a deleted post
    remains stored)": no row of any table keeps their text; other posts' comments stay."""
    token = new_token()
    post = create_post(api, alice, title=f"With comments {token}")
    doomed = [f"First {token} remark", f"Second {token} remark", f"Author {token} reply"]
    for author, body in zip((bob, carol, alice), doomed, strict=True):
        create_comment(api, author, post["id"], body=body)
    other = create_post(api, bob)
    kept = f"Elsewhere {token} stays"
    survivor = create_comment(api, alice, other["id"], body=kept)
    for body in [*doomed, kept]:
        assert rows_holding(db, body), f"comment {body!r} is not stored in any table"
    delete_post(api, alice, post["id"])
    comments = api.get(f"/posts/{post['id']}/comments")
    assert comments.status_code == 404, f"comments of a deleted post: {comments.status_code}"
    for body in doomed:
        remaining = rows_holding(db, body)
        assert not remaining, f"comment {body!r} of the deleted post is still stored: {remaining}"
    assert rows_holding(db, kept), "a comment of another post was deleted too"
    assert ids_of(list_comments(api, other["id"])) == [survivor["id"]]
    assert get_post(api, other["id"])["comment_count"] == 1


def test_delete_unknown_post_returns_404(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    delete_post(api, alice, post["id"])
    response = api.delete(f"/posts/{UNKNOWN_ID}", headers=alice.headers)
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


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


@pytest.mark.robustness
def test_get_post_with_id_beyond_int32_is_404_or_422(api: httpx.Client, alice: Account) -> None:
    get_post(api, create_post(api, alice)["id"])
    response = api.get(f"/posts/{2**31}")
    assert response.status_code in (404, 422), f"{response.status_code} {response.text[:300]}"


@pytest.mark.robustness
def test_get_post_with_id_beyond_int64_is_404_or_422(api: httpx.Client, alice: Account) -> None:
    get_post(api, create_post(api, alice)["id"])
    for post_id in (2**63, 10**20):
        response = api.get(f"/posts/{post_id}")
        assert response.status_code in (404, 422), f"id={post_id}: {response.status_code}"


@pytest.mark.robustness
def test_patch_post_with_id_beyond_int64_is_404_or_422(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    patch_post(api, alice, post["id"], {"title": "Known"})
    response = api.patch(f"/posts/{2**63}", json={"title": "Nobody"}, headers=alice.headers)
    assert response.status_code in (404, 422), f"{response.status_code} {response.text[:300]}"


@pytest.mark.robustness
def test_delete_post_with_id_beyond_int64_is_404_or_422(api: httpx.Client, alice: Account) -> None:
    delete_post(api, alice, create_post(api, alice)["id"])
    response = api.delete(f"/posts/{2**63}", headers=alice.headers)
    assert response.status_code in (404, 422), f"{response.status_code} {response.text[:300]}"


@pytest.mark.robustness
def test_create_post_with_nul_character_is_rejected_or_stored_intact(
    api: httpx.Client, alice: Account
) -> None:
    """A NUL in `title`, `body` or a tag is never a 5xx: the post is refused with a 4xx,
    or created and read back exactly as sent."""
    create_post(api, alice)
    token = new_token()
    for payload in (
        {"title": f"Nul {token}\x00Title", "body": "Plain body"},
        {"title": "Plain title", "body": f"Body {token}\x00with a NUL"},
        {"title": "Plain title", "body": "Plain body", "tags": [f"nul\x00{token}"]},
    ):
        response = api.post("/posts", json=payload, headers=alice.headers)
        assert_not_server_error(response, f"POST /posts {payload}")
        if response.is_success:
            stored = get_post(api, response.json()["id"])
            for field, value in payload.items():
                assert stored[field] == value, f"{field} was stored as {stored[field]!r}"


@pytest.mark.robustness
def test_patch_post_with_nul_character_is_rejected_or_stored_intact(
    api: httpx.Client, alice: Account
) -> None:
    """A NUL in a PATCHed `title`, `body` or tag is never a 5xx: refused with a 4xx and
    the post unchanged, or applied exactly as sent."""
    token = new_token()
    post = create_post(api, alice, title="Before Nul", tags=["plain"])
    post = patch_post(api, alice, post["id"], {"body": "Plain body"})
    for field, value in (
        ("title", f"Nul {token}\x00Title"),
        ("body", f"Body {token}\x00with a NUL"),
        ("tags", [f"nul\x00{token}"]),
    ):
        response = api.patch(f"/posts/{post['id']}", json={field: value}, headers=alice.headers)
        assert_not_server_error(response, f"PATCH /posts/{{id}} with a NUL in {field}")
        expected = value if response.is_success else post[field]
        assert get_post(api, post["id"])[field] == expected, f"{field} after the PATCH"


@pytest.mark.robustness
def test_create_comment_with_nul_character_is_rejected_or_stored_intact(
    api: httpx.Client, alice: Account
) -> None:
    """A NUL in a comment's `body` is never a 5xx: refused with a 4xx and no comment
    stored, or created and listed exactly as sent."""
    post = create_post(api, alice)
    first = create_comment(api, alice, post["id"], body="Plain comment")
    body = f"Body {new_token()}\x00with a NUL"
    response = api.post(f"/posts/{post['id']}/comments", json={"body": body}, headers=alice.headers)
    assert_not_server_error(response, "POST /posts/{id}/comments with a NUL in body")
    page = list_comments(api, post["id"])
    bodies = {item["id"]: item["body"] for item in page["items"]}
    expected = {first["id"]: "Plain comment"}
    if response.is_success:
        expected[response.json()["id"]] = body
    assert bodies == expected, f"comments: {bodies!r}"
