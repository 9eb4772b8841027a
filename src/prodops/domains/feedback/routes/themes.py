"""Themes pages (``/feedback/themes``: the ranked list with a trend chart; ``/feedback/themes/{id}``: one theme with
its trend, typical items and the edits) and their JSON API under ``/api/v1/feedback/themes``.

Viewers read; members rename, merge and split; admins re-cluster everything and run the emerging-theme check now.
Charts load their data after the page (``…/trend.json`` returns the Vega-Lite spec).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.feedback.queries import themes as queries
from prodops.domains.feedback.queries.themes import EmergingReport, ThemeDetail, ThemeFilters, ThemeList
from prodops.domains.feedback.service import themes as service
from prodops.domains.feedback.service.themes import ThemeMerge, ThemeRename, ThemeSplit
from prodops.platform import audit, registry
from prodops.platform.audit import AuditRecord
from prodops.platform.deps import VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/feedback/themes", tags=["feedback themes"]))

registry.nav("Themes", "/feedback/themes", section="Feedback", order=20)

PAGE = "/feedback/themes"
CHART_THEMES = 8
ThemeQuery = Annotated[ThemeFilters, Query()]
FormText = Annotated[str, Form(max_length=400)]
SORT_LABELS = {
    "-size": "Largest first",
    "-growth": "Fastest growing first",
    "-this_week": "Most this week first",
    "label": "By name",
}


# --- chart specs and sparklines ----------------------------------------------------------------------------


def trend_spec(themes: ThemeList) -> dict[str, Any]:
    """Weekly items of the largest themes, one line each."""
    # Complete weeks only: the week in progress would look like a fall in every theme.
    values = [
        {"week": week.isoformat(), "theme": theme.label, "count": count}
        for theme in sorted(themes.items, key=lambda t: -t.size)[:CHART_THEMES]
        for week, count in list(zip(themes.weeks, theme.weekly, strict=True))[:-1]
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "week", "type": "temporal", "title": "Week starting", "axis": {"format": "%d %b"}},
            "y": {"field": "count", "type": "quantitative", "title": "Items per week"},
            "color": {"field": "theme", "type": "nominal", "title": None, "legend": {"orient": "bottom", "columns": 2}},
            "tooltip": [
                {"field": "theme", "type": "nominal", "title": "Theme"},
                {"field": "week", "type": "temporal", "title": "Week starting", "format": "%d %b %Y"},
                {"field": "count", "type": "quantitative", "title": "Items"},
            ],
        },
        "height": 240,
    }


def theme_spec(theme: ThemeDetail) -> dict[str, Any]:
    """The theme's items per week; the week in progress is drawn lighter."""
    last = len(theme.series) - 1
    values = [
        {
            "week": point.week.strftime("%d %b %Y"),
            "count": point.count,
            "part": "so far" if n == last else "whole week",
        }
        for n, point in enumerate(theme.series)
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {
                "field": "week",
                "type": "ordinal",
                "sort": None,
                "title": "Week starting",
                "axis": {"labelExpr": "slice(datum.value, 0, 6)", "labelAngle": 0, "labelOverlap": True},
            },
            "y": {"field": "count", "type": "quantitative", "title": "Items per week"},
            "opacity": {
                "field": "part",
                "type": "nominal",
                "scale": {"domain": ["whole week", "so far"], "range": [1, 0.45]},
                "legend": None,
            },
            "tooltip": [
                {"field": "week", "type": "ordinal", "title": "Week starting"},
                {"field": "count", "type": "quantitative", "title": "Items"},
                {"field": "part", "type": "nominal", "title": "Counted"},
            ],
        },
        "height": 220,
    }


def sparkline(values: list[int], width: int = 96, height: int = 22) -> Markup:
    """A tiny inline SVG of weekly counts (no script needed); the numbers are in its accessible name."""
    if not values:
        return Markup("")
    top = max(*values, 1)
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{n * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for n, v in enumerate(values))
    label = f"Items per week, oldest first: {', '.join(str(v) for v in values)}"
    return Markup(
        '<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<title>{label}</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
        "</svg>"
    ).format(w=width, h=height, label=label, points=points)


# --- pages ----------------------------------------------------------------------------------------------------


def _last_run(session: Session) -> AuditRecord | None:
    found = audit.history(session, service.ENTITY, "all", limit=1)
    return found[0] if found else None


