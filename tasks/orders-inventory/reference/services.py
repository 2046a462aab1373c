from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exceptions import (
    InsufficientStockError,
    InvalidOrderTransitionError,
    OrderNotFoundError,
    ProductNotFoundError,
    SkuAlreadyExistsError,
    StockOutOfRangeError,
)
from models import Order, OrderItem, Product, StockAdjustment, utcnow
from schemas import (
    INT32_MAX,
    OrderCreate,
    OrderListParams,
    OrderStatus,
    ProductCreate,
    ProductListParams,
    ProductUpdate,
    StockAdjustmentCreate,
)

PRODUCT_SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "name": (Product.name.asc(), Product.id.asc()),
    "-name": (Product.name.desc(), Product.id.desc()),
    "price": (Product.price.asc(), Product.id.asc()),
    "-price": (Product.price.desc(), Product.id.desc()),
    "created_at": (Product.created_at.asc(), Product.id.asc()),
    "-created_at": (Product.created_at.desc(), Product.id.desc()),
}


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def product_filters(params: ProductListParams) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if params.search:
        pattern = f"%{escape_like(params.search.lower())}%"
        filters.append(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.sku).like(pattern, escape="\\"),
            )
        )
    if params.in_stock is True:
        filters.append(Product.stock > 0)
    elif params.in_stock is False:
        filters.append(Product.stock == 0)
    return filters


async def list_products(
    session: AsyncSession, params: ProductListParams
) -> tuple[list[Product], int]:
    filters = product_filters(params)
    total = await session.scalar(select(func.count(Product.id)).where(*filters))
    order = PRODUCT_SORTS[params.sort] if params.sort else (Product.id.asc(),)
    result = await session.scalars(
        select(Product).where(*filters).order_by(*order).limit(params.limit).offset(params.offset)
    )
    return list(result.all()), total or 0


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise ProductNotFoundError(product_id)
    return product


async def sku_taken(session: AsyncSession, sku: str, exclude_id: int | None = None) -> bool:
    statement = select(Product.id).where(Product.sku == sku)
    if exclude_id is not None:
        statement = statement.where(Product.id != exclude_id)
    return await session.scalar(statement.limit(1)) is not None


async def commit_product(session: AsyncSession, product: Product) -> Product:
    sku = product.sku
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise SkuAlreadyExistsError(sku) from exc
    await session.refresh(product)
    return product


async def create_product(session: AsyncSession, payload: ProductCreate) -> Product:
    if await sku_taken(session, payload.sku):
        raise SkuAlreadyExistsError(payload.sku)
    product = Product(
        sku=payload.sku,
        name=payload.name,
        price=payload.price,
        stock=payload.stock,
    )
    session.add(product)
    return await commit_product(session, product)


async def update_product(
    session: AsyncSession, product_id: int, payload: ProductUpdate
) -> Product:
    product = await get_product(session, product_id)
    changes = payload.model_dump(exclude_unset=True)
    new_sku = changes.get("sku")
    if new_sku is not None and await sku_taken(session, new_sku, exclude_id=product.id):
        raise SkuAlreadyExistsError(new_sku)
    for field, value in changes.items():
        setattr(product, field, value)
    product.updated_at = utcnow()
    return await commit_product(session, product)


async def adjust_stock(
    session: AsyncSession, product_id: int, payload: StockAdjustmentCreate
) -> Product:
    async with session.begin():
        product = await session.scalar(
            select(Product).where(Product.id == product_id).with_for_update()
        )
        if product is None:
            raise ProductNotFoundError(product_id)
        new_stock = product.stock + payload.delta
        if new_stock < 0 or new_stock > INT32_MAX:
            raise StockOutOfRangeError(product.id, product.stock, payload.delta)
        product.stock = new_stock
        product.updated_at = utcnow()
        session.add(
            StockAdjustment(
                product_id=product.id,
                delta=payload.delta,
                reason=payload.reason,
                stock_after=new_stock,
            )
        )
    return product


async def lock_products(session: AsyncSession, product_ids: list[int]) -> dict[int, Product]:
    result = await session.scalars(
        select(Product)
        .where(Product.id.in_(sorted(set(product_ids))))
        .order_by(Product.id)
        .with_for_update()
    )
    return {product.id: product for product in result.all()}


async def get_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.items))
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFoundError(order_id)
    return order


async def list_orders(session: AsyncSession, params: OrderListParams) -> tuple[list[Order], int]:
    filters: list[ColumnElement[bool]] = []
    if params.status is not None:
        filters.append(Order.status == params.status.value)
    if params.customer_email is not None:
        filters.append(Order.customer_email == params.customer_email.strip().lower())
    total = await session.scalar(select(func.count(Order.id)).where(*filters))
    result = await session.scalars(
        select(Order)
        .where(*filters)
        .options(selectinload(Order.items))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(params.limit)
        .offset(params.offset)
    )
    return list(result.all()), total or 0


async def place_order(session: AsyncSession, payload: OrderCreate) -> Order:
    requested: dict[int, int] = {}
    for line in payload.items:
        requested[line.product_id] = requested.get(line.product_id, 0) + line.quantity
    async with session.begin():
        products = await lock_products(session, list(requested))
        for product_id in requested:
            if product_id not in products:
                raise ProductNotFoundError(product_id)
        for product_id, quantity in requested.items():
            product = products[product_id]
            if product.stock < quantity:
                raise InsufficientStockError(product_id, quantity, product.stock)
        now = utcnow()
        for product_id, quantity in requested.items():
            product = products[product_id]
            product.stock -= quantity
            product.updated_at = now
        items = [
            OrderItem(
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=products[line.product_id].price,
            )
            for line in payload.items
        ]
        order = Order(
            customer_email=payload.customer_email,
            status=OrderStatus.PENDING.value,
            total=sum((item.unit_price * item.quantity for item in items), Decimal("0.00")),
            items=items,
        )
        session.add(order)
    return await get_order(session, order.id)


async def lock_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.items))
        .with_for_update()
    )
    if order is None:
        raise OrderNotFoundError(order_id)
    return order


async def cancel_order(session: AsyncSession, order_id: int) -> Order:
    async with session.begin():
        order = await lock_order(session, order_id)
        if order.status != OrderStatus.PENDING.value:
            raise InvalidOrderTransitionError(order.id, order.status, OrderStatus.CANCELLED)
        returned: dict[int, int] = {}
        for item in order.items:
            returned[item.product_id] = returned.get(item.product_id, 0) + item.quantity
        products = await lock_products(session, list(returned))
        now = utcnow()
        for product_id, quantity in returned.items():
            product = products[product_id]
            if product.stock + quantity > INT32_MAX:
                raise StockOutOfRangeError(product.id, product.stock, quantity)
            product.stock += quantity
            product.updated_at = now
        order.status = OrderStatus.CANCELLED.value
        order.updated_at = now
    return await get_order(session, order_id)


async def fulfill_order(session: AsyncSession, order_id: int) -> Order:
    async with session.begin():
        order = await lock_order(session, order_id)
        if order.status != OrderStatus.PENDING.value:
            raise InvalidOrderTransitionError(order.id, order.status, OrderStatus.FULFILLED)
        order.status = OrderStatus.FULFILLED.value
        order.updated_at = utcnow()
    return await get_order(session, order_id)
