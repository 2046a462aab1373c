from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dependencies import AuthenticationError, EmailAlreadyRegisteredError, SessionDep
from models import User
from schemas import LoginRequest, RegisterRequest, TokenPair, UserRead
from security import create_token, hash_password, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Invalid credentials"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Email already registered"}}


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    summary="Register a user",
)
async def register(payload: RegisterRequest, session: SessionDep) -> User:
    existing = await session.scalar(select(User.id).where(User.email == payload.email))
    if existing is not None:
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
    return user


@router.post("/login", response_model=TokenPair, responses=UNAUTHORIZED, summary="Log in")
async def login(payload: LoginRequest, session: SessionDep) -> TokenPair:
    user = await session.scalar(select(User).where(User.email == payload.email))
    hashed_password = user.hashed_password if user is not None else None
    if user is None or not await verify_password(hashed_password, payload.password):
        raise AuthenticationError("Incorrect email or password")
    return TokenPair(
        access_token=create_token(user.id, "access"),
        refresh_token=create_token(user.id, "refresh"),
    )