def _list_context(session: Session, filters: ThemeFilters) -> dict[str, Any]:
    data = queries.list_themes(session, filters)
    return {
        "data": data,
        "filters": filters,
        "sorts": SORT_LABELS,
        "sparkline": sparkline,
        "last_run": _last_run(session),
        "pager": _Pager(data),
        "trend_chart": chart(
            src=f"{PAGE}/trend.json", title=f"Items per week in the {min(data.total, CHART_THEMES)} largest themes"
        ),
        "min_count": queries.MIN_COUNT,
        "baseline_weeks": queries.BASELINE_WEEKS,
        "alpha": queries.ALPHA,
        "min_lift": queries.MIN_LIFT,
    }


class _Pager:
    """What the shared ``pager`` macro reads."""

    def __init__(self, data: ThemeList) -> None:
        self.number, self.per_page, self.total = data.page, data.per_page, data.total
        self.pages = max(1, -(-data.total // data.per_page))
        self.start = 0 if data.total == 0 else (data.page - 1) * data.per_page + 1
        self.end = min(data.total, data.page * data.per_page)
        self.has_prev = data.page > 1
        self.has_next = data.page < self.pages


@router.get(PAGE, response_class=HTMLResponse)
def themes_page(request: Request, session: SessionDep, user: ViewerUser, filters: ThemeQuery) -> Response:
    return render(
        request, "feedback/themes.html", _list_context(session, filters), partial="feedback/_themes_list.html"
    )


@router.get(f"{PAGE}/trend.json", dependencies=[VIEWER])
def themes_trend(session: SessionDep) -> JSONResponse:
    return JSONResponse(trend_spec(queries.list_themes(session, ThemeFilters(per_page=200))))


def _theme_context(session: Session, theme: ThemeDetail, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "theme": theme,
        "chart": chart(src=f"{PAGE}/{theme.id}/trend.json", title=f"Items per week in “{theme.label}”", height=220),
        "choices": queries.theme_choices(session, exclude=theme.id),
        "history": audit.history(session, service.ENTITY, theme.id, limit=30),
        "errors": errors or {},
        "max_parts": 5,
        "baseline_weeks": queries.BASELINE_WEEKS,
    }


def _to_theme(theme_id: int) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}/{theme_id}", status_code=303)


@router.get(PAGE + "/{theme_id:int}", response_class=HTMLResponse)
def theme_page(request: Request, session: SessionDep, user: ViewerUser, theme_id: int) -> Response:
    survivor = queries.survivor_id(session, theme_id)
    if survivor != theme_id:
        flash(request, f"Theme {theme_id} was merged into this one.", "info")
        return _to_theme(survivor)
    theme = queries.get_theme(session, theme_id)
    return render(request, "feedback/theme.html", _theme_context(session, theme))


@router.get(PAGE + "/{theme_id:int}/trend.json", dependencies=[VIEWER])
def theme_trend(session: SessionDep, theme_id: int) -> JSONResponse:
    return JSONResponse(theme_spec(queries.get_theme(session, queries.survivor_id(session, theme_id))))


def _refused(request: Request, session: Session, theme_id: int, exc: ValidationError | ServiceError) -> Response:
    """The theme page again with the error next to the field (422), nothing changed."""
    session.rollback()
    theme = queries.get_theme(session, theme_id)
    status = exc.status_code if isinstance(exc, ServiceError) else 422
    return render(request, "feedback/theme.html", _theme_context(session, theme, errors_of(exc)), status_code=status)


@router.post(PAGE + "/{theme_id:int}/rename")
def theme_rename(
    request: Request, session: SessionDep, user: MemberUser, theme_id: int, label: FormText = ""
) -> Response:
    try:
        theme = service.rename(session, actor_for(user), theme_id, ThemeRename(label=label))
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, theme_id, exc)
    flash(request, f"Renamed to “{theme.label}”." if theme.custom_label else "The generated label is shown again.")
    return _to_theme(theme_id)


@router.post(PAGE + "/{theme_id:int}/merge")
def theme_merge(
    request: Request, session: SessionDep, user: MemberUser, theme_id: int, into_id: FormText = ""
) -> Response:
    try:
        if not into_id.strip().isdigit():
            raise ValidationFailed("into_id", "choose the theme to merge into")
        survivor = service.merge(session, actor_for(user), theme_id, ThemeMerge(into_id=int(into_id)))
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, theme_id, exc)
    flash(request, f"Merged into “{survivor.label}”: it now holds {survivor.size:,} items.")
    return _to_theme(survivor.id)


@router.post(PAGE + "/{theme_id:int}/split")
def theme_split(
    request: Request, session: SessionDep, user: MemberUser, theme_id: int, parts: FormText = "2"
) -> Response:
    try:
        if not parts.strip().isdigit():
            raise ValidationFailed("parts", "give a number of parts from 2 to 5")
        found = service.split(session, actor_for(user), theme_id, ThemeSplit(parts=int(parts)))
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, theme_id, exc)
    names = "; ".join(f"“{t.label}” ({t.size:,})" for t in found)
    flash(request, f"Split into {len(found)} themes: {names}.")
    return _to_theme(theme_id)


