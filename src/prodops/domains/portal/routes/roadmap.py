"""The public roadmap (now / next / later), the changelog and its Atom feed under /p/<slug>, and the staff
changelog editor at /portal/changelog (members write, preview, link shipped ideas and publish)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.portal.queries import roadmap as queries
from prodops.domains.portal.routes.public import portal_page, sign_in_page
from prodops.domains.portal.service import access, changelog
from prodops.domains.portal.service.changelog import ChangelogIn
from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.deps import PUBLIC, VIEWER, MemberUser, SessionDep
from prodops.platform.errors import NotFound, ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render, render_markdown

public = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC]))
staff = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/portal/changelog", tags=["portal changelog"]))

registry.nav("Changelog", "/portal/changelog", section="Portal", order=30, min_role="member")

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 30


# --- public ------------------------------------------------------------------------------------


@public.get("/p/{slug}/roadmap", response_class=HTMLResponse)
def roadmap_page(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    columns = queries.roadmap(session, [b.id for b in ctx.boards(session)])
    return portal_page(request, ctx, "portal/roadmap/roadmap.html", {"columns": columns, "active": "roadmap"})


@public.get("/p/{slug}/changelog", response_class=HTMLResponse)
def changelog_page(request: Request, session: SessionDep, slug: str, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    entries = queries.published_entries(session, ctx.portal.id, [b.id for b in ctx.boards(session)], page=page)
    return portal_page(request, ctx, "portal/changelog/changelog.html", {"entries": entries, "active": "changelog"})


@public.get("/p/{slug}/changelog/{entry_id}", response_class=HTMLResponse)
def changelog_entry_page(request: Request, session: SessionDep, slug: str, entry_id: int) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    entry = queries.published_entry(session, ctx.portal.id, entry_id, [b.id for b in ctx.boards(session)])
    if entry is None:
        raise NotFound("changelog entry", entry_id)
    return portal_page(request, ctx, "portal/changelog/entry.html", {"entry": entry, "active": "changelog"})


def _tag(entry_or_feed: str) -> str:
    """A stable Atom id (RFC 4151 tag URI) on this instance's host name."""
    host = urlsplit(get_settings().base_url).hostname or "localhost"
    return f"tag:{host},2026:{entry_or_feed}"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(session: Session, ctx: access.PortalContext) -> bytes:
    """The portal's published changelog as Atom 1.0 (RFC 4287): ElementTree escapes every text and attribute."""
    base = get_settings().base_url.rstrip("/")
    home = f"{base}/p/{ctx.portal.slug}"
    entries = queries.published_entries(
        session, ctx.portal.id, [b.id for b in ctx.boards(session)], per_page=FEED_ENTRIES
    )
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", _tag(f"portal-{ctx.portal.id}:changelog"))
    sub(feed, "title", f"{ctx.portal.name} changelog")
    updated = queries.last_published(session, ctx.portal.id) or ctx.portal.created_at
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{home}/changelog.atom")
    sub(feed, "link", rel="alternate", type="text/html", href=f"{home}/changelog")
    author = sub(feed, "author")
    sub(author, "name", ctx.portal.name)
    sub(feed, "generator", "ProdOps")
    for entry in entries.items:
        assert entry.published_at is not None  # published entries only
        item = sub(feed, "entry")
        sub(item, "id", _tag(f"portal-{ctx.portal.id}:changelog:{entry.id}"))
        sub(item, "title", entry.title)
        sub(item, "published", _iso(entry.published_at))
        sub(item, "updated", _iso(max(entry.updated_at, entry.published_at)))
        sub(item, "link", rel="alternate", type="text/html", href=f"{home}/changelog/{entry.id}")
        for idea in entry.ideas:
            sub(item, "link", rel="related", type="text/html", href=f"{home}/i/{idea.id}", title=idea.title)
        html = str(render_markdown(entry.body))
        if entry.ideas:
            items = "".join(f'<li><a href="{home}/i/{idea.id}">{_escape(idea.title)}</a></li>' for idea in entry.ideas)
            html += f"<p>Ideas shipped:</p><ul>{items}</ul>"
        sub(item, "content", html, type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@public.get("/p/{slug}/changelog.atom")
def changelog_feed(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        raise NotFound("portal", slug)  # feed readers cannot sign in; say nothing about a private portal
    cache = "public, max-age=300" if ctx.portal.visibility == "public" else "private, no-store"
    return Response(
        atom_feed(session, ctx), media_type="application/atom+xml; charset=utf-8", headers={"Cache-Control": cache}
    )


# --- staff: the changelog editor -------------------------------------------------------------------


def _form_values(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "portal_id": form.get("portal_id"),
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "idea_ids": [int(i) for i in form.get("idea_ids", []) if str(i).isdigit()],
    }


async def _read_form(request: Request) -> dict[str, Any]:
    data = await request.form()
    portal_id = str(data.get("portal_id") or "").strip()
    return {
        "portal_id": int(portal_id) if portal_id.isdigit() else portal_id or None,
        "title": str(data.get("title") or ""),
        "body": str(data.get("body") or ""),
        "idea_ids": [str(v) for v in data.getlist("idea_ids")],
        "action": str(data.get("action") or "save"),
    }


def _editor(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    entry: queries.EntryView | None,
    *,
    status_code: int = 200,
) -> Response:
    portals = queries.portal_names(session)
    portal_id = values.get("portal_id") if isinstance(values.get("portal_id"), int) else None
    if portal_id is None and len(portals) == 1:
        portal_id = next(iter(portals))
    ideas = (
        queries.shippable_ideas(session, portal_id, include=values.get("idea_ids", [])) if portal_id in portals else []
    )
    context = {
        "form": {**values, "portal_id": portal_id},
        "errors": errors,
        "entry": entry,
        "portals": portals,
        "ideas": ideas,
        "preview": render_markdown(values.get("body", "")),
    }
    return render(request, "portal/changelog/editor.html", context, status_code=status_code)


@staff.get("/portal/changelog", response_class=HTMLResponse)
def staff_changelog(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    portal_id: Annotated[int | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    entries, portals = queries.staff_entries(session, portal_id, page=page)
    return render(
        request,
        "portal/changelog/staff_list.html",
        {"entries": entries, "portals": portals, "portal_id": portal_id},
    )


@staff.get("/portal/changelog/new", response_class=HTMLResponse)
def staff_new_entry(
    request: Request, session: SessionDep, user: MemberUser, portal_id: Annotated[int | None, Query()] = None
) -> Response:
    return _editor(request, session, {"portal_id": portal_id, "title": "", "body": "", "idea_ids": []}, {}, None)


@staff.post("/portal/changelog/new")
async def staff_create_entry(request: Request, session: SessionDep, user: MemberUser) -> Response:
    raw = await _read_form(request)
    values = _form_values(raw)
    try:
        data = ChangelogIn.model_validate(values)
        entry_id = changelog.create_entry(session, actor_for(user), data, publish=raw["action"] == "publish")
    except (ValidationError, ServiceError) as exc:
        return _editor(request, session, values, errors_of(exc), None, status_code=422)
    flash(
        request,
        "Entry published; its voters and followers are being e-mailed."
        if raw["action"] == "publish"
        else "Draft saved.",
    )
    return RedirectResponse(f"/portal/changelog/{entry_id}", status_code=303)


@staff.get("/portal/changelog/ideas", response_class=HTMLResponse)
def staff_idea_choices(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    portal_id: Annotated[int | None, Query()] = None,
    idea_ids: Annotated[list[int] | None, Query()] = None,
) -> Response:
    """The idea picker of the editor for a portal (HTMX, when the portal changes)."""
    ideas = queries.shippable_ideas(session, portal_id, include=idea_ids or []) if portal_id else []
    return render(
        request,
        "portal/changelog/_ideas.html",
        {"ideas": ideas, "form": {"idea_ids": idea_ids or [], "portal_id": portal_id}},
    )


@staff.post("/portal/changelog/preview", response_class=HTMLResponse)
async def staff_preview(request: Request, session: SessionDep, user: MemberUser) -> Response:
    """The Markdown preview of the editor (HTMX): exactly what the portal and the e-mail will show."""
    raw = await _read_form(request)
    return HTMLResponse(str(render_markdown(raw["body"])) or '<p class="muted">Nothing to preview yet.</p>')


def _entry(session: Session, entry_id: int) -> queries.EntryView:
    entry = queries.staff_entry(session, entry_id)
    if entry is None:
        raise NotFound("changelog entry", entry_id)
    return entry


@staff.get("/portal/changelog/{entry_id}", response_class=HTMLResponse)
def staff_edit_entry(request: Request, session: SessionDep, user: MemberUser, entry_id: int) -> Response:
    entry = _entry(session, entry_id)
    values = {
        "portal_id": entry.portal_id,
        "title": entry.title,
        "body": entry.body,
        "idea_ids": [i.id for i in entry.ideas],
    }
    return _editor(request, session, values, {}, entry)


@staff.post("/portal/changelog/{entry_id}")
async def staff_update_entry(request: Request, session: SessionDep, user: MemberUser, entry_id: int) -> Response:
    entry = _entry(session, entry_id)
    raw = await _read_form(request)
    values = _form_values(raw)
    try:
        data = ChangelogIn.model_validate(values)
        published = changelog.update_entry(session, actor_for(user), entry_id, data, publish=raw["action"] == "publish")
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        return _editor(request, session, values, errors_of(exc), entry, status_code=422)
    flash(request, "Entry published; its voters and followers are being e-mailed." if published else "Entry saved.")
    return RedirectResponse(f"/portal/changelog/{entry_id}", status_code=303)


@staff.post("/portal/changelog/{entry_id}/publish")
def staff_publish_entry(request: Request, session: SessionDep, user: MemberUser, entry_id: int) -> Response:
    try:
        changelog.publish_entry(session, actor_for(user), entry_id)
        flash(request, "Entry published; its voters and followers are being e-mailed.")
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
    return RedirectResponse(f"/portal/changelog/{entry_id}", status_code=303)


@staff.post("/portal/changelog/{entry_id}/delete")
def staff_delete_entry(request: Request, session: SessionDep, user: MemberUser, entry_id: int) -> Response:
    entry = _entry(session, entry_id)
    changelog.delete_entry(session, actor_for(user), entry_id)
    flash(request, f"Entry “{entry.title}” deleted.")
    return RedirectResponse("/portal/changelog", status_code=303)


# --- staff JSON API --------------------------------------------------------------------------------


class LinkedIdeaOut(BaseModel):
    id: int
    title: str
    vote_count: int


class EntryOut(BaseModel):
    """A changelog entry; ``published_at`` is null for a draft."""

    id: int
    portal_id: int
    title: str
    body: str
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    ideas: list[LinkedIdeaOut]


class EntryList(BaseModel):
    items: list[EntryOut]
    total: int


def _out(entry: queries.EntryView) -> EntryOut:
    return EntryOut(
        id=entry.id,
        portal_id=entry.portal_id,
        title=entry.title,
        body=entry.body,
        published_at=entry.published_at,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        ideas=[LinkedIdeaOut(id=i.id, title=i.title, vote_count=i.vote_count) for i in entry.ideas],
    )


@api.get("", response_model=EntryList, dependencies=[VIEWER], summary="Changelog entries, drafts first")
def api_entries(
    session: SessionDep,
    portal_id: Annotated[int | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EntryList:
    entries, _ = queries.staff_entries(session, portal_id, page=page, per_page=per_page)
    return EntryList(items=[_out(e) for e in entries.items], total=entries.total)


@api.get("/{entry_id}", response_model=EntryOut, dependencies=[VIEWER], summary="One changelog entry")
def api_entry(session: SessionDep, entry_id: int) -> EntryOut:
    return _out(_entry(session, entry_id))


@api.post("", response_model=EntryOut, status_code=201, summary="Write a draft (or publish it with publish=true)")
def api_create_entry(
    session: SessionDep, user: MemberUser, data: ChangelogIn, publish: Annotated[bool, Query()] = False
) -> EntryOut:
    entry_id = changelog.create_entry(session, actor_for(user), data, publish=publish)
    return _out(_entry(session, entry_id))


@api.put("/{entry_id}", response_model=EntryOut, summary="Change an entry (a published one e-mails nobody again)")
def api_update_entry(session: SessionDep, user: MemberUser, entry_id: int, data: ChangelogIn) -> EntryOut:
    changelog.update_entry(session, actor_for(user), entry_id, data)
    return _out(_entry(session, entry_id))


@api.post(
    "/{entry_id}/publish",
    response_model=EntryOut,
    summary="Publish a draft: it shows on the portal and its ideas' voters and followers are e-mailed (409 twice)",
)
def api_publish_entry(session: SessionDep, user: MemberUser, entry_id: int) -> EntryOut:
    changelog.publish_entry(session, actor_for(user), entry_id)
    return _out(_entry(session, entry_id))


@api.delete("/{entry_id}", status_code=204, summary="Delete an entry")
def api_delete_entry(session: SessionDep, user: MemberUser, entry_id: int) -> Response:
    changelog.delete_entry(session, actor_for(user), entry_id)
    return Response(status_code=204)
