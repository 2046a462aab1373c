"""Hidden tests of the blog task: comments, their order, their count and who may delete them."""

from __future__ import annotations

import time

import httpx
import pytest
from harness.graders.testkit import (
    SECOND_APART_S,
    UNKNOWN_ID,
    assert_each_query_is_422,
    assert_sorted_within_ties,
    assert_validation_detail,
    created_at_of,
    ids_of,
    new_token,
    parse_timestamp,
)

from blog_support import (
    Account,
    author_of,
    create_comment,
    create_post,
    delete_comment,
    get_post,
    list_comments,
    list_posts,
)


def test_create_comment_returns_201_with_fields(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    post = create_post(api, alice)
    response = api.post(
        f"/posts/{post['id']}/comments", json={"body": "Nice post!"}, headers=bob.headers
    )
    assert response.status_code == 201, response.text
    comment = response.json()
    assert isinstance(comment["id"], int) and not isinstance(comment["id"], bool)
    assert comment["body"] == "Nice post!"
    assert comment["post_id"] == post["id"]
    assert author_of(comment) == (bob.id, bob.full_name)
    parse_timestamp(comment["created_at"])
    page = list_comments(api, post["id"])
    assert ids_of(page) == [comment["id"]]
    listed = page["items"][0]
    assert (listed["body"], listed["post_id"]) == ("Nice post!", post["id"])
    assert author_of(listed) == (bob.id, bob.full_name)


def test_create_comment_on_unknown_post_returns_404(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    create_comment(api, bob, create_post(api, alice)["id"])
    response = api.post(
        f"/posts/{UNKNOWN_ID}/comments", json={"body": "Into the void"}, headers=bob.headers
    )
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_create_comment_invalid_body_returns_422(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    """A comment's `body` is a required string of 1 to 5000 characters."""
    post = create_post(api, alice)
    longest = create_comment(api, bob, post["id"], body="C" * 5000)
    assert len(longest["body"]) == 5000
    for payload in ({}, {"body": ""}, {"body": "c" * 5001}, {"body": None}, {"body": 42}):
        response = api.post(f"/posts/{post['id']}/comments", json=payload, headers=bob.headers)
        assert response.status_code == 422, f"{payload}: {response.status_code} {response.text}"
        assert_validation_detail(response)
    assert ids_of(list_comments(api, post["id"])) == [longest["id"]]


def test_list_comments_oldest_first_and_paginated(
    api: httpx.Client, alice: Account, bob: Account, carol: Account
) -> None:
    """Contract: "The post's comments, oldest first (by `created_at`, ...), paginated like every
    list." Two comments are written more than a second after the first two, so they are
    newer even where timestamps are kept to the second; comments with equal `created_at`
    may come in either order."""
    post = create_post(api, alice)
    older = [
        create_comment(api, bob, post["id"], body="Comment number 0"),
        create_comment(api, carol, post["id"], body="Comment number 1"),
    ]
    time.sleep(SECOND_APART_S)
    newer = [
        create_comment(api, alice, post["id"], body="Comment number 2"),
        create_comment(api, bob, post["id"], body="Comment number 3"),
    ]
    written = {
        comment["id"]: (comment["body"], author.id)
        for comment, author in zip([*older, *newer], (bob, carol, alice, bob), strict=True)
    }
    page = list_comments(api, post["id"])
    assert (page["total"], page["limit"], page["offset"]) == (4, 20, 0)
    assert sorted(ids_of(page)) == sorted(written)
    for item in page["items"]:
        assert (item["body"], author_of(item)[0]) == written[item["id"]], item
    assert_sorted_within_ties(page["items"], created_at_of, what="comments")
    older_ids = {comment["id"] for comment in older}
    newer_ids = {comment["id"] for comment in newer}
    assert set(ids_of(page)[:2]) == older_ids, f"not oldest first: {ids_of(page)}"
    for offset, expected in ((0, older_ids), (2, newer_ids)):
        sliced = list_comments(api, post["id"], limit=2, offset=offset)
        assert (sliced["total"], sliced["limit"], sliced["offset"]) == (4, 2, offset)
        assert set(ids_of(sliced)) == expected, f"offset={offset}: {ids_of(sliced)}"
        assert len(sliced["items"]) == 2, f"offset={offset}: {ids_of(sliced)}"
    beyond = list_comments(api, post["id"], limit=2, offset=4)
    assert (beyond["items"], beyond["total"]) == ([], 4)


def test_list_comments_of_unknown_post_returns_404(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    create_comment(api, alice, post["id"])
    assert list_comments(api, post["id"])["total"] == 1
    response = api.get(f"/posts/{UNKNOWN_ID}/comments")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_list_comments_rejects_out_of_range_pagination(api: httpx.Client, alice: Account) -> None:
    """`limit` is an integer 1..100 and `offset` an integer >= 0; out of range is a 422."""
    post = create_post(api, alice)
    comment = create_comment(api, alice, post["id"])
    for limit in (1, 100):
        page = list_comments(api, post["id"], limit=limit)
        assert (page["limit"], ids_of(page)) == (limit, [comment["id"]])
    cases = ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "abc"})
    assert_each_query_is_422(api, f"/posts/{post['id']}/comments", cases)


def test_comment_count_follows_adds_and_deletes(
    api: httpx.Client, alice: Account, bob: Account, carol: Account
) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Counted {token}")
    quiet = create_post(api, alice, title=f"Quiet {token}")

    def counts() -> tuple[int, dict[int, int]]:
        page = list_posts(api, search=token)
        return get_post(api, post["id"])["comment_count"], {
            item["id"]: item["comment_count"] for item in page["items"]
        }

    assert counts() == (0, {post["id"]: 0, quiet["id"]: 0})
    first = create_comment(api, bob, post["id"])
    second = create_comment(api, carol, post["id"])
    create_comment(api, bob, post["id"])
    assert counts() == (3, {post["id"]: 3, quiet["id"]: 0})
    delete_comment(api, bob, first["id"])
    assert counts() == (2, {post["id"]: 2, quiet["id"]: 0})
    delete_comment(api, alice, second["id"])
    assert counts() == (1, {post["id"]: 1, quiet["id"]: 0})
    assert list_comments(api, post["id"])["total"] == 1


def test_comment_author_can_delete_own_comment(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    post = create_post(api, alice)
    keep = create_comment(api, alice, post["id"])
    comment = create_comment(api, bob, post["id"])
    response = api.delete(f"/comments/{comment['id']}", headers=bob.headers)
    assert response.status_code == 204, f"{response.status_code} {response.text}"
    assert not response.content, f"204 with a body: {response.text[:200]}"
    page = list_comments(api, post["id"])
    assert (ids_of(page), page["total"]) == ([keep["id"]], 1)
    again = api.delete(f"/comments/{comment['id']}", headers=bob.headers)
    assert again.status_code == 404, f"second delete: {again.status_code}"


def test_post_author_can_delete_others_comment(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    post = create_post(api, alice)
    comment = create_comment(api, bob, post["id"])
    response = api.delete(f"/comments/{comment['id']}", headers=alice.headers)
    assert response.status_code == 204, f"post author: {response.status_code} {response.text}"
    page = list_comments(api, post["id"])
    assert (page["items"], page["total"]) == ([], 0)
    assert get_post(api, post["id"])["comment_count"] == 0


def test_delete_comment_by_other_user_returns_403(
    api: httpx.Client, alice: Account, bob: Account, carol: Account
) -> None:
    """Neither a bystander (who writes posts of their own) nor another commenter may
    delete a comment: a 403 and the comment stays; its own author still may."""
    post = create_post(api, alice)
    comment = create_comment(api, bob, post["id"])
    create_post(api, carol)
    response = api.delete(f"/comments/{comment['id']}", headers=carol.headers)
    assert response.status_code == 403, f"bystander: {response.status_code} {response.text}"
    own = create_comment(api, carol, post["id"])
    response = api.delete(f"/comments/{own['id']}", headers=bob.headers)
    assert response.status_code == 403, f"another commenter: {response.status_code}"
    page = list_comments(api, post["id"])
    assert sorted(ids_of(page)) == sorted([comment["id"], own["id"]])
    assert get_post(api, post["id"])["comment_count"] == 2
    delete_comment(api, carol, own["id"])
    assert ids_of(list_comments(api, post["id"])) == [comment["id"]]


def test_delete_unknown_comment_returns_404(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    delete_comment(api, alice, create_comment(api, alice, post["id"])["id"])
    response = api.delete(f"/comments/{UNKNOWN_ID}", headers=alice.headers)
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def check_huge_comment_offset(api: httpx.Client, account: Account, offset: int) -> None:
    """A post with one comment lists it; `offset` past it is an empty page or a 422."""
    post = create_post(api, account)
    create_comment(api, account, post["id"])
    assert list_comments(api, post["id"])["total"] == 1
    response = api.get(f"/posts/{post['id']}/comments", params={"offset": offset})
    assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
    if response.status_code == 200:
        assert response.json()["items"] == [], f"offset={offset}: {response.text[:300]}"


@pytest.mark.robustness
def test_list_comments_with_offset_beyond_int32_is_empty_or_422(
    api: httpx.Client, alice: Account
) -> None:
    check_huge_comment_offset(api, alice, 2**31)


@pytest.mark.robustness
def test_list_comments_with_offset_beyond_int64_is_empty_or_422(
    api: httpx.Client, alice: Account
) -> None:
    check_huge_comment_offset(api, alice, 2**63)


@pytest.mark.robustness
def test_delete_comment_with_id_beyond_int64_is_404_or_422(
    api: httpx.Client, alice: Account
) -> None:
    post = create_post(api, alice)
    delete_comment(api, alice, create_comment(api, alice, post["id"])["id"])
    response = api.delete(f"/comments/{2**63}", headers=alice.headers)
    assert response.status_code in (404, 422), f"{response.status_code} {response.text[:300]}"


@pytest.mark.robustness
def test_comments_of_post_with_id_beyond_int64_are_404_or_422(
    api: httpx.Client, alice: Account
) -> None:
    """Listing, and writing, comments of a post id beyond int64 is a 404 or a 422."""
    post = create_post(api, alice)
    create_comment(api, alice, post["id"])
    assert list_comments(api, post["id"])["total"] == 1
    listed = api.get(f"/posts/{2**63}/comments")
    assert listed.status_code in (404, 422), f"GET: {listed.status_code} {listed.text[:300]}"
    written = api.post(f"/posts/{2**63}/comments", json={"body": "Far away"}, headers=alice.headers)
    assert written.status_code in (404, 422), f"POST: {written.status_code} {written.text[:300]}"
