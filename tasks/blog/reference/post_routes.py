from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from dependencies import (
    CurrentUser,
    NotFoundError,
    PostDep,
    PostId,
    SessionDep,
    ensure_post_author,
)
from schemas import (
    CommentCreate,
    CommentPage,
    CommentRead,
    PageParams,
    PostCreate,
    PostListParams,
    PostPage,
    PostRead,
    PostUpdate,
)
from services import (
    create_comment,
    create_post,
    delete_post,
    list_comments,
    list_posts,
    read_post,
    update_post,
)

router = APIRouter(prefix="/posts", tags=["posts"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "Not the author"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Post not found"}}


@router.post(
    "",
    response_model=PostRead,
    status_code=status.HTTP_201_CREATED,
    responses=UNAUTHORIZED,
    summary="Create a post",
)
async def create_post_route(
    payload: PostCreate, user: CurrentUser, session: SessionDep
) -> PostRead:
    return await create_post(session, user, payload)


@router.get("", response_model=PostPage, summary="List posts")
async def list_posts_route(
    params: Annotated[PostListParams, Query()], session: SessionDep
) -> PostPage:
    items, total = await list_posts(session, params)
    return PostPage(items=items, total=total, limit=params.limit, offset=params.offset)


@router.get("/{post_id}", response_model=PostRead, responses=NOT_FOUND, summary="Get a post")
async def get_post_route(post_id: PostId, session: SessionDep) -> PostRead:
    post = await read_post(session, post_id)
    if post is None:
        raise NotFoundError("Post", post_id)
    return post


@router.patch(
    "/{post_id}",
    response_model=PostRead,
    responses={**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND},
    summary="Update a post",
)
async def update_post_route(
    payload: PostUpdate, user: CurrentUser, post: PostDep, session: SessionDep
) -> PostRead:
    ensure_post_author(post, user)
    return await update_post(session, post, payload)


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND},
    summary="Delete a post and its comments",
)
async def delete_post_route(user: CurrentUser, post: PostDep, session: SessionDep) -> Response:
    ensure_post_author(post, user)
    await delete_post(session, post)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{post_id}/comments",
    response_model=CommentRead,
    status_code=status.HTTP_201_CREATED,
    responses={**UNAUTHORIZED, **NOT_FOUND},
    summary="Comment on a post",
)
async def create_comment_route(
    payload: CommentCreate, user: CurrentUser, post: PostDep, session: SessionDep
) -> CommentRead:
    comment = await create_comment(session, post, user, payload)
    return CommentRead.model_validate(comment)


@router.get(
    "/{post_id}/comments",
    response_model=CommentPage,
    responses=NOT_FOUND,
    summary="List a post's comments, oldest first",
)
async def list_comments_route(
    post: PostDep, params: Annotated[PageParams, Query()], session: SessionDep
) -> CommentPage:
    comments, total = await list_comments(session, post, params.limit, params.offset)
    return CommentPage(
        items=[CommentRead.model_validate(comment) for comment in comments],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )
