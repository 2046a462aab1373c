"""Helpers shared by the orders-inventory hidden tests (API calls, money, database probes).

Responses are parsed with ``parse_float=Decimal`` so a JSON number keeps its exact decimal
text: ``0.30000000000000004`` stays that, and never rounds back to ``0.3`` on the way in.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

INT32_MAX = 2147483647
STOCK_COLUMN_HINTS = ("stock", "on_hand", "inventory", "available")
QUANTITY_COLUMN_HINTS = ("quantity", "qty")


def new_token() -> str:
    return "tk" + uuid.uuid4().hex[:12]


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_email(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}@example.com"


def body_of(response: httpx.Response) -> Any:
    """The JSON body, with every JSON number that has a fraction or exponent as a Decimal."""
    try:
        return json.loads(response.text, parse_float=Decimal)
    except ValueError as exc:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: body is not JSON: "
            f"{response.text[:300]!r}"
        ) from exc


def money(value: Any, what: str = "money") -> Decimal:
    """A money value from a response as an exact Decimal (a JSON string or number)."""
    assert not isinstance(value, bool), f"{what}={value!r} is a boolean, not money"
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise AssertionError(f"{what}={value!r} is not a decimal number") from exc
    else:
        raise AssertionError(f"{what}={value!r} is neither a JSON string nor a JSON number")
    assert result.is_finite(), f"{what}={value!r} is not a finite number"
    return result


def expect(response: httpx.Response, status: int, what: str) -> Any:
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code} {response.text[:500]}"
    )
    return body_of(response) if response.content else None


def assert_not_server_error(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def create_product(
    api: httpx.Client,
    *,
    sku: str | None = None,
    name: str | None = None,
    price: Any = "10.00",
    stock: int | None = 10,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sku": sku or new_sku(),
        "name": name or "Test Product",
        "price": price,
    }
    if stock is not None:
        payload["stock"] = stock
    body = expect(api.post("/products", json=payload), 201, f"POST /products {payload}")
    assert isinstance(body, dict), f"POST /products returned {body!r}, expected a product"
    assert isinstance(body.get("id"), int), f"product id is not an int: {body!r}"
    return body


def get_product(api: httpx.Client, product_id: int) -> dict[str, Any]:
    body = expect(api.get(f"/products/{product_id}"), 200, f"GET /products/{product_id}")
    assert isinstance(body, dict)
    return body


def stock_of(api: httpx.Client, product_id: int) -> int:
    stock = get_product(api, product_id)["stock"]
    assert isinstance(stock, int) and not isinstance(stock, bool), f"stock={stock!r}"
    return stock


def stocks_of(api: httpx.Client, product_ids: Iterable[int]) -> dict[int, int]:
    return {product_id: stock_of(api, product_id) for product_id in product_ids}


def patch_product(api: httpx.Client, product_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    body = expect(
        api.patch(f"/products/{product_id}", json=changes),
        200,
        f"PATCH /products/{product_id} {changes}",
    )
    assert isinstance(body, dict)
    return body


def adjust(
    api: httpx.Client, product_id: int, delta: int, reason: str = "recount"
) -> httpx.Response:
    return api.post(
        f"/products/{product_id}/stock-adjustments", json={"delta": delta, "reason": reason}
    )


def list_page(api: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    body = expect(api.get(path, params=params), 200, f"GET {path} {params}")
    assert isinstance(body, dict), f"GET {path} returned {body!r}, expected a page object"
    for key in ("items", "total", "limit", "offset"):
        assert key in body, f"GET {path} page lacks {key!r}: {body!r}"
    assert isinstance(body["items"], list), f"items is not a list: {body!r}"
    return body


def list_products(api: httpx.Client, **params: Any) -> dict[str, Any]:
    return list_page(api, "/products", **params)


def list_orders(api: httpx.Client, **params: Any) -> dict[str, Any]:
    return list_page(api, "/orders", **params)


def ids_of(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


def order_payload(email: str, lines: Iterable[tuple[int, int]]) -> dict[str, Any]:
    return {
        "customer_email": email,
        "items": [
            {"product_id": product_id, "quantity": quantity} for product_id, quantity in lines
        ],
    }


def place_order(
    api: httpx.Client, lines: Iterable[tuple[int, int]], email: str | None = None
) -> dict[str, Any]:
    payload = order_payload(email or new_email(), lines)
    body = expect(api.post("/orders", json=payload), 201, f"POST /orders {payload}")
    assert isinstance(body, dict), f"POST /orders returned {body!r}, expected an order"
    assert isinstance(body.get("id"), int), f"order id is not an int: {body!r}"
    return body


def get_order(api: httpx.Client, order_id: int) -> dict[str, Any]:
    body = expect(api.get(f"/orders/{order_id}"), 200, f"GET /orders/{order_id}")
    assert isinstance(body, dict)
    return body


def parse_timestamp(value: Any) -> datetime:
    assert isinstance(value, str), f"timestamp {value!r} is not a string"
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise AssertionError(f"timestamp {value!r} is not ISO 8601") from exc


def _tables(db: Engine, stem: str) -> list[str]:
    names = sa.inspect(db).get_table_names()
    tables = [name for name in names if stem in name.lower()]
    assert tables, f"no table whose name contains {stem!r} among {names}"
    return tables


def _rows(db: Engine, table: str) -> list[dict[str, Any]]:
    quote = db.dialect.identifier_preparer.quote
    with db.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(sa.text(f"SELECT * FROM {quote(table)}")).mappings()
        ]


def db_stock(db: Engine, sku: str) -> int:
    """The stock stored for the product with this SKU, read from the product table."""
    tables = sorted(_tables(db, "product"), key=lambda name: "order" in name.lower())
    holding: list[dict[str, Any]] = []
    for table in tables:
        for row in _rows(db, table):
            if not any(isinstance(value, str) and value == sku for value in row.values()):
                continue
            holding.append(row)
            for column, value in row.items():
                if any(hint in column.lower() for hint in STOCK_COLUMN_HINTS):
                    if isinstance(value, int) and not isinstance(value, bool):
                        return value
    if holding:
        raise AssertionError(f"no stock column in the rows holding SKU {sku!r}: {holding}")
    raise AssertionError(f"no row holding SKU {sku!r} in tables {tables}")


def db_order_rows(db: Engine, email: str) -> list[dict[str, Any]]:
    """Rows of any order table holding this customer email."""
    found: list[dict[str, Any]] = []
    for table in _tables(db, "order"):
        for row in _rows(db, table):
            values = [value for value in row.values() if isinstance(value, str)]
            if any(value.strip().lower() == email.lower() for value in values):
                found.append(row)
    return found


def db_ordered_quantity(db: Engine, product_id: int) -> int:
    """Sum of the order line quantities stored for this product."""
    inspector = sa.inspect(db)
    total = 0
    line_tables = 0
    for table in _tables(db, "order"):
        columns = [column["name"] for column in inspector.get_columns(table)]
        quantity_columns = [
            name for name in columns if any(hint in name.lower() for hint in QUANTITY_COLUMN_HINTS)
        ]
        if "product_id" not in columns or not quantity_columns:
            continue
        line_tables += 1
        for row in _rows(db, table):
            if row["product_id"] == product_id:
                total += int(row[quantity_columns[0]])
    assert line_tables, "no order table with product_id and quantity columns"
    return total


def poster(
    path: str, payload: dict[str, Any] | None = None
) -> Callable[[httpx.Client, int], httpx.Response]:
    """An action for ``run_together``: POST ``payload`` to ``path``."""

    def action(client: httpx.Client, _index: int) -> httpx.Response:
        return client.post(path, json=payload)

    return action


def run_together(
    count: int, action: Callable[[httpx.Client, int], httpx.Response], base_url: str
) -> list[httpx.Response]:
    """Run ``action`` from ``count`` threads released at the same moment, each on its own
    warmed-up connection. Bounded: barrier and request timeouts, then the whole batch."""
    barrier = threading.Barrier(count, timeout=20)

    def worker(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False, verify=False) as client:
            client.get("/")
            barrier.wait()
            return action(client, index)

    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(worker, index) for index in range(count)]
        return [future.result(timeout=max(1.0, deadline - time.monotonic())) for future in futures]
