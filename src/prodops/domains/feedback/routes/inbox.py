"""The triage inbox: the filtered list, the detail pane, keyboard-driven triage actions, bulk actions and saved views.

Pages render whole for a first visit and as fragments for HTMX. Every action is a form post (CSRF checked by the
access dependency); with HTMX it answers with the refreshed detail pane and the item's row (out of band), otherwise
it redirects. Viewers get the same pages without the action controls.
"""

from __future__ import annotations

from importlib import resources
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.feedback import service
from prodops.domains.feedback.models import IMPORTANCE_LABELS, SOURCE_LABELS
from prodops.domains.feedback.queries import inbox
from prodops.domains.feedback.queries.inbox import FeedbackFilters
from prodops.domains.feedback.queries.insights import kind_labels
from prodops.domains.feedback.queries.items import get_item
from prodops.domains.feedback.queries.themes import theme_labels
from prodops.domains.feedback.schemas import BulkChange, FeedbackOut, FeedbackUpdate, LinkIn, LinkOut
from prodops.domains.feedback.service import views
from prodops.platform import audit, registry
from prodops.platform.deps import PUBLIC_API, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, fmt_money, is_htmx, render

router = registry.router(APIRouter(include_in_schema=False))

#: Query parameters that place you in the list (page, cursor, open item) rather than filter it.
POSITION = frozenset({"page", "after", "before", "item"})
LIST_PARAMS = frozenset({"source", "status", "tag", "kind", "sentiment"})
CHANGED = "fb-changed"
"""Client event sent after a write: the sidebar counts reload."""


# --- filters from the address bar -------------------------------------------------------------


def _filter_values(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key == "item":
            continue
        if key in LIST_PARAMS:
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    return values


def _filters(request: Request) -> FeedbackFilters:
    """The filters in the address bar (raises ValidationError naming the bad parameter)."""
    return FeedbackFilters.model_validate(_filter_values(request))


def _filter_query(request: Request) -> str:
    """The filters (not the position) as a query string: for saved views, facets and "back" links."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in POSITION and v])


def _list_url(query: str, **extra: Any) -> str:
    params = [(k, str(v)) for k, v in extra.items() if v is not None]
    full = "&".join(p for p in (query, urlencode(params)) if p)
    return f"/feedback?{full}" if full else "/feedback"


def _chips(request: Request, f: FeedbackFilters, session: Session) -> list[tuple[str, str]]:
    """Active filters as (label, URL without that filter)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in POSITION and v]

    def without(key: str, value: str | None = None) -> str:
        kept = [(k, v) for k, v in query if not (k == key and (value is None or v == value))]
        return "/feedback?" + urlencode(kept) if kept else "/feedback"

    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append((f"Search: {f.q}", without("q")))
    for status in f.status:
        chips.append((f"Status: {inbox.STATUS_LABELS.get(status, 'All')}", without("status", status)))
    for source in f.source:
        chips.append((f"Source: {SOURCE_LABELS[source]}", without("source", source)))
    for t in f.tag:
        chips.append((f"Tag: {t}", without("tag", t)))
    if f.product_id is not None:
        name = dict(inbox.product_choices(session)).get(f.product_id, f"#{f.product_id}")
        chips.append((f"Product: {name}", without("product_id")))
    simple = {
        "area": "Area",
        "plan": "Plan",
        "segment": "Segment",
        "region": "Region",
        "received_from": "From",
        "received_to": "To",
    }
    for key, label in simple.items():
        if getattr(f, key) is not None:
            chips.append((f"{label}: {getattr(f, key)}", without(key)))
    if f.assignee is not None:
        who = {"me": "me", "none": "nobody"}.get(f.assignee)
        if who is None:
            who = inbox.user_names(session, [int(f.assignee)]).get(int(f.assignee), f"#{f.assignee}")
        chips.append((f"Assigned to {who}", without("assignee")))
    if f.importance is not None:
        chips.append((f"Importance: {IMPORTANCE_LABELS.get(f.importance, 'not set')}", without("importance")))
    if f.arr_min is not None:
        chips.append((f"ARR ≥ {fmt_money(f.arr_min)}", without("arr_min")))
    if f.arr_max is not None:
        chips.append((f"ARR ≤ {fmt_money(f.arr_max)}", without("arr_max")))
    for key, label in (("account_id", "Account"), ("person_id", "Person"), ("segment_id", "Saved segment")):
        if getattr(f, key) is not None:
            chips.append((f"{label} #{getattr(f, key)}", without(key)))
    if f.feature_id is not None:
        chips.append((f"Linked to feature #{f.feature_id}", without("feature_id")))
    if f.unlinked is not None:
        chips.append(("Not linked" if f.unlinked else "Linked to a feature", without("unlinked")))
    if f.kind:
        labels = kind_labels(session)
        for kind in f.kind:
            chips.append((f"Type: {labels.get(kind, kind)}", without("kind", kind)))
    for mood in f.sentiment:
        chips.append((f"Sentiment: {mood}", without("sentiment", mood)))
    if f.theme_id is not None:
        name = theme_labels(session, [f.theme_id]).get(f.theme_id, f"#{f.theme_id}")
        chips.append((f"Theme: {name}", without("theme_id")))
    return chips


