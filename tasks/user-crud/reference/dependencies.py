import asyncio
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from database import get_session
from models import User

password_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

SessionDep = Annotated[AsyncSession, Depends(get_session)]
UserId = Annotated[int, Path(ge=1, le=2147483647)]


class UserNotFoundError(Exception):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"User {user_id} not found")
        self.user_id = user_id


class EmailAlreadyRegisteredError(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"Email {email} is already registered")
        self.email = email


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(password_hasher.hash, password)


async def get_user_or_404(user_id: UserId, session: SessionDep) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(user_id)
    return user


UserDep = Annotated[User, Depends(get_user_or_404)]
