from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import User
from schemas import TokenPair, UserCreate
from security import (
    DUMMY_PASSWORD_HASH,
    create_access_token,
    create_refresh_token,
    hash_password,
    verify_password,
)


class AuthenticationError(Exception):
    def __init__(self, detail: str = "Could not validate credentials") -> None:
        super().__init__(detail)
        self.detail = detail


class EmailAlreadyRegisteredError(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"Email {email} is already registered")
        self.email = email


INVALID_LOGIN = "Incorrect email or password"


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def register_user(session: AsyncSession, payload: UserCreate) -> User:
    if await get_user_by_email(session, payload.email) is not None:
        raise EmailAlreadyRegisteredError(payload.email)
    user = User(
        email=payload.email,
        full_name=payload.full_name,
        hashed_password=await hash_password(payload.password),
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailAlreadyRegisteredError(payload.email) from exc
    await session.refresh(user)
    return user


async def authenticate_user(session: AsyncSession, email: str, password: str) -> User:
    user = await get_user_by_email(session, email)
    if user is None:
        await verify_password(DUMMY_PASSWORD_HASH, password)
        raise AuthenticationError(INVALID_LOGIN)
    if not await verify_password(user.hashed_password, password) or not user.is_active:
        raise AuthenticationError(INVALID_LOGIN)
    return user


def issue_tokens(user: User) -> TokenPair:
    return TokenPair(
        access_token=create_access_token(user.id),
        refresh_token=create_refresh_token(user.id),
    )


async def change_password(
    session: AsyncSession, user: User, current_password: str, new_password: str
) -> None:
    if not await verify_password(user.hashed_password, current_password):
        raise AuthenticationError("Current password is incorrect")
    user.hashed_password = await hash_password(new_password)
    await session.commit()
