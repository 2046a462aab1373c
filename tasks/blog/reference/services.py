from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models import Comment, Post, Tag, User, utcnow
from schemas import (
    AuthorRead,
    CommentCreate,
    PostCreate,
    PostListParams,
    PostRead,
    PostUpdate,
)

SORT_ORDERS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "created_at": (Post.created_at.asc(), Post.id.asc()),
    "-created_at": (Post.created_at.desc(), Post.id.desc()),
}


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def post_with_count() -> Select[Post, int]:
    return (
        select(Post, func.count(Comment.id).label("comment_count"))
        .outerjoin(Comment, Comment.post_id == Post.id)
        .group_by(Post.id)
        .options(selectinload(Post.author), selectinload(Post.tags))
    )


def to_post_read(post: Post, comment_count: int) -> PostRead:
    return PostRead(
        id=post.id,
        title=post.title,
        body=post.body,
        tags=[tag.name for tag in post.tags],
        author=AuthorRead.model_validate(post.author),
        comment_count=comment_count,
        created_at=post.created_at,
        updated_at=post.updated_at,
    )


def build_post_filters(params: PostListParams) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if params.author_id is not None:
        filters.append(Post.author_id == params.author_id)
    if params.tag is not None:
        filters.append(Post.tags.any(Tag.name == params.tag))
    if params.search:
        pattern = f"%{escape_like(params.search.lower())}%"
        filters.append(
            or_(
                func.lower(Post.title).like(pattern, escape="\\"),
                func.lower(Post.body).like(pattern, escape="\\"),
            )
        )
    return filters


async def resolve_tags(session: AsyncSession, names: Sequence[str]) -> list[Tag]:
    unique_names = list(dict.fromkeys(names))
    if not unique_names:
        return []
    result = await session.scalars(select(Tag).where(Tag.name.in_(unique_names)))
    tags = {tag.name: tag for tag in result.all()}
    for name in unique_names:
        if name not in tags:
            tag = Tag(name=name)
            session.add(tag)
            tags[name] = tag
    return [tags[name] for name in unique_names]


async def read_post(session: AsyncSession, post_id: int) -> PostRead | None:
    row = (await session.execute(post_with_count().where(Post.id == post_id))).one_or_none()
    if row is None:
        return None
    post, comment_count = row
    return to_post_read(post, comment_count)


async def list_posts(session: AsyncSession, params: PostListParams) -> tuple[list[PostRead], int]:
    filters = build_post_filters(params)
    total = await session.scalar(select(func.count(Post.id)).where(*filters))
    statement = (
        post_with_count()
        .where(*filters)
        .order_by(*SORT_ORDERS[params.sort])
        .limit(params.limit)
        .offset(params.offset)
    )
    rows = (await session.execute(statement)).all()
    return [to_post_read(post, comment_count) for post, comment_count in rows], total or 0


async def create_post(session: AsyncSession, author: User, payload: PostCreate) -> PostRead:
    post = Post(title=payload.title, body=payload.body, author=author)
    post.tags = await resolve_tags(session, payload.tags)
    session.add(post)
    await session.commit()
    return to_post_read(post, 0)


async def update_post(session: AsyncSession, post: Post, payload: PostUpdate) -> PostRead:
    changes = payload.model_dump(exclude_unset=True)
    tag_names = changes.pop("tags", None)
    if tag_names is not None:
        post.tags = await resolve_tags(session, tag_names)
    for field, value in changes.items():
        setattr(post, field, value)
    post.updated_at = utcnow()
    await session.commit()
    comment_count = await session.scalar(
        select(func.count(Comment.id)).where(Comment.post_id == post.id)
    )
    return to_post_read(post, comment_count or 0)


async def delete_post(session: AsyncSession, post: Post) -> None:
    await session.execute(delete(Comment).where(Comment.post_id == post.id))
    await session.delete(post)
    await session.commit()


async def create_comment(
    session: AsyncSession, post: Post, author: User, payload: CommentCreate
) -> Comment:
    comment = Comment(body=payload.body, post_id=post.id, author=author)
    session.add(comment)
    await session.commit()
    return comment


async def list_comments(
    session: AsyncSession, post: Post, limit: int, offset: int
) -> tuple[list[Comment], int]:
    total = await session.scalar(select(func.count(Comment.id)).where(Comment.post_id == post.id))
    result = await session.scalars(
        select(Comment)
        .where(Comment.post_id == post.id)
        .options(selectinload(Comment.author))
        .order_by(Comment.created_at.asc(), Comment.id.asc())
        .limit(limit)
        .offset(offset)
    )
    return list(result.all()), total or 0


async def delete_comment(session: AsyncSession, comment: Comment) -> None:
    await session.delete(comment)
    await session.commit()
