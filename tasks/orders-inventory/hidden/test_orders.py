"""Hidden tests for the orders-inventory task: orders, money, stock, concurrency.

Fixtures come from harness.graders.pytest_plugin: ``api`` (httpx.Client on the app). Every test
creates its own products and uses unique customer emails, so tests are independent of
each other and of leftover rows. Stock is read through ``GET /products/{id}`` and ordered
units through ``GET /orders``: nothing depends on how the app names its tables. Tests that
send extreme input (NUL bytes, integers beyond int32/int64, huge offsets, oversized
strings) are marked ``robustness``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from oi_support import (
    INT32_MAX,
    adjust,
    assert_only_orders,
    body_of,
    create_product,
    expect,
    get_order,
    list_orders,
    money,
    order_payload,
    ordered_units,
    orders_of,
    patch_product,
    place_order,
    poster,
    run_together,
    stock_of,
    stocks_of,
)

from harness.graders.testkit import (
    UNKNOWN_ID,
    assert_each_query_is_422,
    assert_not_server_error,
    assert_sorted_within_ties,
    created_at_of,
    ids_of,
    new_email,
    parse_timestamp,
)

robustness = pytest.mark.robustness

RACE_ROUNDS = 3
RACE_STOCK = 5
RACE_BUYERS = 20
CANCEL_ROUNDS = 3
CANCELLERS = 8


def lines_of(order: dict[str, Any]) -> list[tuple[int, int, Decimal]]:
    items = order.get("items")
    assert isinstance(items, list) and items, f"order has no items list: {order}"
    return sorted(
        (item["product_id"], item["quantity"], money(item["unit_price"], "unit_price"))
        for item in items
    )


def assert_total(order: dict[str, Any], expected: str, what: str) -> None:
    total = money(order.get("total"), f"{what} total")
    assert total == Decimal(expected), (
        f"{what}: total is {order.get('total')!r}, expected {expected}"
    )


# --- POST /orders -----------------------------------------------------------------------


def test_create_order_returns_201_and_takes_stock(api: httpx.Client) -> None:
    mug = create_product(api, price="4.50", stock=10)
    lamp = create_product(api, price="20.00", stock=3)
    email = new_email("c")
    response = api.post("/orders", json=order_payload(email, [(mug["id"], 2), (lamp["id"], 3)]))
    order = expect(response, 201, "POST /orders")
    assert isinstance(order["id"], int) and not isinstance(order["id"], bool)
    assert order["customer_email"] == email
    assert order["status"] == "pending"
    assert lines_of(order) == sorted(
        [(mug["id"], 2, Decimal("4.50")), (lamp["id"], 3, Decimal("20.00"))]
    )
    assert_total(order, "69.00", "new order")
    parse_timestamp(order["created_at"])
    assert stocks_of(api, [mug["id"], lamp["id"]]) == {mug["id"]: 8, lamp["id"]: 0}
    fetched = get_order(api, order["id"])
    assert (fetched["id"], fetched["customer_email"], fetched["status"]) == (
        order["id"],
        email,
        "pending",
    )
    assert lines_of(fetched) == lines_of(order)
    assert_total(fetched, "69.00", "fetched order")


def test_order_money_is_exact(api: httpx.Client) -> None:
    """Contract: "total: the sum of unit_price * quantity over the items, exact"; never a float
    rounding artefact, in the POST response, GET /orders/{id} and the orders list."""
    dimes = [create_product(api, price="0.10", stock=10) for _ in range(3)]
    three_dimes = place_order(api, [(product["id"], 1) for product in dimes])
    assert_total(three_dimes, "0.30", "three lines at 0.10")
    dime_times_three = place_order(api, [(dimes[0]["id"], 3)])
    assert_total(dime_times_three, "0.30", "0.10 x 3")
    cases = [
        ("19.99", 7, "139.93"),
        ("0.07", 3, "0.21"),
        ("1.15", 3, "3.45"),
        ("4.35", 100, "435.00"),
    ]
    singles = []
    products = []
    for price, quantity, expected in cases:
        product = create_product(api, price=price, stock=200)
        products.append((product, quantity))
        order = place_order(api, [(product["id"], quantity)])
        assert_total(order, expected, f"{price} x {quantity}")
        assert lines_of(order)[0][2] == Decimal(price), f"unit_price of {price}: {order['items']}"
        singles.append((order, expected))
    combined = place_order(api, [(product["id"], quantity) for product, quantity in products])
    assert_total(combined, "578.59", "19.99x7 + 0.07x3 + 1.15x3 + 4.35x100")
    big = create_product(api, price="1234567.89", stock=5)
    large = place_order(api, [(big["id"], 3), (dimes[1]["id"], 1)])
    assert_total(large, "3703703.77", "1234567.89 x 3 + 0.10")
    expected_totals = [
        (three_dimes, "0.30"),
        (dime_times_three, "0.30"),
        *singles,
        (combined, "578.59"),
        (large, "3703703.77"),
    ]
    for order, expected in expected_totals:
        fetched = get_order(api, order["id"])
        assert_total(fetched, expected, f"GET /orders/{order['id']}")
        assert lines_of(fetched) == lines_of(order)
        listed = orders_of(api, order["customer_email"])
        assert len(listed) == 1
        assert_total(listed[0], expected, "listed order")


def test_order_short_of_stock_returns_409_and_changes_nothing(api: httpx.Client) -> None:
    """Contract: "if ... any product lacks stock for the quantity ordered (409), no order is created
    and no stock changes"."""
    plenty = create_product(api, stock=5)
    scarce = create_product(api, stock=1)
    other = create_product(api, stock=9)
    email = new_email("short")
    placed = place_order(api, [(plenty["id"], 1)], email=email)
    expected = {plenty["id"]: 4, scarce["id"]: 1, other["id"]: 9}
    assert stocks_of(api, expected) == expected
    for lines in (
        [(plenty["id"], 2), (other["id"], 4), (scarce["id"], 2)],
        [(scarce["id"], 2), (plenty["id"], 1)],
    ):
        response = api.post("/orders", json=order_payload(email, lines))
        assert response.status_code == 409, f"{lines}: {response.status_code} {response.text[:300]}"
        assert stocks_of(api, expected) == expected, f"{lines} changed stock"
        assert_only_orders(api, email, [placed["id"]])


