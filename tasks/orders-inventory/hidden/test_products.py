"""Hidden functional tests for the orders-inventory task: products and stock adjustments.

Fixtures come from graders.pytest_plugin: ``api`` (httpx.Client on the app), ``db`` (sync
SQLAlchemy engine on the app's database). Every test creates its own products with unique
SKUs and scopes list queries with a unique search token.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from oi_support import (
    INT32_MAX,
    adjust,
    assert_not_server_error,
    body_of,
    create_product,
    db_stock,
    expect,
    get_product,
    ids_of,
    list_products,
    money,
    new_sku,
    new_token,
    parse_timestamp,
    patch_product,
    place_order,
    stock_of,
)


def test_create_product_returns_201_with_fields(api: httpx.Client) -> None:
    sku = new_sku()
    response = api.post(
        "/products", json={"sku": sku, "name": "Blue Mug", "price": "19.99", "stock": 7}
    )
    body = expect(response, 201, "POST /products")
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool)
    assert body["sku"] == sku
    assert body["name"] == "Blue Mug"
    assert money(body["price"], "price") == Decimal("19.99")
    assert body["stock"] == 7
    parse_timestamp(body["created_at"])
    parse_timestamp(body["updated_at"])
    fetched = get_product(api, body["id"])
    assert (fetched["sku"], fetched["name"], fetched["stock"]) == (sku, "Blue Mug", 7)
    assert money(fetched["price"], "price") == Decimal("19.99")


def test_create_product_accepts_price_as_string_or_number(api: httpx.Client) -> None:
    as_string = create_product(api, price="19.99", stock=None)
    as_number = create_product(api, price=19.99, stock=None)
    as_integer = create_product(api, price=5, stock=None)
    for product, expected in ((as_string, "19.99"), (as_number, "19.99"), (as_integer, "5")):
        assert money(product["price"], "price") == Decimal(expected), product
        assert product["stock"] == 0, f"stock defaults to 0: {product}"
        stored = get_product(api, product["id"])
        assert money(stored["price"], "price") == Decimal(expected), stored


def test_price_reads_back_exactly(api: httpx.Client) -> None:
    token = new_token()
    prices = ["1234567.89", "99999999.99", "0.10", "0.07", "19.99", "4.35", "0", "0.01"]
    created: dict[int, Decimal] = {}
    for index, price in enumerate(prices):
        product = create_product(api, sku=f"{token}-{index}", price=price)
        assert money(product["price"], "price") == Decimal(price), f"created {price}: {product}"
        created[product["id"]] = Decimal(price)
    for product_id, exact in created.items():
        stored = get_product(api, product_id)
        assert money(stored["price"], "price") == exact, f"GET of {exact}: {stored['price']!r}"
    page = list_products(api, search=token, limit=100)
    assert len(page["items"]) == len(prices)
    for item in page["items"]:
        listed = money(item["price"], "price")
        assert listed == created[item["id"]], f"listed {created[item['id']]} as {item['price']!r}"


def test_create_product_rejects_invalid_price(api: httpx.Client) -> None:
    for price in (
        "-0.01",
        -1,
        "19.999",
        Decimal("19.999"),
        "100000000.00",
        100000000,
        "1e20",
        "abc",
        "",
        None,
        "NaN",
        "Infinity",
        True,
        [1],
    ):
        sku = new_sku()
        if isinstance(price, Decimal):
            raw = f'{{"sku": "{sku}", "name": "Bad Price", "price": {price}}}'
            response = api.post(
                "/products", content=raw, headers={"Content-Type": "application/json"}
            )
        else:
            response = api.post("/products", json={"sku": sku, "name": "Bad Price", "price": price})
        assert response.status_code == 422, (
            f"price={price!r}: {response.status_code} {response.text[:300]}"
        )


def test_create_product_validation_errors_return_422(api: httpx.Client) -> None:
    complete = {"sku": new_sku(), "name": "Valid Name", "price": "1.00", "stock": 1}
    for missing in ("sku", "name", "price"):
        payload = {key: value for key, value in complete.items() if key != missing}
        response = api.post("/products", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    for field, value in (
        ("sku", ""),
        ("sku", "S" * 65),
        ("sku", "S" * 300),
        ("name", ""),
        ("name", "n" * 201),
        ("name", "n" * 1000),
        ("stock", -1),
        ("stock", "many"),
        ("stock", 1.5),
        ("stock", 2**31),
        ("stock", 10**20),
    ):
        payload = {**complete, "sku": new_sku(), field: value}
        response = api.post("/products", json=payload)
        shown = value if len(str(value)) < 20 else f"{str(value)[:5]}...({len(str(value))})"
        assert response.status_code == 422, (
            f"{field}={shown!r}: {response.status_code} {response.text[:300]}"
        )
    assert api.post("/products", json={}).status_code == 422
    malformed = api.post(
        "/products", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422, f"malformed JSON: {malformed.status_code}"


def test_create_product_accepts_length_bounds(api: httpx.Client) -> None:
    sku = new_sku("B") + "x" * 50
    assert len(sku) == 64
    product = create_product(api, sku=sku, name="m" * 200, stock=INT32_MAX)
    assert product["sku"] == sku
    assert product["name"] == "m" * 200
    assert product["stock"] == INT32_MAX
    short = create_product(api, name="x")
    assert short["name"] == "x"


def test_create_duplicate_sku_returns_409(api: httpx.Client) -> None:
    sku = new_sku()
    first = create_product(api, sku=sku, name="First", stock=3)
    response = api.post("/products", json={"sku": sku, "name": "Second", "price": "2.00"})
    assert response.status_code == 409, f"{response.status_code} {response.text[:300]}"
    page = list_products(api, search=sku)
    assert page["total"] == 1
    assert [item["name"] for item in page["items"]] == ["First"]
    assert stock_of(api, first["id"]) == 3


def test_list_products_envelope_and_defaults(api: httpx.Client) -> None:
    token = new_token()
    product = create_product(api, sku=f"{token}-1", name="Envelope")
    page = list_products(api, search=token)
    assert (page["limit"], page["offset"], page["total"]) == (20, 0, 1)
    assert ids_of(page) == [product["id"]]
    item = page["items"][0]
    assert (item["sku"], item["name"], item["stock"]) == (product["sku"], "Envelope", 10)
    assert money(item["price"], "price") == Decimal("10.00")
    everything = list_products(api)
    assert (everything["limit"], everything["offset"]) == (20, 0)
    assert isinstance(everything["total"], int) and everything["total"] >= 1
    assert 1 <= len(everything["items"]) <= 20


def test_list_products_rejects_out_of_range_limit_and_offset(api: httpx.Client) -> None:
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"offset": -1},
        {"limit": "abc"},
        {"offset": "abc"},
    ):
        response = api.get("/products", params=params)
        assert response.status_code == 422, (
            f"{params}: {response.status_code} {response.text[:300]}"
        )
    for limit in (1, 100):
        page = list_products(api, limit=limit)
        assert page["limit"] == limit
        assert len(page["items"]) <= limit


def test_list_products_large_offset_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    for offset in (1_000_000, 2**31, 2**63, 10**30):
        response = api.get("/products", params={"search": token, "offset": offset})
        assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
        if response.status_code == 200:
            page = body_of(response)
            assert page["items"] == [], f"offset={offset}: {page}"
            assert page["offset"] == offset, f"offset={offset}: {page}"


def test_list_products_pagination_in_default_id_order(api: httpx.Client) -> None:
    token = new_token()
    created = [
        create_product(api, sku=f"{token}-{suffix}", name=f"{token} {name}")
        for suffix, name in (("c", "zulu"), ("a", "alpha"), ("b", "mike"))
    ]
    expected = sorted(product["id"] for product in created)
    assert expected == [product["id"] for product in created], "ids do not increase"
    for offset in (0, 1, 2):
        page = list_products(api, search=token, limit=1, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (3, 1, offset)
        assert ids_of(page) == expected[offset : offset + 1], f"offset={offset}: {page}"
    assert ids_of(list_products(api, search=token, limit=2, offset=1)) == expected[1:]
    beyond = list_products(api, search=token, limit=5, offset=3)
    assert beyond["total"] == 3
    assert beyond["items"] == []


def test_list_products_search_matches_name_and_sku(api: httpx.Client) -> None:
    token = new_token()
    by_name = create_product(api, name=f"Great {token.upper()} Lamp")
    by_sku = create_product(api, sku=f"X-{token}-Y", name="Plain Thing")
    create_product(api, name="Decoy Lamp")
    expected = sorted([by_name["id"], by_sku["id"]])
    for query in (token, token.upper(), token.swapcase()):
        page = list_products(api, search=query)
        assert sorted(ids_of(page)) == expected, f"search={query!r}: {page}"
        assert page["total"] == 2
    for query, match in ((f"at {token} la", by_name), (f"x-{token}-y", by_sku)):
        page = list_products(api, search=query)
        assert ids_of(page) == [match["id"]], f"search={query!r}: {page}"
        assert page["total"] == 1


def test_list_products_in_stock_filter(api: httpx.Client) -> None:
    token = new_token()
    empty = create_product(api, sku=f"{token}-empty", stock=0)
    stocked = create_product(api, sku=f"{token}-stocked", stock=3)
    one = create_product(api, sku=f"{token}-one", stock=1)
    page = list_products(api, search=token, in_stock="true")
    assert sorted(ids_of(page)) == sorted([stocked["id"], one["id"]]), page
    assert page["total"] == 2
    for item in page["items"]:
        assert item["stock"] > 0
    expect(adjust(api, one["id"], -1), 200, "adjust to 0")
    expect(adjust(api, empty["id"], 2), 200, "adjust from 0")
    page = list_products(api, search=token, in_stock="true")
    assert sorted(ids_of(page)) == sorted([stocked["id"], empty["id"]]), page
    assert page["total"] == 2
    everything = list_products(api, search=token)
    assert everything["total"] == 3
    unfiltered = api.get("/products", params={"search": token, "in_stock": "false"})
    assert unfiltered.status_code == 200, f"in_stock=false: {unfiltered.status_code}"
    listed = set(ids_of(body_of(unfiltered)))
    assert listed <= {empty["id"], stocked["id"], one["id"]}
    assert one["id"] in listed, "in_stock=false dropped the product that is out of stock"
    bad = api.get("/products", params={"in_stock": "maybe"})
    assert bad.status_code == 422, f"in_stock=maybe: {bad.status_code}"


def test_list_products_sort_by_name(api: httpx.Client) -> None:
    token = new_token()
    cherry = create_product(api, name=f"{token} cherry")
    apple = create_product(api, name=f"{token} apple")
    banana = create_product(api, name=f"{token} banana")
    ascending = [apple["id"], banana["id"], cherry["id"]]
    page = list_products(api, search=token, sort="name")
    assert ids_of(page) == ascending, page
    assert page["total"] == 3
    assert ids_of(list_products(api, search=token, sort="-name")) == ascending[::-1]


def test_list_products_sort_by_price_is_numeric(api: httpx.Client) -> None:
    token = new_token()
    created = {
        price: create_product(api, sku=f"{token}-{index}", price=price)["id"]
        for index, price in enumerate(["10.00", "9.50", "100.00", "2.25", "1000.01"])
    }
    ascending = [created[p] for p in ("2.25", "9.50", "10.00", "100.00", "1000.01")]
    page = list_products(api, search=token, sort="price")
    assert ids_of(page) == ascending, [item["price"] for item in page["items"]]
    descending = list_products(api, search=token, sort="-price")
    assert ids_of(descending) == ascending[::-1], [item["price"] for item in descending["items"]]


def test_list_products_sort_by_created_at(api: httpx.Client) -> None:
    token = new_token()
    created = [create_product(api, sku=f"{token}-{suffix}") for suffix in "ba"]
    stamps = [parse_timestamp(product["created_at"]) for product in created]
    distinct = len(set(stamps)) == len(stamps)
    for sort, reverse in (("created_at", False), ("-created_at", True)):
        page = list_products(api, search=token, sort=sort)
        assert sorted(ids_of(page)) == sorted(product["id"] for product in created)
        returned = [parse_timestamp(item["created_at"]) for item in page["items"]]
        assert returned == sorted(returned, reverse=reverse), f"sort={sort}: {returned}"
        if distinct:
            expected = [product["id"] for product in created]
            assert ids_of(page) == (expected[::-1] if reverse else expected), f"sort={sort}"


def test_list_products_rejects_unknown_sort(api: httpx.Client) -> None:
    for sort in ("bogus", "-bogus", "stock", "price; DROP TABLE products", "sku"):
        response = api.get("/products", params={"sort": sort})
        assert response.status_code == 422, f"sort={sort!r}: {response.status_code}"


def test_get_unknown_product_returns_404(api: httpx.Client) -> None:
    response = api.get(f"/products/{INT32_MAX}")
    assert response.status_code == 404, response.text
    for product_id in (2**31, 2**63, 10**20):
        response = api.get(f"/products/{product_id}")
        assert response.status_code in (404, 422), f"id={product_id}: {response.status_code}"


def test_patch_product_updates_only_given_fields(api: httpx.Client) -> None:
    product = create_product(api, name="Before", price="3.00", stock=4)
    renamed = patch_product(api, product["id"], {"name": "After"})
    assert renamed["name"] == "After"
    assert renamed["sku"] == product["sku"]
    assert money(renamed["price"], "price") == Decimal("3.00")
    assert renamed["stock"] == 4
    repriced = patch_product(api, product["id"], {"price": "1234567.89"})
    assert money(repriced["price"], "price") == Decimal("1234567.89")
    assert repriced["name"] == "After"
    sku = new_sku("MOVED")
    moved = patch_product(api, product["id"], {"sku": sku, "price": 0.1})
    assert moved["sku"] == sku
    assert money(moved["price"], "price") == Decimal("0.10")
    stored = get_product(api, product["id"])
    assert (stored["sku"], stored["name"], stored["stock"]) == (sku, "After", 4)
    assert money(stored["price"], "price") == Decimal("0.10")
    assert parse_timestamp(stored["created_at"]) == parse_timestamp(product["created_at"])


def test_patch_product_moves_updated_at(api: httpx.Client) -> None:
    product = create_product(api)
    before = parse_timestamp(product["updated_at"])
    after = parse_timestamp(patch_product(api, product["id"], {"name": "Changed"})["updated_at"])
    if after == before and before.microsecond == 0:
        time.sleep(1.05)
        changed = patch_product(api, product["id"], {"name": "Changed Again"})
        after = parse_timestamp(changed["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"
    assert parse_timestamp(get_product(api, product["id"])["updated_at"]) == after


def test_patch_product_own_sku_is_not_a_conflict(api: httpx.Client) -> None:
    product = create_product(api)
    body = patch_product(api, product["id"], {"sku": product["sku"], "name": "Same Sku"})
    assert body["sku"] == product["sku"]
    assert body["name"] == "Same Sku"


def test_patch_product_duplicate_sku_returns_409(api: httpx.Client) -> None:
    first = create_product(api)
    second = create_product(api)
    response = api.patch(f"/products/{second['id']}", json={"sku": first["sku"]})
    assert response.status_code == 409, f"{response.status_code} {response.text[:300]}"
    assert get_product(api, second["id"])["sku"] == second["sku"]
    assert get_product(api, first["id"])["sku"] == first["sku"]


def test_patch_product_invalid_input_returns_422(api: httpx.Client) -> None:
    product = create_product(api, name="Valid", price="2.50")
    for changes in (
        {"price": "-1"},
        {"price": "2.505"},
        {"price": "100000000"},
        {"price": "cheap"},
        {"sku": ""},
        {"sku": "S" * 65},
        {"name": ""},
        {"name": "n" * 201},
    ):
        response = api.patch(f"/products/{product['id']}", json=changes)
        assert response.status_code == 422, (
            f"{changes}: {response.status_code} {response.text[:300]}"
        )
    stored = get_product(api, product["id"])
    assert (stored["sku"], stored["name"]) == (product["sku"], "Valid")
    assert money(stored["price"], "price") == Decimal("2.50")


def test_patch_product_null_does_not_clear_fields(api: httpx.Client) -> None:
    product = create_product(api, name="Not Null", price="7.25")
    for field in ("sku", "name", "price"):
        response = api.patch(f"/products/{product['id']}", json={field: None})
        assert response.status_code in (200, 422), f"{field}=null: {response.status_code}"
        stored = get_product(api, product["id"])
        if field == "price":
            assert money(stored["price"], "price") == Decimal("7.25")
        else:
            assert stored[field] == product[field], f"{field}=null changed it to {stored[field]!r}"


def test_patch_product_cannot_change_stock(api: httpx.Client) -> None:
    product = create_product(api, stock=4)
    for changes in ({"stock": 999}, {"stock": 0, "name": "Renamed"}, {"stock": -5}):
        response = api.patch(f"/products/{product['id']}", json=changes)
        assert response.status_code in (200, 422), f"{changes}: {response.status_code}"
        assert stock_of(api, product["id"]) == 4, f"PATCH {changes} changed the stock"


def test_patch_unknown_product_returns_404(api: httpx.Client) -> None:
    response = api.patch(f"/products/{INT32_MAX}", json={"name": "Nobody"})
    assert response.status_code == 404, response.text


def test_stock_adjustment_adds_and_removes_units(api: httpx.Client) -> None:
    product = create_product(api, stock=2)
    added = expect(adjust(api, product["id"], 5, "delivery"), 200, "adjust +5")
    assert added["id"] == product["id"]
    assert added["stock"] == 7
    removed = expect(adjust(api, product["id"], -3, "damaged"), 200, "adjust -3")
    assert removed["stock"] == 4
    assert stock_of(api, product["id"]) == 4
    assert money(removed["price"], "price") == Decimal("10.00")


def test_stock_adjustment_below_zero_returns_409(api: httpx.Client, db: Engine) -> None:
    product = create_product(api, stock=2)
    refused = adjust(api, product["id"], -3, "too many")
    assert refused.status_code == 409, f"{refused.status_code} {refused.text[:300]}"
    assert stock_of(api, product["id"]) == 2
    assert db_stock(db, product["sku"]) == 2
    emptied = expect(adjust(api, product["id"], -2, "all gone"), 200, "adjust to exactly 0")
    assert emptied["stock"] == 0
    for delta in (-1, -INT32_MAX):
        refused = adjust(api, product["id"], delta, "nothing left")
        assert refused.status_code == 409, f"delta={delta}: {refused.status_code}"
    assert stock_of(api, product["id"]) == 0
    assert db_stock(db, product["sku"]) == 0


def test_stock_adjustment_unknown_product_returns_404(api: httpx.Client) -> None:
    response = adjust(api, INT32_MAX, 1, "ghost")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_stock_adjustment_invalid_input_returns_422(api: httpx.Client) -> None:
    product = create_product(api, stock=5)
    path = f"/products/{product['id']}/stock-adjustments"
    for payload in (
        {"reason": "no delta"},
        {"delta": "lots", "reason": "text"},
        {"delta": 1.5, "reason": "fraction"},
        {"delta": None, "reason": "null"},
        {},
    ):
        response = api.post(path, json=payload)
        assert response.status_code == 422, (
            f"{payload}: {response.status_code} {response.text[:300]}"
        )
    assert stock_of(api, product["id"]) == 5
    for delta in (2**31, 10**20, -(10**20)):
        response = api.post(path, json={"delta": delta, "reason": "huge"})
        assert response.status_code in (409, 422), f"delta={delta}: {response.status_code}"
    assert stock_of(api, product["id"]) == 5


def test_timestamps_include_utc_offset(api: httpx.Client) -> None:
    product = create_product(api, stock=3)
    order = place_order(api, [(product["id"], 1)])
    now = datetime.now(UTC)
    bodies: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        (product, ("created_at", "updated_at")),
        (get_product(api, product["id"]), ("created_at", "updated_at")),
        (order, ("created_at",)),
        (body_of(api.get(f"/orders/{order['id']}")), ("created_at",)),
    ]
    for body, keys in bodies:
        for key in keys:
            stamp = parse_timestamp(body[key])
            assert stamp.tzinfo is not None, f"{key}={body[key]!r} has no UTC offset"
            assert abs(stamp - now) < timedelta(minutes=10), f"{key}={body[key]!r}, now {now}"


def test_product_fields_with_nul_character_are_not_server_errors(api: httpx.Client) -> None:
    token = new_token()
    sku = f"NUL-{token}\x00A"
    name = f"Nul {token}\x00Lamp"
    for field, value in (("sku", sku), ("name", name)):
        payload = {"sku": new_sku(), "name": "Plain Lamp", "price": "5.00", field: value}
        response = api.post("/products", json=payload)
        assert_not_server_error(response, f"POST /products with a NUL in {field}")
        if response.is_success:
            stored = get_product(api, body_of(response)["id"])
            assert stored[field] == value, f"{field} was stored as {stored[field]!r}"
    product = create_product(api, name="Before Nul", stock=5)
    for field, value in (("sku", f"NUL-{token}\x00B"), ("name", name)):
        response = api.patch(f"/products/{product['id']}", json={field: value})
        assert_not_server_error(response, f"PATCH /products/{{id}} with a NUL in {field}")
        expected = value if response.is_success else product[field]
        assert get_product(api, product["id"])[field] == expected, f"{field} after the PATCH"
    response = adjust(api, product["id"], 3, reason=f"recount {token}\x00")
    assert_not_server_error(response, "POST /products/{id}/stock-adjustments with a NUL reason")
    assert stock_of(api, product["id"]) == (8 if response.is_success else 5)


def test_list_products_nul_character_in_search_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    decoy = create_product(api, name=f"Decoy {token} Lamp")
    for search in (f"{token}\x00zz", "\x00"):
        response = api.get("/products", params={"search": search})
        assert_not_server_error(response, f"GET /products?search={search!r}")
        if response.is_success and search != "\x00":
            assert decoy["id"] not in ids_of(body_of(response)), f"search={search!r}"
