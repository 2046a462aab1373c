from typing import Any

from fastapi import APIRouter, Response, status

from dependencies import CommentDep, CurrentUser, SessionDep, ensure_can_delete_comment
from services import delete_comment

router = APIRouter(prefix="/comments", tags=["comments"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Neither the comment's nor the post's author"},
    404: {"description": "Comment not found"},
}


@router.delete(
    "/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=RESPONSES,
    summary="Delete a comment",
)
async def delete_comment_route(
    user: CurrentUser, comment: CommentDep, session: SessionDep
) -> Response:
    ensure_can_delete_comment(comment, user)
    await delete_comment(session, comment)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
