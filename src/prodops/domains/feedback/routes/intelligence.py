"""Feedback intelligence on pages and in the API: hybrid search (``/feedback/search``, ``GET /api/v1/feedback/search``),
an item's analysis and near-duplicate suggestions with their actions (link to the feature, merge into the similar
item, dismiss), and the widget's public "similar ideas" look-up.

Everything here reads what the analysis jobs stored; nothing waits on a model except embedding the search query
(about a millisecond).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prodops.domains.feedback.models import IMPORTANCE_LABELS, SOURCE_LABELS
from prodops.domains.feedback.queries import inbox, insights
from prodops.domains.feedback.routes.inbox import _after_write
from prodops.domains.feedback.routes.widget import _error, _site_and_cors, serve_script
from prodops.domains.feedback.schemas import Importance, LinkOut
from prodops.domains.feedback.service import similar, widget
from prodops.domains.feedback.service.similar import SearchQuery, SearchResult
from prodops.platform import registry
from prodops.platform.deps import PUBLIC_API, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.text import sentiment
from prodops.platform.web import errors_of, render, templates

# Inbox rows show an item's type and sentiment label wherever they are rendered (lists, out-of-band refreshes).
templates.env.globals.update(fb_kind_label=insights.label_of, fb_sentiment=sentiment.label)

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback intelligence"]))
registry.nav("Search", "/feedback/search", section="Feedback", order=12)

_SEARCH_PARAMS = frozenset({"q", "kind", "status", "source", "received_from", "received_to", "limit"})
_LIST_PARAMS = frozenset({"status", "source"})


def _search_values(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in _LIST_PARAMS:
            values.setdefault(key, []).append(value)
        elif key in _SEARCH_PARAMS:
            values[key] = value
    return values


# --- search ---------------------------------------------------------------------------------


@router.get("/feedback/search", response_class=HTMLResponse)
def search_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    """Search feedback or features by words and by meaning."""
    values = _search_values(request)
    errors: dict[str, str] = {}
    result: SearchResult | None = None
    status_code = 200
    if values.get("q", "").strip():
        try:
            result = similar.search(session, SearchQuery.model_validate(values))
        except (ValidationError, ServiceError) as exc:
            errors = errors_of(exc)
            status_code = 422
    context = {
        "values": values,
        "kind": values.get("kind") or "items",
        "result": result,
        "errors": errors,
        "source_labels": SOURCE_LABELS,
        "status_labels": inbox.STATUS_LABELS,
    }
    return render(request, "feedback/search.html", context, status_code=status_code)


class SearchHitOut(BaseModel):
    kind: Literal["item", "feature"]
    id: int
    title: str
    highlight: str
    """The text around the matched words, HTML-escaped, with the words in ``<mark>``."""
    score: float
    """Reciprocal-rank-fusion score (k = 60)."""
    keyword_rank: int | None
    vector_rank: int | None
    similarity: float | None
    status: str
    status_label: str
    source: str | None
    received_at: dt.datetime | None
    url: str


class SearchOut(BaseModel):
    items: list[SearchHitOut]
    total: int
    terms: list[str]
    """The query words matched as keywords (stop words left out)."""
    keyword_matches: int
    meaning_matches: int


@api.get(
    "/search",
    response_model=SearchOut,
    summary="Hybrid search over feedback items or features (keywords and meaning, fused)",
    description=(
        "Finds by the query's words (case-insensitive, ranked by BM25) and by meaning (embedding similarity), fused "
        "by reciprocal rank fusion (k = 60). `kind=features` searches features. Filters: `status`, `source`, "
        "`received_from`, `received_to` (items). `highlight` is HTML: the text escaped, matched words in `<mark>`."
    ),
)
def api_search(
    session: SessionDep,
    user: ViewerUser,
    q: str = Query(max_length=200),
    kind: str = "items",
    status: list[str] = Query(default_factory=list),
    source: list[str] = Query(default_factory=list),
    received_from: str | None = None,
    received_to: str | None = None,
    limit: int = 20,
) -> SearchOut:
    try:
        query = SearchQuery.model_validate(
            {
                "q": q,
                "kind": kind,
                "status": status,
                "source": source,
                "received_from": received_from,
                "received_to": received_to,
                "limit": limit,
            }
        )
    except ValidationError as exc:
        raise _query_error(exc) from exc
    result = similar.search(session, query)
    hits = [
        SearchHitOut(
            kind=h.kind,
            id=h.id,
            title=h.title,
            highlight=str(h.snippet),
            score=h.score,
            keyword_rank=h.keyword_rank,
            vector_rank=h.vector_rank,
            similarity=h.similarity,
            status=h.status,
            status_label=h.status_label,
            source=h.source,
            received_at=h.received_at,
            url=h.url,
        )
        for h in result.hits
    ]
    return SearchOut(
        items=hits,
        total=len(hits),
        terms=result.terms,
        keyword_matches=result.keyword_matches,
        meaning_matches=result.meaning_matches,
    )


def _query_error(exc: ValidationError) -> ServiceError:
    problems = [
        (".".join(str(p) for p in e["loc"]) or "q", e["msg"].removeprefix("Value error, ")) for e in exc.errors()
    ]
    return ValidationFailed(problems[0][0], problems[0][1], more=problems[1:])


# --- an item's analysis and suggestions -----------------------------------------------------------


def _intelligence_context(session: SessionDep, item_id: int) -> dict[str, Any]:
    inbox.require_item(session, item_id)
    found = insights.insights_by_item(session, [item_id]).get(item_id)
    return {
        "item_id": item_id,
        "insight": found,
        "kind_label": insights.kind_labels(session).get(found.kind, found.kind) if found and found.kind else None,
        "sentiment_label": insights.sentiment_label(found.sentiment) if found else None,
        "sentiment_name": sentiment.label(found.sentiment) if found else None,
        "suggestions": insights.suggestions_for(session, item_id),
        "importances": inbox.importance_choices(),
        "importance_labels": IMPORTANCE_LABELS,
        "status_labels": inbox.STATUS_LABELS,
    }


@router.get("/feedback/items/{item_id:int}/intelligence", response_class=HTMLResponse)
def item_intelligence(request: Request, session: SessionDep, user: ViewerUser, item_id: int) -> Response:
    """The detail pane's analysis block: type, sentiment, similar feedback, the features it probably asks for."""
    return render(request, "feedback/_suggestions.html", _intelligence_context(session, item_id))


