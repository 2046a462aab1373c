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
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(reject_nul),
]
PostBody = Annotated[str, Field(min_length=1, max_length=10000), AfterValidator(reject_nul)]
CommentBody = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(reject_nul)]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(reject_nul),
]
Tags = Annotated[list[TagName], Field(max_length=10)]
UTCDateTime = Annotated[datetime, AfterValidator(ensure_utc)]
PostSort = Literal["created_at", "-created_at"]


class RegisterRequest(BaseModel):
    email: Email
    password: Password
    full_name: FullName


class LoginRequest(BaseModel):
    email: Annotated[
        str, Field(max_length=320), AfterValidator(normalize_email), AfterValidator(reject_nul)
    ]
    password: Annotated[str, Field(max_length=1024)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    created_at: UTCDateTime
    updated_at: UTCDateTime


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str


class PostCreate(BaseModel):
    title: Title
    body: PostBody
    tags: Tags = Field(default_factory=list)


class PostUpdate(BaseModel):
    title: Title | None = None
    body: PostBody | None = None
    tags: Tags | None = None

    @field_validator("title", "body", "tags")
    @classmethod
    def reject_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class PostRead(BaseModel):
    id: int
    title: str
    body: str
    tags: list[str]
    author: AuthorRead
    comment_count: int
    created_at: UTCDateTime
    updated_at: UTCDateTime


class CommentCreate(BaseModel):
    body: CommentBody


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    body: str
    post_id: int
    author: AuthorRead
    created_at: UTCDateTime


class PageParams(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=2147483647)


class PostListParams(PageParams):
    author_id: int | None = Field(default=None, ge=1, le=2147483647)
    tag: Annotated[str, Field(max_length=50), AfterValidator(reject_nul)] | None = None
    search: Annotated[str, Field(max_length=200), AfterValidator(reject_nul)] | None = None
    sort: PostSort = "-created_at"


class PostPage(BaseModel):
    items: list[PostRead]
    total: int
    limit: int
    offset: int


class CommentPage(BaseModel):
    items: list[CommentRead]
    total: int
    limit: int
    offset: int
