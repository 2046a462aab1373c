"""Helpers shared by the orders-inventory hidden tests: API calls, exact money, races.

Everything is checked through the API (stock through ``GET /products/{id}``, ordered units
through the orders list), never through table or column names, which the contract leaves
to the app.

Responses are parsed with ``parse_float=Decimal`` so a JSON number keeps its exact decimal
text: ``0.30000000000000004`` stays that, and never rounds back to ``0.3`` on the way in.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from harness.graders.pytest_plugin import DEFAULT_TEST_TIMEOUT_S, TEST_TIMEOUT_ENV
from harness.graders.testkit import (
    new_email,
)

INT32_MAX = 2147483647
RACE_BARRIER_TIMEOUT_S = 15.0


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


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
    """A money value from a response as an exact Decimal: the contract allows a JSON string
    or a JSON number ("Responses carry money as a JSON string or number whose decimal value
    is exactly right")."""
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
    assert isinstance(body, dict), f"GET /products/{product_id} returned {body!r}"
    return body


def stock_of(api: httpx.Client, product_id: int) -> int:
    """The product's stock as ``GET /products/{id}`` reports it."""
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
    assert isinstance(body, dict), f"PATCH /products/{product_id} returned {body!r}"
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
    payload = order_payload(email or new_email("c"), lines)
    body = expect(api.post("/orders", json=payload), 201, f"POST /orders {payload}")
    assert isinstance(body, dict), f"POST /orders returned {body!r}, expected an order"
    assert isinstance(body.get("id"), int), f"order id is not an int: {body!r}"
    return body


def get_order(api: httpx.Client, order_id: int) -> dict[str, Any]:
    body = expect(api.get(f"/orders/{order_id}"), 200, f"GET /orders/{order_id}")
    assert isinstance(body, dict), f"GET /orders/{order_id} returned {body!r}"
    return body


def orders_of(api: httpx.Client, email: str) -> list[dict[str, Any]]:
    """Every order of one customer, through ``GET /orders?customer_email=`` (at most 100)."""
    page = list_orders(api, customer_email=email, limit=100)
    items: list[dict[str, Any]] = page["items"]
    assert page["total"] == len(items), (
        f"orders of {email}: total {page['total']} but {len(items)} items listed"
    )
    return items


def ordered_units(api: httpx.Client, emails: Iterable[str], product_id: int) -> int:
    """Units of one product on the orders of these customers, as the orders list shows
    them (every status: the caller decides which orders exist)."""
    return sum(
        item["quantity"]
        for email in emails
        for order in orders_of(api, email)
        for item in order["items"]
        if item["product_id"] == product_id
    )


def assert_only_orders(api: httpx.Client, email: str, expected_ids: Iterable[int]) -> None:
    """The customer's orders are exactly these ("no order is created" by a refused one)."""
    listed = sorted(order["id"] for order in orders_of(api, email))
    assert listed == sorted(expected_ids), f"orders of {email}: {listed}, expected {expected_ids}"


def poster(
    path: str, payload: dict[str, Any] | None = None
) -> Callable[[httpx.Client, int], httpx.Response]:
    """An action for ``run_together``: POST ``payload`` to ``path``."""

    def action(client: httpx.Client, _index: int) -> httpx.Response:
        return client.post(path, json=payload)

    return action


def race_request_timeout_s() -> float:
    """A racing request's client timeout: the plugin's per-test budget (the bound on the
    whole test), so no request is cut shorter than the test itself."""
    try:
        budget = float(os.environ.get(TEST_TIMEOUT_ENV, DEFAULT_TEST_TIMEOUT_S))
    except ValueError:
        budget = DEFAULT_TEST_TIMEOUT_S
    return budget if budget > 0 else 60.0


def run_together(
    count: int, action: Callable[[httpx.Client, int], httpx.Response], base_url: str
) -> list[httpx.Response]:
    """Run ``action`` from ``count`` threads released at the same moment, each on its own
    warmed-up connection, and return every response.

    No wall-clock bound of its own: a request that never answers is caught by the plugin's
    per-test timeout (each client's timeout is that budget); the pool is not waited for
    then, so a hung app costs this one test only."""
    barrier = threading.Barrier(count, timeout=RACE_BARRIER_TIMEOUT_S)
    request_timeout = race_request_timeout_s()

    def worker(index: int) -> httpx.Response:
        try:
            with httpx.Client(
                base_url=base_url, timeout=request_timeout, trust_env=False
            ) as client:
                client.get("/")
                barrier.wait()
                return action(client, index)
        except BaseException:
            barrier.abort()
            raise

    pool = ThreadPoolExecutor(max_workers=count)
    try:
        futures = [pool.submit(worker, index) for index in range(count)]
        wait_for(futures)
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
