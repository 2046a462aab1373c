import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from config import ACCESS_TOKEN_TTL, JWT_ALGORITHM, JWT_SECRET, REFRESH_TOKEN_TTL
from models import utcnow

TokenType = Literal["access", "refresh"]

password_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
USER_ID_PATTERN = re.compile(r"[1-9][0-9]{0,9}")
MAX_USER_ID = 2147483647


class InvalidTokenError(Exception):
    pass


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(password_hasher.hash, password)


def _verify(hashed_password: str, password: str) -> bool:
    try:
        return password_hasher.verify(hashed_password, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(hashed_password: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, hashed_password, password)


def _create_token(user_id: int, token_type: TokenType, ttl: timedelta) -> str:
    issued_at: datetime = utcnow()
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "type": token_type,
        "iat": issued_at,
        "exp": issued_at + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, JWT_SECRET, algorithm=JWT_ALGORITHM)


def create_access_token(user_id: int) -> str:
    return _create_token(user_id, "access", ACCESS_TOKEN_TTL)


def create_refresh_token(user_id: int) -> str:
    return _create_token(user_id, "refresh", REFRESH_TOKEN_TTL)


def decode_token(token: str, expected_type: TokenType) -> int:
    try:
        payload = jwt.decode(
            token,
            JWT_SECRET,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "type"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("Invalid or expired token") from exc
    if payload.get("type") != expected_type:
        raise InvalidTokenError("Invalid token type")
    subject = payload.get("sub")
    if not isinstance(subject, str) or USER_ID_PATTERN.fullmatch(subject) is None:
        raise InvalidTokenError("Invalid token subject")
    user_id = int(subject)
    if user_id > MAX_USER_ID:
        raise InvalidTokenError("Invalid token subject")
    return user_id


DUMMY_PASSWORD_HASH = password_hasher.hash(uuid.uuid4().hex)
