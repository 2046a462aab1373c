from typing import Annotated, Any

from fastapi import APIRouter, Query, status

import services
from dependencies import OrderId, ProductId, SessionDep
from models import Order, Product
from schemas import (
    OrderCreate,
    OrderListParams,
    OrderPage,
    OrderRead,
    ProductCreate,
    ProductListParams,
    ProductPage,
    ProductRead,
    ProductUpdate,
    StockAdjustmentCreate,
)

Responses = dict[int | str, dict[str, Any]]

PRODUCT_NOT_FOUND: Responses = {404: {"description": "Product not found"}}
ORDER_NOT_FOUND: Responses = {404: {"description": "Order not found"}}
SKU_CONFLICT: Responses = {409: {"description": "SKU already exists"}}
STOCK_CONFLICT: Responses = {409: {"description": "Stock would go out of range"}}
ORDER_CONFLICT: Responses = {409: {"description": "Insufficient stock"}}
TRANSITION_CONFLICT: Responses = {409: {"description": "Order is not pending"}}

products_router = APIRouter(prefix="/products", tags=["products"])
orders_router = APIRouter(prefix="/orders", tags=["orders"])


@products_router.post(
    "",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    responses=SKU_CONFLICT,
    summary="Create a product",
)
async def create_product(payload: ProductCreate, session: SessionDep) -> Product:
    return await services.create_product(session, payload)


@products_router.get("", response_model=ProductPage, summary="List products")
async def list_products(
    params: Annotated[ProductListParams, Query()],
    session: SessionDep,
) -> ProductPage:
    products, total = await services.list_products(session, params)
    return ProductPage(
        items=[ProductRead.model_validate(product) for product in products],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@products_router.get(
    "/{product_id}",
    response_model=ProductRead,
    responses=PRODUCT_NOT_FOUND,
    summary="Get a product",
)
async def get_product(product_id: ProductId, session: SessionDep) -> Product:
    return await services.get_product(session, product_id)


@products_router.patch(
    "/{product_id}",
    response_model=ProductRead,
    responses={**PRODUCT_NOT_FOUND, **SKU_CONFLICT},
    summary="Update a product",
)
async def update_product(
    product_id: ProductId, payload: ProductUpdate, session: SessionDep
) -> Product:
    return await services.update_product(session, product_id, payload)


@products_router.post(
    "/{product_id}/stock-adjustments",
    response_model=ProductRead,
    responses={**PRODUCT_NOT_FOUND, **STOCK_CONFLICT},
    summary="Adjust a product's stock",
)
async def adjust_stock(
    product_id: ProductId, payload: StockAdjustmentCreate, session: SessionDep
) -> Product:
    return await services.adjust_stock(session, product_id, payload)


@orders_router.post(
    "",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    responses={**PRODUCT_NOT_FOUND, **ORDER_CONFLICT},
    summary="Place an order",
)
async def create_order(payload: OrderCreate, session: SessionDep) -> Order:
    return await services.place_order(session, payload)


@orders_router.get("", response_model=OrderPage, summary="List orders")
async def list_orders(
    params: Annotated[OrderListParams, Query()],
    session: SessionDep,
) -> OrderPage:
    orders, total = await services.list_orders(session, params)
    return OrderPage(
        items=[OrderRead.model_validate(order) for order in orders],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@orders_router.get(
    "/{order_id}",
    response_model=OrderRead,
    responses=ORDER_NOT_FOUND,
    summary="Get an order",
)
async def get_order(order_id: OrderId, session: SessionDep) -> Order:
    return await services.get_order(session, order_id)


@orders_router.post(
    "/{order_id}/cancel",
    response_model=OrderRead,
    responses={**ORDER_NOT_FOUND, **TRANSITION_CONFLICT},
    summary="Cancel a pending order and restore its stock",
)
async def cancel_order(order_id: OrderId, session: SessionDep) -> Order:
    return await services.cancel_order(session, order_id)


@orders_router.post(
    "/{order_id}/fulfill",
    response_model=OrderRead,
    responses={**ORDER_NOT_FOUND, **TRANSITION_CONFLICT},
    summary="Fulfill a pending order",
)
async def fulfill_order(order_id: OrderId, session: SessionDep) -> Order:
    return await services.fulfill_order(session, order_id)