def test_order_with_unknown_product_returns_404_and_changes_nothing(api: httpx.Client) -> None:
    """Contract: "if any product is unknown (404) ... no order is created and no stock changes"."""
    product = create_product(api, stock=4)
    email = new_email("ghost")
    placed = place_order(api, [(product["id"], 1)], email=email)
    assert stock_of(api, product["id"]) == 3
    response = api.post("/orders", json=order_payload(email, [(product["id"], 1), (UNKNOWN_ID, 1)]))
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"
    assert stock_of(api, product["id"]) == 3
    assert_only_orders(api, email, [placed["id"]])


def test_order_repeated_product_needs_summed_stock(api: httpx.Client) -> None:
    """Contract: "The same product may appear on more than one line; the order then needs the sum of
    those quantities in stock"."""
    product = create_product(api, price="1.10", stock=6)
    email = new_email("twice")
    first = place_order(api, [(product["id"], 1), (product["id"], 1)], email=email)
    assert_total(first, "2.20", "1 + 1 at 1.10")
    assert stock_of(api, product["id"]) == 4
    response = api.post(
        "/orders", json=order_payload(email, [(product["id"], 3), (product["id"], 2)])
    )
    assert response.status_code == 409, f"3 + 2 of 4: {response.status_code} {response.text[:300]}"
    assert stock_of(api, product["id"]) == 4
    assert_only_orders(api, email, [first["id"]])
    second = place_order(api, [(product["id"], 2), (product["id"], 2)], email=email)
    assert_total(second, "4.40", "2 + 2 at 1.10")
    assert stock_of(api, product["id"]) == 0


