"""Hidden tests for the orders-inventory task: products and stock adjustments.

Fixtures come from harness.graders.pytest_plugin: ``api`` (httpx.Client on the app). Every test
creates its own products with unique SKUs and scopes list queries with a unique search
token. Stock is always read through ``GET /products/{id}``. Tests that send extreme input
(NUL bytes, integers beyond int32/int64, huge offsets, oversized strings) are marked
``robustness``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from oi_support import (
    INT32_MAX,
    adjust,
    body_of,
    create_product,
    expect,
    get_order,
    get_product,
    list_products,
    money,
    new_sku,
    patch_product,
    place_order,
    stock_of,
)

from harness.graders.testkit import (
    UNKNOWN_ID,
    assert_each_query_is_422,
    assert_not_server_error,
    assert_sorted_within_ties,
    assert_validation_detail,
    created_at_of,
    ids_of,
    new_token,
    parse_timestamp,
)

robustness = pytest.mark.robustness


def post_raw(api: httpx.Client, path: str, raw: str) -> httpx.Response:
    return api.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})


# --- POST /products ---------------------------------------------------------------------


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
    """Contract: "A money value is sent as a JSON string ("19.99") or a JSON number (19.99)"."""
    for price, expected in (("19.99", "19.99"), (19.99, "19.99"), (5, "5"), ("0.5", "0.50")):
        product = create_product(api, price=price)
        assert money(product["price"], "price") == Decimal(expected), product
        stored = get_product(api, product["id"])
        assert money(stored["price"], "price") == Decimal(expected), stored


def test_create_product_without_stock_defaults_to_0(api: httpx.Client) -> None:
    """'optionally "stock" (default 0)'."""
    product = create_product(api, stock=None)
    assert product["stock"] == 0, product
    assert stock_of(api, product["id"]) == 0


def test_price_reads_back_exactly_from_create_get_and_list(api: httpx.Client) -> None:
    """Contract: "Responses carry money as a JSON string or number whose decimal value is exactly
    right ... on every database"."""
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
    assert sorted(ids_of(page)) == sorted(created)
    for item in page["items"]:
        listed = money(item["price"], "price")
        assert listed == created[item["id"]], f"listed {created[item['id']]} as {item['price']!r}"


