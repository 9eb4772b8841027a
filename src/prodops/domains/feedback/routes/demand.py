"""Demand pages: the ranking ("what do customers want most"), a feature's evidence panel, the two-feature
comparison, and their JSON API under /api/v1/feedback. Definitions live in ``queries/demand.py``."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback.models import IMPORTANCE_LABELS, IMPORTANCE_WEIGHTS, SOURCE_LABELS
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import (
    DIMENSIONS,
    MEASURES,
    Comparison,
    DemandFilters,
    DemandPage,
    DemandRow,
    FeatureDemand,
)
from prodops.domains.feedback.schemas import FeedbackOut
from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.deps import VIEWER, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.org.service import list_products
from prodops.platform.tabular import attachment_headers, write_csv
from prodops.platform.web import errors_of, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback demand"]))

registry.nav("Demand", "/feedback/demand", section="Feedback", order=30)
registry.nav("Compare", "/feedback/compare", section="Feedback", order=35)
registry.panel("feature", "Evidence", "/feedback/features/{id}/evidence", order=10)

PERIOD_LABELS = {"30d": "last 30 days", "90d": "last 90 days", "180d": "last 6 months", "365d": "last 12 months"}
CHART_TOP = 20


class EvidenceFilters(DemandFilters):
    interval: Literal["week", "month"] | None = Field(default=None, description="Series buckets (default: by span).")
    items: int = Field(default=20, ge=0, le=200, description="How many of the newest linked items to include.")


class CompareFilters(DemandFilters):
    a: int | None = Field(default=None, description="The first feature.")
    b: int | None = Field(default=None, description="The second feature.")


DemandQuery = Annotated[DemandFilters, Query()]
EvidenceQuery = Annotated[EvidenceFilters, Query()]
CompareQuery = Annotated[CompareFilters, Query()]


# --- shared page pieces -----------------------------------------------------------------------


def _names(session: Session) -> dict[str, dict[int, str]]:
    return {
        "products": {p.id: p.name for p in list_products(session)},
        "segments": {s.id: s.name for s in customers.list_segments(session, "accounts")},
    }


def describe(f: DemandFilters, names: dict[str, dict[int, str]]) -> str:
    """The population and window in words: "accounts in Enterprise, EMEA, last 90 days"."""
    parts = []
    if f.segment_id is not None:
        parts.append(f"saved segment “{names['segments'].get(f.segment_id, f'#{f.segment_id}')}”")
    parts += [f"{label.lower()} {getattr(f, key)}" for key, label in DIMENSIONS.items() if getattr(f, key)]
    scope = "all customers" if not parts else "customers with " + ", ".join(parts)
    if f.product_id is not None:
        scope += f", features of {names['products'].get(f.product_id, f'product #{f.product_id}')}"
    if f.period:
        scope += f", {PERIOD_LABELS[f.period]}"
    if f.since or f.until:
        scope += f", {f.since.isoformat() if f.since else 'the start'} to {f.until.isoformat() if f.until else 'today'}"
    return scope


def _chips(f: DemandFilters, names: dict[str, dict[int, str]]) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Title: {f.q}"))
    if f.product_id is not None:
        chips.append(("product_id", f"Product: {names['products'].get(f.product_id, f'#{f.product_id}')}"))
    if f.segment_id is not None:
        chips.append(("segment_id", f"Saved segment: {names['segments'].get(f.segment_id, f'#{f.segment_id}')}"))
    for key, label in DIMENSIONS.items():
        if getattr(f, key):
            chips.append((key, f"{label}: {getattr(f, key)}"))
    if f.period:
        chips.append(("period", PERIOD_LABELS[f.period].capitalize()))
    if f.since:
        chips.append(("since", f"From {f.since.isoformat()}"))
    if f.until:
        chips.append(("until", f"Until {f.until.isoformat()}"))
    return chips


def _query(request: Request, drop: tuple[str, ...] = ("page", "per_page")) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop and v])


def _filter_context(session: Session, f: DemandFilters) -> dict[str, Any]:
    names = _names(session)
    return {
        "filters": f,
        "names": names,
        "facets": demand.account_facets(session),
        "periods": PERIOD_LABELS,
        "active": _chips(f, names),
        "scope": describe(f, names),
        "measures": MEASURES,
        "importance": IMPORTANCE_WEIGHTS,
        "importance_labels": IMPORTANCE_LABELS,
    }


def _value(row: DemandRow, measure: str) -> float:
    return float(getattr(row, measure))


def ranking_chart(rows: list[DemandRow], measure: str) -> dict[str, Any]:
    """A Vega-Lite bar chart of the top features by ``measure``."""
    label = MEASURES[measure]
    values = [
        {
            "feature": row.title,
            "value": _value(row, measure),
            "accounts": row.accounts,
            "arr": row.arr,
            "people": row.people,
            "items": row.items,
        }
        for row in rows[:CHART_TOP]
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "feature", "type": "nominal", "sort": "-x", "title": None, "axis": {"labelLimit": 320}},
            "x": {
                "field": "value",
                "type": "quantitative",
                "title": f"{label} ({get_settings().currency})" if measure == "arr" else label,
                "axis": {"format": "~s", "tickCount": 6},
            },
            "tooltip": [
                {"field": "feature", "type": "nominal", "title": "Feature"},
                {"field": "accounts", "type": "quantitative", "title": "Accounts"},
                {"field": "people", "type": "quantitative", "title": "People"},
                {"field": "items", "type": "quantitative", "title": "Linked items"},
                {"field": "arr", "type": "quantitative", "title": "ARR", "format": ",.0f"},
            ],
        },
        "height": {"step": 18},
    }


def series_chart(data: FeatureDemand) -> dict[str, Any]:
    """Linked items, votes and new accounts per week or month."""
    values = []
    has_votes = any(p.votes for p in data.series)
    for point in data.series:
        values.append({"period": point.period.isoformat(), "measure": "Linked items", "count": point.items})
        values.append({"period": point.period.isoformat(), "measure": "New accounts", "count": point.new_accounts})
        if has_votes:
            values.append({"period": point.period.isoformat(), "measure": "Votes", "count": point.votes})
    unit = "yearweek" if data.interval == "week" else "yearmonth"
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "period", "type": "temporal", "timeUnit": unit, "title": None},
            "y": {"field": "count", "type": "quantitative", "title": f"Per {data.interval}"},
            "color": {"field": "measure", "type": "nominal", "title": None, "legend": {"orient": "top"}},
            "tooltip": [
                {"field": "period", "type": "temporal", "timeUnit": unit, "title": data.interval.capitalize()},
                {"field": "measure", "type": "nominal", "title": "Measure"},
                {"field": "count", "type": "quantitative", "title": "Count"},
            ],
        },
        "height": 200,
    }


def highlighted(item: FeedbackOut, feature_id: int) -> Markup:
    """The item's text with the passage linked to this feature marked (everything escaped)."""
    link = next((lk for lk in item.links if lk.feature_id == feature_id), None)
    text = item.text
    if link is None or link.highlight_start is None or link.highlight_end is None:
        return escape(text)
    start, end = link.highlight_start, link.highlight_end
    return Markup("{}<mark>{}</mark>{}").format(text[:start], text[start:end], text[end:])