@router.post("/feedback/suggestions/{suggestion_id:int}/link")
async def suggestion_link(request: Request, session: SessionDep, user: MemberUser, suggestion_id: int) -> Response:
    item_id = similar.suggestion_item(session, suggestion_id)
    form = await request.form()
    importance = form.get("importance")
    try:
        link = similar.link_suggested(
            session,
            actor_for(user),
            suggestion_id,
            importance if isinstance(importance, str) and importance else "nice",
        )
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, item_id, exc)
    return _after_write(request, session, item_id, f"Linked to {link.feature_title or 'the feature'}.")


@router.post("/feedback/suggestions/{suggestion_id:int}/merge")
def suggestion_merge(request: Request, session: SessionDep, user: MemberUser, suggestion_id: int) -> Response:
    item_id = similar.suggestion_item(session, suggestion_id)
    try:
        merged = similar.merge_suggested(session, actor_for(user), suggestion_id)
    except ServiceError as exc:
        return _refused(request, session, item_id, exc)
    return _after_write(
        request, session, item_id, f"Merged into #{merged.original_id}: this item is archived as its duplicate."
    )


@router.post("/feedback/suggestions/{suggestion_id:int}/dismiss")
def suggestion_dismiss(request: Request, session: SessionDep, user: MemberUser, suggestion_id: int) -> Response:
    item_id = similar.dismiss_suggestion(session, actor_for(user), suggestion_id)
    return _after_write(request, session, item_id, "Suggestion dismissed.")


def _refused(request: Request, session: SessionDep, item_id: int, exc: ValidationError | ServiceError) -> Response:
    from prodops.domains.feedback.routes.inbox import _refused as refused

    return refused(request, session, item_id, exc)


class SimilarItemOut(BaseModel):
    suggestion_id: int
    item_id: int
    score: float
    title: str
    excerpt: str
    status: str


class LikelyFeatureOut(BaseModel):
    suggestion_id: int
    feature_id: int
    score: float
    title: str
    status_label: str


class ItemIntelligenceOut(BaseModel):
    item_id: int
    analysed: bool
    kind: str | None
    kind_label: str | None
    kind_confidence: float | None
    kind_source: str | None
    sentiment: float | None
    sentiment_label: str | None
    theme_id: int | None
    model_version: str | None
    similar_items: list[SimilarItemOut]
    likely_features: list[LikelyFeatureOut]


