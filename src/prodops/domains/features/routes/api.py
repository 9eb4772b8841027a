"""The features JSON API under /api/v1/features.

A merged feature: ``GET /api/v1/features/{id}`` answers **308 Permanent Redirect** to the survivor (clients that
follow redirects get the survivor; the body also carries ``merged_into_id``). Writes to a merged feature are
refused with 409 (change the survivor); votes and subscriptions follow the merge to the survivor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from prodops.domains.features import service
from prodops.domains.features.routes._forms import FeatureQuery
from prodops.domains.features.schemas import (
    FeatureChoice,
    FeatureIn,
    FeatureOut,
    FeatureUpdate,
    MergeIn,
    StatusChange,
    StatusIn,
    StatusOut,
    SubscriberIn,
    SubscriberOut,
    VoteIn,
    VoteOut,
)
from prodops.platform import registry
from prodops.platform.deps import VIEWER, AdminUser, MemberUser, SessionDep
from prodops.platform.identity.service import actor_for

api = registry.router(APIRouter(prefix="/api/v1/features", tags=["features"]))


class FeatureList(BaseModel):
    items: list[FeatureOut]
    total: int
    page: int
    per_page: int


class VoteList(BaseModel):
    items: list[VoteOut]
    total: int


class SubscriberList(BaseModel):
    items: list[SubscriberOut]
    total: int


class Lifecycle(BaseModel):
    product_id: int | None
    source: str = Field(description="`product`, `workspace` or `default`: where these statuses come from.")
    items: list[StatusOut]


def _lifecycle(product_id: int | None, statuses: list[StatusOut]) -> Lifecycle:
    return Lifecycle(product_id=product_id, source=statuses[0].source if statuses else "default", items=statuses)


# --- lists and lifecycles (declared before /{feature_id}) -----------------------------------


@api.get("", response_model=FeatureList, dependencies=[VIEWER], summary="List features (filter, search, sort, page)")
def api_features(session: SessionDep, filters: FeatureQuery) -> FeatureList:
    page = service.list_features(session, **filters.query())
    return FeatureList(items=list(page.items), total=page.total, page=page.number, per_page=page.per_page)


@api.post("", response_model=FeatureOut, status_code=201, summary="Create a feature")
def api_feature_create(session: SessionDep, user: MemberUser, data: FeatureIn) -> FeatureOut:
    return service.create_feature(session, actor_for(user), data)


@api.get(
    "/statuses",
    response_model=Lifecycle,
    dependencies=[VIEWER],
    summary="The status lifecycle of a product (or, without product_id, the workspace)",
)
def api_statuses(session: SessionDep, product_id: int | None = None) -> Lifecycle:
    return _lifecycle(product_id, service.statuses_for(session, product_id))


@api.put(
    "/statuses",
    response_model=Lifecycle,
    summary="Replace a product's (or the workspace's) lifecycle; removing a status in use is refused (409)",
)
def api_statuses_set(
    session: SessionDep, admin: AdminUser, statuses: list[StatusIn], product_id: int | None = None
) -> Lifecycle:
    return _lifecycle(product_id, service.set_statuses(session, actor_for(admin), product_id, statuses))


@api.delete(
    "/statuses",
    response_model=Lifecycle,
    summary="Drop a product's own lifecycle (or the workspace's) and return the one it follows now",
)
def api_statuses_reset(session: SessionDep, admin: AdminUser, product_id: int | None = None) -> Lifecycle:
    return _lifecycle(product_id, service.reset_statuses(session, actor_for(admin), product_id))


@api.get(
    "/choices",
    response_model=list[FeatureChoice],
    dependencies=[VIEWER],
    summary="Surviving features whose title contains q (for pickers)",
)
def api_choices(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[FeatureChoice]:
    return service.feature_choices(session, q, limit)


# --- one feature ----------------------------------------------------------------------------


@api.get(
    "/{feature_id}",
    response_model=FeatureOut,
    dependencies=[VIEWER],
    summary="One feature (308 to the survivor when it was merged)",
    responses={308: {"description": "Merged: `Location` is the survivor; the body has `merged_into_id`."}},
)
def api_feature(session: SessionDep, feature_id: int) -> FeatureOut | JSONResponse:
    feature = service.get_feature(session, feature_id)
    if feature.merged_into_id is not None:
        survivor = service.resolve_feature_id(session, feature_id)
        return JSONResponse(
            {"detail": f"feature {feature_id} was merged into {survivor}", "merged_into_id": survivor},
            status_code=308,
            headers={"Location": f"/api/v1/features/{survivor}"},
        )
    return feature


@api.patch("/{feature_id}", response_model=FeatureOut, summary="Change a feature (only the fields sent)")
def api_feature_update(session: SessionDep, user: MemberUser, feature_id: int, data: FeatureUpdate) -> FeatureOut:
    return service.update_feature(session, actor_for(user), feature_id, data)


@api.delete("/{feature_id}", status_code=204, summary="Delete a feature")
def api_feature_delete(session: SessionDep, user: MemberUser, feature_id: int) -> Response:
    service.delete_feature(session, actor_for(user), feature_id)
    return Response(status_code=204)


@api.post("/{feature_id}/status", response_model=FeatureOut, summary="Move a feature to another status")
def api_feature_status(session: SessionDep, user: MemberUser, feature_id: int, data: StatusChange) -> FeatureOut:
    return service.set_status(session, actor_for(user), feature_id, data.status)


@api.post(
    "/{feature_id}/merge",
    response_model=FeatureOut,
    summary="Merge this feature into another (`into`); returns the survivor",
)
def api_feature_merge(session: SessionDep, user: MemberUser, feature_id: int, data: MergeIn) -> FeatureOut:
    return service.merge_features(session, actor_for(user), feature_id, data.into)


# --- votes and subscribers ------------------------------------------------------------------


@api.get("/{feature_id}/votes", response_model=VoteList, dependencies=[VIEWER], summary="Who voted (newest first)")
def api_votes(session: SessionDep, feature_id: int) -> VoteList:
    feature = service.get_feature(session, feature_id)
    items = service.feature_votes(session, feature.id)
    return VoteList(items=items, total=feature.vote_count)


@api.post("/{feature_id}/votes", response_model=VoteOut, status_code=201, summary="Vote for a person (idempotent)")
def api_vote_add(session: SessionDep, user: MemberUser, feature_id: int, data: VoteIn) -> VoteOut:
    return service.add_vote(session, actor_for(user), feature_id, data.person_id, data.cast_by_id)


@api.delete("/{feature_id}/votes/{person_id}", status_code=204, summary="Withdraw a person's vote")
def api_vote_remove(session: SessionDep, user: MemberUser, feature_id: int, person_id: int) -> Response:
    service.remove_vote(session, actor_for(user), feature_id, person_id)
    return Response(status_code=204)


@api.get(
    "/{feature_id}/subscribers",
    response_model=SubscriberList,
    dependencies=[VIEWER],
    summary="Who follows the feature (newest first)",
)
def api_subscribers(session: SessionDep, feature_id: int) -> SubscriberList:
    feature = service.get_feature(session, feature_id)
    items = service.feature_subscribers(session, feature.id)
    return SubscriberList(items=items, total=feature.subscriber_count)


@api.post(
    "/{feature_id}/subscribers",
    response_model=SubscriberOut,
    status_code=201,
    summary="Make a person follow the feature (idempotent)",
)
def api_subscriber_add(session: SessionDep, user: MemberUser, feature_id: int, data: SubscriberIn) -> SubscriberOut:
    return service.subscribe(session, actor_for(user), feature_id, data.person_id)


@api.delete("/{feature_id}/subscribers/{person_id}", status_code=204, summary="Stop a person following the feature")
def api_subscriber_remove(session: SessionDep, user: MemberUser, feature_id: int, person_id: int) -> Response:
    service.unsubscribe(session, actor_for(user), feature_id, person_id)
    return Response(status_code=204)