def _invalid(request: Request, exc: ValidationError | ServiceError, template: str, context: dict[str, Any]) -> Response:
    return render(request, template, {**context, "errors": errors_of(exc)}, status_code=422)


# --- the ranking --------------------------------------------------------------------------------


@router.get("/feedback/demand", response_class=HTMLResponse)
def demand_page(request: Request, session: SessionDep, user: ViewerUser, filters: DemandQuery) -> Response:
    context = _filter_context(session, filters)
    try:
        page, top = demand.ranked(session, filters, top=CHART_TOP)
    except ServiceError as exc:
        context.update(page=None, chart=None)
        return _invalid(request, exc, "feedback/demand.html", context)
    context.update(
        page=page,
        pager=_Pager(page),
        chart=chart(ranking_chart(top, filters.measure), title=f"Top {CHART_TOP} features by {filters.measure}")
        if top
        else None,
        export_query=_query(request),
        errors={},
    )
    return render(request, "feedback/demand.html", context, partial="feedback/_demand_results.html")


class _Pager:
    """What the shared ``pager`` macro reads, for a page of demand rows."""

    def __init__(self, page: DemandPage) -> None:
        self.number, self.per_page, self.total = page.page, page.per_page, page.total
        self.pages = max(1, -(-page.total // page.per_page))
        self.start = 0 if page.total == 0 else (page.page - 1) * page.per_page + 1
        self.end = min(page.total, page.page * page.per_page)
        self.has_prev = page.page > 1
        self.has_next = page.page < self.pages


CSV_HEADERS = (
    "rank",
    "feature_id",
    "title",
    "product",
    "status",
    "accounts",
    "people",
    "linked_items",
    "votes",
    "arr",
    "score",
)


@router.get("/feedback/demand.csv")
def demand_csv(session: SessionDep, user: ViewerUser, filters: DemandQuery) -> Response:
    rows = demand.label_rows(session, demand.ranking_rows(session, filters))
    body = write_csv(
        CSV_HEADERS,
        [
            [
                r.rank,
                r.feature_id,
                r.title,
                r.product_name or "",
                r.status_label or r.status,
                r.accounts,
                r.people,
                r.items,
                r.votes,
                round(r.arr, 2),
                r.score,
            ]
            for r in rows
        ],
    )
    return Response(body, media_type="text/csv; charset=utf-8", headers=attachment_headers("demand.csv"))


# --- one feature: the evidence panel ------------------------------------------------------------


@router.get("/feedback/features/{feature_id}/evidence", response_class=HTMLResponse)
def evidence_panel(
    request: Request, session: SessionDep, user: ViewerUser, feature_id: int, filters: EvidenceQuery
) -> Response:
    data = demand.feature_demand(session, feature_id, filters, interval=filters.interval, with_items=filters.items)
    context = {
        **_filter_context(session, filters),
        "data": data,
        "chart": chart(series_chart(data), title=f"Demand for {data.title} per {data.interval}", height=220)
        if data.series
        else None,
        "highlighted": highlighted,
        "sources": SOURCE_LABELS,
        "panel_url": f"/feedback/features/{feature_id}/evidence",
        "recent": sum(p.new_accounts for p in data.series[-1:]),
    }
    return render(request, "feedback/demand_feature.html", context, partial="feedback/_evidence.html")


# --- comparing two features ------------------------------------------------------------------------


def _compare_choices(session: Session) -> list[tuple[int, str, int]]:
    """(id, title, accounts) of the features with evidence, alphabetically: the ones a comparison can say
    something about."""
    return demand.feature_totals(session, DemandFilters())


@router.get("/feedback/compare", response_class=HTMLResponse)
def compare_page(request: Request, session: SessionDep, user: ViewerUser, filters: CompareQuery) -> Response:
    context = {**_filter_context(session, filters), "choices": _compare_choices(session), "result": None, "errors": {}}
    if filters.a is None or filters.b is None:
        return render(request, "feedback/compare.html", context)
    try:
        context["result"] = demand.compare(session, filters.a, filters.b, filters)
    except ServiceError as exc:
        return _invalid(request, exc, "feedback/compare.html", context)
    return render(request, "feedback/compare.html", context)


# --- JSON API ---------------------------------------------------------------------------------------


@api.get("/demand", response_model=DemandPage, dependencies=[VIEWER], summary="Features ranked by customer demand")
def api_demand(session: SessionDep, filters: DemandQuery) -> DemandPage:
    """Every surviving feature with evidence, ranked. Measures and filters are defined in the README ("Demand")."""
    return demand.ranking(session, filters)


@api.get(
    "/demand/{feature_id}",
    response_model=FeatureDemand,
    dependencies=[VIEWER],
    summary="One feature's demand: totals, breakdown by segment, plan and region, series, linked items",
)
def api_feature_demand(session: SessionDep, feature_id: int, filters: EvidenceQuery) -> FeatureDemand:
    return demand.feature_demand(session, feature_id, filters, interval=filters.interval, with_items=filters.items)


@api.get(
    "/compare",
    response_model=Comparison,
    dependencies=[VIEWER],
    summary="Which of two features do the accounts of a segment want more? (McNemar's exact test)",
)
def api_compare(session: SessionDep, filters: CompareQuery) -> Comparison:
    missing = [name for name in ("a", "b") if getattr(filters, name) is None]
    if missing:
        raise ValidationFailed(missing[0], "give two features to compare: a and b")
    assert filters.a is not None and filters.b is not None
    return demand.compare(session, filters.a, filters.b, filters)


__all__ = ["api", "describe", "router"]
