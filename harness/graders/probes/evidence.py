"""Reading what an app answered and stored: values in JSON bodies, injected values it
echoed back, strings a response merely repeats from its request, and database rows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import MetaData, String, Table, create_engine, inspect, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from harness.graders.probes.client import Exchange


def same_value(injected: Any, observed: Any) -> bool:
    """Whether the app echoed an injected value back (money and dates compared loosely)."""
    if isinstance(injected, bool) or isinstance(observed, bool):
        return bool(observed) is injected if isinstance(injected, bool) else False
    if isinstance(injected, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", injected):
        return isinstance(observed, str) and observed.startswith(injected[:10])
    if isinstance(injected, (int, float, str)) and isinstance(observed, (int, float, str)):
        try:
            return Decimal(str(injected)) == Decimal(str(observed))
        except InvalidOperation:
            return str(injected) == str(observed)
    return bool(injected == observed)


MISSING = object()


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (`author.id`, `items.0.unit_price`), or MISSING."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return MISSING
    return data


def row_count(body: Any) -> int | None:
    """Rows a list response returned: `total` when present, else the items."""
    if isinstance(body, dict):
        total = body.get("total")
        if isinstance(total, int) and not isinstance(total, bool):
            return total
        items = body.get("items")
        return len(items) if isinstance(items, list) else None
    return len(body) if isinstance(body, list) else None


def json_keys(data: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key), value
            yield from json_keys(value)
    elif isinstance(data, list):
        for item in data:
            yield from json_keys(item)


def strings_in(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from strings_in(item)


@dataclass
class DatabaseRows:
    """Rows of the sample's database that hold one of the probe users' emails."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def read(cls, url: str, emails: list[str]) -> DatabaseRows:
        found = cls()
        engine: Engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            inspector = inspect(engine)
            with engine.connect() as connection:
                for name in inspector.get_table_names()[:50]:
                    table = Table(name, MetaData(), autoload_with=connection)
                    text_columns = [c for c in table.columns if isinstance(c.type, String)]
                    if not text_columns:
                        continue
                    matches = or_(*(column.in_(emails) for column in text_columns))
                    for row in connection.execute(select(table).where(matches).limit(20)):
                        found.rows.append((name, dict(row._mapping)))
        except (SQLAlchemyError, ValueError, TypeError, NotImplementedError) as exc:
            found.error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
        finally:
            engine.dispose()
        return found

    def rows_for(self, email: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (table, row)
            for table, row in self.rows
            if any(as_text(value) == email for value in row.values())
        ]


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    return None


def without_echo(exchange: Exchange) -> str:
    """The response text minus every string the request itself carried."""
    text = exchange.text
    sent: set[str] = set()
    if exchange.request_body:
        sent.add(exchange.request_body)
        try:
            sent.update(strings_in(json.loads(exchange.request_body)))
        except ValueError:
            pass
    if "?" in exchange.path:
        sent.update(value for _, value in parse_qsl(exchange.path.split("?", 1)[1]))
    for value in sorted(sent, key=len, reverse=True):
        if len(value) < 4:
            continue
        text = text.replace(value, "")
        text = text.replace(json.dumps(value)[1:-1], "")
    return text
