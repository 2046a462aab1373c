"""Hidden tests of the blog task: listing posts (filters, sort, pages) and its query cost."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from harness.graders.statement_counter import StatementCounter
from harness.graders.testkit import (
    SECOND_APART_S,
    assert_each_query_is_422,
    assert_not_server_error,
    assert_sorted_within_ties,
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
    list_posts,
    new_account,
    register,
)

SMALL_PAGE = 3
LARGE_PAGE = 25
STATEMENT_SLACK = 2


def test_list_posts_envelope_and_defaults(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    post = create_post(api, alice, title=f"Envelope {token}")
    page = list_posts(api, search=token)
    assert (page["limit"], page["offset"], page["total"]) == (20, 0, 1)
    assert ids_of(page) == [post["id"]]
    everything = list_posts(api)
    assert (everything["limit"], everything["offset"]) == (20, 0)
    assert isinstance(everything["total"], int) and everything["total"] >= 1
    assert 1 <= len(everything["items"]) <= 20


def test_list_posts_items_are_full_posts(
    api: httpx.Client, alice: Account, bob: Account, carol: Account
) -> None:
    token = new_token()
    post = create_post(
        api, alice, title=f"Full {token}", body="Complete body", tags=[f"y{token}", f"x{token}"]
    )
    create_comment(api, bob, post["id"])
    create_comment(api, carol, post["id"])
    bare = create_post(api, bob, title=f"Bare {token}")
    page = list_posts(api, search=token)
    items = {item["id"]: item for item in page["items"]}
    assert sorted(items) == sorted([post["id"], bare["id"]])
    full = items[post["id"]]
    assert (full["title"], full["body"]) == (f"Full {token}", "Complete body")
    assert sorted(full["tags"]) == [f"x{token}", f"y{token}"]
    assert author_of(full) == (alice.id, alice.full_name)
    assert full["comment_count"] == 2
    parse_timestamp(full["created_at"])
    parse_timestamp(full["updated_at"])
    assert author_of(items[bare["id"]]) == (bob.id, bob.full_name)
    assert (items[bare["id"]]["comment_count"], items[bare["id"]]["tags"]) == (0, [])


def posts_a_second_apart(api: httpx.Client, author: Account, token: str) -> tuple[int, set[int]]:
    """One post, then (more than a second later) two more, all titled with `token`: the
    first is strictly older than the others even where timestamps are kept to the
    second. Returns the oldest post's id and the newer posts' ids."""
    oldest = create_post(api, author, title=f"{token} number 0")
    time.sleep(SECOND_APART_S)
    newer = [create_post(api, author, title=f"{token} number {index}") for index in (1, 2)]
    return oldest["id"], {post["id"] for post in newer}


def check_created_at_order(
    api: httpx.Client, token: str, oldest: int, newer: set[int], **params: Any
) -> None:
    """The page holds the three posts ordered by `created_at` as `sort` says (newest first
    by default); posts with equal `created_at` may come in either order."""
    newest_first = params.get("sort", "-created_at") == "-created_at"
    page = list_posts(api, search=token, **params)
    ids = ids_of(page)
    assert sorted(ids) == sorted({oldest, *newer}), f"{params}: {ids}"
    assert_sorted_within_ties(
        page["items"], created_at_of, descending=newest_first, what=f"posts {params}"
    )
    assert ids.index(oldest) == (2 if newest_first else 0), (
        f"{params}: the oldest post {oldest} is at position {ids.index(oldest)} of {ids}"
    )


def test_list_posts_default_newest_first(api: httpx.Client, alice: Account) -> None:
    """Contract: "the default is newest first"."""
    token = new_token()
    oldest, newer = posts_a_second_apart(api, alice, token)
    check_created_at_order(api, token, oldest, newer)


def test_list_posts_sort_by_created_at(api: httpx.Client, alice: Account) -> None:
    """Contract: "`sort`: `created_at` (oldest first) or `-created_at` (newest first)"."""
    token = new_token()
    oldest, newer = posts_a_second_apart(api, alice, token)
    check_created_at_order(api, token, oldest, newer, sort="created_at")
    check_created_at_order(api, token, oldest, newer, sort="-created_at")


def test_list_posts_rejects_unknown_sort(api: httpx.Client, alice: Account) -> None:
    """Contract: "any other value is a `422`"."""
    token = new_token()
    post = create_post(api, alice, title=f"Sorted {token}")
    for sort in ("created_at", "-created_at"):
        assert ids_of(list_posts(api, search=token, sort=sort)) == [post["id"]]
    for sort in ("bogus", "title", "-id", "created_at; DROP TABLE posts"):
        response = api.get("/posts", params={"sort": sort})
        assert response.status_code == 422, f"sort={sort!r}: {response.status_code}"


def test_list_posts_search_title_and_body_case_insensitively(
    api: httpx.Client, alice: Account
) -> None:
    token = new_token()
    in_title = create_post(api, alice, title=f"About {token.upper()} things", body="Plain")
    in_body = create_post(api, alice, title="Plain title", body=f"Deep inside: {token}Tail")
    create_post(api, alice, title=f"Decoy {token[:-1]}", body=f"decoy {token[1:]}")
    expected = sorted([in_title["id"], in_body["id"]])
    for query in (token, token.upper(), token.swapcase()[:8] + token[8:]):
        page = list_posts(api, search=query)
        assert sorted(ids_of(page)) == expected, f"search={query!r}: {page}"
        assert page["total"] == 2
    title_only = list_posts(api, search=f"about {token}")
    assert ids_of(title_only) == [in_title["id"]]
    body_only = list_posts(api, search=f"{token}tAIL")
    assert ids_of(body_only) == [in_body["id"]]


def test_list_posts_search_is_literal(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    literal = create_post(api, alice, title=f"{token} 100% real_deal")
    create_post(api, alice, title=f"{token} 100x realXdeal")
    for query, expected in (
        (f"{token} 100%", [literal["id"]]),
        (f"{token} 100% real_deal", [literal["id"]]),
        (f"{token} 100_", []),
        (f"{token}%deal", []),
    ):
        page = list_posts(api, search=query)
        assert ids_of(page) == expected, f"search={query!r}: {page}"


def test_list_posts_filter_by_tag_is_exact(api: httpx.Client, alice: Account) -> None:
    token = new_token()
    tag = f"t{token}"
    exact = create_post(api, alice, tags=[tag, "shared"])
    create_post(api, alice, tags=[f"{tag}x"])
    create_post(api, alice, tags=[f"x{tag}", "shared"])
    also = create_post(api, alice, tags=["other", tag])
    page = list_posts(api, tag=tag)
    assert sorted(ids_of(page)) == sorted([exact["id"], also["id"]]), f"tag={tag}: {page}"
    assert page["total"] == 2
    for item in page["items"]:
        assert tag in item["tags"], item
    assert list_posts(api, tag=tag[:-2])["total"] == 0
    assert list_posts(api, tag=f"{tag}x")["total"] == 1


def test_list_posts_filter_by_author_id(api: httpx.Client, alice: Account, bob: Account) -> None:
    author = new_account(api, full_name="Solo Author")
    mine = [create_post(api, author) for _ in range(2)]
    create_post(api, bob)
    page = list_posts(api, author_id=author.id)
    assert sorted(ids_of(page)) == sorted(post["id"] for post in mine)
    assert page["total"] == 2
    assert all(author_of(item) == (author.id, "Solo Author") for item in page["items"])
    silent = register(api, full_name="Silent Reader")
    empty = list_posts(api, author_id=silent["id"])
    assert (empty["items"], empty["total"]) == ([], 0)
    assert api.get("/posts", params={"author_id": "abc"}).status_code == 422


def test_list_posts_filters_combine(api: httpx.Client, alice: Account, bob: Account) -> None:
    token = new_token()
    tag = f"c{token}"
    target = create_post(api, alice, title=f"{token} tagged", tags=[tag])
    untagged = create_post(api, alice, title=f"{token} untagged")
    by_bob = create_post(api, bob, title=f"{token} by bob", tags=[tag])
    create_post(api, alice, title="Unrelated title", tags=[tag])
    combos: list[tuple[dict[str, Any], list[int]]] = [
        ({"search": token, "tag": tag, "author_id": alice.id}, [target["id"]]),
        ({"search": token, "tag": tag}, [target["id"], by_bob["id"]]),
        ({"search": token, "author_id": alice.id}, [target["id"], untagged["id"]]),
        ({"search": token, "author_id": bob.id}, [by_bob["id"]]),
    ]
    for params, expected in combos:
        page = list_posts(api, **params)
        assert sorted(ids_of(page)) == sorted(expected), f"{params}: {page}"
        assert page["total"] == len(expected), f"{params}: total {page['total']}"


def test_list_posts_pagination_slices(api: httpx.Client, alice: Account) -> None:
    """`limit` and `offset` cut a page out of the sorted list, and `total`, `limit` and
    `offset` describe it. Each page is compared with the full list by `created_at`, so
    posts with equal timestamps may trade places between pages; where the listed
    timestamps all differ, the pages must be exact slices."""
    token = new_token()
    created = {create_post(api, alice, title=f"{token} page {index}")["id"] for index in range(5)}
    whole = list_posts(api, search=token, sort="created_at", limit=100)
    assert sorted(ids_of(whole)) == sorted(created)
    assert_sorted_within_ties(whole["items"], created_at_of, what="posts sorted by created_at")
    keys = [created_at_of(item) for item in whole["items"]]
    distinct = len(set(keys)) == len(keys)
    for limit, offset in ((2, 0), (2, 2), (2, 4), (3, 1), (1, 4)):
        page = list_posts(api, search=token, sort="created_at", limit=limit, offset=offset)
        where = f"limit={limit} offset={offset}"
        assert (page["total"], page["limit"], page["offset"]) == (5, limit, offset), where
        assert set(ids_of(page)) <= created, f"{where}: {ids_of(page)}"
        assert [created_at_of(item) for item in page["items"]] == keys[offset : offset + limit], (
            f"{where}: the page is not that slice of the sorted list"
        )
        if distinct:
            assert ids_of(page) == ids_of(whole)[offset : offset + limit], where
    beyond = list_posts(api, search=token, limit=2, offset=5)
    assert (beyond["items"], beyond["total"]) == ([], 5)


def test_list_posts_rejects_out_of_range_pagination(api: httpx.Client, alice: Account) -> None:
    """`limit` is an integer 1..100 and `offset` an integer >= 0; out of range is a 422."""
    create_post(api, alice)
    for limit in (1, 100):
        page = list_posts(api, limit=limit)
        assert page["limit"] == limit
        assert 1 <= len(page["items"]) <= limit
    assert_each_query_is_422(api, "/posts")


def test_list_posts_offset_past_the_end_returns_empty_page(
    api: httpx.Client, alice: Account
) -> None:
    """An `offset` past the last match is an empty page that still counts every match."""
    token = new_token()
    post = create_post(api, alice, title=f"Alone {token}")
    assert ids_of(list_posts(api, search=token)) == [post["id"]]
    for offset in (1, 1_000_000):
        page = list_posts(api, search=token, offset=offset)
        assert (page["items"], page["total"], page["offset"]) == ([], 1, offset), page


def check_huge_post_offset(api: httpx.Client, account: Account, offsets: list[int]) -> None:
    """A post found by its token; `offset` past it is an empty page or a 422."""
    token = new_token()
    post = create_post(api, account, title=f"Far {token}")
    assert ids_of(list_posts(api, search=token)) == [post["id"]]
    for offset in offsets:
        response = api.get("/posts", params={"search": token, "offset": offset})
        assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
        if response.status_code == 200:
            assert response.json()["items"] == [], f"offset={offset}: {response.text[:300]}"


@pytest.mark.robustness
def test_list_posts_with_offset_beyond_int32_is_empty_or_422(
    api: httpx.Client, alice: Account
) -> None:
    check_huge_post_offset(api, alice, [2**31])


@pytest.mark.robustness
def test_list_posts_with_offset_beyond_int64_is_empty_or_422(
    api: httpx.Client, alice: Account
) -> None:
    check_huge_post_offset(api, alice, [2**63, 10**30])


def check_nul_filter(api: httpx.Client, account: Account, name: str) -> None:
    """A NUL in the filter is never a 5xx; when answered, it is matched literally, so a
    post without the NUL is not found by it."""
    token = new_token()
    decoy = create_post(api, account, title=f"Decoy {token}", tags=[token])
    assert ids_of(list_posts(api, **{name: token})) == [decoy["id"]]
    for value in (f"{token}\x00zz", "\x00"):
        response = api.get("/posts", params={name: value})
        assert_not_server_error(response, f"GET /posts?{name}={value!r}")
        if response.is_success and value != "\x00":
            assert decoy["id"] not in ids_of(response.json()), f"{name}={value!r}"


@pytest.mark.robustness
def test_list_posts_with_nul_in_search_is_not_a_server_error(
    api: httpx.Client, alice: Account
) -> None:
    check_nul_filter(api, alice, "search")


@pytest.mark.robustness
def test_list_posts_with_nul_in_tag_is_not_a_server_error(
    api: httpx.Client, alice: Account
) -> None:
    check_nul_filter(api, alice, "tag")


def statements_for(
    api: httpx.Client, counter: StatementCounter, params: dict[str, Any], size: int
) -> int:
    """Statements the app ran for one list request (the fewest of two tries)."""
    costs: list[int] = []
    for _ in range(2):
        before = counter.total()
        page = list_posts(api, **params)
        after = counter.total()
        assert len(page["items"]) == size, f"{params}: {len(page['items'])} items"
        costs.append(after - before)
    return min(costs)


def test_list_posts_statement_count_does_not_grow_with_page_size(
    api: httpx.Client, sql_statements: StatementCounter, writers: list[Account]
) -> None:
    token = new_token()
    posts = []
    for index in range(LARGE_PAGE):
        author = writers[index % len(writers)]
        tags = [f"n{token}", f"n{index % 4}{token}"]
        post = create_post(api, author, title=f"{token} crowded {index}", tags=tags)
        create_comment(api, writers[(index + 1) % len(writers)], post["id"])
        if index % 3 == 0:
            create_comment(api, writers[(index + 2) % len(writers)], post["id"])
        posts.append(post)
    expected_comments = {post["id"]: 2 if index % 3 == 0 else 1 for index, post in enumerate(posts)}
    small = {"search": token, "limit": SMALL_PAGE}
    large = {"search": token, "limit": LARGE_PAGE}
    for params in (small, large):
        page = list_posts(api, **params)
        for item in page["items"]:
            assert item["comment_count"] == expected_comments[item["id"]], item
            assert author_of(item)[0] in {writer.id for writer in writers}, item
            assert f"n{token}" in item["tags"], item
    small_cost = statements_for(api, sql_statements, small, SMALL_PAGE)
    large_cost = statements_for(api, sql_statements, large, LARGE_PAGE)
    assert small_cost >= 1, f"no SQL statement counted for a list request ({small_cost})"
    assert abs(large_cost - small_cost) <= STATEMENT_SLACK, (
        f"listing {SMALL_PAGE} posts ran {small_cost} SQL statements but listing "
        f"{LARGE_PAGE} posts ran {large_cost}: queries grow with the page size (N+1)"
    )
