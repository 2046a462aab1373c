from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

INT32_MAX = 2147483647


class OrderStatus(StrEnum):
    PENDING = "pending"
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"


def normalize_email(value: str) -> str:
    return value.strip().lower()


def reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


Email = Annotated[
    EmailStr, Field(max_length=255), AfterValidator(normalize_email), AfterValidator(reject_nul)
]
Sku = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(reject_nul),
]
ProductName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(reject_nul),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(reject_nul),
]
FilterText = Annotated[str, Field(max_length=255), AfterValidator(reject_nul)]
Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("99999999.99"), max_digits=10, decimal_places=2, allow_inf_nan=False),
]
Stock = Annotated[int, Field(ge=0, le=INT32_MAX)]
Quantity = Annotated[int, Field(ge=1, le=INT32_MAX)]
Delta = Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX)]
EntityId = Annotated[int, Field(ge=1, le=INT32_MAX)]
UTCDateTime = Annotated[datetime, AfterValidator(ensure_utc)]
ProductSort = Literal["name", "-name", "price", "-price", "created_at", "-created_at"]


class ProductCreate(BaseModel):
    sku: Sku
    name: ProductName
    price: Money
    stock: Stock = 0


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sku: Sku | None = None
    name: ProductName | None = None
    price: Money | None = None

    @field_validator("sku", "name", "price")
    @classmethod
    def reject_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    price: Decimal
    stock: int
    created_at: UTCDateTime
    updated_at: UTCDateTime


class ProductListParams(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=INT32_MAX)
    search: FilterText | None = None
    in_stock: bool | None = None
    sort: ProductSort | None = None


class ProductPage(BaseModel):
    items: list[ProductRead]
    total: int
    limit: int
    offset: int


class StockAdjustmentCreate(BaseModel):
    delta: Delta
    reason: Reason


class OrderItemCreate(BaseModel):
    product_id: EntityId
    quantity: Quantity


class OrderCreate(BaseModel):
    customer_email: Email
    items: list[OrderItemCreate] = Field(min_length=1, max_length=50)


class OrderItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    quantity: int
    unit_price: Decimal


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_email: str
    status: OrderStatus
    items: list[OrderItemRead]
    total: Decimal
    created_at: UTCDateTime
    updated_at: UTCDateTime


class OrderListParams(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=INT32_MAX)
    status: OrderStatus | None = None
    customer_email: FilterText | None = None


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int
    limit: int
    offset: int
