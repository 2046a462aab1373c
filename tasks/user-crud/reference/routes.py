from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dependencies import (
    EmailAlreadyRegisteredError,
    SessionDep,
    UserDep,
    hash_password,
)
from models import User, utcnow
from schemas import UserCreate, UserListParams, UserPage, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "User not found"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Email already registered"}}

SORT_ORDERS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "created_at": (User.created_at.asc(), User.id.asc()),
    "-created_at": (User.created_at.desc(), User.id.desc()),
    "email": (User.email.asc(), User.id.asc()),
    "-email": (User.email.desc(), User.id.desc()),
}


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def build_filters(params: UserListParams) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if params.is_active is not None:
        filters.append(User.is_active == params.is_active)
    if params.search:
        pattern = f"%{escape_like(params.search.lower())}%"
        filters.append(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.full_name).like(pattern, escape="\\"),
            )
        )
    return filters


async def email_taken(session: AsyncSession, email: str, exclude_id: int | None = None) -> bool:
    statement = select(User.id).where(User.email == email)
    if exclude_id is not None:
        statement = statement.where(User.id != exclude_id)
    return await session.scalar(statement.limit(1)) is not None


async def commit_user(session: AsyncSession, user: User) -> User:
    email = user.email
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailAlreadyRegisteredError(email) from exc
    await session.refresh(user)
    return user


@router.post(
    "",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    summary="Create a user",
)
async def create_user(payload: UserCreate, session: SessionDep) -> User:
    if await email_taken(session, payload.email):
        raise EmailAlreadyRegisteredError(payload.email)
    user = User(
        email=payload.email,
        full_name=payload.full_name,
        hashed_password=await hash_password(payload.password),
        is_active=payload.is_active,
    )
    session.add(user)
    return await commit_user(session, user)


@router.get("", response_model=UserPage, summary="List users")
async def list_users(
    params: Annotated[UserListParams, Query()],
    session: SessionDep,
) -> UserPage:
    filters = build_filters(params)
    total = await session.scalar(select(func.count(User.id)).where(*filters))
    order = SORT_ORDERS[params.sort] if params.sort else (User.id.asc(),)
    result = await session.scalars(
        select(User).where(*filters).order_by(*order).limit(params.limit).offset(params.offset)
    )
    return UserPage(
        items=[UserRead.model_validate(user) for user in result.all()],
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )


@router.get("/{user_id}", response_model=UserRead, responses=NOT_FOUND, summary="Get a user")
async def get_user(user: UserDep) -> User:
    return user


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Update a user",
)
async def update_user(payload: UserUpdate, user: UserDep, session: SessionDep) -> User:
    changes = payload.model_dump(exclude_unset=True)
    new_email = changes.get("email")
    if new_email is not None and await email_taken(session, new_email, exclude_id=user.id):
        raise EmailAlreadyRegisteredError(new_email)
    password = changes.pop("password", None)
    if password is not None:
        user.hashed_password = await hash_password(password)
    for field, value in changes.items():
        setattr(user, field, value)
    user.updated_at = utcnow()
    return await commit_user(session, user)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
    summary="Delete a user",
)
async def delete_user(user: UserDep, session: SessionDep) -> Response:
    await session.delete(user)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
