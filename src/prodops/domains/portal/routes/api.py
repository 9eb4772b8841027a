"""The staff JSON API for portal ideas under /api/v1/portal: list and read ideas (viewers), vote on a customer's
behalf, answer, moderate, edit, delete, block and merge (members). Portal configuration is in ``admin``.

A merged idea: ``GET /api/v1/portal/ideas/{id}`` answers **308 Permanent Redirect** to the survivor (the body
carries ``merged_into_id`` too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from prodops.domains.features.schemas import FeatureOut, StatusChange
from prodops.domains.portal.queries import staff as queries
from prodops.domains.portal.schemas import (
    BlockIn,
    CommentEdit,
    CommentOut,
    IdeaEdit,
    IdeaFilters,
    IdeaOut,
    IdeaPage,
    MergeIn,
    MergeResult,
    ModerationIn,
    ModerationResult,
    ProxyVoteIn,
    StaffCommentIn,
    VoterOut,
)
from prodops.domains.portal.service import merge, moderation, staff
from prodops.platform import registry
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.identity.service import actor_for

api = registry.router(APIRouter(prefix="/api/v1/portal", tags=["portal"]))


class VoterList(BaseModel):
    items: list[VoterOut]
    total: int


class CommentList(BaseModel):
    items: list[CommentOut]
    total: int


class Queue(BaseModel):
    ideas: list[IdeaOut]
    comments: list[CommentOut]


class PortalUserOut(BaseModel):
    id: int
    email: str | None
    blocked: bool
    blocked_reason: str


def _comment_out(session: SessionDep, idea_id: int, comment_id: int) -> CommentOut:
    return next(c for c in queries.comments(session, idea_id) if c.id == comment_id)


@api.get("/ideas", response_model=IdeaPage, summary="List ideas across portals (filter, search, sort, page)")
def api_ideas(session: SessionDep, user: ViewerUser, filters: Annotated[IdeaFilters, Query()]) -> IdeaPage:
    return queries.list_ideas(session, filters)


@api.get("/moderation", response_model=Queue, summary="What waits for moderation")
def api_queue(session: SessionDep, user: ViewerUser) -> Queue:
    ideas = queries.list_ideas(session, IdeaFilters(state="pending", sort="created", per_page=500)).items
    return Queue(ideas=ideas, comments=[p.comment for p in queries.pending_comments(session, limit=500)])


@api.post("/moderation", response_model=ModerationResult, summary="Approve or reject pending ideas and comments")
def api_moderate(session: SessionDep, user: MemberUser, data: ModerationIn) -> ModerationResult:
    return moderation.moderate(session, actor_for(user), data)


@api.get("/ideas/{idea_id}", response_model=IdeaOut, summary="Get an idea (308 to the survivor when merged)")
def api_idea(session: SessionDep, user: ViewerUser, idea_id: int) -> Response | IdeaOut:
    idea = queries.get_idea(session, idea_id)
    if idea.state == "merged" and idea.merged_into_id is not None:
        return JSONResponse(
            idea.model_dump(mode="json"),
            status_code=308,
            headers={"Location": f"/api/v1/portal/ideas/{idea.merged_into_id}"},
        )
    return idea


@api.patch("/ideas/{idea_id}", response_model=IdeaOut, summary="Edit an idea (title, body, board)")
def api_idea_edit(session: SessionDep, user: MemberUser, idea_id: int, data: IdeaEdit) -> IdeaOut:
    moderation.edit_idea(session, actor_for(user), idea_id, data)
    return queries.get_idea(session, idea_id)


@api.delete("/ideas/{idea_id}", status_code=204, summary="Take an idea off the portal")
def api_idea_delete(session: SessionDep, user: MemberUser, idea_id: int) -> Response:
    moderation.delete_idea(session, actor_for(user), idea_id)
    return Response(status_code=204)


@api.post("/ideas/{idea_id}/status", response_model=FeatureOut, summary="Change the idea's (feature's) status")
def api_idea_status(session: SessionDep, user: MemberUser, idea_id: int, data: StatusChange) -> FeatureOut:
    return staff.change_status(session, actor_for(user), idea_id, data.status)


@api.get("/ideas/{idea_id}/votes", response_model=VoterList, summary="Voters with their accounts and ARR")
def api_voters(
    session: SessionDep, user: ViewerUser, idea_id: int, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> VoterList:
    idea = queries.get_idea(session, idea_id)
    return VoterList(items=queries.voters(session, idea_id, limit=limit), total=idea.vote_count)


@api.post("/ideas/{idea_id}/votes", response_model=VoterOut, status_code=201, summary="Vote on behalf of a customer")
def api_proxy_vote(session: SessionDep, user: MemberUser, idea_id: int, data: ProxyVoteIn) -> VoterOut:
    vote = staff.proxy_vote(session, actor_for(user), idea_id, data)
    vote_id = vote.id
    return next(v for v in queries.voters(session, idea_id, limit=10_000) if v.vote_id == vote_id)


@api.delete("/ideas/{idea_id}/votes/{vote_id}", status_code=204, summary="Remove a vote")
def api_remove_vote(session: SessionDep, user: MemberUser, idea_id: int, vote_id: int) -> Response:
    staff.remove_vote(session, actor_for(user), idea_id, vote_id)
    return Response(status_code=204)


@api.get("/ideas/{idea_id}/comments", response_model=CommentList, summary="Every comment, internal notes included")
def api_comments(session: SessionDep, user: ViewerUser, idea_id: int) -> CommentList:
    queries.get_idea(session, idea_id)
    items = queries.comments(session, idea_id)
    return CommentList(items=items, total=len(items))


@api.post(
    "/ideas/{idea_id}/comments", response_model=CommentOut, status_code=201, summary="Answer (official or internal)"
)
def api_comment(session: SessionDep, user: MemberUser, idea_id: int, data: StaffCommentIn) -> CommentOut:
    row = staff.comment(session, actor_for(user), idea_id, data)
    row_id = row.id
    return _comment_out(session, idea_id, row_id)


@api.patch("/comments/{comment_id}", response_model=CommentOut, summary="Edit a comment or mark it official")
def api_comment_edit(session: SessionDep, user: MemberUser, comment_id: int, data: CommentEdit) -> CommentOut:
    row = moderation.edit_comment(session, actor_for(user), comment_id, data)
    idea_id, row_id = row.idea_id, row.id
    return _comment_out(session, idea_id, row_id)


@api.delete("/comments/{comment_id}", status_code=204, summary="Delete a comment")
def api_comment_delete(session: SessionDep, user: MemberUser, comment_id: int) -> Response:
    moderation.delete_comment(session, actor_for(user), comment_id)
    return Response(status_code=204)


@api.post("/ideas/{idea_id}/merge", response_model=MergeResult, summary="Merge this idea into another")
def api_merge(session: SessionDep, user: MemberUser, idea_id: int, data: MergeIn) -> MergeResult:
    return merge.merge_ideas(session, actor_for(user), idea_id, data.into)


@api.post("/users/{user_id}/block", response_model=PortalUserOut, summary="Block a portal user")
def api_block(session: SessionDep, user: MemberUser, user_id: int, data: BlockIn) -> PortalUserOut:
    row = moderation.block_user(session, actor_for(user), user_id, data.reason)
    return PortalUserOut(id=row.id, email=row.email, blocked=True, blocked_reason=row.blocked_reason)


@api.delete("/users/{user_id}/block", response_model=PortalUserOut, summary="Unblock a portal user")
def api_unblock(session: SessionDep, user: MemberUser, user_id: int) -> PortalUserOut:
    row = moderation.unblock_user(session, actor_for(user), user_id)
    return PortalUserOut(id=row.id, email=row.email, blocked=False, blocked_reason="")
