"""The values the probes send, drawn afresh for every grade.

Nothing a probe sends is a fixed string an app could recognise or be tailored to: the
users' emails, names and passwords, the texts of created posts, the ids and dates a mass
assignment probe injects, the control word of an SQL injection probe and the signing key
of a forged token are random per grade, and shaped like the hidden tests' own data
(`<letter><16 hex>@example.com`, `Pw-...` passwords). No outcome depends on which values
were drawn: every kind has a fixed length and character set and no value can match
another, so the same app gets the same score on every grade.

A plan names generated values by kind and slot (`{email_mass}`, `{text_post}`,
`{int_id}`, `{date_created}`, `{code_sku}`, `{password_new}`): `generated_values` draws
one per placeholder the plan uses, once per grade, so every use of a slot agrees. A request
sent once per SQL payload takes `{fresh_<kind>}`, new for each (`fresh_values`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable
from typing import Any

_FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas",
    "Kira", "Liam", "Maya", "Noah", "Olga", "Pavel", "Rosa", "Sam", "Tara", "Yusuf",
)  # fmt: skip
_LAST_NAMES = (
    "Adler", "Brooks", "Costa", "Dietrich", "Evans", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov",
)  # fmt: skip
_WORDS = (
    "autumn", "bridge", "canvas", "delta", "ember", "forest", "garden", "harbor",
    "island", "journey", "kettle", "lantern", "meadow", "notebook", "orbit", "pepper",
    "quarry", "river", "signal", "timber", "valley", "window", "yellow", "zephyr",
)  # fmt: skip


def _hex(length: int) -> str:
    return secrets.token_hex(length // 2 + 1)[:length]


def new_email() -> str:
    """`<letter><16 hex>@example.com`, like the hidden tests' users."""
    return f"{secrets.choice(string.ascii_lowercase)}{_hex(16)}@example.com"


def new_password() -> str:
    """16 characters with an upper- and a lower-case letter, a digit and a symbol, so any
    strength rule a reasonable app has is met."""
    return f"Pw-{_hex(12)}{secrets.randbelow(10)}"


def new_name() -> str:
    return f"{secrets.choice(_FIRST_NAMES)} {secrets.choice(_LAST_NAMES)}"


def new_text() -> str:
    """Three words and a hex tag: unique within a grade, plain to any app."""
    words = [secrets.choice(_WORDS) for _ in range(3)]
    return f"{words[0].capitalize()} {words[1]} {words[2]} {_hex(6)}"


def new_int() -> int:
    """An id or count no fresh database has reached: 600000 to 999999."""
    return 600_000 + secrets.randbelow(400_000)


def new_date() -> str:
    """A timestamp in 2001-2009 (no app would set it by itself)."""
    year, month, day = 2001 + secrets.randbelow(9), 1 + secrets.randbelow(12), 1
    return f"{year}-{month:02d}-{day + secrets.randbelow(28):02d}T00:00:00Z"


def new_code() -> str:
    """A product-code-like string: `WORD-8HEX`, upper case."""
    return f"{secrets.choice(_WORDS)[:5].upper()}-{_hex(8).upper()}"


def new_marker() -> str:
    """A word that occurs in no row an app holds (the control of an SQL injection probe)."""
    return f"{secrets.choice(_WORDS)}{_hex(10)}"


def new_signing_key() -> str:
    return secrets.token_urlsafe(32)


GENERATORS: dict[str, Callable[[], Any]] = {
    "email": new_email,
    "password": new_password,
    "name": new_name,
    "text": new_text,
    "code": new_code,
    "int": new_int,
    "date": new_date,
}


def generated_values(names: Iterable[str]) -> dict[str, Any]:
    """A fresh value for each `<kind>_<slot>` name whose kind has a generator."""
    values: dict[str, Any] = {}
    for name in sorted(set(names)):
        kind, _, slot = name.partition("_")
        if slot and kind in GENERATORS:
            values[name] = GENERATORS[kind]()
    return values


def fresh_values() -> dict[str, Any]:
    """`fresh_<kind>`: one new value of every kind, for a request sent once per payload."""
    return {f"fresh_{kind}": generate() for kind, generate in GENERATORS.items()}
