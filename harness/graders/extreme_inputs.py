"""Extreme input: the values the `robustness` grader owns, defined once.

The robustness hidden tests (marker `robustness`) send these on purpose; every other
grader that sees a failure caused by a request carrying one reports it as such and does
not count it, so one defect is counted once, where it belongs. The bounds lie beyond
what any task contract states for ordinary values (tests/test_grader_fuzz.py checks
every contract document: no `maxLength` above OVERSIZED_STRING_CHARS, no integer bound
outside int32, no offset bound at HUGE_OFFSET or above).

- `nul-byte`: a NUL character (U+0000) anywhere in a decoded value or name.
- `integer-out-of-range`: an integer literal outside the int32 range
  [-2**31, 2**31 - 1] (so every value beyond int64 too). Integer literals are JSON
  integers (not floats such as 1e20) and strings that are an optional sign and ASCII
  digits only: a path segment, a query value, a header value or a JSON string (FastAPI
  coerces those into int fields).
- `huge-offset`: a pagination offset (query parameter `offset` or `skip`) of
  HUGE_OFFSET or more: far past any data set a task builds.
- `oversized-string`: a string (decoded path segment, query value, header value, JSON
  string or key, or a non-JSON body) longer than OVERSIZED_STRING_CHARS characters.
- `lone-surrogate`: a UTF-16 surrogate code point (U+D800..U+DFFF) in a decoded value:
  a JSON `\\ud800` escape without its pair, or its UTF-8-style bytes in a URL or body.

`classify_request` looks at a request as it was sent (URL, headers, body bytes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
HUGE_OFFSET = 10**9
OVERSIZED_STRING_CHARS = 10_000
OFFSET_PARAMETERS = frozenset({"offset", "skip"})
_INTEGER_LITERAL = re.compile(r"[+-]?[0-9]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64
# Set by the HTTP client, not generated: a large Content-Length is not an input value.
_FRAMING_HEADERS = frozenset({"content-length"})
_MAX_DIGITS = 4000  # Python refuses to parse longer integer strings


class ExtremeInput(StrEnum):
    NUL_BYTE = "nul-byte"
    INTEGER_OUT_OF_RANGE = "integer-out-of-range"
    HUGE_OFFSET = "huge-offset"
    OVERSIZED_STRING = "oversized-string"
    LONE_SURROGATE = "lone-surrogate"


@dataclass(frozen=True, order=True)
class ExtremeHit:
    """One extreme value in a request: its class and where it was (`query offset`)."""

    kind: ExtremeInput
    where: str

    def describe(self) -> str:
        return f"{self.kind} in {self.where}"


def classify_string(text: str, *, integer_literal: bool = True) -> set[ExtremeInput]:
    """The classes one decoded string value belongs to."""
    found: set[ExtremeInput] = set()
    if "\x00" in text:
        found.add(ExtremeInput.NUL_BYTE)
    if _SURROGATE.search(text):
        found.add(ExtremeInput.LONE_SURROGATE)
    if len(text) > OVERSIZED_STRING_CHARS:
        found.add(ExtremeInput.OVERSIZED_STRING)
    if integer_literal and _out_of_range(_integer_literal(text)):
        found.add(ExtremeInput.INTEGER_OUT_OF_RANGE)
    return found


def classify_integer(value: int) -> set[ExtremeInput]:
    return {ExtremeInput.INTEGER_OUT_OF_RANGE} if _out_of_range(value) else set()


def classify_offset(name: str, text: str) -> set[ExtremeInput]:
    """A query parameter as a pagination offset: huge when `offset`/`skip` >= HUGE_OFFSET."""
    value = _integer_literal(text)
    if name.strip().lower() in OFFSET_PARAMETERS and value is not None and value >= HUGE_OFFSET:
        return {ExtremeInput.HUGE_OFFSET}
    return set()


def classify_json(value: Any, where: str = "body") -> list[ExtremeHit]:
    """Every extreme value in a decoded JSON document (keys included)."""
    return sorted(set(_walk_json(value, where, 0)))


def classify_request(url: str, headers: Mapping[str, str], body: bytes | None) -> list[ExtremeHit]:
    """Every extreme value a request carries: path, query, headers and body."""
    hits: set[ExtremeHit] = set()
    parts = urlsplit(url)
    for index, segment in enumerate(parts.path.split("/")):
        for kind in classify_string(_decode(unquote_to_bytes(segment))):
            hits.add(ExtremeHit(kind, f"path segment {index}"))
    for name, value in _query_pairs(parts.query):
        where = f"query {_label(name)}"
        found = classify_string(name, integer_literal=False) | classify_string(value)
        for kind in found | classify_offset(name, value):
            hits.add(ExtremeHit(kind, where))
    for name, value in headers.items():
        if name.lower() in _FRAMING_HEADERS:
            continue
        for kind in classify_string(value) | classify_string(name, integer_literal=False):
            hits.add(ExtremeHit(kind, f"header {_label(name)}"))
    if body:
        hits.update(_classify_body(body))
    return sorted(hits)


def _query_pairs(query: str) -> Iterator[tuple[str, str]]:
    """Decoded (name, value) pairs of a query string, however its bytes are encoded."""
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        yield _decode_query(name), _decode_query(value)


def _decode_query(text: str) -> str:
    return _decode(unquote_to_bytes(text.replace("+", " ")))


def _classify_body(body: bytes) -> Iterator[ExtremeHit]:
    text = _decode(body)
    try:
        document = json.loads(text, parse_int=_json_int)
    except ValueError:
        for kind in classify_string(text, integer_literal=False):
            yield ExtremeHit(kind, "body")
        return
    yield from _walk_json(document, "body", 0)


def _json_int(literal: str) -> int:
    """A JSON integer; one too long for Python to parse is out of range anyway."""
    return int(literal) if len(literal) <= _MAX_DIGITS else INT32_MAX + 1


def _walk_json(value: Any, where: str, depth: int) -> Iterator[ExtremeHit]:
    if depth > _MAX_DEPTH or isinstance(value, bool | float) or value is None:
        return
    if isinstance(value, int):
        for kind in classify_integer(value):
            yield ExtremeHit(kind, where)
    elif isinstance(value, str):
        for kind in classify_string(value):
            yield ExtremeHit(kind, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{_label(key)}"
            for kind in classify_string(key, integer_literal=False):
                yield ExtremeHit(kind, inner)
            yield from _walk_json(item, inner, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_json(item, f"{where}[]", depth + 1)


def _integer_literal(text: str) -> int | None:
    """The integer a string spells (optional sign, ASCII digits), else None."""
    candidate = text.strip()
    if not _INTEGER_LITERAL.fullmatch(candidate):
        return None
    digits = candidate.lstrip("+-").lstrip("0")
    if len(digits) > _MAX_DIGITS:
        return INT32_MAX + 1 if not candidate.startswith("-") else INT32_MIN - 1
    return int(candidate)


def _out_of_range(value: int | None) -> bool:
    return value is not None and not INT32_MIN <= value <= INT32_MAX


def _decode(data: bytes) -> str:
    """Bytes as an app reads them: UTF-8, with surrogates spelled in UTF-8 kept as
    surrogates; bytes that are no UTF-8 at all become U+FFFD."""
    try:
        return data.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def _label(name: str) -> str:
    """A name fit for a finding: short and printable."""
    shown = name.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 40 else shown[:37] + "..."
