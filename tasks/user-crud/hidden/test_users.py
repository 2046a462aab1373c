"""Hidden tests for the user-crud task, run from outside the app.

Fixtures come from harness.graders.pytest_plugin: ``api`` (httpx.Client on the app), ``db`` (sync
SQLAlchemy engine on the app's database), ``db_kind``.

Every test creates its own users with unique emails and scopes list queries with a unique
search token, so tests are independent of each other, of their order and of rows left in
the database by earlier runs. Every test of an error path first shows that the success
path of the same endpoint works, so an app that answers everything the same way passes
none of them. Tests marked ``robustness`` send extreme input (NUL bytes, ids and offsets
beyond int32/int64); the others use ordinary values only.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from harness.graders.testkit import (
    UNKNOWN_ID,
    as_text,
    assert_each_query_is_422,
    assert_error_status,
    assert_no_password,
    assert_not_server_error,
    assert_password_not_stored,
    assert_sorted_within_ties,
    assert_validation_detail,
    ids_of,
    new_email,
    new_password,
    new_token,
    parse_timestamp,
    rows_holding,
)


def create_user(
    api: httpx.Client,
    *,
    email: str | None = None,
    full_name: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    payload = {
        "email": email or new_email(),
        "full_name": full_name or "Test User",
        "password": password or new_password(),
    }
    response = api.post("/users", json=payload)
    assert response.status_code == 201, (
        f"POST /users {payload['email']}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"POST /users returned {body!r}, expected a user object"
    assert isinstance(body.get("id"), int), f"user id is not an int: {body!r}"
    return body


def list_users(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/users", params=params)
    assert response.status_code == 200, (
        f"GET /users {params}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"GET /users returned {body!r}, expected a page object"
    for key in ("items", "total", "limit", "offset"):
        assert key in body, f"GET /users page lacks {key!r}: {body!r}"
    assert isinstance(body["items"], list), f"items is not a list: {body!r}"
    return body


def get_user(api: httpx.Client, user_id: int) -> dict[str, Any]:
    response = api.get(f"/users/{user_id}")
    assert response.status_code == 200, (
        f"GET /users/{user_id}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"GET /users/{user_id} returned {body!r}"
    return body


def patch_user(api: httpx.Client, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(f"/users/{user_id}", json=changes)
    assert response.status_code == 200, (
        f"PATCH /users/{user_id} {changes}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"PATCH /users/{user_id} returned {body!r}"
    return body


def same_instant(first: datetime, second: datetime) -> bool:
    """Equal, allowing for a database that keeps timestamps to the second: a value read
    back from such a column may lose (truncate or round away) the fraction the app had in
    memory when it answered."""
    if first == second:
        return True
    if (first.tzinfo is None) != (second.tzinfo is None):
        return False
    whole_seconds = first.microsecond == 0 or second.microsecond == 0
    return whole_seconds and abs(first - second) < timedelta(seconds=1)


def stored_values(db: Engine, email: str) -> dict[str, str | None]:
    """The text columns of the rows holding this email, as `table.column` -> text (None
    for non-text values), from each table where exactly one row holds it (a table with
    several, such as an audit log, is left out)."""
    rows = rows_holding(db, email)
    assert rows, f"no row of any table holds {email!r}"
    tables = [table for table, _row in rows]
    values: dict[str, str | None] = {}
    for table, row in rows:
        if tables.count(table) == 1:
            values.update({f"{table}.{column}": as_text(value) for column, value in row.items()})
    assert values, f"every table holding {email!r} holds it in several rows"
    return values


# --- POST /users -------------------------------------------------------------------


def test_create_user_returns_201_with_fields(api: httpx.Client) -> None:
    email = new_email()
    response = api.post(
        "/users", json={"email": email, "full_name": "Ada Lovelace", "password": new_password()}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool)
    assert body["email"] == email
    assert body["full_name"] == "Ada Lovelace"
    assert body["is_active"] is True, "is_active: default `true`"
    parse_timestamp(body["created_at"])
    parse_timestamp(body["updated_at"])
    fetched = get_user(api, body["id"])
    assert fetched["email"] == email
    assert fetched["full_name"] == "Ada Lovelace"


def test_create_with_is_active_false_returns_and_stores_false(api: httpx.Client) -> None:
    """POST /users body: `{"email", "full_name", "password"}` (all required), optionally
    `"is_active"`."""
    token = new_token()
    response = api.post(
        "/users",
        json={
            "email": f"{token}@example.com",
            "full_name": "Born Inactive",
            "password": new_password(),
            "is_active": False,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["is_active"] is False, f"created with is_active=false, got {body!r}"
    assert get_user(api, body["id"])["is_active"] is False
    page = list_users(api, search=token, is_active="false")
    assert ids_of(page) == [body["id"]], f"is_active=false list: {page}"


def test_password_never_returned(api: httpx.Client) -> None:
    """Passwords are never returned, in any form (neither the plain text nor a hash)."""
    password = new_password()
    email = new_email()
    response = api.post(
        "/users", json={"email": email, "full_name": "Sec Ret", "password": password}
    )
    assert response.status_code == 201, response.text
    assert_no_password(response, password)
    user_id = response.json()["id"]
    assert_no_password(api.get(f"/users/{user_id}"), password)
    assert_no_password(api.get("/users", params={"search": email}), password)
    assert_no_password(api.get("/users"), password)
    renamed = api.patch(f"/users/{user_id}", json={"full_name": "Sec Ret Two"})
    assert renamed.status_code == 200, renamed.text
    assert_no_password(renamed, password)
    new_secret = new_password()
    changed = api.patch(f"/users/{user_id}", json={"password": new_secret})
    assert changed.status_code == 200, changed.text
    assert_no_password(changed, new_secret)


def test_create_duplicate_email_returns_409(api: httpx.Client) -> None:
    """An email that is already registered is a `409` (and no second user appears)."""
    email = new_email()
    create_user(api, email=email, full_name="First")
    response = api.post(
        "/users", json={"email": email, "full_name": "Second", "password": new_password()}
    )
    assert response.status_code == 409, response.text
    page = list_users(api, search=email)
    assert page["total"] == 1
    assert [item["full_name"] for item in page["items"]] == ["First"]


def test_create_invalid_email_returns_422(api: httpx.Client) -> None:
    """email: a valid email address."""
    create_user(api)
    tag = uuid.uuid4().hex[:10]
    for email in (f"plain{tag}", f"missing-at{tag}.example.com", f"{tag}@", f"@{tag}.com"):
        response = api.post(
            "/users", json={"email": email, "full_name": "Bad Email", "password": new_password()}
        )
        assert response.status_code == 422, f"{email!r}: {response.status_code} {response.text}"


def test_create_overlong_email_returns_422(api: httpx.Client) -> None:
    """email: at most 255 characters (here a well-formed address of about 270)."""
    create_user(api)
    email = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + f".{uuid.uuid4().hex[:8]}.com"
    assert len(email) > 255
    response = api.post(
        "/users", json={"email": email, "full_name": "Long Email", "password": new_password()}
    )
    assert response.status_code == 422, f"{response.status_code} {response.text[:300]}"


def test_create_rejects_password_outside_8_to_128(api: httpx.Client) -> None:
    """password: 8 to 128 characters."""
    create_user(api, full_name="Pw Len")
    for password in ("x" * 7, "y" * 129, ""):
        response = api.post(
            "/users", json={"email": new_email(), "full_name": "Pw Len", "password": password}
        )
        assert response.status_code == 422, (
            f"password of {len(password)} chars: {response.status_code} {response.text[:300]}"
        )


def test_create_accepts_password_of_8_and_128(api: httpx.Client) -> None:
    """password: 8 to 128 characters."""
    for password in ("p" * 7 + "8", "q" * 127 + "X"):
        create_user(api, password=password, full_name="Pw Bounds")


def test_create_full_name_length_bounds(api: httpx.Client) -> None:
    """full_name: 1 to 100 characters."""
    body = create_user(api, full_name="m" * 100)
    assert body["full_name"] == "m" * 100
    for full_name in ("", "n" * 101):
        response = api.post(
            "/users",
            json={"email": new_email(), "full_name": full_name, "password": new_password()},
        )
        assert response.status_code == 422, (
            f"full_name of {len(full_name)} chars: {response.status_code} {response.text[:300]}"
        )


def test_create_missing_fields_returns_422(api: httpx.Client) -> None:
    """`{"email", "full_name", "password"}` (all required); a missing field is a `422`."""
    create_user(api, full_name="Miss Ing")
    complete = {"email": new_email(), "full_name": "Miss Ing", "password": new_password()}
    for missing in ("email", "full_name", "password"):
        payload = {key: value for key, value in complete.items() if key != missing}
        response = api.post("/users", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    assert api.post("/users", json={}).status_code == 422


def test_create_malformed_json_returns_422(api: httpx.Client) -> None:
    """JSON request bodies; `422` invalid input."""
    create_user(api)
    malformed = api.post(
        "/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422, f"malformed JSON: {malformed.status_code}"


def test_create_422_body_has_field_level_detail(api: httpx.Client) -> None:
    """`422` invalid input, with FastAPI's field-level error detail format
    (`{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`)."""
    create_user(api)
    response = api.post(
        "/users",
        json={"email": "not-an-email", "full_name": "Bad Email", "password": new_password()},
    )
    assert_validation_detail(response, "email")


# --- GET /users --------------------------------------------------------------------


def test_list_envelope_and_defaults(api: httpx.Client) -> None:
    """`{"items", "total", "limit", "offset"}`; `limit` default 20, `offset` default 0."""
    token = new_token()
    user = create_user(api, email=f"{token}@example.com")
    page = list_users(api, search=token)
    assert page["limit"] == 20
    assert page["offset"] == 0
    assert page["total"] == 1
    assert ids_of(page) == [user["id"]]
    assert page["items"][0]["email"] == user["email"]
    everything = list_users(api)
    assert everything["limit"] == 20
    assert everything["offset"] == 0
    assert isinstance(everything["total"], int) and everything["total"] >= 1
    assert 1 <= len(everything["items"]) <= 20


def test_list_out_of_range_or_non_integer_limit_and_offset_return_422(
    api: httpx.Client,
) -> None:
    """`limit` (integer 1..100) and `offset` (integer >= 0): an out-of-range `limit` or
    `offset` is a `422`, never a `500`; so is a value that is not an integer."""
    create_user(api)
    for limit in (1, 100):
        page = list_users(api, limit=limit)
        assert page["limit"] == limit
        assert 1 <= len(page["items"]) <= limit
    assert_each_query_is_422(api, "/users")


def test_list_422_body_has_field_level_detail(api: httpx.Client) -> None:
    """`422` invalid input, with FastAPI's field-level error detail format."""
    list_users(api, limit=5)
    assert_validation_detail(api.get("/users", params={"limit": 0}), "limit")


