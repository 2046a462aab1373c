from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints


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
SuppliedPassword = Annotated[str, Field(max_length=1024)]
UTCDateTime = Annotated[datetime, AfterValidator(ensure_utc)]


class UserCreate(BaseModel):
    email: Email
    password: Password
    full_name: FullName


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    is_active: bool
    is_admin: bool
    created_at: UTCDateTime
    updated_at: UTCDateTime


class LoginRequest(BaseModel):
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, to_lower=True, max_length=320),
        AfterValidator(reject_nul),
    ]
    password: SuppliedPassword


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(max_length=4096)]


class ChangePasswordRequest(BaseModel):
    current_password: SuppliedPassword
    new_password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
