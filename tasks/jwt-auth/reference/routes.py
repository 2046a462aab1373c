from typing import Any

from fastapi import APIRouter, Response, status

from dependencies import CurrentUserDep, SessionDep, load_token_user
from models import User
from schemas import (
    AccessToken,
    ChangePasswordRequest,
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
)
from security import create_access_token
from services import authenticate_user, change_password, issue_tokens, register_user

router = APIRouter(prefix="/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Invalid credentials"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Email already registered"}}


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    summary="Register a new user",
)
async def register(payload: UserCreate, session: SessionDep) -> User:
    return await register_user(session, payload)


@router.post(
    "/login",
    response_model=TokenPair,
    responses=UNAUTHORIZED,
    summary="Log in with email and password",
)
async def login(payload: LoginRequest, session: SessionDep) -> TokenPair:
    user = await authenticate_user(session, payload.email, payload.password)
    return issue_tokens(user)


@router.post(
    "/refresh",
    response_model=AccessToken,
    responses=UNAUTHORIZED,
    summary="Exchange a refresh token for a new access token",
)
async def refresh(payload: RefreshRequest, session: SessionDep) -> AccessToken:
    user = await load_token_user(session, payload.refresh_token, "refresh")
    return AccessToken(access_token=create_access_token(user.id))


@router.get("/me", response_model=UserRead, responses=UNAUTHORIZED, summary="Current user")
async def me(user: CurrentUserDep) -> User:
    return user


@router.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=UNAUTHORIZED,
    summary="Change the current user's password",
)
async def update_password(
    payload: ChangePasswordRequest, user: CurrentUserDep, session: SessionDep
) -> Response:
    await change_password(session, user, payload.current_password, payload.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