def test_order_invalid_body_returns_422_and_changes_nothing(api: httpx.Client) -> None:
    """customer_email "a valid email address", "1 to 50 items", "1 <= quantity"; "422
    invalid input"."""
    product = create_product(api, stock=100)
    email = new_email("invalid")
    placed = place_order(api, [(product["id"], 1)], email=email)
    good_item = {"product_id": product["id"], "quantity": 1}
    for payload in (
        {"items": [good_item]},
        {"customer_email": email},
        {"customer_email": "not-an-email", "items": [good_item]},
        {"customer_email": email, "items": []},
        {"customer_email": email, "items": [good_item] * 51},
        {"customer_email": email, "items": [{"product_id": product["id"], "quantity": 0}]},
        {"customer_email": email, "items": [{"product_id": product["id"], "quantity": -1}]},
        {"customer_email": email, "items": [{"product_id": product["id"], "quantity": "two"}]},
        {"customer_email": email, "items": [{"product_id": product["id"], "quantity": 1.5}]},
        {"customer_email": email, "items": [{"product_id": product["id"]}]},
        {"customer_email": email, "items": [{"quantity": 1}]},
        {"customer_email": email, "items": [{"product_id": "first", "quantity": 1}]},
        {"customer_email": email, "items": good_item},
        {},
    ):
        response = api.post("/orders", json=payload)
        assert response.status_code == 422, (
            f"{payload}: {response.status_code} {response.text[:300]}"
        )
    malformed = api.post("/orders", content=b"{oops", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422, f"malformed JSON: {malformed.status_code}"
    assert stock_of(api, product["id"]) == 99
    assert_only_orders(api, email, [placed["id"]])


def test_order_accepts_fifty_items(api: httpx.Client) -> None:
    """Contract: "with 1 to 50 items"."""
    products = [create_product(api, price="0.10", stock=10) for _ in range(5)]
    lines = [(products[index % 5]["id"], 1) for index in range(50)]
    order = place_order(api, lines)
    assert_total(order, "5.00", "fifty lines at 0.10")
    assert sum(item["quantity"] for item in order["items"]) == 50
    assert stocks_of(api, [p["id"] for p in products]) == {p["id"]: 0 for p in products}


def test_order_for_more_than_the_stock_returns_409_and_changes_nothing(
    api: httpx.Client,
) -> None:
    """Quantities up to 2147483647 are valid; one the stock cannot cover is "409
    insufficient stock", and "no order is created and no stock changes"."""
    product = create_product(api, stock=4)
    email = new_email("more")
    placed = place_order(api, [(product["id"], 1)], email=email)
    for quantity in (4, INT32_MAX):
        response = api.post("/orders", json=order_payload(email, [(product["id"], quantity)]))
        assert response.status_code == 409, f"quantity {quantity} of 3: {response.status_code}"
    assert stock_of(api, product["id"]) == 3
    assert_only_orders(api, email, [placed["id"]])


def test_unit_price_is_captured_at_order_time(api: httpx.Client) -> None:
    """Contract: "later price changes do not alter existing orders"."""
    product = create_product(api, price="12.34", stock=10)
    order = place_order(api, [(product["id"], 2)])
    assert_total(order, "24.68", "order at 12.34")
    patch_product(api, product["id"], {"price": "99.99"})
    fetched = get_order(api, order["id"])
    assert lines_of(fetched) == [(product["id"], 2, Decimal("12.34"))], fetched["items"]
    assert_total(fetched, "24.68", "order after the price change")
    listed = orders_of(api, order["customer_email"])[0]
    assert lines_of(listed) == [(product["id"], 2, Decimal("12.34"))]
    assert_total(listed, "24.68", "listed order after the price change")
    later = place_order(api, [(product["id"], 1)])
    assert lines_of(later) == [(product["id"], 1, Decimal("99.99"))]
    assert_total(later, "99.99", "order at the new price")


# --- GET /orders/{id}, GET /orders ------------------------------------------------------


def test_get_unknown_order_returns_404(api: httpx.Client) -> None:
    product = create_product(api)
    order = place_order(api, [(product["id"], 1)])
    assert get_order(api, order["id"])["id"] == order["id"]
    response = api.get(f"/orders/{UNKNOWN_ID}")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_list_orders_by_customer_newest_first(api: httpx.Client) -> None:
    """Contract: "customer_email: only orders of that exact email address"; "Newest first (most
    recently created order first)". Orders created in the same instant (MySQL may keep
    whole seconds) may come in either order, so when they all tie one more is placed a
    second later: the check never rests on ties alone."""
    product = create_product(api, stock=10)
    email = new_email("list")
    created = [place_order(api, [(product["id"], 1)], email=email) for _ in range(3)]
    place_order(api, [(product["id"], 1)])
    page = list_orders(api, customer_email=email)
    if len({created_at_of(item) for item in page["items"]}) < 2:
        time.sleep(1.05)
        created.append(place_order(api, [(product["id"], 1)], email=email))
        page = list_orders(api, customer_email=email)
    count = len(created)
    assert (page["total"], page["limit"], page["offset"]) == (count, 20, 0)
    assert sorted(ids_of(page)) == sorted(order["id"] for order in created)
    for item in page["items"]:
        assert item["customer_email"] == email
    listed = [created_at_of(item) for item in page["items"]]
    assert len(set(listed)) > 1, f"every created_at ties: {listed}"
    assert_sorted_within_ties(page["items"], created_at_of, descending=True, what="orders")
    for offset in range(count):
        sliced = list_orders(api, customer_email=email, limit=1, offset=offset)
        assert (sliced["total"], sliced["limit"], sliced["offset"]) == (count, 1, offset)
        assert len(sliced["items"]) == 1, f"offset={offset}: {sliced}"
        assert created_at_of(sliced["items"][0]) == listed[offset], f"offset={offset}"
    assert list_orders(api, customer_email=email, offset=count)["items"] == []
    nobody = list_orders(api, customer_email=new_email("nobody"))
    assert nobody["total"] == 0 and nobody["items"] == []


def test_list_orders_filters_by_status(api: httpx.Client) -> None:
    """Contract: "status: one of pending, cancelled, fulfilled; only orders with that status. Any
    other value is a 422"; "Filters combine"."""
    product = create_product(api, stock=10)
    email = new_email("status")
    pending = place_order(api, [(product["id"], 1)], email=email)
    cancelled = place_order(api, [(product["id"], 1)], email=email)
    fulfilled = place_order(api, [(product["id"], 1)], email=email)
    expect(api.post(f"/orders/{cancelled['id']}/cancel"), 200, "cancel")
    expect(api.post(f"/orders/{fulfilled['id']}/fulfill"), 200, "fulfill")
    for status, order in (("pending", pending), ("cancelled", cancelled), ("fulfilled", fulfilled)):
        page = list_orders(api, customer_email=email, status=status)
        assert ids_of(page) == [order["id"]], f"status={status}: {page}"
        assert page["total"] == 1
        assert page["items"][0]["status"] == status
    assert list_orders(api, customer_email=email)["total"] == 3
    some_pending = list_orders(api, status="pending", limit=100)
    assert all(item["status"] == "pending" for item in some_pending["items"])
    for status in ("shipped", "PENDING?", "bogus"):
        response = api.get("/orders", params={"status": status})
        assert response.status_code == 422, f"status={status!r}: {response.status_code}"


def test_list_orders_out_of_range_limit_or_offset_returns_422(api: httpx.Client) -> None:
    """Contract: "An out-of-range limit or offset is a 422, never a 500"."""
    page = list_orders(api, limit=100)
    assert page["limit"] == 100 and len(page["items"]) <= 100
    cases = ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"})
    assert_each_query_is_422(api, "/orders", cases, text_limit=300)


# --- Cancel and fulfil ------------------------------------------------------------------


def test_cancel_restores_stock(api: httpx.Client) -> None:
    """Contract: "Cancelling puts every unit of the order back into stock"."""
    first = create_product(api, stock=10)
    second = create_product(api, stock=4)
    order = place_order(api, [(first["id"], 3), (second["id"], 4), (first["id"], 2)])
    assert stocks_of(api, [first["id"], second["id"]]) == {first["id"]: 5, second["id"]: 0}
    cancelled = expect(api.post(f"/orders/{order['id']}/cancel"), 200, "cancel")
    assert cancelled["id"] == order["id"]
    assert cancelled["status"] == "cancelled"
    assert get_order(api, order["id"])["status"] == "cancelled"
    assert stocks_of(api, [first["id"], second["id"]]) == {first["id"]: 10, second["id"]: 4}


def test_cancel_twice_is_409_and_restores_once(api: httpx.Client) -> None:
    """Contract: "any other transition ... is a 409 and changes nothing"; "exactly once"."""
    product = create_product(api, stock=6)
    order = place_order(api, [(product["id"], 5)])
    expect(api.post(f"/orders/{order['id']}/cancel"), 200, "first cancel")
    assert stock_of(api, product["id"]) == 6
    again = api.post(f"/orders/{order['id']}/cancel")
    assert again.status_code == 409, f"second cancel: {again.status_code} {again.text[:300]}"
    assert stock_of(api, product["id"]) == 6
    assert get_order(api, order["id"])["status"] == "cancelled"


def test_fulfill_order_keeps_stock_taken(api: httpx.Client) -> None:
    """Contract: "Fulfilling does not change stock"; responds 200 with the updated order."""
    product = create_product(api, stock=6)
    order = place_order(api, [(product["id"], 2)])
    fulfilled = expect(api.post(f"/orders/{order['id']}/fulfill"), 200, "fulfill")
    assert fulfilled["id"] == order["id"]
    assert fulfilled["status"] == "fulfilled"
    assert_total(fulfilled, "20.00", "fulfilled order")
    assert get_order(api, order["id"])["status"] == "fulfilled"
    assert stock_of(api, product["id"]) == 4


def test_illegal_transitions_return_409(api: httpx.Client) -> None:
    """Contract: "Only a pending order can be cancelled or fulfilled; any other transition ... is a
    409 and changes nothing"."""
    product = create_product(api, stock=10)
    fulfilled = place_order(api, [(product["id"], 2)])
    cancelled = place_order(api, [(product["id"], 3)])
    expect(api.post(f"/orders/{fulfilled['id']}/fulfill"), 200, "fulfill")
    expect(api.post(f"/orders/{cancelled['id']}/cancel"), 200, "cancel")
    assert stock_of(api, product["id"]) == 8
    for order, action, status in (
        (fulfilled, "cancel", "fulfilled"),
        (fulfilled, "fulfill", "fulfilled"),
        (cancelled, "fulfill", "cancelled"),
        (cancelled, "cancel", "cancelled"),
    ):
        response = api.post(f"/orders/{order['id']}/{action}")
        assert response.status_code == 409, (
            f"{action} of a {status} order: {response.status_code} {response.text[:300]}"
        )
        assert get_order(api, order["id"])["status"] == status, f"{action} changed a {status} order"
        assert stock_of(api, product["id"]) == 8, f"{action} of a {status} order changed stock"


def test_cancel_and_fulfill_unknown_order_return_404(api: httpx.Client) -> None:
    product = create_product(api, stock=5)
    to_cancel = place_order(api, [(product["id"], 1)])
    to_fulfill = place_order(api, [(product["id"], 1)])
    expect(api.post(f"/orders/{to_cancel['id']}/cancel"), 200, "cancel")
    expect(api.post(f"/orders/{to_fulfill['id']}/fulfill"), 200, "fulfill")
    for action in ("cancel", "fulfill"):
        response = api.post(f"/orders/{UNKNOWN_ID}/{action}")
        assert response.status_code == 404, (
            f"{action}: {response.status_code} {response.text[:300]}"
        )


def test_stock_adjustments_and_orders_keep_stock_consistent(api: httpx.Client) -> None:
    """Stock "changes only through stock adjustments and orders", both on one count."""
    product = create_product(api, stock=1)
    place_order(api, [(product["id"], 1)])
    response = api.post("/orders", json=order_payload(new_email("c"), [(product["id"], 1)]))
    assert response.status_code == 409, f"order from empty stock: {response.status_code}"
    expect(adjust(api, product["id"], 3, "delivery"), 200, "adjust +3")
    order = place_order(api, [(product["id"], 3)])
    refused = adjust(api, product["id"], -1, "damaged")
    assert refused.status_code == 409, f"adjust below 0 after the order: {refused.status_code}"
    expect(api.post(f"/orders/{order['id']}/cancel"), 200, "cancel")
    assert expect(adjust(api, product["id"], -3, "damaged"), 200, "adjust -3")["stock"] == 0
    assert stock_of(api, product["id"]) == 0


# --- Concurrency ------------------------------------------------------------------------


def test_concurrent_orders_never_oversell(api: httpx.Client) -> None:
    """Contract: "Under concurrent orders for the same products, stock never goes below zero and no
    more units are sold than were in stock"; every concurrent request is answered, none
    with a 500. A refusal is "409 insufficient stock", so once orders were refused the
    stock has run out: exactly the units in stock are sold."""
    base_url = str(api.base_url)
    for round_number in range(1, RACE_ROUNDS + 1):
        product = create_product(api, price="2.50", stock=RACE_STOCK)
        email = new_email(f"race{round_number}-")
        payload = order_payload(email, [(product["id"], 1)])
        responses = run_together(RACE_BUYERS, poster("/orders", payload), base_url)
        codes = sorted(response.status_code for response in responses)
        what = f"round {round_number}: {RACE_BUYERS} orders of 1 for stock {RACE_STOCK}"
        assert all(code in (201, 409) for code in codes), f"{what}: status codes {codes}"
        stock = stock_of(api, product["id"])
        sold = ordered_units(api, [email], product["id"])
        listed = len(orders_of(api, email))
        assert stock >= 0, f"{what}: stock went below zero: {stock}"
        assert sold <= RACE_STOCK, f"{what}: {sold} units sold"
        assert codes.count(201) == listed, f"{what}: {codes.count(201)} created, {listed} listed"
        assert stock + sold == RACE_STOCK, f"{what}: stock {stock} + {sold} sold"
        assert sold == RACE_STOCK, f"{what}: only {sold} sold although orders were refused"


def test_concurrent_orders_in_opposite_line_order_all_succeed(api: httpx.Client) -> None:
    """Orders naming the same products in opposite line order, all at once, with stock for
    all: none may fail with a 500 (a deadlock) nor be refused for want of stock."""
    first = create_product(api, stock=100)
    second = create_product(api, stock=100)
    forward_email, backward_email = new_email("fwd"), new_email("bwd")
    forward = order_payload(forward_email, [(first["id"], 1), (second["id"], 1)])
    backward = order_payload(backward_email, [(second["id"], 1), (first["id"], 1)])
    buyers = 12
    responses = run_together(
        buyers,
        lambda client, index: client.post("/orders", json=forward if index % 2 else backward),
        str(api.base_url),
    )
    codes = sorted(response.status_code for response in responses)
    assert codes == [201] * buyers, (
        f"status codes {codes}: {[r.text[:200] for r in responses if r.status_code != 201]}"
    )
    left = 100 - buyers
    assert stocks_of(api, [first["id"], second["id"]]) == {first["id"]: left, second["id"]: left}
    emails = [forward_email, backward_email]
    assert ordered_units(api, emails, first["id"]) == buyers
    assert ordered_units(api, emails, second["id"]) == buyers


def test_concurrent_cancels_restore_stock_once(api: httpx.Client) -> None:
    """Contract: "Only a pending order can be cancelled ... Cancelling puts every unit of the order
    back into stock, exactly once", under simultaneous cancels too: one succeeds, the
    others find it cancelled (409). Three rounds: an unlocked read-then-update can get
    lucky once, rarely three times."""
    for round_number in range(1, CANCEL_ROUNDS + 1):
        product = create_product(api, stock=10)
        order = place_order(api, [(product["id"], 3)])
        assert stock_of(api, product["id"]) == 7
        responses = run_together(
            CANCELLERS, poster(f"/orders/{order['id']}/cancel"), str(api.base_url)
        )
        codes = sorted(response.status_code for response in responses)
        what = f"round {round_number}, {CANCELLERS} simultaneous cancels"
        assert codes == [200] + [409] * (CANCELLERS - 1), f"{what}: {codes}"
        assert stock_of(api, product["id"]) == 10, f"{what}: stock restored more than once"
        assert get_order(api, order["id"])["status"] == "cancelled"


# --- Robustness: extreme input ----------------------------------------------------------


def assert_order_refused(
    api: httpx.Client, allowed: tuple[int, ...], *, quantity: int = 1, other_id: int | None = None
) -> None:
    """An order for `quantity` of a stocked product (plus one unit of product `other_id`)
    is refused with one of `allowed`, and "no order is created and no stock changes"."""
    product = create_product(api, stock=5)
    email = new_email("far")
    placed = place_order(api, [(product["id"], 1)], email=email)
    lines = [(product["id"], quantity)] + ([(other_id, 1)] if other_id is not None else [])
    response = api.post("/orders", json=order_payload(email, lines))
    assert response.status_code in allowed, f"{lines}: {response.status_code}"
    assert stock_of(api, product["id"]) == 4
    assert_only_orders(api, email, [placed["id"]])


@robustness
def test_create_order_with_product_id_beyond_int32_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    for product_id in (2**31, 2**32 + 1):
        assert_order_refused(api, (404, 422), other_id=product_id)


@robustness
def test_create_order_with_product_id_beyond_int64_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    for product_id in (2**63, 10**20):
        assert_order_refused(api, (404, 422), other_id=product_id)


@robustness
def test_create_order_with_quantity_beyond_int32_is_refused_and_changes_nothing(
    api: httpx.Client,
) -> None:
    """Contract: "1 <= quantity <= 2147483647" (422), or refused for want of stock (409)."""
    for quantity in (2**31, 10**12):
        assert_order_refused(api, (409, 422), quantity=quantity)


@robustness
def test_create_order_with_quantity_beyond_int64_is_refused_and_changes_nothing(
    api: httpx.Client,
) -> None:
    """Contract: "1 <= quantity <= 2147483647" (422), or refused for want of stock (409)."""
    for quantity in (2**63, 10**30):
        assert_order_refused(api, (409, 422), quantity=quantity)


@robustness
def test_create_order_with_100000_character_customer_email_returns_422(
    api: httpx.Client,
) -> None:
    """customer_email "a valid email address, at most 255 characters"."""
    product = create_product(api, stock=5)
    place_order(api, [(product["id"], 1)])
    email = "a" * 100_000 + "@example.com"
    response = api.post("/orders", json=order_payload(email, [(product["id"], 1)]))
    assert response.status_code == 422, f"{response.status_code}"
    assert stock_of(api, product["id"]) == 4


@robustness
def test_get_order_with_id_beyond_int32_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api)
    get_order(api, place_order(api, [(product["id"], 1)])["id"])
    for order_id in (2**31, 2**32 + 1):
        response = api.get(f"/orders/{order_id}")
        assert response.status_code in (404, 422), f"id={order_id}: {response.status_code}"


