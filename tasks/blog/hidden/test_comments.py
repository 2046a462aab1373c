"""Hidden tests of the blog task: comments, their order, their count and who may delete them."""

from __future__ import annotations

import httpx

from blog_support import (
    INT32_MAX,
    Account,
    author_of,
    create_comment,
    create_post,
    get_post,
    ids_of,
    list_comments,
    list_posts,
    new_token,
    parse_timestamp,
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


def test_create_comment_on_unknown_post_returns_404(api: httpx.Client, bob: Account) -> None:
    response = api.post(
        f"/posts/{INT32_MAX}/comments", json={"body": "Into the void"}, headers=bob.headers
    )
    assert response.status_code == 404, response.text


def test_create_comment_invalid_body_returns_422(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    post = create_post(api, alice)
    for payload in ({}, {"body": ""}, {"body": "c" * 5001}, {"body": None}, {"body": 42}):
        response = api.post(f"/posts/{post['id']}/comments", json=payload, headers=bob.headers)
        assert response.status_code == 422, f"{payload}: {response.status_code} {response.text}"
    assert list_comments(api, post["id"])["total"] == 0
    longest = create_comment(api, bob, post["id"], body="C" * 5000)
    assert len(longest["body"]) == 5000


def test_list_comments_oldest_first_and_paginated(
    api: httpx.Client, alice: Account, bob: Account, carol: Account
) -> None:
    post = create_post(api, alice)
    written = [
        create_comment(api, author, post["id"], body=f"Comment number {index}")
        for index, author in enumerate((bob, carol, alice, bob))
    ]
    expected = [comment["id"] for comment in written]
    page = list_comments(api, post["id"])
    assert (page["total"], page["limit"], page["offset"]) == (4, 20, 0)
    assert ids_of(page) == expected, f"not oldest first: {ids_of(page)} vs {expected}"
    assert [item["body"] for item in page["items"]] == [c["body"] for c in written]
    assert [author_of(item)[0] for item in page["items"]] == [bob.id, carol.id, alice.id, bob.id]
    for offset in (0, 2):
        sliced = list_comments(api, post["id"], limit=2, offset=offset)
        assert (sliced["total"], sliced["limit"], sliced["offset"]) == (4, 2, offset)
        assert ids_of(sliced) == expected[offset : offset + 2], f"offset={offset}"
    beyond = list_comments(api, post["id"], limit=2, offset=4)
    assert (beyond["items"], beyond["total"]) == ([], 4)


def test_list_comments_of_unknown_post_returns_404(api: httpx.Client) -> None:
    response = api.get(f"/posts/{INT32_MAX}/comments")
    assert response.status_code == 404, response.text


def test_list_comments_rejects_out_of_range_pagination(api: httpx.Client, alice: Account) -> None:
    post = create_post(api, alice)
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "abc"}):
        response = api.get(f"/posts/{post['id']}/comments", params=params)
        assert response.status_code == 422, f"{params}: {response.status_code} {response.text}"
    for offset in (2**31, 2**63):
        response = api.get(f"/posts/{post['id']}/comments", params={"offset": offset})
        assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"


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
    assert api.delete(f"/comments/{first['id']}", headers=bob.headers).status_code == 204
    assert counts() == (2, {post["id"]: 2, quiet["id"]: 0})
    assert api.delete(f"/comments/{second['id']}", headers=alice.headers).status_code == 204
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
    post = create_post(api, alice)
    comment = create_comment(api, bob, post["id"])
    create_post(api, carol)
    response = api.delete(f"/comments/{comment['id']}", headers=carol.headers)
    assert response.status_code == 403, f"bystander: {response.status_code} {response.text}"
    own = create_comment(api, carol, post["id"])
    response = api.delete(f"/comments/{own['id']}", headers=bob.headers)
    assert response.status_code == 403, f"another commenter: {response.status_code}"
    page = list_comments(api, post["id"])
    assert ids_of(page) == [comment["id"], own["id"]]
    assert get_post(api, post["id"])["comment_count"] == 2


def test_delete_unknown_comment_returns_404(api: httpx.Client, alice: Account) -> None:
    response = api.delete(f"/comments/{INT32_MAX}", headers=alice.headers)
    assert response.status_code == 404, response.text
    response = api.delete(f"/comments/{2**63}", headers=alice.headers)
    assert response.status_code in (404, 422), response.text