# --- the text with its highlights -------------------------------------------------------------


def highlighted(text: str, links: list[LinkOut]) -> Markup:
    """The item's text with linked passages in ``<mark>``, escaped, and with its characters kept exactly: the
    browser's text content equals ``text``, so offsets counted there are offsets into ``text`` (a carriage
    return is written as ``&#13;`` because HTML parsing would fold ``\\r\\n`` into ``\\n``)."""
    spans = [
        (link.highlight_start, link.highlight_end, link)
        for link in links
        if link.highlight_start is not None and link.highlight_end is not None
    ]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    parts: list[Markup] = []
    for start, end in pairwise(cuts):
        if start >= len(text):
            break
        piece = escape(text[start:end]).replace("\r", Markup("&#13;"))
        covering = [link for s, e, link in spans if s <= start and end <= e]
        if covering:
            title = ", ".join(f"{c.feature_title or f'feature {c.feature_id}'} ({c.importance})" for c in covering)
            ids = " ".join(str(c.id) for c in covering)
            parts.append(Markup('<mark title="{}" data-links="{}">{}</mark>').format(title, ids, piece))
        else:
            parts.append(piece)
    return Markup("").join(parts)


# --- rendering helpers ---------------------------------------------------------------------


def _detail_context(session: Session, item: FeedbackOut, errors: dict[str, str] | None = None) -> dict[str, Any]:
    account = None
    if item.account_id is not None:
        try:
            account = customers.get_account(session, item.account_id)
        except NotFound:
            account = None
    return {
        "item": item,
        "text_html": highlighted(item.text, item.links),
        "account": account,
        "history": audit.history(session, "feedback", item.id, limit=30),
        "errors": errors or {},
        "assignees": inbox.assignee_choices(session),
        "products": inbox.product_choices(session),
        "importances": inbox.importance_choices(),
        "importance_labels": IMPORTANCE_LABELS,
        "source_labels": SOURCE_LABELS,
        "status_labels": inbox.STATUS_LABELS,
    }


def _detail_response(
    request: Request,
    session: Session,
    item_id: int,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    changed: bool = False,
) -> Response:
    """The detail pane (plus the item's row, out of band) for HTMX; the item page otherwise."""
    item = get_item(session, item_id)
    context = _detail_context(session, item, errors)
    context["oob_row"] = is_htmx(request)
    headers = {"HX-Trigger": CHANGED} if changed else None
    return render(
        request,
        "feedback/inbox_item.html",
        context,
        partial="feedback/_inbox_detail.html",
        status_code=status_code,
        headers=headers,
    )


def _after_write(request: Request, session: Session, item_id: int, message: str) -> Response:
    if is_htmx(request):
        return _detail_response(request, session, item_id, changed=True)
    flash(request, message)
    return RedirectResponse(f"/feedback/items/{item_id}", status_code=303)