@robustness
def test_get_order_with_id_beyond_int64_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api)
    get_order(api, place_order(api, [(product["id"], 1)])["id"])
    for order_id in (2**63, 10**20):
        response = api.get(f"/orders/{order_id}")
        assert response.status_code in (404, 422), f"id={order_id}: {response.status_code}"


@robustness
def test_cancel_and_fulfill_order_with_id_beyond_int64_return_404_or_422(
    api: httpx.Client,
) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api)
    order = place_order(api, [(product["id"], 1)])
    expect(api.post(f"/orders/{order['id']}/fulfill"), 200, "fulfill")
    for order_id in (2**31, 2**63):
        for action in ("cancel", "fulfill"):
            response = api.post(f"/orders/{order_id}/{action}")
            assert response.status_code in (404, 422), (
                f"{action} id={order_id}: {response.status_code}"
            )


def assert_orders_empty_page_or_422(api: httpx.Client, email: str, offset: int) -> None:
    response = api.get("/orders", params={"customer_email": email, "offset": offset})
    assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
    if response.status_code == 200:
        page = body_of(response)
        assert page["items"] == [], f"offset={offset}: {page}"
        assert page["offset"] == offset, f"offset={offset}: {page}"


@robustness
def test_list_orders_with_offset_beyond_int32_is_empty_page_or_422(api: httpx.Client) -> None:
    product = create_product(api)
    email = new_email("offset")
    order = place_order(api, [(product["id"], 1)], email=email)
    assert ids_of(list_orders(api, customer_email=email, offset=0)) == [order["id"]]
    assert_orders_empty_page_or_422(api, email, 2**31)


