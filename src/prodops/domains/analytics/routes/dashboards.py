"""Dashboard pages: the list, one dashboard (a grid of tiles with a date range and segment picker, auto-refresh),
tile PNG and CSV exports, editing tiles, the share link, and the shared read-only page.

Tiles load after the page shell, each from its own URL, so a slow tile never holds up the others; with
auto-refresh on, each tile reloads itself every N seconds (HTMX ``every``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.analytics.routes import _charts, _format
from prodops.domains.analytics.routes.insights import result_context
from prodops.domains.analytics.service import dashboards, metrics, results, saved
from prodops.domains.analytics.service.dashboards import REFRESH_CHOICES, DashboardIn, DashboardOut, TileIn, TileOut
from prodops.domains.analytics.service.datasets import registered
from prodops.domains.analytics.service.insights import SEGMENT_FIELDS, InsightResult
from prodops.domains.analytics.service.insights.describe import range_words
from prodops.domains.analytics.service.insights.types import check_date
from prodops.platform import audit, registry
from prodops.platform.config import get_settings
from prodops.platform.deps import PUBLIC, VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import NotFound, ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import attachment_headers, write_csv
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart, to_png

router = registry.router(APIRouter(include_in_schema=False))

PAGES = "/analytics/dashboards"
SHARED = "/analytics/shared"
FormText = Annotated[str, Form(max_length=5000)]
QText = Annotated[str | None, Query(max_length=200)]
TILE_HEIGHT = 220


class Scope:
    """The range and segment a viewer picked on the page (not saved), read from the query string."""

    def __init__(
        self,
        date_from: str | None,
        date_to: str | None,
        plan: str | None,
        segment: str | None,
        region: str | None,
        refresh: int | None,
    ) -> None:
        try:
            self.date_from = check_date(date_from, allow_none=True)
            self.date_to = check_date(date_to, allow_none=True)
        except ValueError as exc:
            raise ValidationFailed("date_from", str(exc)) from None
        self.picked = {k: v for k, v in {"plan": plan, "segment": segment, "region": region}.items() if v}
        self.any_segment = any(v is not None for v in (plan, segment, region))
        self.refresh = refresh if refresh in REFRESH_CHOICES else None

    def segment_for(self, dashboard: DashboardOut) -> dict[str, str]:
        return self.picked if self.any_segment else dashboard.segment

    def query_string(self, dashboard: DashboardOut) -> str:
        params = {"date_from": self.date_from or "", "date_to": self.date_to or ""}
        params.update(self.segment_for(dashboard))
        return urlencode({k: v for k, v in params.items() if v})


def _scope(
    date_from: QText = None,
    date_to: QText = None,
    plan: QText = None,
    segment: QText = None,
    region: QText = None,
    refresh: int | None = None,
) -> Scope:
    return Scope(date_from, date_to, plan, segment, region, refresh)


ScopeDep = Annotated[Scope, Depends(_scope)]


def _tile_result(session: Session, dashboard: DashboardOut, tile: TileOut, scope: Scope) -> InsightResult:
    query = dashboards.tile_query(
        session, tile, dashboard, date_from=scope.date_from, date_to=scope.date_to, segment=scope.segment_for(dashboard)
    )
    return results.run_query(query)


def _tile_title(tile: TileOut) -> str:
    return tile.title or tile.source_name


def _tile_context(session: Session, dashboard: DashboardOut, tile: TileOut, scope: Scope, base: str) -> dict[str, Any]:
    try:
        result = _tile_result(session, dashboard, tile, scope)
    except ServiceError as exc:
        return {"tile": tile, "error": exc.message, "base": base}
    context = result_context(result, height=TILE_HEIGHT)
    context["chart"] = chart(_charts.spec_for(result, TILE_HEIGHT), title=result.title, height=TILE_HEIGHT)
    qs = scope.query_string(dashboard)
    context.update(tile=tile, title=_tile_title(tile), base=base, qs=("?" + qs) if qs else "", error=None)
    return context


# --- list and create -------------------------------------------------------------------------------------------


@router.get(PAGES, response_class=HTMLResponse)
def dashboards_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    context = {"dashboards": dashboards.list_dashboards(session), "form": {}, "errors": {}, "datasets": registered()}
    return render(request, "analytics/dashboards.html", context)


def _dashboard_data(form: dict[str, Any]) -> DashboardIn:
    segment = {k: form.get(k) or "" for k in SEGMENT_FIELDS}
    return DashboardIn.model_validate(
        {
            "name": form.get("name") or "",
            "description": form.get("description") or "",
            "date_from": form.get("date_from") or "-30d",
            "date_to": form.get("date_to") or None,
            "segment": segment,
            "refresh_seconds": int(form.get("refresh_seconds") or 0)
            if str(form.get("refresh_seconds") or "0").isdigit()
            else -1,
        }
    )


@router.post(PAGES + "/datasets/reload")
def datasets_reload(request: Request, user: AdminUser) -> Response:
    """Copy every registered operational dataset into the warehouse now (in the background)."""
    from prodops.domains.analytics import jobs

    jobs.load_datasets_now()
    flash(request, "The datasets are being reloaded; dataset tiles show the new rows in a moment.")
    return RedirectResponse(PAGES, status_code=303)


@router.post(PAGES)
async def dashboard_create(request: Request, session: SessionDep, user: MemberUser) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        dashboard = dashboards.create_dashboard(session, actor_for(user), _dashboard_data(form))
    except (ValidationError, ServiceError) as exc:
        context = {
            "dashboards": dashboards.list_dashboards(session),
            "form": form,
            "errors": errors_of(exc),
            "datasets": registered(),
        }
        return render(request, "analytics/dashboards.html", context, status_code=422)
    flash(request, f"Dashboard “{dashboard.name}” created. Add tiles from saved insights and metrics.")
    return RedirectResponse(f"{PAGES}/{dashboard.id}", status_code=303)


# --- one dashboard ---------------------------------------------------------------------------------------------


def _page_context(
    session: Session,
    dashboard: DashboardOut,
    scope: Scope,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> dict[str, Any]:
    token = dashboards.share_token(session, dashboard.id)
    return {
        "dashboard": dashboard,
        "scope": scope,
        "segment": scope.segment_for(dashboard),
        "choices": results.segment_choices(),
        "refresh": scope.refresh if scope.refresh is not None else dashboard.refresh_seconds,
        "refresh_choices": REFRESH_CHOICES,
        "qs": scope.query_string(dashboard),
        "insights": saved.insight_choices(session),
        "metrics": metrics.metric_choices(session),
        "share_url": f"{get_settings().base_url.rstrip('/')}{SHARED}/{token}" if token else None,
        "history": audit.history(session, dashboards.ENTITY, dashboard.id, limit=15),
        "errors": errors or {},
        "form": form or {**dashboard.model_dump(), **dashboard.segment},
    }


@router.get(PAGES + "/{dashboard_id:int}", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    dashboard_id: int,
    date_from: QText = None,
    date_to: QText = None,
    plan: QText = None,
    segment: QText = None,
    region: QText = None,
    refresh: int | None = None,
) -> Response:
    dashboard = dashboards.get_dashboard(session, dashboard_id)
    try:
        scope = _scope(date_from, date_to, plan, segment, region, refresh)
    except ServiceError as exc:
        scope = _scope(None, None, plan, segment, region, refresh)
        return render(
            request,
            "analytics/dashboard.html",
            _page_context(session, dashboard, scope, errors_of(exc)),
            status_code=422,
        )
    return render(request, "analytics/dashboard.html", _page_context(session, dashboard, scope))


def _tile(session: Session, dashboard_id: int, tile_id: int) -> tuple[DashboardOut, TileOut]:
    dashboard = dashboards.get_dashboard(session, dashboard_id)
    for tile in dashboard.tiles:
        if tile.id == tile_id:
            return dashboard, tile
    raise NotFound("tile", tile_id)


@router.get(PAGES + "/{dashboard_id:int}/tiles/{tile_id:int}", response_class=HTMLResponse, dependencies=[VIEWER])
def tile_partial(
    request: Request,
    session: SessionDep,
    dashboard_id: int,
    tile_id: int,
    scope: ScopeDep,
) -> Response:
    dashboard, tile = _tile(session, dashboard_id, tile_id)
    return render(
        request, "analytics/_tile.html", _tile_context(session, dashboard, tile, scope, f"{PAGES}/{dashboard_id}")
    )


def _png(session: Session, dashboard: DashboardOut, tile: TileOut, scope: Scope) -> Response:
    result = _tile_result(session, dashboard, tile, scope)
    spec = _charts.spec_for(result, 320, title=_tile_title(tile))
    spec["width"] = 640
    filename = f"tile-{tile.id}.png"
    return Response(to_png(spec), media_type="image/png", headers=attachment_headers(filename))


def _csv(session: Session, dashboard: DashboardOut, tile: TileOut, scope: Scope) -> Response:
    result = _tile_result(session, dashboard, tile, scope)
    return Response(
        write_csv(result.columns, _format.csv_rows(result)),
        media_type="text/csv; charset=utf-8",
        headers=attachment_headers(f"tile-{tile.id}.csv"),
    )


@router.get(PAGES + "/{dashboard_id:int}/tiles/{tile_id:int}.png", dependencies=[VIEWER])
def tile_png(
    session: SessionDep,
    dashboard_id: int,
    tile_id: int,
    scope: ScopeDep,
) -> Response:
    dashboard, tile = _tile(session, dashboard_id, tile_id)
    return _png(session, dashboard, tile, scope)


@router.get(PAGES + "/{dashboard_id:int}/tiles/{tile_id:int}.csv", dependencies=[VIEWER])
def tile_csv(
    session: SessionDep,
    dashboard_id: int,
    tile_id: int,
    scope: ScopeDep,
) -> Response:
    dashboard, tile = _tile(session, dashboard_id, tile_id)
    return _csv(session, dashboard, tile, scope)


# --- changes ---------------------------------------------------------------------------------------------------


def _back(dashboard_id: int) -> RedirectResponse:
    return RedirectResponse(f"{PAGES}/{dashboard_id}", status_code=303)


@router.post(PAGES + "/{dashboard_id:int}/edit")
async def dashboard_update(request: Request, session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboard = dashboards.get_dashboard(session, dashboard_id)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        dashboards.update_dashboard(session, actor_for(user), dashboard_id, _dashboard_data(form))
    except (ValidationError, ServiceError) as exc:
        context = _page_context(session, dashboard, _scope(), errors_of(exc), form)
        return render(request, "analytics/dashboard.html", context, status_code=422)
    flash(request, "Dashboard saved.")
    return _back(dashboard_id)


@router.post(PAGES + "/{dashboard_id:int}/delete")
def dashboard_delete(request: Request, session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboard = dashboards.get_dashboard(session, dashboard_id)
    dashboards.delete_dashboard(session, actor_for(user), dashboard_id)
    flash(request, f"Dashboard “{dashboard.name}” deleted.")
    return RedirectResponse(PAGES, status_code=303)


@router.post(PAGES + "/{dashboard_id:int}/tiles")
def tile_add(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    dashboard_id: int,
    source: FormText = "",
    title: FormText = "",
    width: FormText = "1",
) -> Response:
    dashboards.get_dashboard(session, dashboard_id)
    kind, _, ident = source.partition(":")
    try:
        if kind not in {"insight", "metric"} or not ident.isdigit():
            raise ValidationFailed("source", "choose a saved insight or a metric to show")
        data = TileIn.model_validate({f"{kind}_id": int(ident), "title": title, "width": 2 if width == "2" else 1})
        dashboards.add_tile(session, actor_for(user), dashboard_id, data)
        flash(request, "Tile added.")
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        flash(request, "; ".join(errors_of(exc).values()), "error")
    return _back(dashboard_id)


@router.post(PAGES + "/{dashboard_id:int}/tiles/{tile_id:int}/delete")
def tile_remove(request: Request, session: SessionDep, user: MemberUser, dashboard_id: int, tile_id: int) -> Response:
    dashboards.remove_tile(session, actor_for(user), dashboard_id, tile_id)
    flash(request, "Tile removed.")
    return _back(dashboard_id)


@router.post(PAGES + "/{dashboard_id:int}/tiles/{tile_id:int}/move")
def tile_move(
    request: Request, session: SessionDep, user: MemberUser, dashboard_id: int, tile_id: int, direction: FormText = "up"
) -> Response:
    dashboards.move_tile(session, actor_for(user), dashboard_id, tile_id, "down" if direction == "down" else "up")
    return _back(dashboard_id)


@router.post(PAGES + "/{dashboard_id:int}/share")
def dashboard_share(request: Request, session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboards.share_dashboard(session, actor_for(user), dashboard_id)
    flash(request, "A new read-only link was made; earlier links no longer work.")
    return _back(dashboard_id)


@router.post(PAGES + "/{dashboard_id:int}/unshare")
def dashboard_unshare(request: Request, session: SessionDep, user: MemberUser, dashboard_id: int) -> Response:
    dashboards.revoke_share(session, actor_for(user), dashboard_id)
    flash(request, "The share link no longer works.")
    return _back(dashboard_id)


# --- the shared page ---------------------------------------------------------------------------------------


def _shared(session: Session, token: str) -> DashboardOut:
    dashboard = dashboards.shared_dashboard(session, token)
    if dashboard is None:
        raise NotFound("shared dashboard", "link")
    return dashboard


def _shared_tile(session: Session, token: str, tile_id: int) -> tuple[DashboardOut, TileOut]:
    dashboard = _shared(session, token)
    for tile in dashboard.tiles:
        if tile.id == tile_id:
            return dashboard, tile
    raise NotFound("tile", tile_id)


@router.get(SHARED + "/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def shared_page(request: Request, session: SessionDep, token: str) -> Response:
    dashboard = _shared(session, token)
    context = {
        "dashboard": dashboard,
        "token": token,
        "refresh": dashboard.refresh_seconds,
        "range": range_words(dashboard.date_from, dashboard.date_to),
    }
    return render(
        request, "analytics/shared.html", context, headers={"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
    )


@router.get(SHARED + "/{token}/tiles/{tile_id:int}", response_class=HTMLResponse, dependencies=[PUBLIC])
def shared_tile(request: Request, session: SessionDep, token: str, tile_id: int) -> Response:
    dashboard, tile = _shared_tile(session, token, tile_id)
    context = _tile_context(session, dashboard, tile, _scope(), f"{SHARED}/{token}")
    context["shared"] = True
    return render(request, "analytics/_tile.html", context)


@router.get(SHARED + "/{token}/tiles/{tile_id:int}.png", dependencies=[PUBLIC])
def shared_png(session: SessionDep, token: str, tile_id: int) -> Response:
    dashboard, tile = _shared_tile(session, token, tile_id)
    return _png(session, dashboard, tile, _scope())


@router.get(SHARED + "/{token}/tiles/{tile_id:int}.csv", dependencies=[PUBLIC])
def shared_csv(session: SessionDep, token: str, tile_id: int) -> Response:
    dashboard, tile = _shared_tile(session, token, tile_id)
    return _csv(session, dashboard, tile, _scope())