def _refused(request: Request, session: Session, item_id: int, exc: ValidationError | ServiceError) -> Response:
    """Inline errors: the pane again with the messages next to the fields, HTTP 422 (or the error's own code)."""
    status = exc.status_code if isinstance(exc, ServiceError) else 422
    if status == 404:
        raise exc
    errors = errors_of(exc)
    if not is_htmx(request):
        flash(request, "; ".join(errors.values()), "error")
    return _detail_response(request, session, item_id, errors=errors, status_code=status)


# --- the inbox ------------------------------------------------------------------------------


@router.get("/feedback", response_class=HTMLResponse)
def inbox_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    query = _filter_query(request)
    filter_error = None
    try:
        filters = _filters(request)
        page = inbox.list_items(session, filters, me=user.id)
    except (ValidationError, ServiceError) as exc:
        filter_error = "; ".join(f"{k}: {v}" for k, v in errors_of(exc).items())
        query = ""
        filters = FeedbackFilters()
        page = inbox.list_items(session, filters, me=user.id)
    selected = request.query_params.get("item")
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "chips": _chips(request, filters, session) if not filter_error else [],
        "filter_error": filter_error,
        "selected": int(selected) if selected and selected.isdigit() else None,
        "list_url": _list_url(query),
        "source_labels": SOURCE_LABELS,
        "status_labels": inbox.STATUS_LABELS,
        "importance_labels": IMPORTANCE_LABELS,
        "importances": inbox.importance_choices(),
        "sort_labels": inbox.SORT_LABELS,
        "assignees": inbox.assignee_choices(session),
        "products": inbox.product_choices(session),
        "segments": [(s.id, s.name) for s in customers.list_segments(session)],
        "views": views.list_views(session, user.id),
        "facets": None,
    }
    status_code = 422 if filter_error else 200
    if request.headers.get("hx-history-restore-request") == "true":
        return render(request, "feedback/inbox.html", context, status_code=status_code)
    return render(
        request, "feedback/inbox.html", context, partial="feedback/_inbox_results.html", status_code=status_code
    )