@router.post(f"{PAGE}/recluster")
def recluster_now(request: Request, user: AdminUser) -> Response:
    from prodops.domains.feedback import jobs

    jobs.recluster_themes_now()
    flash(
        request,
        "Re-clustering started. It runs in the background (about a minute for 100,000 items); "
        "the summary appears at the top of this page when it is done.",
        "info",
    )
    return RedirectResponse(PAGE, status_code=303)


@router.post(f"{PAGE}/emerging")
def emerging_now(request: Request, user: AdminUser) -> Response:
    from prodops.domains.feedback import jobs

    jobs.check_emerging_themes_now(None)
    flash(
        request,
        "Checking this week's themes for significant growth; admins are e-mailed about each emerging theme "
        "(once per theme and week).",
        "info",
    )
    return RedirectResponse(PAGE, status_code=303)


# --- JSON API -------------------------------------------------------------------------------------------------


class Queued(BaseModel):
    queued: bool
    message: str


class ThemeParts(BaseModel):
    items: list[ThemeDetail]
    total: int


@api.get("", response_model=ThemeList, dependencies=[VIEWER], summary="Themes with counts, growth and weekly counts")
def api_themes(session: SessionDep, filters: ThemeQuery) -> ThemeList:
    """Active themes (merged ones lead to their survivor). ``sort``: `-size` (default), `-growth`, `-this_week`,
    `label`; ``q`` searches labels."""
    return queries.list_themes(session, filters)


@api.get(
    "/emerging",
    response_model=EmergingReport,
    dependencies=[VIEWER],
    summary="The emerging-theme test for an ISO week (default: this week so far)",
)
def api_emerging(session: SessionDep, week: Annotated[str | None, Query(max_length=10)] = None) -> EmergingReport:
    return queries.emerging_report(session, week or None)


@api.post(
    "/emerging",
    response_model=Queued,
    status_code=202,
    summary="Run the emerging-theme check now and notify the admins (admins)",
)
def api_emerging_check(user: AdminUser, week: Annotated[str | None, Query(max_length=10)] = None) -> Queued:
    from prodops.domains.feedback import jobs

    if week:
        queries.week_start(week)  # a bad week is refused here, not in the job
    jobs.check_emerging_themes_now(week or None)
    return Queued(queued=True, message="The emerging-theme check runs in the background.")


@api.post("/recluster", response_model=Queued, status_code=202, summary="Re-cluster all feedback now (admins)")
def api_recluster(user: AdminUser) -> Queued:
    from prodops.domains.feedback import jobs

    jobs.recluster_themes_now()
    return Queued(queued=True, message="Re-clustering runs in the background; edits people made are kept.")


@api.get(
    "/{theme_id:int}",
    response_model=ThemeDetail,
    dependencies=[VIEWER],
    summary="One theme (308 to the survivor when it was merged)",
    responses={308: {"description": "Merged: `Location` is the survivor; the body has `merged_into_id`."}},
)
def api_theme(session: SessionDep, theme_id: int) -> ThemeDetail | JSONResponse:
    survivor = queries.survivor_id(session, theme_id)
    if survivor != theme_id:
        return JSONResponse(
            {"detail": f"theme {theme_id} was merged into {survivor}", "merged_into_id": survivor},
            status_code=308,
            headers={"Location": f"/api/v1/feedback/themes/{survivor}"},
        )
    return queries.get_theme(session, theme_id)


@api.patch(
    "/{theme_id:int}", response_model=ThemeDetail, summary="Rename a theme (an empty label restores the generated one)"
)
def api_rename(session: SessionDep, user: MemberUser, theme_id: int, data: ThemeRename) -> ThemeDetail:
    return service.rename(session, actor_for(user), theme_id, data)


@api.post(
    "/{theme_id:int}/merge", response_model=ThemeDetail, summary="Merge a theme into another; returns the survivor"
)
def api_merge(session: SessionDep, user: MemberUser, theme_id: int, data: ThemeMerge) -> ThemeDetail:
    return service.merge(session, actor_for(user), theme_id, data)


@api.post("/{theme_id:int}/split", response_model=ThemeParts, summary="Split a theme into 2–5 themes")
def api_split(session: SessionDep, user: MemberUser, theme_id: int, data: ThemeSplit) -> ThemeParts:
    found = service.split(session, actor_for(user), theme_id, data)
    return ThemeParts(items=found, total=len(found))


__all__ = ["api", "router", "sparkline", "theme_spec", "trend_spec"]
