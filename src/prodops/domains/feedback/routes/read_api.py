"""The read side of the feedback JSON API under /api/v1/feedback: the list (the inbox's filters), one item, the
facet counts and the saved views. Viewers read; the writes live in ``routes/api.py``.

Literal paths are declared before ``/{item_id:int}``, and the item id only matches digits, so no route here shadows
another module's ``/views``, ``/demand`` or ``/bulk``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from prodops.domains.feedback.queries import inbox
from prodops.domains.feedback.queries.inbox import FeedbackFilters
from prodops.domains.feedback.queries.items import get_item
from prodops.domains.feedback.schemas import FeedbackOut
from prodops.domains.feedback.service.views import SavedViewOut, get_view, list_views
from prodops.platform import registry
from prodops.platform.deps import SessionDep, ViewerUser

FeedbackQuery = Annotated[FeedbackFilters, Query()]

read_api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback"]))


class FeedbackList(BaseModel):
    items: list[FeedbackOut]
    total: int
    page: int
    per_page: int
    offset: int
    """Items before this page."""
    next_after: int | None
    """Pass as ``after`` for the next page (None on the last page)."""
    prev_before: int | None
    """Pass as ``before`` for the previous page (None on the first page)."""


class FacetCount(BaseModel):
    value: str
    label: str
    count: int | None


class FacetsOut(BaseModel):
    status: list[FacetCount]
    source: list[FacetCount]
    product: list[FacetCount]
    tag: list[FacetCount]
    kind: list[FacetCount] = []
    """By type (`bug`, `feature_request`...); items waiting for their analysis are in none."""
    sentiment: list[FacetCount] = []
    """By sentiment: `negative`, `neutral`, `positive`."""
    skipped: list[str]
    """Dimensions listed without counts: too many items match to count them quickly; narrow the filters."""


class ViewList(BaseModel):
    items: list[SavedViewOut]
    total: int


@read_api.get(
    "",
    response_model=FeedbackList,
    summary="List feedback (the inbox's filters, search, sort, pages and cursors)",
    description=(
        "Without `status` the list holds what waits for triage (`new` and `triaged`); `status=all` lists every "
        "item. List parameters repeat or take commas (`source=email,widget`). `assignee=me` means the caller. "
        "Page numbers reach 10,000 items deep; go further with `after=<next_after>` (it costs the same at any depth)."
    ),
)
def api_list(session: SessionDep, user: ViewerUser, filters: FeedbackQuery) -> FeedbackList:
    page = inbox.list_items(session, filters, me=user.id)
    return FeedbackList(
        items=list(page.items),
        total=page.total,
        page=page.number,
        per_page=page.per_page,
        offset=page.offset,
        next_after=page.next_after,
        prev_before=page.prev_before,
    )


@read_api.get(
    "/facets",
    response_model=FacetsOut,
    summary="Counts by status, source, product, tag, type and sentiment for the same filters",
    description="Each dimension is counted with every other filter applied but not its own.",
)
def api_facets(session: SessionDep, user: ViewerUser, filters: FeedbackQuery) -> FacetsOut:
    found = inbox.facets(session, filters, me=user.id)
    return FacetsOut(
        status=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.status],
        source=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.source],
        product=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.product],
        tag=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.tag],
        kind=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.kind],
        sentiment=[FacetCount(value=v.value, label=v.label, count=v.count) for v in found.sentiment],
        skipped=list(found.skipped),
    )


@read_api.get("/views", response_model=ViewList, summary="Saved inbox views: yours and the shared ones")
def api_views(session: SessionDep, user: ViewerUser) -> ViewList:
    views = list_views(session, user.id)
    return ViewList(items=views, total=len(views))


@read_api.get("/views/{view_id:int}", response_model=SavedViewOut, summary="One saved view")
def api_view(session: SessionDep, user: ViewerUser, view_id: int) -> SavedViewOut:
    return get_view(session, view_id, user.id)


@read_api.get("/{item_id:int}", response_model=FeedbackOut, summary="One feedback item with its links")
def api_item(session: SessionDep, user: ViewerUser, item_id: int) -> FeedbackOut:
    return get_item(session, item_id)