def test_list_offset_past_the_end_returns_empty_page(api: httpx.Client) -> None:
    """`total` counts every match of the filters (not just this page) and `limit`/`offset`
    echo the values used."""
    token = new_token()
    user = create_user(api, email=f"{token}@example.com")
    assert ids_of(list_users(api, search=token)) == [user["id"]]
    page = list_users(api, search=token, offset=1_000_000)
    assert page["items"] == [], f"offset=1000000: {page}"
    assert page["offset"] == 1_000_000, f"offset=1000000: {page}"
    assert page["total"] == 1, f"offset=1000000: {page}"


def test_list_pagination_slices_in_default_id_order(api: httpx.Client) -> None:
    """Without `sort`, users are ordered by `id` ascending; `limit`/`offset` page them."""
    token = new_token()
    created = [create_user(api, email=f"{prefix}{token}@example.com") for prefix in "ba"]
    expected = sorted(user["id"] for user in created)
    for offset in (0, 1):
        page = list_users(api, search=token, limit=1, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (2, 1, offset)
        assert ids_of(page) == expected[offset : offset + 1], f"offset={offset}: {page}"
    whole = list_users(api, search=token, limit=5, offset=0)
    assert ids_of(whole) == expected
    beyond = list_users(api, search=token, limit=1, offset=2)
    assert beyond["total"] == 2
    assert beyond["items"] == []


def test_list_filters_by_is_active(api: httpx.Client) -> None:
    """`is_active` (`true`/`false`): only users with that value; `total` applies it too."""
    token = new_token()
    active = create_user(api, email=f"a{token}@example.com")
    inactive = create_user(api, email=f"i{token}@example.com")
    assert patch_user(api, inactive["id"], {"is_active": False})["is_active"] is False
    only_active = list_users(api, search=token, is_active="true")
    assert ids_of(only_active) == [active["id"]]
    assert only_active["total"] == 1
    only_inactive = list_users(api, search=token, is_active="false")
    assert ids_of(only_inactive) == [inactive["id"]]
    assert only_inactive["total"] == 1
    assert only_inactive["items"][0]["is_active"] is False
    both = list_users(api, search=token)
    assert sorted(ids_of(both)) == sorted([active["id"], inactive["id"]])
    assert both["total"] == 2


def test_list_invalid_is_active_returns_422(api: httpx.Client) -> None:
    """`is_active` (`true`/`false`); `422` invalid input."""
    create_user(api)
    list_users(api, is_active="true")
    bad = api.get("/users", params={"is_active": "maybe"})
    assert bad.status_code == 422, f"is_active=maybe: {bad.status_code}"


def test_list_search_matches_email_case_insensitively(api: httpx.Client) -> None:
    """`search`: case-insensitive substring of `email` or `full_name`."""
    token = new_token()
    match = create_user(api, email=f"x.{token}.y@example.com", full_name="Plain Person")
    create_user(api, email=new_email("decoy"), full_name="Plain Person")
    for query in (token.upper(), token, token[2:].upper(), f"{token}.Y@EXAMPLE"):
        page = list_users(api, search=query)
        assert ids_of(page) == [match["id"]], f"search={query!r}: {page}"
        assert page["total"] == 1


def test_list_search_matches_full_name_case_insensitively(api: httpx.Client) -> None:
    """`search`: case-insensitive substring of `email` or `full_name`."""
    token = new_token()
    match = create_user(api, full_name=f"Grace {token.upper()} Hopper")
    create_user(api, full_name="Someone Else")
    for query in (token, token.upper(), f"ace {token}", token.swapcase()):
        page = list_users(api, search=query)
        assert ids_of(page) == [match["id"]], f"search={query!r}: {page}"
        assert page["total"] == 1


def test_list_search_treats_wildcards_literally(api: httpx.Client) -> None:
    """The search text is matched literally (`%` and `_` are not wildcards)."""
    token = new_token()
    literal = create_user(api, full_name=f"{token} 100% real_deal")
    create_user(api, full_name=f"{token} 100x realXdeal")
    for query, expected in (
        (f"{token} 100%", [literal["id"]]),
        (f"{token} 100% real_deal", [literal["id"]]),
        (f"{token} 100_", []),
    ):
        page = list_users(api, search=query)
        assert ids_of(page) == expected, f"search={query!r}: {page}"


def test_list_sort_by_email(api: httpx.Client) -> None:
    """`sort`: `email`, `-email` (`-` means descending)."""
    token = new_token()
    second = create_user(api, email=f"b{token}@example.com")
    first = create_user(api, email=f"a{token}@example.com")
    page = list_users(api, search=token, sort="email")
    assert ids_of(page) == [first["id"], second["id"]]
    assert page["total"] == 2
    page = list_users(api, search=token, sort="-email")
    assert ids_of(page) == [second["id"], first["id"]]


def test_list_sort_by_created_at(api: httpx.Client) -> None:
    """`sort`: `created_at`, `-created_at`. Users created within the same second may tie
    where the database keeps whole seconds; ties may come in either order."""
    token = new_token()
    created = [create_user(api, email=f"{p}{token}@example.com") for p in "ba"]
    for sort, descending in (("created_at", False), ("-created_at", True)):
        page = list_users(api, search=token, sort=sort)
        assert sorted(ids_of(page)) == sorted(user["id"] for user in created), f"sort={sort}"
        assert_sorted_within_ties(
            page["items"],
            lambda item: parse_timestamp(item["created_at"]),
            descending=descending,
            what=f"users listed with sort={sort}",
        )


def test_list_rejects_unknown_sort_with_422(api: httpx.Client) -> None:
    """`sort`: one of `created_at`, `-created_at`, `email`, `-email`; any other value is a
    `422`."""
    create_user(api)
    list_users(api, sort="email")
    for sort in ("bogus", "-bogus", "password", "email; DROP TABLE users"):
        response = api.get("/users", params={"sort": sort})
        assert response.status_code == 422, f"sort={sort!r}: {response.status_code}"


# --- GET /users/{id} ---------------------------------------------------------------


def test_get_user_returns_200(api: httpx.Client) -> None:
    created = create_user(api, full_name="Get Me")
    fetched = get_user(api, created["id"])
    for key in ("id", "email", "full_name", "is_active"):
        assert fetched[key] == created[key], key
    assert same_instant(
        parse_timestamp(fetched["created_at"]), parse_timestamp(created["created_at"])
    ), f"created_at {created['created_at']!r} on create, {fetched['created_at']!r} on GET"


def test_get_unknown_user_returns_404(api: httpx.Client) -> None:
    created = create_user(api)
    get_user(api, created["id"])
    response = api.get(f"/users/{UNKNOWN_ID}")
    assert response.status_code == 404, response.text


# --- PATCH /users/{id} -------------------------------------------------------------


def test_patch_updates_only_given_fields(api: httpx.Client) -> None:
    """Any subset of `email`, `full_name`, `password`, `is_active`; fields not sent are
    left unchanged."""
    user = create_user(api, full_name="Before Name")
    created_at = parse_timestamp(get_user(api, user["id"])["created_at"])
    renamed = patch_user(api, user["id"], {"full_name": "After Name"})
    assert renamed["full_name"] == "After Name"
    assert renamed["email"] == user["email"]
    assert renamed["is_active"] is True
    assert same_instant(parse_timestamp(renamed["created_at"]), created_at), (
        f"created_at moved from {created_at} to {renamed['created_at']!r}"
    )
    deactivated = patch_user(api, user["id"], {"is_active": False})
    assert deactivated["is_active"] is False
    assert deactivated["full_name"] == "After Name"
    email = new_email("moved")
    moved = patch_user(api, user["id"], {"email": email})
    assert moved["email"] == email
    assert moved["full_name"] == "After Name"
    assert moved["is_active"] is False
    stored = get_user(api, user["id"])
    assert (stored["email"], stored["full_name"], stored["is_active"]) == (
        email,
        "After Name",
        False,
    )


def test_patch_moves_updated_at(api: httpx.Client) -> None:
    """`updated_at` moves forward on every successful update. A database may keep whole
    seconds, so when the two values share a second the update is repeated a second later."""
    user = create_user(api)
    before = parse_timestamp(get_user(api, user["id"])["updated_at"])
    after = parse_timestamp(patch_user(api, user["id"], {"full_name": "Changed"})["updated_at"])
    if after <= before and (before.microsecond == 0 or after.microsecond == 0):
        time.sleep(1.05)
        changed = patch_user(api, user["id"], {"full_name": "Changed Again"})
        after = parse_timestamp(changed["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"
    stored = parse_timestamp(get_user(api, user["id"])["updated_at"])
    assert same_instant(stored, after), f"PATCH answered updated_at {after}, GET {stored}"


def test_patch_own_email_is_not_a_conflict(api: httpx.Client) -> None:
    """Keeping the user's own email is not a conflict."""
    user = create_user(api)
    body = patch_user(api, user["id"], {"email": user["email"], "full_name": "Same Email"})
    assert body["email"] == user["email"]
    assert body["full_name"] == "Same Email"


def test_patch_unknown_user_returns_404(api: httpx.Client) -> None:
    user = create_user(api)
    patch_user(api, user["id"], {"full_name": "Somebody"})
    response = api.patch(f"/users/{UNKNOWN_ID}", json={"full_name": "Nobody"})
    assert response.status_code == 404, response.text


def test_patch_duplicate_email_returns_409(api: httpx.Client) -> None:
    """Changing the email to one held by another user is a `409` (nothing changes)."""
    first = create_user(api)
    second = create_user(api)
    patch_user(api, second["id"], {"full_name": "Second User"})
    response = api.patch(f"/users/{second['id']}", json={"email": first["email"]})
    assert response.status_code == 409, response.text
    assert get_user(api, second["id"])["email"] == second["email"]
    assert get_user(api, first["id"])["email"] == first["email"]


def test_patch_invalid_input_returns_422(api: httpx.Client) -> None:
    """The same validation as on create applies (and an invalid PATCH changes nothing)."""
    user = create_user(api, full_name="Before Valid")
    patch_user(api, user["id"], {"full_name": "Valid Name"})
    for changes in (
        {"email": "not-an-email"},
        {"password": "short"},
        {"password": "z" * 129},
        {"full_name": ""},
        {"full_name": "n" * 101},
        {"is_active": "sometimes"},
    ):
        response = api.patch(f"/users/{user['id']}", json=changes)
        assert response.status_code == 422, f"{changes}: {response.status_code} {response.text}"
    stored = get_user(api, user["id"])
    assert (stored["email"], stored["full_name"], stored["is_active"]) == (
        user["email"],
        "Valid Name",
        True,
    )


def test_patch_null_field_returns_422_and_changes_nothing(api: httpx.Client) -> None:
    """`null` is not a valid value for any field (so a `422`, and the field keeps its
    value)."""
    user = create_user(api, full_name="Not Null")
    patch_user(api, user["id"], {"full_name": "Still Not Null"})
    for field in ("email", "full_name", "is_active", "password"):
        response = api.patch(f"/users/{user['id']}", json={field: None})
        assert response.status_code == 422, f"{field}=null: {response.status_code}"
    stored = get_user(api, user["id"])
    assert (stored["email"], stored["full_name"], stored["is_active"]) == (
        user["email"],
        "Still Not Null",
        True,
    )


def test_patch_password_changes_stored_value_only_when_sent(api: httpx.Client, db: Engine) -> None:
    """PATCH takes `password`; fields not sent are left unchanged. The app has no login,
    so the effect is read in the database: the row holding the user's email has a value
    that a PATCH without a password leaves alone and a PATCH with one replaces; and
    ("passwords must be stored safely", request) neither plaintext is stored."""
    old_password = new_password()
    user = create_user(api, password=old_password)
    email = user["email"]
    at_create = stored_values(db, email)
    patch_user(api, user["id"], {"full_name": "Renamed Only"})
    after_rename = stored_values(db, email)
    new_secret = new_password()
    patch_user(api, user["id"], {"password": new_secret})
    after_password = stored_values(db, email)
    assert_password_not_stored(db, email, old_password)
    assert_password_not_stored(db, email, new_secret)
    password_columns = [
        column
        for column, value in at_create.items()
        if value is not None
        and after_rename.get(column) == value
        and after_password.get(column) != value
    ]
    assert password_columns, (
        "no stored value was kept by a PATCH without a password and replaced by a PATCH "
        "with one: the new password did not take effect (or every PATCH rewrites it)"
    )


# --- DELETE /users/{id} ------------------------------------------------------------


def test_delete_user_returns_204_and_user_is_gone(api: httpx.Client) -> None:
    """`204` with no body. Afterwards `GET /users/{id}` (and `PATCH`/`DELETE` of that id)
    is a `404`, and the user no longer appears in lists or in their `total`."""
    token = new_token()
    user = create_user(api, email=f"{token}@example.com")
    assert list_users(api, search=token)["total"] == 1
    response = api.delete(f"/users/{user['id']}")
    assert response.status_code == 204, response.text
    assert api.get(f"/users/{user['id']}").status_code == 404
    page = list_users(api, search=token)
    assert page["items"] == []
    assert page["total"] == 0
    assert api.delete(f"/users/{user['id']}").status_code == 404
    assert api.patch(f"/users/{user['id']}", json={"full_name": "Ghost"}).status_code == 404


def test_delete_unknown_user_returns_404(api: httpx.Client) -> None:
    user = create_user(api)
    assert api.delete(f"/users/{user['id']}").status_code == 204
    response = api.delete(f"/users/{UNKNOWN_ID}")
    assert response.status_code == 404, response.text


# --- storage and timestamps --------------------------------------------------------


def test_password_hashed_at_rest(api: httpx.Client, db: Engine) -> None:
    """The request: "passwords must be stored safely". The plaintext is nowhere in the row
    that holds the user, after create and after a password change."""
    password = new_password()
    user = create_user(api, password=password)
    assert_password_not_stored(db, user["email"], password)
    new_secret = new_password()
    patch_user(api, user["id"], {"password": new_secret})
    assert_password_not_stored(db, user["email"], new_secret)


def test_timestamps_are_iso8601(api: httpx.Client) -> None:
    """Timestamps `created_at` and `updated_at` are ISO 8601 date-time strings."""
    user = create_user(api)
    responses = [user, get_user(api, user["id"])]
    responses.extend(list_users(api, search=user["email"])["items"])
    assert len(responses) == 3, f"the user is not listed by its email: {responses}"
    for body in responses:
        for key in ("created_at", "updated_at"):
            parse_timestamp(body[key])


def test_timestamps_include_utc_offset(api: httpx.Client) -> None:
    """Timestamps are in UTC with an offset (and, read as such, near the present)."""
    user = create_user(api)
    now = datetime.now(UTC)
    responses = [user, get_user(api, user["id"])]
    responses.extend(list_users(api, search=user["email"])["items"])
    for body in responses:
        for key in ("created_at", "updated_at"):
            stamp = parse_timestamp(body[key])
            assert stamp.tzinfo is not None, f"{key}={body[key]!r} has no UTC offset"
            assert abs(stamp - now) < timedelta(minutes=10), f"{key}={body[key]!r}, now {now}"


# --- robustness: extreme input -----------------------------------------------------


@pytest.mark.robustness
def test_list_offset_beyond_int32_is_not_a_server_error(api: httpx.Client) -> None:
    """An offset of 2**31 is a `200` empty page or a `422`, never a `500`."""
    token = new_token()
    create_user(api, email=f"{token}@example.com")
    assert list_users(api, search=token)["total"] == 1
    offset = 2**31
    response = api.get("/users", params={"search": token, "offset": offset})
    assert_error_status(response, 200, 422, what=f"GET /users?offset={offset}")
    if response.status_code == 200:
        page = response.json()
        assert page["items"] == [], f"offset={offset}: {page}"
        assert page["offset"] == offset, f"offset={offset}: {page}"


@pytest.mark.robustness
def test_list_offset_beyond_int64_is_not_a_server_error(api: httpx.Client) -> None:
    """Offsets of 2**63 and 10**30 are a `200` empty page or a `422`, never a `500`."""
    token = new_token()
    create_user(api, email=f"{token}@example.com")
    assert list_users(api, search=token)["total"] == 1
    for offset in (2**63, 10**30):
        response = api.get("/users", params={"search": token, "offset": offset})
        assert_error_status(response, 200, 422, what=f"GET /users?offset={offset}")
        if response.status_code == 200:
            page = response.json()
            assert page["items"] == [], f"offset={offset}: {page}"
            assert page["offset"] == offset, f"offset={offset}: {page}"


@pytest.mark.robustness
def test_get_user_with_id_beyond_int32_is_not_a_server_error(api: httpx.Client) -> None:
    """GET /users/2**31 is a `404` (or a `422`), never a `500`."""
    get_user(api, create_user(api)["id"])
    response = api.get(f"/users/{2**31}")
    assert_error_status(response, 404, 422, what="GET /users/2**31")


@pytest.mark.robustness
def test_get_user_with_id_beyond_int64_is_not_a_server_error(api: httpx.Client) -> None:
    """GET /users/2**63 and /users/10**20 are a `404` (or a `422`), never a `500`."""
    get_user(api, create_user(api)["id"])
    for user_id in (2**63, 10**20):
        response = api.get(f"/users/{user_id}")
        assert_error_status(response, 404, 422, what=f"GET /users/{user_id}")


@pytest.mark.robustness
def test_patch_user_with_id_beyond_int64_is_not_a_server_error(api: httpx.Client) -> None:
    """PATCH /users/2**63 is a `404` (or a `422`), never a `500`."""
    user = create_user(api)
    patch_user(api, user["id"], {"full_name": "Big Id Neighbour"})
    response = api.patch(f"/users/{2**63}", json={"full_name": "Nobody"})
    assert_error_status(response, 404, 422, what="PATCH /users/2**63")


@pytest.mark.robustness
def test_delete_user_with_id_beyond_int64_is_not_a_server_error(api: httpx.Client) -> None:
    """DELETE /users/2**63 is a `404` (or a `422`), never a `500`."""
    user = create_user(api)
    assert api.delete(f"/users/{user['id']}").status_code == 204
    response = api.delete(f"/users/{2**63}")
    assert_error_status(response, 404, 422, what="DELETE /users/2**63")


@pytest.mark.robustness
def test_create_user_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    """A NUL in `full_name` or `email` is rejected (`422`) or stored as sent, never a
    `500`."""
    create_user(api)
    token = new_token()
    for field, value in (
        ("full_name", f"Nul {token}\x00Name"),
        ("email", f"nul{token}\x00a@example.com"),
    ):
        payload = {"email": new_email(), "full_name": "Nul Field", "password": new_password()}
        payload[field] = value
        response = api.post("/users", json=payload)
        assert_not_server_error(response, f"POST /users with a NUL in {field}")
        if response.is_success:
            created = response.json()
            assert created[field] == value, f"{field} came back as {created[field]!r}"
            assert get_user(api, created["id"])[field] == value, f"{field} was not stored as sent"


@pytest.mark.robustness
def test_patch_user_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    """A NUL in `full_name` or `email` is rejected (`422`, nothing changes) or stored as
    sent, never a `500`."""
    token = new_token()
    user = create_user(api, full_name="Before Nul")
    patch_user(api, user["id"], {"full_name": "Before Nul Too"})
    expected_values = {"full_name": "Before Nul Too", "email": user["email"]}
    for field, value in (
        ("full_name", f"Nul {token}\x00Name"),
        ("email", f"nul{token}\x00b@example.com"),
    ):
        response = api.patch(f"/users/{user['id']}", json={field: value})
        assert_not_server_error(response, f"PATCH /users/{{id}} with a NUL in {field}")
        expected = value if response.is_success else expected_values[field]
        assert get_user(api, user["id"])[field] == expected, f"{field} after the PATCH"


@pytest.mark.robustness
def test_list_search_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    """A NUL in `search` is a `422` or a page of literal matches, never a `500`."""
    token = new_token()
    decoy = create_user(api, full_name=f"Decoy {token} Person")
    assert ids_of(list_users(api, search=token)) == [decoy["id"]]
    for search in (f"{token}\x00zz", "\x00"):
        response = api.get("/users", params={"search": search})
        assert_not_server_error(response, f"GET /users?search={search!r}")
        if response.is_success and search != "\x00":
            assert decoy["id"] not in ids_of(response.json()), f"search={search!r}"
