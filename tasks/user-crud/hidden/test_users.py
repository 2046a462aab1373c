"""Hidden functional tests for the user-crud task, run from outside the app.

Fixtures come from graders.pytest_plugin: ``api`` (httpx.Client on the app), ``db`` (sync
SQLAlchemy engine on the app's database), ``db_kind``.

Every test creates its own users with unique emails and scopes list queries with a unique
search token, so tests are independent of each other, of their order and of rows left in
the database by earlier runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

INT32_MAX = 2147483647
HASH_PREFIXES = ("$argon2", "$2a$", "$2b$", "$2y$", "$pbkdf2", "pbkdf2", "$scrypt", "scrypt:")


def new_token() -> str:
    return "tk" + uuid.uuid4().hex[:12]


def new_password() -> str:
    return "Pw-" + uuid.uuid4().hex[:13]


def new_email(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}@example.com"


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


def ids_of(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


def get_user(api: httpx.Client, user_id: int) -> dict[str, Any]:
    response = api.get(f"/users/{user_id}")
    assert response.status_code == 200, (
        f"GET /users/{user_id}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict)
    return body


def patch_user(api: httpx.Client, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(f"/users/{user_id}", json=changes)
    assert response.status_code == 200, (
        f"PATCH /users/{user_id} {changes}: {response.status_code} {response.text[:500]}"
    )
    body = response.json()
    assert isinstance(body, dict)
    return body


def parse_timestamp(value: Any) -> datetime:
    assert isinstance(value, str), f"timestamp {value!r} is not a string"
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise AssertionError(f"timestamp {value!r} is not ISO 8601") from exc


def walk_json(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from walk_json(item)
    elif isinstance(value, list):
        for item in value:
            yield None, item
            yield from walk_json(item)


def assert_no_password(response: httpx.Response, plaintext: str) -> None:
    assert plaintext not in response.text, "the plaintext password appears in the response"
    if not response.content:
        return
    for key, value in walk_json(response.json()):
        if key is not None:
            assert "password" not in key.lower(), f"response exposes a password field {key!r}"
        if isinstance(value, str):
            assert not value.startswith(HASH_PREFIXES), f"response exposes a hash {value!r}"


def user_rows(db: Engine, email: str) -> list[dict[str, Any]]:
    """Rows of the user tables (any table whose name contains "user") holding this email."""
    inspector = sa.inspect(db)
    tables = [name for name in inspector.get_table_names() if "user" in name.lower()]
    assert tables, f"no table whose name contains 'user' among {inspector.get_table_names()}"
    quote = db.dialect.identifier_preparer.quote
    found: list[dict[str, Any]] = []
    with db.connect() as connection:
        for table in tables:
            rows = connection.execute(sa.text(f"SELECT * FROM {quote(table)}")).mappings()
            for row in rows:
                values = [v for v in row.values() if isinstance(v, str)]
                if any(v.strip().lower() == email.lower() for v in values):
                    found.append(dict(row))
    assert found, f"no row holding {email!r} found in tables {tables}"
    return found


def assert_not_stored(rows: list[dict[str, Any]], plaintext: str) -> None:
    for row in rows:
        for column, value in row.items():
            if isinstance(value, memoryview):
                value = value.tobytes()
            if isinstance(value, bytes):
                assert plaintext.encode() not in value, f"column {column!r} holds the plaintext"
            elif isinstance(value, str):
                assert value != plaintext, f"column {column!r} stores the plaintext password"
                assert plaintext not in value, f"column {column!r} contains the plaintext password"


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
    assert body["is_active"] is True
    parse_timestamp(body["created_at"])
    parse_timestamp(body["updated_at"])
    fetched = get_user(api, body["id"])
    assert fetched["email"] == email
    assert fetched["full_name"] == "Ada Lovelace"


def test_password_never_returned(api: httpx.Client) -> None:
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
    tag = uuid.uuid4().hex[:10]
    for email in (f"plain{tag}", f"missing-at{tag}.example.com", f"{tag}@", f"@{tag}.com"):
        response = api.post(
            "/users", json={"email": email, "full_name": "Bad Email", "password": new_password()}
        )
        assert response.status_code == 422, f"{email!r}: {response.status_code} {response.text}"


def test_create_overlong_email_returns_422(api: httpx.Client) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + f".{uuid.uuid4().hex[:8]}.com"
    assert len(email) > 255
    response = api.post(
        "/users", json={"email": email, "full_name": "Long Email", "password": new_password()}
    )
    assert response.status_code == 422, f"{response.status_code} {response.text[:300]}"


def test_create_rejects_password_outside_8_to_128(api: httpx.Client) -> None:
    for password in ("x" * 7, "y" * 129, ""):
        response = api.post(
            "/users", json={"email": new_email(), "full_name": "Pw Len", "password": password}
        )
        assert response.status_code == 422, (
            f"password of {len(password)} chars: {response.status_code} {response.text[:300]}"
        )


def test_create_accepts_password_of_8_and_128(api: httpx.Client) -> None:
    for password in ("p" * 7 + "8", "q" * 127 + "X"):
        create_user(api, password=password, full_name="Pw Bounds")


def test_create_full_name_length_bounds(api: httpx.Client) -> None:
    for full_name in ("", "n" * 101):
        response = api.post(
            "/users",
            json={"email": new_email(), "full_name": full_name, "password": new_password()},
        )
        assert response.status_code == 422, (
            f"full_name of {len(full_name)} chars: {response.status_code} {response.text[:300]}"
        )
    body = create_user(api, full_name="m" * 100)
    assert body["full_name"] == "m" * 100


def test_create_missing_fields_returns_422(api: httpx.Client) -> None:
    complete = {"email": new_email(), "full_name": "Miss Ing", "password": new_password()}
    for missing in ("email", "full_name", "password"):
        payload = {key: value for key, value in complete.items() if key != missing}
        response = api.post("/users", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    assert api.post("/users", json={}).status_code == 422
    malformed = api.post(
        "/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422, f"malformed JSON: {malformed.status_code}"


def test_list_envelope_and_defaults(api: httpx.Client) -> None:
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


def test_list_rejects_out_of_range_limit_and_offset(api: httpx.Client) -> None:
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"offset": -1},
        {"limit": "abc"},
        {"offset": "abc"},
    ):
        response = api.get("/users", params=params)
        assert response.status_code == 422, f"{params}: {response.status_code} {response.text}"
    for limit in (1, 100):
        page = list_users(api, limit=limit)
        assert page["limit"] == limit
        assert len(page["items"]) <= limit


def test_list_large_offset_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    for offset in (1_000_000, 2**31, 2**63, 10**30):
        response = api.get("/users", params={"search": token, "offset": offset})
        assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
        if response.status_code == 200:
            page = response.json()
            assert page["items"] == [], f"offset={offset}: {page}"
            assert page["offset"] == offset, f"offset={offset}: {page}"


def test_list_pagination_slices_in_default_id_order(api: httpx.Client) -> None:
    token = new_token()
    created = [create_user(api, email=f"{prefix}{token}@example.com") for prefix in "ba"]
    expected = sorted(user["id"] for user in created)
    assert expected == [user["id"] for user in created], "ids do not increase on creation"
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
    bad = api.get("/users", params={"is_active": "maybe"})
    assert bad.status_code == 422, f"is_active=maybe: {bad.status_code}"


def test_list_search_matches_email_case_insensitively(api: httpx.Client) -> None:
    token = new_token()
    match = create_user(api, email=f"x.{token}.y@example.com", full_name="Plain Person")
    create_user(api, email=new_email("decoy"), full_name="Plain Person")
    for query in (token.upper(), token, token[2:].upper(), f"{token}.Y@EXAMPLE"):
        page = list_users(api, search=query)
        assert ids_of(page) == [match["id"]], f"search={query!r}: {page}"
        assert page["total"] == 1


def test_list_search_matches_full_name_case_insensitively(api: httpx.Client) -> None:
    token = new_token()
    match = create_user(api, full_name=f"Grace {token.upper()} Hopper")
    create_user(api, full_name="Someone Else")
    for query in (token, token.upper(), f"ace {token}", token.swapcase()):
        page = list_users(api, search=query)
        assert ids_of(page) == [match["id"]], f"search={query!r}: {page}"
        assert page["total"] == 1


def test_list_search_treats_wildcards_literally(api: httpx.Client) -> None:
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
    token = new_token()
    second = create_user(api, email=f"b{token}@example.com")
    first = create_user(api, email=f"a{token}@example.com")
    page = list_users(api, search=token, sort="email")
    assert ids_of(page) == [first["id"], second["id"]]
    assert page["total"] == 2
    page = list_users(api, search=token, sort="-email")
    assert ids_of(page) == [second["id"], first["id"]]


def test_list_sort_by_created_at(api: httpx.Client) -> None:
    token = new_token()
    created = [create_user(api, email=f"{p}{token}@example.com") for p in "ba"]
    stamps = [parse_timestamp(user["created_at"]) for user in created]
    distinct = len(set(stamps)) == len(stamps)
    for sort, reverse in (("created_at", False), ("-created_at", True)):
        page = list_users(api, search=token, sort=sort)
        assert sorted(ids_of(page)) == sorted(user["id"] for user in created)
        returned = [parse_timestamp(item["created_at"]) for item in page["items"]]
        assert returned == sorted(returned, reverse=reverse), f"sort={sort}: {returned}"
        if distinct:
            expected = [user["id"] for user in created]
            assert ids_of(page) == (expected[::-1] if reverse else expected), f"sort={sort}"


def test_list_rejects_unknown_sort(api: httpx.Client) -> None:
    for sort in ("bogus", "-bogus", "password", "email; DROP TABLE users"):
        response = api.get("/users", params={"sort": sort})
        assert response.status_code == 422, f"sort={sort!r}: {response.status_code}"


def test_get_user_returns_200(api: httpx.Client) -> None:
    created = create_user(api, full_name="Get Me")
    fetched = get_user(api, created["id"])
    for key in ("id", "email", "full_name", "is_active"):
        assert fetched[key] == created[key], key
    assert parse_timestamp(fetched["created_at"]) == parse_timestamp(created["created_at"])


def test_get_unknown_user_returns_404(api: httpx.Client) -> None:
    response = api.get(f"/users/{INT32_MAX}")
    assert response.status_code == 404, response.text
    for user_id in (2**31, 2**63, 10**20):
        response = api.get(f"/users/{user_id}")
        assert response.status_code in (404, 422), f"id={user_id}: {response.status_code}"


def test_patch_updates_only_given_fields(api: httpx.Client) -> None:
    user = create_user(api, full_name="Before Name")
    renamed = patch_user(api, user["id"], {"full_name": "After Name"})
    assert renamed["full_name"] == "After Name"
    assert renamed["email"] == user["email"]
    assert renamed["is_active"] is True
    assert parse_timestamp(renamed["created_at"]) == parse_timestamp(user["created_at"])
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
    user = create_user(api)
    before = parse_timestamp(user["updated_at"])
    after = parse_timestamp(patch_user(api, user["id"], {"full_name": "Changed"})["updated_at"])
    if after == before and before.microsecond == 0:
        time.sleep(1.05)
        changed = patch_user(api, user["id"], {"full_name": "Changed Again"})
        after = parse_timestamp(changed["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"
    assert parse_timestamp(get_user(api, user["id"])["updated_at"]) == after


def test_patch_own_email_is_not_a_conflict(api: httpx.Client) -> None:
    user = create_user(api)
    body = patch_user(api, user["id"], {"email": user["email"], "full_name": "Same Email"})
    assert body["email"] == user["email"]
    assert body["full_name"] == "Same Email"


def test_patch_unknown_user_returns_404(api: httpx.Client) -> None:
    response = api.patch(f"/users/{INT32_MAX}", json={"full_name": "Nobody"})
    assert response.status_code == 404, response.text


def test_patch_duplicate_email_returns_409(api: httpx.Client) -> None:
    first = create_user(api)
    second = create_user(api)
    response = api.patch(f"/users/{second['id']}", json={"email": first["email"]})
    assert response.status_code == 409, response.text
    assert get_user(api, second["id"])["email"] == second["email"]
    assert get_user(api, first["id"])["email"] == first["email"]


def test_patch_invalid_input_returns_422(api: httpx.Client) -> None:
    user = create_user(api, full_name="Valid Name")
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


def test_patch_null_does_not_clear_required_fields(api: httpx.Client) -> None:
    user = create_user(api, full_name="Not Null")
    for field in ("email", "full_name", "is_active"):
        response = api.patch(f"/users/{user['id']}", json={field: None})
        assert response.status_code in (200, 422), f"{field}=null: {response.status_code}"
        stored = get_user(api, user["id"])
        assert stored[field] == user[field], f"{field}=null changed it to {stored[field]!r}"


def test_delete_user_returns_204_and_user_is_gone(api: httpx.Client) -> None:
    token = new_token()
    user = create_user(api, email=f"{token}@example.com")
    response = api.delete(f"/users/{user['id']}")
    assert response.status_code == 204, response.text
    assert api.get(f"/users/{user['id']}").status_code == 404
    page = list_users(api, search=token)
    assert page["items"] == []
    assert page["total"] == 0
    assert api.delete(f"/users/{user['id']}").status_code == 404
    assert api.patch(f"/users/{user['id']}", json={"full_name": "Ghost"}).status_code == 404


def test_delete_unknown_user_returns_404(api: httpx.Client) -> None:
    response = api.delete(f"/users/{INT32_MAX}")
    assert response.status_code == 404, response.text
    response = api.delete(f"/users/{2**63}")
    assert response.status_code in (404, 422), response.text


def test_password_hashed_at_rest(api: httpx.Client, db: Engine) -> None:
    password = new_password()
    user = create_user(api, password=password)
    assert_not_stored(user_rows(db, user["email"]), password)
    new_secret = new_password()
    patch_user(api, user["id"], {"password": new_secret})
    assert_not_stored(user_rows(db, user["email"]), new_secret)


def test_timestamps_are_iso8601(api: httpx.Client) -> None:
    user = create_user(api)
    created = parse_timestamp(user["created_at"])
    updated = parse_timestamp(user["updated_at"])
    assert (created.tzinfo is None) == (updated.tzinfo is None)
    assert updated >= created
    fetched = get_user(api, user["id"])
    parse_timestamp(fetched["created_at"])
    parse_timestamp(fetched["updated_at"])
    for item in list_users(api, search=user["email"])["items"]:
        parse_timestamp(item["created_at"])
        parse_timestamp(item["updated_at"])


def test_timestamps_include_utc_offset(api: httpx.Client) -> None:
    user = create_user(api)
    now = datetime.now(UTC)
    responses = [user, get_user(api, user["id"])]
    responses.extend(list_users(api, search=user["email"])["items"])
    for body in responses:
        for key in ("created_at", "updated_at"):
            stamp = parse_timestamp(body[key])
            assert stamp.tzinfo is not None, f"{key}={body[key]!r} has no UTC offset"
            assert abs(stamp - now) < timedelta(minutes=10), f"{key}={body[key]!r}, now {now}"


def assert_not_server_error(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def test_create_and_patch_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    full_name = f"Nul {token}\x00Name"
    for field, value in (("full_name", full_name), ("email", f"nul{token}\x00a@example.com")):
        payload = {"email": new_email(), "full_name": "Nul Field", "password": new_password()}
        payload[field] = value
        response = api.post("/users", json=payload)
        assert_not_server_error(response, f"POST /users with a NUL in {field}")
        if response.is_success:
            created = response.json()
            assert created[field] == value, f"{field} came back as {created[field]!r}"
            assert get_user(api, created["id"])[field] == value, f"{field} was not stored as sent"
    user = create_user(api, full_name="Before Nul")
    for field, value in (("full_name", full_name), ("email", f"nul{token}\x00b@example.com")):
        response = api.patch(f"/users/{user['id']}", json={field: value})
        assert_not_server_error(response, f"PATCH /users/{{id}} with a NUL in {field}")
        expected = value if response.is_success else user[field]
        assert get_user(api, user["id"])[field] == expected, f"{field} after the PATCH"


def test_list_search_with_nul_character_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    decoy = create_user(api, full_name=f"Decoy {token} Person")
    for search in (f"{token}\x00zz", "\x00"):
        response = api.get("/users", params={"search": search})
        assert_not_server_error(response, f"GET /users?search={search!r}")
        if response.is_success and search != "\x00":
            assert decoy["id"] not in ids_of(response.json()), f"search={search!r}"
