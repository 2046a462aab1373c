"""Helpers every task's hidden tests share, so no test depends on a choice the contract
leaves to the candidate (table names, column names, extra response fields, error wording).

- Rows are found by the values they hold (`rows_holding`), in whatever table the app chose.
- A password leaks when its plaintext, or a value shaped like a password hash, is in a
  response, or when a field whose name *is* a password field carries a string; a field
  that merely contains the word (`password_changed_at`) is not a leak.
- Access tokens are verified only as the contracts state: HS256 with JWT_SECRET, `sub`
  and `exp` present; every other claim is the app's choice.
- Orderings are checked within ties: two rows with the same sort key may come in either
  order (MySQL keeps timestamps to the second unless told otherwise).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:  # typing only: the plugin imports this kit in every hidden-test run
    from jwt.types import Options

# Field names that hold a password or its hash; compared lower-cased, exactly.
PASSWORD_FIELDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "hashed_password",
        "password_hash",
        "passwordhash",
        "hashedpassword",
        "password_digest",
        "hash",
        "current_password",
        "new_password",
    }
)
_HASH_SHAPES = (
    re.compile(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}"),
    re.compile(r"\$argon2(id|i|d)\$"),
    re.compile(r"\$?pbkdf2[-_:$]"),
    re.compile(r"\$?scrypt[:$]"),
    re.compile(r"\$bcrypt-sha256\$"),
)


def walk_json(value: Any) -> Iterator[tuple[str | None, Any]]:
    """Every (key, value) pair of a JSON document, depth first; list items have key None."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from walk_json(item)
    elif isinstance(value, list):
        for item in value:
            yield None, item
            yield from walk_json(item)


def looks_like_password_hash(text: str) -> bool:
    return any(shape.search(text) for shape in _HASH_SHAPES)


def password_leaks(document: Any, plaintext: str) -> list[str]:
    """Where a JSON document shows the password: its plaintext, a hash-shaped string, or
    a string under a password field's name. Empty when it shows none."""
    leaks: list[str] = []
    for key, value in walk_json(document):
        if not isinstance(value, str):
            continue
        if plaintext and plaintext in value:
            leaks.append(f"the plaintext password under {key!r}")
        elif looks_like_password_hash(value):
            leaks.append(f"a password hash under {key!r}: {value[:20]!r}...")
        elif key is not None and key.lower() in PASSWORD_FIELDS and value:
            leaks.append(f"a password field {key!r}")
    return leaks


def assert_no_password(response: httpx.Response, plaintext: str, where: str = "") -> None:
    """The response shows neither the password nor a hash of it, in any form."""
    label = where or f"{response.request.method} {response.request.url.path}"
    assert plaintext not in response.text, f"{label}: the plaintext password is in the response"
    if not response.content:
        return
    try:
        document = response.json()
    except ValueError:
        assert not looks_like_password_hash(response.text), f"{label}: a hash in the response"
        return
    leaks = password_leaks(document, plaintext)
    assert not leaks, f"{label}: " + "; ".join(leaks)


def _table_rows(db: Engine) -> Iterator[tuple[str, dict[str, Any]]]:
    inspector = sa.inspect(db)
    quote = db.dialect.identifier_preparer.quote
    with db.connect() as connection:
        for table in inspector.get_table_names():
            for row in connection.execute(sa.text(f"SELECT * FROM {quote(table)}")).mappings():
                yield table, dict(row)


def as_text(value: Any) -> str | None:
    """A column value as text (bytes decoded leniently), or None for other types."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def rows_holding(db: Engine, value: str) -> list[tuple[str, dict[str, Any]]]:
    """(table, row) for every row of every table with a text column equal to `value`
    (case-insensitive, surrounding spaces ignored): the app names its tables freely."""
    wanted = value.strip().lower()
    return [
        (table, row)
        for table, row in _table_rows(db)
        if any((as_text(v) or "").strip().lower() == wanted for v in row.values())
    ]


def assert_password_not_stored(db: Engine, email: str, plaintext: str) -> None:
    """The rows holding the user's email keep neither the plaintext password nor it
    inside another value. The email must be stored somewhere."""
    rows = rows_holding(db, email)
    assert rows, f"no row of any table holds {email!r}"
    for table, row in rows:
        for column, value in row.items():
            text = as_text(value)
            if text is not None:
                assert plaintext not in text, f"{table}.{column} holds the plaintext password"


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 date-time string, parsed (an AssertionError when it is not one)."""
    assert isinstance(value, str), f"timestamp {value!r} is not a string"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AssertionError(f"timestamp {value!r} is not ISO 8601") from exc


