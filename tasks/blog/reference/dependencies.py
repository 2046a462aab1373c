from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from database import get_session
from models import Comment, Post, User
from security import InvalidTokenError, decode_token

SessionDep = Annotated[AsyncSession, Depends(get_session)]
PostId = Annotated[int, Path(ge=1, le=2147483647)]
CommentId = Annotated[int, Path(ge=1, le=2147483647)]

bearer_scheme = HTTPBearer(auto_error=False)


class NotFoundError(Exception):
    def __init__(self, resource: str, resource_id: int) -> None:
        super().__init__(f"{resource} {resource_id} not found")


class PermissionDeniedError(Exception):
    pass


class AuthenticationError(Exception):
    pass


class EmailAlreadyRegisteredError(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"Email {email} is already registered")


async def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("Not authenticated")
    try:
        user_id = decode_token(credentials.credentials, "access")
    except InvalidTokenError as exc:
        raise AuthenticationError(str(exc)) from exc
    user = await session.get(User, user_id)
    if user is None:
        raise AuthenticationError("User no longer exists")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_post_or_404(post_id: PostId, session: SessionDep) -> Post:
    post = await session.scalar(
        select(Post)
        .where(Post.id == post_id)
        .options(selectinload(Post.author), selectinload(Post.tags))
    )
    if post is None:
        raise NotFoundError("Post", post_id)
    return post


async def get_comment_or_404(comment_id: CommentId, session: SessionDep) -> Comment:
    comment = await session.scalar(
        select(Comment)
        .where(Comment.id == comment_id)
        .options(selectinload(Comment.post), selectinload(Comment.author))
    )
    if comment is None:
        raise NotFoundError("Comment", comment_id)
    return comment


PostDep = Annotated[Post, Depends(get_post_or_404)]
CommentDep = Annotated[Comment, Depends(get_comment_or_404)]


def ensure_post_author(post: Post, user: User) -> None:
    if post.author_id != user.id:
        raise PermissionDeniedError("Only the author can change this post")


def ensure_can_delete_comment(comment: Comment, user: User) -> None:
    if user.id not in (comment.author_id, comment.post.author_id):
        raise PermissionDeniedError("Only the comment or post author can delete this comment")