@api.get(
    "/{item_id:int}/suggestions",
    response_model=ItemIntelligenceOut,
    summary="An item's analysis: type, sentiment, theme, similar feedback and the features it probably asks for",
)
def api_item_suggestions(session: SessionDep, user: ViewerUser, item_id: int) -> ItemIntelligenceOut:
    ctx = _intelligence_context(session, item_id)
    found: insights.ItemInsight | None = ctx["insight"]
    found_suggestions: insights.Suggestions = ctx["suggestions"]
    return ItemIntelligenceOut(
        item_id=item_id,
        analysed=found is not None,
        kind=found.kind if found else None,
        kind_label=ctx["kind_label"],
        kind_confidence=found.kind_confidence if found else None,
        kind_source=found.kind_source if found else None,
        sentiment=found.sentiment if found else None,
        sentiment_label=ctx["sentiment_name"],
        theme_id=found.theme_id if found else None,
        model_version=found.model_version if found else None,
        similar_items=[
            SimilarItemOut(
                suggestion_id=s.suggestion_id,
                item_id=s.item_id,
                score=s.score,
                title=s.title,
                excerpt=s.excerpt,
                status=s.status,
            )
            for s in found_suggestions.items
        ],
        likely_features=[
            LikelyFeatureOut(
                suggestion_id=f.suggestion_id,
                feature_id=f.feature_id,
                score=f.score,
                title=f.title,
                status_label=f.status_label,
            )
            for f in found_suggestions.features
        ],
    )


class SuggestionLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    importance: Importance = Field(default="nice", description="How much the feature matters to this customer.")


class MergeOut(BaseModel):
    duplicate_id: int
    """The item that was merged: now archived, with ``meta.duplicate_of``."""
    original_id: int
    features_linked: list[int]
    """Features the duplicate was linked to because the original is (its person counts as a requester)."""


@api.post(
    "/suggestions/{suggestion_id:int}/link",
    response_model=LinkOut,
    status_code=201,
    summary="Link the item to the feature a suggestion names",
)
def api_suggestion_link(
    session: SessionDep, user: MemberUser, suggestion_id: int, data: SuggestionLinkIn | None = None
) -> LinkOut:
    return similar.link_suggested(session, actor_for(user), suggestion_id, (data or SuggestionLinkIn()).importance)


@api.post(
    "/suggestions/{suggestion_id:int}/merge",
    response_model=MergeOut,
    summary="Merge the item into the similar item a suggestion names (the item is archived as its duplicate)",
)
def api_suggestion_merge(session: SessionDep, user: MemberUser, suggestion_id: int) -> MergeOut:
    merged = similar.merge_suggested(session, actor_for(user), suggestion_id)
    return MergeOut(
        duplicate_id=merged.duplicate_id, original_id=merged.original_id, features_linked=merged.links_copied
    )


@api.post("/suggestions/{suggestion_id:int}/dismiss", status_code=204, summary="Dismiss a suggestion for good")
def api_suggestion_dismiss(session: SessionDep, user: MemberUser, suggestion_id: int) -> Response:
    similar.dismiss_suggestion(session, actor_for(user), suggestion_id)
    return Response(status_code=204)


# --- the widget's "similar ideas" -------------------------------------------------------------------


@router.get("/feedback/widget-ideas.js", dependencies=[PUBLIC_API])
def widget_ideas_script(request: Request) -> Response:
    """The widget's second part (loaded by widget.js on the first keystroke): served like widget.js."""
    return serve_script(request, "widget-ideas.js")


@api.get(
    "/widget/{site_key}/similar",
    dependencies=[PUBLIC_API],
    summary="Similar ideas for the embeddable widget (features' titles and statuses only)",
    description=(
        "Called by `/feedback/widget.js` while a visitor types, from a page on one of the site's allowed origins "
        "(the same `Origin` check, CORS answer and rate limit as the widget's POST, counted separately). Returns "
        'up to five features like the text `q`: `{"items": [{"title", "status"}]}`; nothing else about them '
        "and nothing about any feedback."
    ),
    responses={403: {"description": "The origin is not allowed"}, 404: {"description": "No enabled site"}},
)
def widget_similar(request: Request, session: SessionDep, site_key: str, q: str = "") -> Response:
    origin = request.headers.get("origin")
    try:
        site, headers = _site_and_cors(session, site_key, origin)
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    client = request.client.host if request.client else "unknown"
    try:
        ideas = widget.similar_ideas(session, site, q, origin, client)
    except widget.RateLimited as exc:
        return _error(exc, {**headers, "Retry-After": str(exc.retry_after)})
    except ServiceError as exc:
        return _error(exc, headers)
    body = {"items": [{"title": i.title, "status": i.status} for i in ideas]}
    return JSONResponse(body, headers={**headers, "Cache-Control": "no-store"})