@router.get("/feedback/facets", response_class=HTMLResponse)
def inbox_facets(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    """The sidebar's facet groups with counts (loaded after the page, and again after every change)."""
    try:
        filters = _filters(request)
        found = inbox.facets(session, filters, me=user.id)
    except (ValidationError, ServiceError) as exc:
        return HTMLResponse(
            Markup('<p class="field-error" role="alert">{}</p>').format("; ".join(errors_of(exc).values())),
            status_code=422,
        )
    statuses = filters.statuses()
    context = {
        "filters": filters,
        "facets": found,
        # The list's own count, refreshed with the counters after every change (no reload).
        "oob_total": sum(v.count or 0 for v in found.status if statuses is None or v.value in statuses),
        "products": inbox.product_choices(session),
        "source_labels": SOURCE_LABELS,
        "status_labels": inbox.STATUS_LABELS,
    }
    return render(request, "feedback/_inbox_facets.html", context)


@router.get("/feedback/inbox.js", dependencies=[PUBLIC_API])
def inbox_script() -> Response:
    script = resources.files("prodops.domains.feedback").joinpath("static", "inbox.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


# --- one item -------------------------------------------------------------------------------


@router.get("/feedback/items/{item_id:int}", response_class=HTMLResponse)
def item_page(request: Request, session: SessionDep, user: ViewerUser, item_id: int) -> Response:
    return _detail_response(request, session, item_id)


def _form_text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else None


@router.post("/feedback/items/{item_id:int}/status")
async def item_status(request: Request, session: SessionDep, user: MemberUser, item_id: int) -> Response:
    inbox.require_item(session, item_id)
    form = await request.form()
    try:
        data = FeedbackUpdate.model_validate({"status": _form_text(form, "status") or None})
        item = service.update_item(session, actor_for(user), item_id, data)
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, item_id, exc)
    return _after_write(request, session, item_id, f"Marked as {inbox.STATUS_LABELS[item.status].lower()}.")


def _id_or_none(value: str | None, me: User) -> int | str | None:
    if value is None or value in {"", "none"}:
        return None
    if value == "me":
        return me.id
    return value  # left for validation to refuse when it is no number


@router.post("/feedback/items/{item_id:int}/triage")
async def item_triage(request: Request, session: SessionDep, user: MemberUser, item_id: int) -> Response:
    """Change the fields present in the form: tags, importance, assignee, product, area, notes."""
    inbox.require_item(session, item_id)
    form = await request.form()
    changes: dict[str, Any] = {}
    if (tags := _form_text(form, "tags")) is not None:
        changes["tags"] = tags
    if (importance := _form_text(form, "importance")) is not None:
        changes["importance"] = importance or None
    if (assignee := _form_text(form, "assignee_id")) is not None:
        changes["assignee_id"] = _id_or_none(assignee, user)
    if (product := _form_text(form, "product_id")) is not None:
        changes["product_id"] = product or None
    if (area := _form_text(form, "area")) is not None:
        changes["area"] = area or None
    notes = form.get("notes")
    if isinstance(notes, str):
        changes["notes"] = notes.replace("\r\n", "\n")
    try:
        service.update_item(session, actor_for(user), item_id, FeedbackUpdate.model_validate(changes))
    except (ValidationError, ServiceError) as exc:
        return _refused(request, session, item_id, exc)
    return _after_write(request, session, item_id, "Saved.")


# --- links to features ----------------------------------------------------------------------


@router.get("/feedback/feature-choices", response_class=HTMLResponse)
def feature_choices(request: Request, session: SessionDep, user: MemberUser, q: str = "") -> Response:
    """Features for the link picker (the first 20 whose title contains ``q``)."""
    choices = features.feature_choices(session, q.strip()[:200] or None, limit=20)
    return render(request, "feedback/_inbox_choices.html", {"choices": choices, "q": q})


@router.post("/feedback/items/{item_id:int}/links")
async def item_link(request: Request, session: SessionDep, user: MemberUser, item_id: int) -> Response:
    """Link the item, or the passage ``highlight_start:highlight_end`` of its text, to a feature."""
    inbox.require_item(session, item_id)
    form = await request.form()
    payload = {
        "feature_id": _form_text(form, "feature_id") or None,
        "importance": _form_text(form, "importance") or "nice",
        "highlight_start": _form_text(form, "highlight_start") or None,
        "highlight_end": _form_text(form, "highlight_end") or None,
    }
    try:
        if payload["feature_id"] is None:
            raise ValidationFailed("feature_id", "choose a feature to link to")
        link = service.link_feature(session, actor_for(user), item_id, LinkIn.model_validate(payload))
    except (ValidationError, ServiceError) as exc:
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        if status == 404:
            raise
        errors = errors_of(exc)
        if not is_htmx(request):
            flash(request, "; ".join(errors.values()), "error")
            return RedirectResponse(f"/feedback/items/{item_id}", status_code=303)
        return render(
            request,
            "feedback/_inbox_link_errors.html",
            {"errors": errors},
            status_code=status,
            headers={"HX-Retarget": "#fb-link-errors", "HX-Reswap": "innerHTML"},
        )
    what = "the highlighted passage" if link.highlight else "the item"
    return _after_write(request, session, item_id, f"Linked {what} to {link.feature_title or 'the feature'}.")


@router.post("/feedback/links/{link_id:int}/delete")
def link_delete(request: Request, session: SessionDep, user: MemberUser, link_id: int) -> Response:
    from prodops.domains.feedback.queries.items import get_link

    link = get_link(session, link_id)
    service.unlink(session, actor_for(user), link_id)
    return _after_write(request, session, link.item_id, f"Unlinked {link.feature_title or 'the feature'}.")


# --- bulk -----------------------------------------------------------------------------------

BULK_ACTIONS = ("archive", "status", "assign", "add_tag", "remove_tag", "importance", "product")


def _safe_back(value: str | None) -> str:
    if value and value.startswith("/feedback") and not value.startswith("//"):
        return value
    return "/feedback"


@router.post("/feedback/bulk")
async def bulk(request: Request, session: SessionDep, user: MemberUser) -> Response:
    """One change to the selected items (archive, status, assignee, tag, importance, product)."""
    form = await request.form()
    back = _safe_back(_form_text(form, "back"))
    ids = [v for v in form.getlist("ids") if isinstance(v, str) and v.strip()]
    action = _form_text(form, "action") or ""
    change: dict[str, Any] = {"ids": ids}
    if action == "archive":
        change["status"] = "archived"
    elif action == "status":
        change["status"] = _form_text(form, "status") or None
    elif action == "assign":
        assignee = _form_text(form, "assignee_id")
        if assignee in (None, "", "none"):
            change["unassign"] = True
        else:
            change["assignee_id"] = _id_or_none(assignee, user)
    elif action in ("add_tag", "remove_tag"):
        change["add_tags" if action == "add_tag" else "remove_tags"] = _form_text(form, "tag") or ""
    elif action == "importance":
        change["importance"] = _form_text(form, "importance") or None
    elif action == "product":
        change["product_id"] = _form_text(form, "product_id") or None
    problem = None
    if not ids:
        problem = "Select at least one item first."
    elif action not in BULK_ACTIONS:
        problem = "Choose what to do with the selected items."
    elif action == "status" and change["status"] is None:
        problem = "Choose the status to set."
    elif action in ("add_tag", "remove_tag") and not change.get("add_tags", change.get("remove_tags")):
        problem = "Type the tag to add or remove."
    elif action == "importance" and change["importance"] is None:
        problem = "Choose the importance to set."
    elif action == "product" and change["product_id"] is None:
        problem = "Choose the product to set."
    if problem is None:
        try:
            n = service.bulk_change(session, actor_for(user), BulkChange.model_validate(change))
        except (ValidationError, ServiceError) as exc:
            problem = "; ".join(f"{k}: {v}" if k != "_" else v for k, v in errors_of(exc).items())
        else:
            flash(request, f"{n} item{'s' if n != 1 else ''} updated.")
            return RedirectResponse(back, status_code=303)
    flash(request, problem, "error")
    return RedirectResponse(back, status_code=303)


# --- saved views ----------------------------------------------------------------------------


@router.post("/feedback/views")
async def view_create(request: Request, session: SessionDep, user: MemberUser) -> Response:
    form = await request.form()
    query = _form_text(form, "query") or ""
    try:
        data = views.SavedViewIn.model_validate(
            {"name": _form_text(form, "name") or "", "query": query, "shared": form.get("shared") == "on"}
        )
        view = views.create_view(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        flash(request, "Could not save the view: " + "; ".join(errors_of(exc).values()), "error")
        return RedirectResponse(_list_url(query), status_code=303)
    flash(request, f"View “{view.name}” saved{' and shared' if view.shared else ''}.")
    return RedirectResponse(view.url, status_code=303)


@router.post("/feedback/views/{view_id:int}/edit")
async def view_edit(request: Request, session: SessionDep, user: MemberUser, view_id: int) -> Response:
    form = await request.form()
    back = _safe_back(_form_text(form, "back"))
    if views.get_view(session, view_id, user.id).owner_id != user.id:
        raise PermissionDenied("Only the owner of a saved view can change it.")
    changes: dict[str, Any] = {"shared": form.get("shared") == "on"}
    if (name := _form_text(form, "name")) is not None:
        changes["name"] = name
    try:
        view = views.update_view(session, actor_for(user), view_id, views.SavedViewUpdate.model_validate(changes))
    except (ValidationError, ServiceError) as exc:
        flash(request, "Could not change the view: " + "; ".join(errors_of(exc).values()), "error")
        return RedirectResponse(back, status_code=303)
    flash(request, f"View “{view.name}” saved.")
    return RedirectResponse(back, status_code=303)


@router.post("/feedback/views/{view_id:int}/delete")
async def view_delete(request: Request, session: SessionDep, user: MemberUser, view_id: int) -> Response:
    form = await request.form()
    view = views.get_view(session, view_id, user.id)
    if view.owner_id != user.id and not (view.shared and user.has_role("admin")):
        raise PermissionDenied("Only the owner of a saved view (or an admin, for shared views) can delete it.")
    views.delete_view(session, actor_for(user), view_id, is_admin=user.has_role("admin"))
    flash(request, f"View “{view.name}” deleted.")
    return RedirectResponse(_safe_back(_form_text(form, "back")), status_code=303)