@robustness
def test_list_orders_with_offset_beyond_int64_is_empty_page_or_422(api: httpx.Client) -> None:
    product = create_product(api)
    email = new_email("offset")
    order = place_order(api, [(product["id"], 1)], email=email)
    assert ids_of(list_orders(api, customer_email=email, offset=0)) == [order["id"]]
    for offset in (2**63, 10**30):
        assert_orders_empty_page_or_422(api, email, offset)


@robustness
def test_create_order_with_nul_in_customer_email_is_not_a_server_error(
    api: httpx.Client,
) -> None:
    product = create_product(api, stock=5)
    email = new_email("nul")
    place_order(api, [(product["id"], 1)], email=email)
    nul_email = email.replace("@", "\x00x@")
    response = api.post("/orders", json=order_payload(nul_email, [(product["id"], 1)]))
    assert_not_server_error(response, "POST /orders with a NUL in customer_email")
    if response.is_success:
        stored = get_order(api, body_of(response)["id"])
        assert stored["customer_email"] == nul_email, f"stored as {stored['customer_email']!r}"
    assert stock_of(api, product["id"]) == (3 if response.is_success else 4)


@robustness
def test_list_orders_with_nul_in_customer_email_filter_is_not_a_server_error(
    api: httpx.Client,
) -> None:
    product = create_product(api, stock=5)
    email = new_email("nul")
    placed = place_order(api, [(product["id"], 1)], email=email)
    assert ids_of(list_orders(api, customer_email=email)) == [placed["id"]]
    for value in (f"{email}\x00x", "\x00"):
        response = api.get("/orders", params={"customer_email": value})
        assert_not_server_error(response, f"GET /orders?customer_email={value!r}")
        if response.is_success and value != "\x00":
            assert placed["id"] not in ids_of(body_of(response)), f"customer_email={value!r}"
