from datetime import UTC, datetime
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
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(reject_nul),
]
Password = Annotated[str, Field(min_length=8, max_length=128)]
UTCDateTime = Annotated[datetime, AfterValidator(ensure_utc)]
UserSort = Literal["created_at", "-created_at", "email", "-email"]


class UserCreate(BaseModel):
    email: Email
    full_name: FullName
    password: Password
    is_active: bool = True


class UserUpdate(BaseModel):
    email: Email | None = None
    full_name: FullName | None = None
    password: Password | None = None
    is_active: bool | None = None

    @field_validator("email", "full_name", "password", "is_active")
    @classmethod
    def reject_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: UTCDateTime
    updated_at: UTCDateTime


class UserListParams(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=2147483647)
    is_active: bool | None = None
    search: Annotated[str, Field(max_length=255), AfterValidator(reject_nul)] | None = None
    sort: UserSort | None = None


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    limit: int
    offset: int
