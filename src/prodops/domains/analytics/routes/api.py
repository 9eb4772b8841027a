"""The insights, metrics and dashboards JSON API under ``/api/v1/analytics``.

Viewers (and ``read`` tokens) read and run insights; members create and change them; reading a metric is
``GET …/metrics/{key}/value`` and ``…/series``. Running an ad-hoc query is ``POST …/insights/run`` with the
query as the body, or ``GET …/insights/run?query=<JSON>`` for ``read`` tokens.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from prodops.domains.analytics.service import dashboards, metrics, results, saved
from prodops.domains.analytics.service.dashboards import DashboardIn, DashboardOut, TileIn, TileOut
from prodops.domains.analytics.service.insights import InsightQuery, InsightResult
from prodops.domains.analytics.service.insights.types import FunnelQuery, Point
from prodops.domains.analytics.service.metrics import MetricIn, MetricOut, MetricReading, MetricUpdate
from prodops.domains.analytics.service.saved import InsightIn, InsightOut, InsightUpdate
from prodops.platform import registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep
from prodops.platform.errors import ValidationFailed
from prodops.platform.identity.service import actor_for

api = registry.router(APIRouter(prefix="/api/v1/analytics", tags=["analytics insights"]))


class InsightList(BaseModel):
    items: list[InsightOut]
    total: int
    page: int
    per_page: int


class MetricList(BaseModel):
    items: list[MetricOut]
    total: int


class DashboardList(BaseModel):
    items: list[DashboardOut]
    total: int


class DroppedPerson(BaseModel):
    person_id: int
    customer_person_id: int | None
    external_id: str | None
    email: str | None
    name: str | None
    reached_at: dt.datetime


class DroppedOff(BaseModel):
    step: int
    total: int
    items: list[DroppedPerson]


class SeriesOut(BaseModel):
    key: str
    interval: str
    points: list[Point]


class ShareOut(BaseModel):
    url: str = Field(description="The read-only link; every earlier link stops working.")


# --- insights ----------------------------------------------------------------------------------------------


@api.post("/insights/run", response_model=InsightResult, dependencies=[VIEWER], summary="Run an ad-hoc insight query")
def api_run(query: InsightQuery) -> InsightResult:
    return results.run_query(query)


@api.get(
    "/insights/run",
    response_model=InsightResult,
    dependencies=[VIEWER],
    summary="Run an ad-hoc query given as JSON in `query`",
)
def api_run_get(
    query: Annotated[str, Query(max_length=20000, description="The insight query as JSON.")],
) -> InsightResult:
    try:
        data = json.loads(query)
    except json.JSONDecodeError as exc:
        raise ValidationFailed("query", f"not valid JSON ({exc.msg})") from None
    return results.run_query(saved.validate_query(data))


@api.get("/insights", response_model=InsightList, dependencies=[VIEWER], summary="Saved insights")
def api_insights(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> InsightList:
    found = saved.list_insights(session, q=q, kind=kind, page=page, per_page=per_page)
    return InsightList(items=list(found.items), total=found.total, page=found.number, per_page=found.per_page)


@api.post("/insights", response_model=InsightOut, status_code=201, summary="Save an insight")
def api_insight_create(session: SessionDep, user: MemberUser, data: InsightIn) -> InsightOut:
    return saved.create_insight(session, actor_for(user), data)


@api.get("/insights/{insight_id}", response_model=InsightOut, dependencies=[VIEWER], summary="One saved insight")
def api_insight(session: SessionDep, insight_id: int) -> InsightOut:
    return saved.get_insight(session, insight_id)


@api.get(
    "/insights/{insight_id}/result", response_model=InsightResult, dependencies=[VIEWER], summary="Run a saved insight"
)
def api_insight_result(session: SessionDep, insight_id: int) -> InsightResult:
    return results.run_query(saved.get_insight(session, insight_id).parsed())


@api.get(
    "/insights/{insight_id}/dropped",
    response_model=DroppedOff,
    dependencies=[VIEWER],
    summary="Who dropped off at a funnel step",
)
def api_insight_dropped(session: SessionDep, insight_id: int, step: Annotated[int, Query(ge=2, le=20)]) -> DroppedOff:
    query = saved.get_insight(session, insight_id).parsed()
    if not isinstance(query, FunnelQuery):
        raise ValidationFailed("step", "drop-offs belong to funnels")
    if step > len(query.steps):
        raise ValidationFailed("step", f"the funnel has {len(query.steps)} steps")
    total, people = results.dropped_off(query, step)
    return DroppedOff(step=step, total=total, items=[DroppedPerson.model_validate(p) for p in people])


@api.patch("/insights/{insight_id}", response_model=InsightOut, summary="Change a saved insight")
def api_insight_update(session: SessionDep, user: MemberUser, insight_id: int, data: InsightUpdate) -> InsightOut:
    return saved.update_insight(session, actor_for(user), insight_id, data)


@api.delete("/insights/{insight_id}", status_code=204, summary="Delete a saved insight (and its dashboard tiles)")
def api_insight_delete(session: SessionDep, user: MemberUser, insight_id: int) -> Response:
    saved.delete_insight(session, actor_for(user), insight_id)
    return Response(status_code=204)


# --- metrics -----------------------------------------------------------------------------------------------


@api.get("/metrics", response_model=MetricList, dependencies=[VIEWER], summary="The metrics catalogue")
def api_metrics(session: SessionDep) -> MetricList:
    items = metrics.list_metrics(session)
    return MetricList(items=items, total=len(items))


@api.post("/metrics", response_model=MetricOut, status_code=201, summary="Add a metric")
def api_metric_create(session: SessionDep, user: MemberUser, data: MetricIn) -> MetricOut:
    return metrics.create_metric(session, actor_for(user), data)


@api.get("/metrics/{key}", response_model=MetricOut, dependencies=[VIEWER], summary="One metric")
def api_metric(session: SessionDep, key: str) -> MetricOut:
    return metrics.get_metric(session, key)


@api.get(
    "/metrics/{key}/value",
    response_model=MetricReading,
    dependencies=[VIEWER],
    summary="The metric at a moment (default now)",
)
def api_metric_value(session: SessionDep, key: str, at: dt.datetime | None = None) -> MetricReading:
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return metrics.read_metric(metrics.get_metric(session, key), at)


@api.get(
    "/metrics/{key}/series",
    response_model=SeriesOut,
    dependencies=[VIEWER],
    summary="The metric per interval between two dates",
)
def api_metric_series(
    session: SessionDep,
    key: str,
    start: dt.date,
    end: dt.date,
    interval: Literal["hour", "day", "week", "month"] | None = None,
) -> SeriesOut:
    metric = metrics.get_metric(session, key)
    return SeriesOut(
        key=key, interval=interval or metric.interval, points=metrics.series_of(metric, start, end, interval)
    )


@api.patch("/metrics/{key}", response_model=MetricOut, summary="Change a metric (its key never changes)")
def api_metric_update(session: SessionDep, user: MemberUser, key: str, data: MetricUpdate) -> MetricOut:
    return metrics.update_metric(session, actor_for(user), key, data)


@api.delete("/metrics/{key}", status_code=204, summary="Remove a metric (and its dashboard tiles)")
def api_metric_delete(session: SessionDep, user: MemberUser, key: str) -> Response:
    metrics.delete_metric(session, actor_for(user), key)
    return Response(status_code=204)


# --- dashboards --------------------------------------------------------------------------------------------


@api.get("/dashboards", response_model=DashboardList, dependencies=[VIEWER], summary="Dashboards")
def api_dashboards(session: SessionDep) -> DashboardList:
    items = [dashboards.get_dashboard(session, d.id) for d, _ in dashboards.list_dashboards(session)]
    return DashboardList(items=items, total=len(items))


@api.post("/dashboards", response_model=DashboardOut, status_code=201, summary="Create a dashboard")
def api_dashboard_create(session: SessionDep, user: MemberUser, data: DashboardIn) -> DashboardOut:
    return dashboards.create_dashboard(session, actor_for(user), data)


@api.get(
    "/dashboards/{dashboard_id}",
    response_model=DashboardOut,
    dependencies=[VIEWER],
    summary="One dashboard with its tiles",
)
def api_dashboard(session: SessionDep, dashboard_id: int) -> DashboardOut:
    return dashboards.get_dashboard(session, dashboard_id)


@api.put("/dashboards/{dashboard_id}", response_model=DashboardOut, summary="Replace a dashboard's settings")
def api_dashboard_update(session: SessionDep, user: MemberUser, dashboard_id: int, data: DashboardIn) -> DashboardOut:
    return dashboards.update_dashboard(session, actor_for(user), dashboard_id, data)


@api.delete("/dashboards/{dashboard_id}", status_code=204, summary="Delete a dashboard")
def api_dashboard_delete(session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboards.delete_dashboard(session, actor_for(user), dashboard_id)
    return Response(status_code=204)


@api.post("/dashboards/{dashboard_id}/tiles", response_model=TileOut, status_code=201, summary="Add a tile")
def api_tile_add(session: SessionDep, user: MemberUser, dashboard_id: int, data: TileIn) -> TileOut:
    return dashboards.add_tile(session, actor_for(user), dashboard_id, data)


@api.delete("/dashboards/{dashboard_id}/tiles/{tile_id}", status_code=204, summary="Remove a tile")
def api_tile_remove(session: SessionDep, user: MemberUser, dashboard_id: int, tile_id: int) -> Response:
    dashboards.remove_tile(session, actor_for(user), dashboard_id, tile_id)
    return Response(status_code=204)


@api.get(
    "/dashboards/{dashboard_id}/tiles/{tile_id}/result",
    response_model=InsightResult,
    dependencies=[VIEWER],
    summary="A tile's result with the dashboard's range and segment",
)
def api_tile_result(session: SessionDep, dashboard_id: int, tile_id: int) -> InsightResult:
    dashboard = dashboards.get_dashboard(session, dashboard_id)
    tile = dashboards.get_tile(session, dashboard_id, tile_id)
    return results.run_query(dashboards.tile_query(session, tile, dashboard))


@api.post("/dashboards/{dashboard_id}/share", response_model=ShareOut, summary="Make a new read-only share link")
def api_dashboard_share(session: SessionDep, user: MemberUser, dashboard_id: int) -> ShareOut:
    from prodops.platform.config import get_settings

    token = dashboards.share_dashboard(session, actor_for(user), dashboard_id)
    return ShareOut(url=f"{get_settings().base_url.rstrip('/')}/analytics/shared/{token}")


@api.delete("/dashboards/{dashboard_id}/share", status_code=204, summary="Revoke the share link")
def api_dashboard_unshare(session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboards.revoke_share(session, actor_for(user), dashboard_id)
    return Response(status_code=204)
