import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

JWT_SECRET: str = os.environ["JWT_SECRET"]
JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TTL = timedelta(minutes=30)
REFRESH_TOKEN_TTL = timedelta(days=7)

TokenType = Literal["access", "refresh"]

password_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
DUMMY_HASH: str = password_hasher.hash("not-a-real-password")


class InvalidTokenError(Exception):
    pass


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(password_hasher.hash, password)


def _verify(hashed_password: str, password: str) -> bool:
    try:
        return password_hasher.verify(hashed_password, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(hashed_password: str | None, password: str) -> bool:
    if hashed_password is None:
        await asyncio.to_thread(_verify, DUMMY_HASH, password)
        return False
    return await asyncio.to_thread(_verify, hashed_password, password)


def create_token(user_id: int, token_type: TokenType) -> str:
    now = datetime.now(UTC)
    ttl = ACCESS_TOKEN_TTL if token_type == "access" else REFRESH_TOKEN_TTL
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "type": token_type,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(payload, JWT_SECRET, algorithm=JWT_ALGORITHM)


def decode_token(token: str, token_type: TokenType) -> int:
    try:
        payload = jwt.decode(
            token,
            JWT_SECRET,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("Invalid or expired token") from exc
    if payload.get("type") != token_type:
        raise InvalidTokenError("Wrong token type")
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject.isdigit():
        raise InvalidTokenError("Invalid token subject")
    user_id = int(subject)
    if not 1 <= user_id <= 2147483647:
        raise InvalidTokenError("Invalid token subject")
    return user_id
