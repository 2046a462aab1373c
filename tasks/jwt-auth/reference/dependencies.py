from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from database import get_session
from models import User
from security import InvalidTokenError, TokenType, decode_token
from services import AuthenticationError

bearer_scheme = HTTPBearer(auto_error=False)

SessionDep = Annotated[AsyncSession, Depends(get_session)]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def load_token_user(session: AsyncSession, token: str, token_type: TokenType) -> User:
    try:
        user_id = decode_token(token, token_type)
    except InvalidTokenError as exc:
        raise AuthenticationError() from exc
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise AuthenticationError()
    return user


async def get_current_user(credentials: CredentialsDep, session: SessionDep) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("Not authenticated")
    return await load_token_user(session, credentials.credentials, "access")


CurrentUserDep = Annotated[User, Depends(get_current_user)]
