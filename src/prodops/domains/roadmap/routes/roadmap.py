"""Roadmap views (board, timeline, lanes by goal or team), re-planning by drag and drop or buttons, exports (CSV,
PNG), share links (admin page, public read-only page ``/r/<token>``) and their JSON API."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.roadmap.queries import roadmap as queries
from prodops.domains.roadmap.schemas.roadmap import (
    BUCKET_LABELS,
    FIELD_LABELS,
    GROUP_LABELS,
    INSIDE_FIELDS,
    INTERNAL_FIELDS,
    LAYOUT_LABELS,
    SHARE_DEFAULT_FIELDS,
    MoveIn,
    RoadmapData,
    RoadmapView,
    ShareIn,
    ShareOut,
)
from prodops.domains.roadmap.service import replan, sharing
from prodops.platform import registry
from prodops.platform.deps import PUBLIC, PUBLIC_API, VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import NotFound, ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.org import service as org
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import to_png

router = registry.router(APIRouter(include_in_schema=False))
CARD_LIMIT = 60
"""Cards a board column (and the unscheduled list) shows; the rest are counted, and the CSV export has them all."""
BAR_LIMIT = 150
"""Bars a timeline lane shows."""
api = registry.router(APIRouter(prefix="/api/v1/roadmap", tags=["roadmap"]))


def _view(
    layout: Annotated[str | None, Query()] = None,
    group: Annotated[str | None, Query()] = None,
    granularity: Annotated[str | None, Query()] = None,
    start: Annotated[str | None, Query()] = None,
    periods: Annotated[str | None, Query()] = None,
    product_id: Annotated[str | None, Query()] = None,
    team_id: Annotated[str | None, Query()] = None,
    goal_id: Annotated[str | None, Query()] = None,
    fields: Annotated[str | None, Query(max_length=200)] = None,
) -> RoadmapView:
    raw: dict[str, Any] = {
        "layout": layout,
        "group": group,
        "granularity": granularity,
        "start": start,
        "periods": periods,
        "product_id": product_id,
        "team_id": team_id,
        "goal_id": goal_id,
        "fields": fields,
    }
    try:
        return RoadmapView.model_validate({k: v for k, v in raw.items() if v not in (None, "")})
    except ValidationError as exc:
        errors = [(str(e["loc"][0]) if e["loc"] else None, e["msg"]) for e in exc.errors()]
        (field, message), *more = errors
        raise ValidationFailed(field, message, more=more) from exc


View = Annotated[RoadmapView, Depends(_view)]


def _query(view: RoadmapView, **changes: Any) -> str:
    return urlencode(view.query(**changes))


def _context(session: Session, data: RoadmapData, *, readonly: bool, **extra: Any) -> dict[str, Any]:
    view = data.view
    return {
        "data": data,
        "view": view,
        "readonly": readonly,
        "query": _query(view),
        "bucket_labels": BUCKET_LABELS,
        "layouts": LAYOUT_LABELS,
        "groups": GROUP_LABELS,
        "field_labels": FIELD_LABELS,
        "products": [(p.id, p.name) for p in org.list_products(session)],
        "teams": [(t.id, t.name) for t in org.list_teams(session)],
        "goals": queries.goal_choices(session),
        "prev_start": queries.add_months(
            data.periods[0].start, -(3 if view.granularity == "quarter" else 1) * view.periods
        ).isoformat()
        if data.periods
        else None,
        "next_start": data.periods[-1].end.isoformat() if data.periods else None,
        "error": None,
        "card_limit": CARD_LIMIT,
        "bar_limit": BAR_LIMIT,
        **extra,
    }


@router.get("/roadmap", response_class=HTMLResponse)
def roadmap_page(request: Request, session: SessionDep, user: ViewerUser, view: View) -> Response:
    data = queries.roadmap(session, view)
    return render(
        request, "roadmap/roadmap.html", _context(session, data, readonly=False), partial="roadmap/_roadmap.html"
    )


@router.post("/roadmap/plan/{feature_id}", response_class=HTMLResponse)
async def roadmap_move(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, view: View
) -> Response:
    """Re-plan one feature from the roadmap — a bucket and position (board) or a shift of its dates by whole
    periods (timeline) — through the plan service, and answer with the redrawn roadmap (HTMX)."""
    form = await request.form()
    error = None
    try:
        fields = ("bucket", "before_id", "position", "shift", "granularity")
        move = MoveIn.model_validate({k: form.get(k) for k in fields if form.get(k) not in (None, "")})
        replan.move(session, actor_for(user), feature_id, move)
    except (ValidationError, ServiceError) as exc:
        error = "; ".join(errors_of(exc).values())
    data = queries.roadmap(session, view)
    context = _context(session, data, readonly=False, error=error, moved=feature_id)
    return render(
        request, "roadmap/roadmap.html", context, partial="roadmap/_roadmap.html", status_code=422 if error else 200
    )


@router.get("/roadmap/roadmap.js", dependencies=[PUBLIC_API])
def roadmap_script() -> Response:
    script = resources.files("prodops.domains.roadmap").joinpath("static", "roadmap.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _csv(data: RoadmapData) -> Response:
    return Response(
        queries.export_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="roadmap.csv"'},
    )


def _png(data: RoadmapData) -> Response:
    return Response(
        to_png(queries.export_spec(data)),
        media_type="image/png",
        headers={"Content-Disposition": 'attachment; filename="roadmap.png"'},
    )


@router.get("/roadmap/export.csv", dependencies=[VIEWER])
def roadmap_csv(session: SessionDep, view: View) -> Response:
    return _csv(queries.roadmap(session, view))


@router.get("/roadmap/export.png", dependencies=[VIEWER])
def roadmap_png(session: SessionDep, view: View) -> Response:
    return _png(queries.roadmap(session, view))


# --- share links -------------------------------------------------------------------------------------


def _share_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], created: ShareOut | None
) -> dict[str, Any]:
    return {
        "links": sharing.list_links(session),
        "form": form,
        "errors": errors,
        "created": created,
        "layouts": LAYOUT_LABELS,
        "groups": GROUP_LABELS,
        "field_labels": FIELD_LABELS,
        "internal": INTERNAL_FIELDS,
        "products": [(p.id, p.name) for p in org.list_products(session)],
        "teams": [(t.id, t.name) for t in org.list_teams(session)],
        "goals": queries.goal_choices(session),
    }


@router.get("/roadmap/share", response_class=HTMLResponse)
def share_page(request: Request, session: SessionDep, user: AdminUser, view: View) -> Response:
    """Share links: create one from the roadmap's current view (fields default to the safe ones), copy, revoke."""
    form = {"name": "", **view.model_dump(mode="json"), "fields": list(SHARE_DEFAULT_FIELDS)}
    return render(request, "roadmap/share.html", _share_context(session, form, {}, None))


