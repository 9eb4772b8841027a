"""The goals JSON API under /api/v1/roadmap: goals (with rolled-up progress and health), key results, check-ins,
progress history, initiatives, feature plans and the alignment report. Viewers read; members write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from prodops.domains.roadmap import service
from prodops.domains.roadmap.models import KeyResult
from prodops.domains.roadmap.queries import alignment
from prodops.domains.roadmap.queries import goals as queries
from prodops.domains.roadmap.queries import initiatives as initiative_queries
from prodops.domains.roadmap.routes.goals import live_goal
from prodops.domains.roadmap.schemas.goals import (
    AlignmentFilters,
    AlignmentReport,
    CheckInIn,
    CheckInOut,
    GoalDetail,
    GoalFilters,
    GoalIn,
    GoalOut,
    GoalUpdate,
    InitiativeFilters,
    InitiativeIn,
    InitiativeOut,
    InitiativeUpdate,
    KeyResultIn,
    KeyResultOut,
    KeyResultUpdate,
    PlanOut,
    PlanUpdate,
    ProgressPoint,
)
from prodops.platform import registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep
from prodops.platform.errors import NotFound
from prodops.platform.identity.service import actor_for

api = registry.router(APIRouter(prefix="/api/v1/roadmap", tags=["roadmap goals"]))


class GoalList(BaseModel):
    items: list[GoalOut]
    total: int


class KeyResultList(BaseModel):
    items: list[KeyResultOut]
    total: int


class CheckInList(BaseModel):
    items: list[CheckInOut]
    total: int


class InitiativeList(BaseModel):
    items: list[InitiativeOut]
    total: int
    page: int
    per_page: int


# --- goals ------------------------------------------------------------------------------------------------


@api.get("/goals", response_model=GoalList, dependencies=[VIEWER], summary="Goals as a tree, with progress and health")
def api_goals(session: SessionDep, filters: Annotated[GoalFilters, Query()]) -> GoalList:
    """Depth-first (``depth`` set) when unfiltered. ``progress`` is the weighted roll-up (README "Goals")."""
    goals = queries.list_goals(session, filters)
    return GoalList(items=goals, total=len(goals))


@api.post("/goals", response_model=GoalDetail, status_code=201, summary="Set a goal")
def api_goal_create(session: SessionDep, user: MemberUser, data: GoalIn) -> GoalDetail:
    return service.create_goal(session, actor_for(user), data)


@api.get(
    "/goals/{goal_id}",
    response_model=GoalDetail,
    dependencies=[VIEWER],
    summary="One goal with key results (metric values live), sub-goals and initiatives",
)
def api_goal(session: SessionDep, goal_id: int) -> GoalDetail:
    return live_goal(session, goal_id)


@api.patch("/goals/{goal_id}", response_model=GoalDetail, summary="Change a goal (only the fields sent)")
def api_goal_update(session: SessionDep, user: MemberUser, goal_id: int, data: GoalUpdate) -> GoalDetail:
    return service.update_goal(session, actor_for(user), goal_id, data)


@api.delete("/goals/{goal_id}", status_code=204, summary="Delete a goal; its sub-goals move up")
def api_goal_delete(session: SessionDep, user: MemberUser, goal_id: int) -> Response:
    service.delete_goal(session, actor_for(user), goal_id)
    return Response(status_code=204)


@api.get(
    "/goals/{goal_id}/progress",
    response_model=list[ProgressPoint],
    dependencies=[VIEWER],
    summary="Rolled-up progress at the end of each of the last N weeks",
)
def api_goal_progress(
    session: SessionDep, goal_id: int, weeks: Annotated[int, Query(ge=1, le=104)] = 12
) -> list[ProgressPoint]:
    return queries.progress_history(session, goal_id, weeks=weeks)


# --- key results and check-ins --------------------------------------------------------------------------------


@api.get(
    "/goals/{goal_id}/key-results", response_model=KeyResultList, dependencies=[VIEWER], summary="A goal's key results"
)
def api_key_results(session: SessionDep, goal_id: int) -> KeyResultList:
    items = live_goal(session, goal_id).key_results
    return KeyResultList(items=items, total=len(items))


@api.post("/goals/{goal_id}/key-results", response_model=KeyResultOut, status_code=201, summary="Add a key result")
def api_key_result_create(session: SessionDep, user: MemberUser, goal_id: int, data: KeyResultIn) -> KeyResultOut:
    return service.create_key_result(session, actor_for(user), goal_id, data)


@api.get("/key-results/{kr_id}", response_model=KeyResultOut, dependencies=[VIEWER], summary="One key result")
def api_key_result(session: SessionDep, kr_id: int) -> KeyResultOut:
    kr = session.get(KeyResult, kr_id)
    if kr is None:
        raise NotFound("key result", kr_id)
    values, unavailable = service.live_values(session, [kr])
    return queries.get_key_result(session, kr_id, live=values.get(kr_id), metric_ok=kr_id not in unavailable)


@api.patch("/key-results/{kr_id}", response_model=KeyResultOut, summary="Change a key result (only the fields sent)")
def api_key_result_update(session: SessionDep, user: MemberUser, kr_id: int, data: KeyResultUpdate) -> KeyResultOut:
    return service.update_key_result(session, actor_for(user), kr_id, data)


@api.delete("/key-results/{kr_id}", status_code=204, summary="Delete a key result with its check-ins")
def api_key_result_delete(session: SessionDep, user: MemberUser, kr_id: int) -> Response:
    service.delete_key_result(session, actor_for(user), kr_id)
    return Response(status_code=204)


@api.get(
    "/key-results/{kr_id}/checkins",
    response_model=CheckInList,
    dependencies=[VIEWER],
    summary="Check-ins and metric snapshots of a key result, newest first",
)
def api_checkins(
    session: SessionDep,
    kr_id: int,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    people_only: Annotated[bool, Query(description="Leave out the metric snapshots.")] = False,
) -> CheckInList:
    items = queries.checkins(session, kr_id, limit=limit, people_only=people_only)
    return CheckInList(items=items, total=queries.checkin_count(session, kr_id))


@api.post("/key-results/{kr_id}/checkins", response_model=CheckInOut, status_code=201, summary="Check in")
def api_checkin_create(session: SessionDep, user: MemberUser, kr_id: int, data: CheckInIn) -> CheckInOut:
    """The value now, confidence and narrative. On a metric key result ``value`` may be left out: the live value
    is taken (422 on ``value`` when the metric source is not available)."""
    return service.check_in(session, actor_for(user), kr_id, data)


# --- initiatives and plans ----------------------------------------------------------------------------------


@api.get("/initiatives", response_model=InitiativeList, dependencies=[VIEWER], summary="Initiatives (filter, page)")
def api_initiatives(session: SessionDep, filters: Annotated[InitiativeFilters, Query()]) -> InitiativeList:
    page = initiative_queries.list_initiatives(session, filters)
    return InitiativeList(items=list(page.items), total=page.total, page=page.number, per_page=page.per_page)


@api.post("/initiatives", response_model=InitiativeOut, status_code=201, summary="Create an initiative")
def api_initiative_create(session: SessionDep, user: MemberUser, data: InitiativeIn) -> InitiativeOut:
    return service.create_initiative(session, actor_for(user), data)


@api.get("/initiatives/{initiative_id}", response_model=InitiativeOut, dependencies=[VIEWER], summary="One initiative")
def api_initiative(session: SessionDep, initiative_id: int) -> InitiativeOut:
    return initiative_queries.get_initiative(session, initiative_id)


@api.patch("/initiatives/{initiative_id}", response_model=InitiativeOut, summary="Change an initiative")
def api_initiative_update(
    session: SessionDep, user: MemberUser, initiative_id: int, data: InitiativeUpdate
) -> InitiativeOut:
    """Only the fields sent change; ``goal_ids`` replaces the linked goals."""
    return service.update_initiative(session, actor_for(user), initiative_id, data)


@api.delete("/initiatives/{initiative_id}", status_code=204, summary="Delete an initiative; its features stay")
def api_initiative_delete(session: SessionDep, user: MemberUser, initiative_id: int) -> Response:
    service.delete_initiative(session, actor_for(user), initiative_id)
    return Response(status_code=204)


@api.get(
    "/features/{feature_id}/plan", response_model=PlanOut | None, dependencies=[VIEWER], summary="A feature's plan"
)
def api_plan(session: SessionDep, feature_id: int) -> PlanOut | None:
    """null when the feature is not on the roadmap yet."""
    return service.get_plan(session, feature_id)


@api.patch("/features/{feature_id}/plan", response_model=PlanOut, summary="Change a feature's plan")
def api_plan_update(session: SessionDep, user: MemberUser, feature_id: int, data: PlanUpdate) -> PlanOut:
    """Initiative, effort and unit, owning team, bucket, dates; only the fields sent change (null clears one)."""
    return service.update_plan(session, actor_for(user), feature_id, data)


@api.get(
    "/alignment",
    response_model=AlignmentReport,
    dependencies=[VIEWER],
    summary="Share of planned effort by goal and initiative, unaligned work, goals with no planned work",
)
def api_alignment(session: SessionDep, filters: Annotated[AlignmentFilters, Query()]) -> AlignmentReport:
    return alignment.report(session, filters)