def assert_sorted_within_ties(
    items: Sequence[dict[str, Any]],
    key: Callable[[dict[str, Any]], Any],
    *,
    descending: bool = False,
    what: str = "items",
) -> None:
    """Items are ordered by `key` (ascending unless `descending`); equal keys may come in
    any order among themselves."""
    keys = [key(item) for item in items]
    expected = sorted(keys, reverse=descending)
    assert keys == expected, f"{what} are not sorted {'descending' if descending else 'ascending'}"


def assert_error_status(response: httpx.Response, *allowed: int, what: str = "") -> None:
    """The status is one of `allowed`; the body's wording is the candidate's choice."""
    label = what or f"{response.request.method} {response.request.url.path}"
    assert response.status_code in allowed, (
        f"{label}: expected {' or '.join(map(str, allowed))}, got {response.status_code} "
        f"{response.text[:300]}"
    )


def assert_validation_detail(response: httpx.Response, field: str | None = None) -> None:
    """A 422 in FastAPI's field-level format: `{"detail": [{"loc", "msg", "type"}, ...]}`;
    with `field`, some entry's `loc` names it."""
    assert response.status_code == 422, f"expected 422, got {response.status_code}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), list), (
        f"422 body is not {{'detail': [...]}}: {response.text[:300]}"
    )
    assert body["detail"], "422 detail list is empty"
    for entry in body["detail"]:
        assert isinstance(entry, dict), f"422 detail entry {entry!r} is not an object"
        for part in ("loc", "msg", "type"):
            assert part in entry, f"422 detail entry lacks {part!r}: {entry!r}"
    if field is not None:
        named = [entry for entry in body["detail"] if field in [str(p) for p in entry["loc"]]]
        assert named, f"no 422 detail entry names {field!r}: {body['detail']!r}"


# Claims the contracts leave to the app: never verified by a hidden test.
CLAIMS_LEFT_TO_THE_APP: Options = {
    "verify_aud": False,
    "verify_iss": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_sub": False,
    "verify_jti": False,
}


def decode_access_token(token: str, secret: str, leeway_s: float = 5.0) -> dict[str, Any]:
    """The access token's claims, verified the way the contracts state: HS256 signed with
    JWT_SECRET, `sub` and `exp` present (an AssertionError otherwise). Extra claims
    (`aud`, `iss`, `iat`, `nbf`, `jti`, `type`, ...) are the app's choice: not checked."""
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", f"access token header alg is {header.get('alg')!r}"
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], **CLAIMS_LEFT_TO_THE_APP},
            leeway=leeway_s,
        )
    except jwt.PyJWTError as exc:
        raise AssertionError(f"access token does not verify with JWT_SECRET: {exc!r}") from exc
    assert isinstance(claims, dict)
    return claims


# -- values and small checks every task's tests use ------------------------------------

# An id no test ever creates: an ordinary integer, well inside int32, that matches nothing.
UNKNOWN_ID = 987654321
# More than a second: rows written this far apart have different timestamps even where
# the database keeps timestamps to the second (MySQL/MariaDB DATETIME without fsp).
SECOND_APART_S = 1.05
# How far a token's `iat`/`exp` may stray from the test's clock.
CLOCK_SLACK_S = 5
# The longest access-token lifetime the contracts allow ("expires within an hour").
MAX_ACCESS_TTL_S = 3600
# Every out-of-range or non-integer `limit`/`offset` a list operation must answer with 422
# (the contracts: `limit` an integer 1..100, `offset` an integer >= 0).
OUT_OF_RANGE_PAGINATION: tuple[dict[str, Any], ...] = (
    {"limit": 0},
    {"limit": 101},
    {"limit": -1},
    {"offset": -1},
    {"limit": "abc"},
    {"offset": "abc"},
)


def new_token() -> str:
    """A unique search token, so a test's list queries see only its own rows."""
    return "tk" + uuid.uuid4().hex[:12]


def new_password() -> str:
    return "Pw-" + uuid.uuid4().hex[:13]


def new_email(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}@example.com"


def ids_of(page: dict[str, Any]) -> list[int]:
    """The ids of a page's items, in order."""
    return [item["id"] for item in page["items"]]


def created_at_of(item: dict[str, Any]) -> datetime:
    """The item's `created_at`, parsed, as a sort key."""
    return parse_timestamp(item["created_at"])


def assert_not_server_error(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def assert_each_query_is_422(
    api: httpx.Client,
    path: str,
    cases: Sequence[dict[str, Any]] = OUT_OF_RANGE_PAGINATION,
    *,
    text_limit: int | None = None,
) -> None:
    """GET `path` with each case's query parameters answers 422 (never 200 or 500)."""
    for params in cases:
        response = api.get(path, params=params)
        assert response.status_code == 422, (
            f"{params}: {response.status_code} {response.text[:text_limit]}"
        )