@router.post("/roadmap/share", response_class=HTMLResponse)
async def share_create(request: Request, session: SessionDep, user: AdminUser) -> Response:
    form = await request.form()
    shown: dict[str, Any] = {
        k: str(form.get(k) or "")
        for k in ("name", "layout", "group", "granularity", "start", "periods", "product_id", "team_id", "goal_id")
    }
    shown["fields"] = [str(f) for f in form.getlist("fields")]
    view_raw = {k: v for k, v in shown.items() if k != "name" and v not in ("", None)}
    view_raw["fields"] = shown["fields"]
    try:
        data = ShareIn.model_validate({"name": shown["name"], "view": view_raw})
        created = sharing.create_link(session, actor_for(user), data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            errors.setdefault(loc[-1] if loc else "_", e["msg"].removeprefix("Value error, "))
        return render(request, "roadmap/share.html", _share_context(session, shown, errors, None), status_code=422)
    except ServiceError as exc:
        errors = {k.removeprefix("view."): v for k, v in errors_of(exc).items()}
        return render(
            request, "roadmap/share.html", _share_context(session, shown, errors, None), status_code=exc.status_code
        )
    form_again = {"name": "", **RoadmapView().model_dump(mode="json"), "fields": list(SHARE_DEFAULT_FIELDS)}
    return render(request, "roadmap/share.html", _share_context(session, form_again, {}, created), status_code=201)


@router.post("/roadmap/share/{link_id}/revoke")
def share_revoke(request: Request, session: SessionDep, user: AdminUser, link_id: int) -> Response:
    link = sharing.revoke_link(session, actor_for(user), link_id)
    flash(request, f"Share link “{link.name}” revoked: it no longer opens.")
    return RedirectResponse("/roadmap/share", status_code=303)


def _shared(session: SessionDep, token: str) -> tuple[str, RoadmapView]:
    found = sharing.open_link(session, token)
    if found is None:
        raise NotFound("share link", "")
    return found


@router.get("/r/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def shared_page(request: Request, session: SessionDep, token: str) -> Response:
    """The read-only roadmap of a share link: only the link's view, no navigation, nothing internal."""
    found = sharing.open_link(session, token)
    if found is None:
        return render(
            request,
            "roadmap/shared_gone.html",
            {"user": None, "nav": []},
            status_code=404,
            headers={"X-Robots-Tag": "noindex"},
        )
    name, view = found
    data = queries.roadmap(session, view)
    context = _context(session, data, readonly=True, share_name=name, token=token, user=None, nav=[])
    return render(
        request, "roadmap/shared.html", context, headers={"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
    )


@router.get("/r/{token}/roadmap.csv", dependencies=[PUBLIC])
def shared_csv(session: SessionDep, token: str) -> Response:
    _, view = _shared(session, token)
    return _csv(queries.roadmap(session, view))


@router.get("/r/{token}/roadmap.png", dependencies=[PUBLIC])
def shared_png(session: SessionDep, token: str) -> Response:
    _, view = _shared(session, token)
    return _png(queries.roadmap(session, view))


# --- API ---------------------------------------------------------------------------------------------


@api.get("/view", dependencies=[VIEWER])
def api_view(session: SessionDep, view: View) -> RoadmapData:
    """The roadmap for the view's parameters (``layout``, ``group``, ``granularity``, ``start``, ``periods``,
    ``product_id``, ``team_id``, ``goal_id``, ``fields`` comma-separated)."""
    return queries.roadmap(session, view)


@api.post("/plans/{feature_id}/move")
def api_move(session: SessionDep, user: MemberUser, feature_id: int, data: MoveIn) -> dict[str, Any]:
    """Re-plan: ``{"bucket", "before_id"}`` (or ``"position"``) or ``{"shift", "granularity"}``; answers the plan."""
    plan = replan.move(session, actor_for(user), feature_id, data)
    return plan.model_dump(mode="json")


@api.get("/shares")
def api_shares(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    links = sharing.list_links(session)
    return {"items": [lk.model_dump(mode="json") for lk in links], "total": len(links)}


@api.post("/shares", status_code=201)
def api_share_create(session: SessionDep, user: AdminUser, data: ShareIn) -> ShareOut:
    return sharing.create_link(session, actor_for(user), data)


@api.post("/shares/{link_id}/revoke")
def api_share_revoke(session: SessionDep, user: AdminUser, link_id: int) -> ShareOut:
    return sharing.revoke_link(session, actor_for(user), link_id)


__all__ = ["INSIDE_FIELDS", "api", "router"]