def test_create_product_invalid_price_returns_422(api: httpx.Client) -> None:
    """Price: "0 <= price <= 99999999.99, at most 2 decimal places", sent as a JSON string
    or number; "A missing or invalid field is a 422"."""
    create_product(api, price="19.99")
    for price in (
        "-0.01",
        -1,
        "19.999",
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
        response = api.post("/products", json={"sku": new_sku(), "name": "Bad", "price": price})
        assert response.status_code == 422, (
            f"price={price!r}: {response.status_code} {response.text[:300]}"
        )
    # 19.999 as a JSON number, written by hand so no float conversion rounds it first.
    raw = f'{{"sku": "{new_sku()}", "name": "Bad", "price": 19.999}}'
    response = post_raw(api, "/products", raw)
    assert response.status_code == 422, f"price=19.999: {response.status_code}"


def test_create_product_missing_field_returns_422(api: httpx.Client) -> None:
    """'Body: {"sku", "name", "price"} (required) ... A missing ... field is a 422'."""
    create_product(api)
    complete = {"sku": new_sku(), "name": "Valid Name", "price": "1.00", "stock": 1}
    for missing in ("sku", "name", "price"):
        payload = {key: value for key, value in complete.items() if key != missing}
        response = api.post("/products", json=payload)
        assert response.status_code == 422, f"without {missing}: {response.status_code}"
    assert api.post("/products", json={}).status_code == 422, "empty body"


def test_create_product_invalid_field_returns_422(api: httpx.Client) -> None:
    """sku "1 to 64 characters", name "1 to 200 characters", stock an int ">= 0";
    "A missing or invalid field is a 422"."""
    create_product(api)
    for field, value in (
        ("sku", ""),
        ("sku", "S" * 65),
        ("name", ""),
        ("name", "n" * 201),
        ("stock", -1),
        ("stock", "many"),
        ("stock", 1.5),
        ("sku", None),
        ("name", None),
    ):
        payload = {"sku": new_sku(), "name": "Valid Name", "price": "1.00", field: value}
        response = api.post("/products", json=payload)
        shown = value if len(str(value)) < 20 else f"{str(value)[:5]}...({len(str(value))})"
        assert response.status_code == 422, (
            f"{field}={shown!r}: {response.status_code} {response.text[:300]}"
        )


def test_create_product_422_names_the_field_in_fastapi_detail_format(api: httpx.Client) -> None:
    """Contract: "422 invalid input, with FastAPI's field-level error detail format"."""
    create_product(api)
    response = api.post("/products", json={"sku": new_sku(), "name": "", "price": "1.00"})
    assert_validation_detail(response, "name")
    response = api.post("/products", json={"sku": new_sku(), "name": "Fine", "price": "-1"})
    assert_validation_detail(response, "price")


def test_create_product_malformed_json_returns_422(api: httpx.Client) -> None:
    """'422 invalid input': a body that is not JSON at all."""
    create_product(api)
    response = post_raw(api, "/products", "{not json")
    assert response.status_code == 422, f"malformed JSON: {response.status_code}"


def test_create_product_accepts_length_and_stock_bounds(api: httpx.Client) -> None:
    """sku up to 64 characters, name 1 to 200, stock "at most 2147483647"."""
    sku = new_sku("B") + "x" * 50
    assert len(sku) == 64
    product = create_product(api, sku=sku, name="m" * 200, stock=INT32_MAX)
    assert product["sku"] == sku
    assert product["name"] == "m" * 200
    assert product["stock"] == INT32_MAX
    assert stock_of(api, product["id"]) == INT32_MAX
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


# --- GET /products ----------------------------------------------------------------------


def test_list_products_envelope_and_defaults(api: httpx.Client) -> None:
    """'{"items": [...], "total", "limit", "offset"}'; limit default 20, offset default 0."""
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


def test_list_products_out_of_range_limit_or_offset_returns_422(api: httpx.Client) -> None:
    """Contract: "An out-of-range limit or offset is a 422, never a 500" (limit 1..100,
    offset >= 0)."""
    for limit in (1, 100):
        page = list_products(api, limit=limit)
        assert page["limit"] == limit
        assert len(page["items"]) <= limit
    assert_each_query_is_422(api, "/products", text_limit=300)


def test_list_products_pagination_in_default_id_order(api: httpx.Client) -> None:
    """Contract: "Without sort, products are ordered by id ascending"; total counts every match."""
    token = new_token()
    created = [
        create_product(api, sku=f"{token}-{suffix}", name=f"{token} {name}")
        for suffix, name in (("c", "zulu"), ("a", "alpha"), ("b", "mike"))
    ]
    expected = sorted(product["id"] for product in created)
    assert ids_of(list_products(api, search=token)) == expected
    for offset in (0, 1, 2):
        page = list_products(api, search=token, limit=1, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (3, 1, offset)
        assert ids_of(page) == expected[offset : offset + 1], f"offset={offset}: {page}"
    assert ids_of(list_products(api, search=token, limit=2, offset=1)) == expected[1:]
    beyond = list_products(api, search=token, limit=5, offset=3)
    assert (beyond["total"], beyond["offset"]) == (3, 3)
    assert beyond["items"] == []
    far = list_products(api, search=token, offset=1_000_000)
    assert (far["total"], far["offset"], far["items"]) == (3, 1_000_000, [])


def test_list_products_search_matches_name_and_sku_case_insensitively(api: httpx.Client) -> None:
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
    """Contract: "in_stock=true: only products with stock > 0"; "total applies the same filters"."""
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
    assert list_products(api, search=token)["total"] == 3


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
    """Contract: "price sorts by the numeric value"."""
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
    """sort=created_at / -created_at. Products created in the same instant (MySQL may keep
    whole seconds) may come in either order, so when the first two tie a third is created
    a second later: the check never rests on ties alone."""
    token = new_token()
    created = [create_product(api, sku=f"{token}-{suffix}") for suffix in "ba"]
    stamps = {created_at_of(get_product(api, product["id"])) for product in created}
    if len(stamps) < len(created):
        time.sleep(1.05)
        created.append(create_product(api, sku=f"{token}-c"))
    ids = sorted(product["id"] for product in created)
    for sort, descending in (("created_at", False), ("-created_at", True)):
        page = list_products(api, search=token, sort=sort)
        assert sorted(ids_of(page)) == ids, f"sort={sort}: {page}"
        listed = [created_at_of(item) for item in page["items"]]
        assert len(set(listed)) > 1, f"sort={sort}: every created_at ties: {listed}"
        assert_sorted_within_ties(
            page["items"], created_at_of, descending=descending, what=f"sort={sort} products"
        )


def test_list_products_unknown_sort_returns_422(api: httpx.Client) -> None:
    """Contract: "any other value is a 422"."""
    list_products(api, sort="name")
    for sort in ("bogus", "-bogus", "stock", "price; DROP TABLE products", "sku"):
        response = api.get("/products", params={"sort": sort})
        assert response.status_code == 422, f"sort={sort!r}: {response.status_code}"


# --- GET /products/{id} -----------------------------------------------------------------


def test_get_unknown_product_returns_404(api: httpx.Client) -> None:
    product = create_product(api)
    assert get_product(api, product["id"])["sku"] == product["sku"]
    response = api.get(f"/products/{UNKNOWN_ID}")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


# --- PATCH /products/{id} ---------------------------------------------------------------


def test_patch_product_updates_only_given_fields(api: httpx.Client) -> None:
    """Contract: "Any subset of sku, name, price; fields not sent are left unchanged"."""
    product = create_product(api, name="Before", price="3.00", stock=4)
    created_at = created_at_of(get_product(api, product["id"]))
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
    assert created_at_of(stored) == created_at, "created_at changed on PATCH"


def test_patch_product_moves_updated_at(api: httpx.Client) -> None:
    """Contract: "updated_at ... moves forward whenever the product is updated" (read back through
    GET; a store keeping whole seconds needs a second between the two writes)."""
    product = create_product(api)
    before = parse_timestamp(get_product(api, product["id"])["updated_at"])
    patch_product(api, product["id"], {"name": "Changed"})
    after = parse_timestamp(get_product(api, product["id"])["updated_at"])
    if after == before and before.microsecond == 0:
        time.sleep(1.05)
        patch_product(api, product["id"], {"name": "Changed Again"})
        after = parse_timestamp(get_product(api, product["id"])["updated_at"])
    assert after > before, f"updated_at did not move: {before} -> {after}"


def test_patch_product_own_sku_is_not_a_conflict(api: httpx.Client) -> None:
    """Contract: "keeping the product's own SKU is not a conflict"."""
    product = create_product(api)
    body = patch_product(api, product["id"], {"sku": product["sku"], "name": "Same Sku"})
    assert body["sku"] == product["sku"]
    assert body["name"] == "Same Sku"


def test_patch_product_duplicate_sku_returns_409(api: httpx.Client) -> None:
    first = create_product(api)
    second = create_product(api)
    free_sku = new_sku("FREE")
    assert patch_product(api, second["id"], {"sku": free_sku})["sku"] == free_sku
    response = api.patch(f"/products/{second['id']}", json={"sku": first["sku"]})
    assert response.status_code == 409, f"{response.status_code} {response.text[:300]}"
    assert get_product(api, second["id"])["sku"] == free_sku
    assert get_product(api, first["id"])["sku"] == first["sku"]


def test_patch_product_invalid_input_returns_422(api: httpx.Client) -> None:
    """Contract: "The same validation as on create applies"; nothing changes."""
    product = create_product(api, name="Valid", price="2.50")
    patch_product(api, product["id"], {"name": "Valid"})
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


def test_patch_product_null_field_returns_422_and_changes_nothing(api: httpx.Client) -> None:
    """Contract: "null is not a valid value for any field" (and invalid input is a 422)."""
    product = create_product(api, name="Not Null", price="7.25")
    patch_product(api, product["id"], {"name": "Not Null"})
    for field in ("sku", "name", "price"):
        response = api.patch(f"/products/{product['id']}", json={field: None})
        assert response.status_code == 422, f"{field}=null: {response.status_code}"
        stored = get_product(api, product["id"])
        assert (stored["sku"], stored["name"]) == (product["sku"], "Not Null"), stored
        assert money(stored["price"], "price") == Decimal("7.25"), stored


def test_patch_product_cannot_change_stock(api: httpx.Client) -> None:
    """Contract: "Stock cannot be changed here" (a stock field may be refused or ignored)."""
    product = create_product(api, stock=4)
    for changes in ({"stock": 999}, {"stock": 0, "name": "Renamed"}, {"stock": -5}):
        response = api.patch(f"/products/{product['id']}", json=changes)
        assert response.status_code in (200, 422), f"{changes}: {response.status_code}"
        assert stock_of(api, product["id"]) == 4, f"PATCH {changes} changed the stock"


def test_patch_unknown_product_returns_404(api: httpx.Client) -> None:
    product = create_product(api)
    assert patch_product(api, product["id"], {"name": "Somebody"})["name"] == "Somebody"
    response = api.patch(f"/products/{UNKNOWN_ID}", json={"name": "Nobody"})
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


# --- POST /products/{id}/stock-adjustments ----------------------------------------------


def test_stock_adjustment_adds_and_removes_units(api: httpx.Client) -> None:
    """Contract: "A positive delta adds units, a negative one removes them. Responds 200 with the
    updated product"."""
    product = create_product(api, stock=2)
    added = expect(adjust(api, product["id"], 5, "delivery"), 200, "adjust +5")
    assert added["id"] == product["id"]
    assert added["stock"] == 7
    removed = expect(adjust(api, product["id"], -3, "damaged"), 200, "adjust -3")
    assert removed["id"] == product["id"]
    assert removed["stock"] == 4
    assert stock_of(api, product["id"]) == 4


def test_stock_adjustment_below_zero_returns_409_and_keeps_stock(api: httpx.Client) -> None:
    """Contract: "If the stock would go below 0 ... the request is a 409 and nothing changes"."""
    product = create_product(api, stock=2)
    refused = adjust(api, product["id"], -3, "too many")
    assert refused.status_code == 409, f"{refused.status_code} {refused.text[:300]}"
    assert stock_of(api, product["id"]) == 2
    emptied = expect(adjust(api, product["id"], -2, "all gone"), 200, "adjust to exactly 0")
    assert emptied["stock"] == 0
    for delta in (-1, -INT32_MAX):
        refused = adjust(api, product["id"], delta, "nothing left")
        assert refused.status_code == 409, f"delta={delta}: {refused.status_code}"
    assert stock_of(api, product["id"]) == 0


def test_stock_adjustment_above_the_stock_maximum_returns_409_and_keeps_stock(
    api: httpx.Client,
) -> None:
    """Contract: "If the stock would go below 0 (or above 2147483647) the request is a 409 and
    nothing changes"."""
    product = create_product(api, stock=INT32_MAX - 10)
    filled = expect(adjust(api, product["id"], 10, "delivery"), 200, "adjust to the maximum")
    assert filled["stock"] == INT32_MAX
    for delta in (1, 100):
        refused = adjust(api, product["id"], delta, "one too many")
        assert refused.status_code == 409, f"delta={delta}: {refused.status_code}"
    assert stock_of(api, product["id"]) == INT32_MAX


def test_stock_adjustment_unknown_product_returns_404(api: httpx.Client) -> None:
    product = create_product(api, stock=1)
    assert expect(adjust(api, product["id"], 1, "found one"), 200, "adjust +1")["stock"] == 2
    response = adjust(api, UNKNOWN_ID, 1, "ghost")
    assert response.status_code == 404, f"{response.status_code} {response.text[:300]}"


def test_stock_adjustment_invalid_delta_returns_422_and_keeps_stock(api: httpx.Client) -> None:
    """'Body: {"delta": int, "reason": string} (both required)'."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1), 200, "adjust +1")["stock"] == 6
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
    assert stock_of(api, product["id"]) == 6


def test_stock_adjustment_without_reason_returns_422_and_keeps_stock(api: httpx.Client) -> None:
    """'{"delta": int, "reason": string} (both required ...)'."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1, "delivery"), 200, "adjust +1")["stock"] == 6
    path = f"/products/{product['id']}/stock-adjustments"
    for payload in ({"delta": 2}, {"delta": 2, "reason": None}):
        response = api.post(path, json=payload)
        assert response.status_code == 422, f"{payload}: {response.status_code}"
    assert stock_of(api, product["id"]) == 6


def test_stock_adjustment_with_empty_reason_returns_422_and_keeps_stock(
    api: httpx.Client,
) -> None:
    """Contract: "reason 1 to 255 characters"."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1, "delivery"), 200, "adjust +1")["stock"] == 6
    response = adjust(api, product["id"], 2, "")
    assert response.status_code == 422, f"reason='': {response.status_code}"
    assert stock_of(api, product["id"]) == 6


def test_stock_adjustment_with_256_character_reason_returns_422_and_keeps_stock(
    api: httpx.Client,
) -> None:
    """Contract: "reason 1 to 255 characters"."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1, "delivery"), 200, "adjust +1")["stock"] == 6
    response = adjust(api, product["id"], 2, "r" * 256)
    assert response.status_code == 422, f"256-character reason: {response.status_code}"
    assert stock_of(api, product["id"]) == 6


def test_stock_adjustment_accepts_1_and_255_character_reasons(api: httpx.Client) -> None:
    """Contract: "reason 1 to 255 characters"."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1, "r" * 255), 200, "255 characters")["stock"] == 6
    assert expect(adjust(api, product["id"], 1, "r"), 200, "1 character")["stock"] == 7
    assert stock_of(api, product["id"]) == 7


# --- Timestamps -------------------------------------------------------------------------


def test_timestamps_are_iso_8601_with_utc_offset(api: httpx.Client) -> None:
    """Contract: "Timestamps ... are ISO 8601 date-time strings in UTC with an offset"; set on
    creation (so within minutes of now)."""
    product = create_product(api, stock=3)
    order = place_order(api, [(product["id"], 1)])
    now = datetime.now(UTC)
    bodies: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        (product, ("created_at", "updated_at")),
        (get_product(api, product["id"]), ("created_at", "updated_at")),
        (order, ("created_at",)),
        (get_order(api, order["id"]), ("created_at",)),
    ]
    for body, keys in bodies:
        for key in keys:
            stamp = parse_timestamp(body[key])
            assert stamp.tzinfo is not None, f"{key}={body[key]!r} has no UTC offset"
            assert abs(stamp - now) < timedelta(minutes=10), f"{key}={body[key]!r}, now {now}"


# --- Robustness: extreme input ----------------------------------------------------------


def assert_refused_or_stored(
    api: httpx.Client, response: httpx.Response, field: str, value: str, what: str
) -> None:
    """Not a 5xx; a product accepted with the value holds it exactly."""
    assert_not_server_error(response, what)
    if response.is_success:
        stored = get_product(api, body_of(response)["id"])
        assert stored[field] == value, f"{what}: {field} was stored as {stored[field]!r}"


@robustness
def test_create_product_with_nul_in_sku_is_not_a_server_error(api: httpx.Client) -> None:
    create_product(api)
    sku = f"NUL-{new_token()}\x00A"
    response = api.post("/products", json={"sku": sku, "name": "Plain", "price": "5.00"})
    assert_refused_or_stored(api, response, "sku", sku, "POST /products with a NUL in sku")


@robustness
def test_create_product_with_nul_in_name_is_not_a_server_error(api: httpx.Client) -> None:
    create_product(api)
    name = f"Nul {new_token()}\x00Lamp"
    response = api.post("/products", json={"sku": new_sku(), "name": name, "price": "5.00"})
    assert_refused_or_stored(api, response, "name", name, "POST /products with a NUL in name")


@robustness
def test_patch_product_with_nul_in_sku_is_not_a_server_error(api: httpx.Client) -> None:
    product = create_product(api)
    patch_product(api, product["id"], {"name": "Before Nul"})
    sku = f"NUL-{new_token()}\x00B"
    response = api.patch(f"/products/{product['id']}", json={"sku": sku})
    assert_not_server_error(response, "PATCH /products/{id} with a NUL in sku")
    expected = sku if response.is_success else product["sku"]
    assert get_product(api, product["id"])["sku"] == expected


@robustness
def test_patch_product_with_nul_in_name_is_not_a_server_error(api: httpx.Client) -> None:
    product = create_product(api)
    patch_product(api, product["id"], {"name": "Before Nul"})
    name = f"Nul {new_token()}\x00Lamp"
    response = api.patch(f"/products/{product['id']}", json={"name": name})
    assert_not_server_error(response, "PATCH /products/{id} with a NUL in name")
    expected = name if response.is_success else "Before Nul"
    assert get_product(api, product["id"])["name"] == expected


@robustness
def test_stock_adjustment_with_nul_in_reason_is_not_a_server_error(api: httpx.Client) -> None:
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1), 200, "adjust +1")["stock"] == 6
    response = adjust(api, product["id"], 3, reason=f"recount {new_token()}\x00")
    assert_not_server_error(response, "POST /products/{id}/stock-adjustments with a NUL reason")
    assert stock_of(api, product["id"]) == (9 if response.is_success else 6)


@robustness
def test_list_products_with_nul_in_search_is_not_a_server_error(api: httpx.Client) -> None:
    token = new_token()
    decoy = create_product(api, name=f"Decoy {token} Lamp")
    assert ids_of(list_products(api, search=token)) == [decoy["id"]]
    for search in (f"{token}\x00zz", "\x00"):
        response = api.get("/products", params={"search": search})
        assert_not_server_error(response, f"GET /products?search={search!r}")
        if response.is_success and search != "\x00":
            assert decoy["id"] not in ids_of(body_of(response)), f"search={search!r}"


@robustness
def test_create_product_with_100000_character_name_or_sku_returns_422(api: httpx.Client) -> None:
    """name "1 to 200 characters", sku "1 to 64 characters"."""
    create_product(api)
    for field, value in (("name", "n" * 100_000), ("sku", "S" * 100_000)):
        payload = {"sku": new_sku(), "name": "Long", "price": "1.00", field: value}
        response = api.post("/products", json=payload)
        assert response.status_code == 422, f"{field} of 100000 characters: {response.status_code}"


@robustness
def test_create_product_with_stock_beyond_int32_returns_422(api: httpx.Client) -> None:
    """stock "at most 2147483647"."""
    create_product(api, stock=INT32_MAX)
    for stock in (2**31, 2**32 + 5):
        response = api.post(
            "/products", json={"sku": new_sku(), "name": "Big", "price": "1.00", "stock": stock}
        )
        assert response.status_code == 422, f"stock={stock}: {response.status_code}"


@robustness
def test_create_product_with_stock_beyond_int64_returns_422(api: httpx.Client) -> None:
    """stock "at most 2147483647"."""
    create_product(api, stock=INT32_MAX)
    for stock in (2**63, 10**20):
        response = api.post(
            "/products", json={"sku": new_sku(), "name": "Big", "price": "1.00", "stock": stock}
        )
        assert response.status_code == 422, f"stock={stock}: {response.status_code}"


def assert_empty_page_or_422(api: httpx.Client, token: str, offset: int) -> None:
    response = api.get("/products", params={"search": token, "offset": offset})
    assert response.status_code in (200, 422), f"offset={offset}: {response.status_code}"
    if response.status_code == 200:
        page = body_of(response)
        assert page["items"] == [], f"offset={offset}: {page}"
        assert page["offset"] == offset, f"offset={offset}: {page}"


@robustness
def test_list_products_with_offset_beyond_int32_is_empty_page_or_422(api: httpx.Client) -> None:
    token = new_token()
    product = create_product(api, sku=f"{token}-1")
    assert ids_of(list_products(api, search=token, offset=0)) == [product["id"]]
    assert_empty_page_or_422(api, token, 2**31)


@robustness
def test_list_products_with_offset_beyond_int64_is_empty_page_or_422(api: httpx.Client) -> None:
    token = new_token()
    product = create_product(api, sku=f"{token}-1")
    assert ids_of(list_products(api, search=token, offset=0)) == [product["id"]]
    for offset in (2**63, 10**30):
        assert_empty_page_or_422(api, token, offset)


@robustness
def test_get_product_with_id_beyond_int32_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api)
    get_product(api, product["id"])
    for product_id in (2**31, 2**32 + 1):
        response = api.get(f"/products/{product_id}")
        assert response.status_code in (404, 422), f"id={product_id}: {response.status_code}"


@robustness
def test_get_product_with_id_beyond_int64_returns_404_or_422(api: httpx.Client) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api)
    get_product(api, product["id"])
    for product_id in (2**63, 10**20):
        response = api.get(f"/products/{product_id}")
        assert response.status_code in (404, 422), f"id={product_id}: {response.status_code}"


@robustness
def test_patch_and_adjust_product_with_id_beyond_int64_return_404_or_422(
    api: httpx.Client,
) -> None:
    """Contract: "an id beyond the 32-bit integer range may be a 422 instead" of a 404."""
    product = create_product(api, stock=1)
    patch_product(api, product["id"], {"name": "Reachable"})
    expect(adjust(api, product["id"], 1), 200, "adjust +1")
    for product_id in (2**31, 2**63):
        patched = api.patch(f"/products/{product_id}", json={"name": "Far"})
        assert patched.status_code in (404, 422), f"PATCH id={product_id}: {patched.status_code}"
        adjusted = adjust(api, product_id, 1)
        assert adjusted.status_code in (404, 422), f"adjust id={product_id}: {adjusted.status_code}"


@robustness
def test_stock_adjustment_with_delta_beyond_int32_is_refused_and_keeps_stock(
    api: httpx.Client,
) -> None:
    """A delta taking the stock above 2147483647 is a 409 (or the delta is invalid input,
    a 422); "nothing changes"."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1), 200, "adjust +1")["stock"] == 6
    for delta in (2**31, -(2**31) - 1):
        response = adjust(api, product["id"], delta, "huge")
        assert response.status_code in (409, 422), f"delta={delta}: {response.status_code}"
    assert stock_of(api, product["id"]) == 6


@robustness
def test_stock_adjustment_with_delta_beyond_int64_is_refused_and_keeps_stock(
    api: httpx.Client,
) -> None:
    """A delta taking the stock out of 0..2147483647 is a 409 (or the delta is invalid
    input, a 422); "nothing changes"."""
    product = create_product(api, stock=5)
    assert expect(adjust(api, product["id"], 1), 200, "adjust +1")["stock"] == 6
    for delta in (2**63, 10**20, -(10**20)):
        response = adjust(api, product["id"], delta, "huge")
        assert response.status_code in (409, 422), f"delta={delta}: {response.status_code}"
    assert stock_of(api, product["id"]) == 6
