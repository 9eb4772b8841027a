"""The customer-facing portal at /p/<slug>: boards, ideas, votes, comments, follows and the submit form.

Every route is ``PUBLIC`` (the kernel checks the CSRF token of form posts) and resolves the portal user itself
from the portal cookie (:func:`access.portal_context`); staff sessions play no part.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from prodops.domains.features import service as features
from prodops.domains.portal.models import Comment, Idea
from prodops.domains.portal.queries import public as queries
from prodops.domains.portal.service import abuse, access, ideas, identity
from prodops.domains.portal.service.access import PortalContext
from prodops.platform import registry
from prodops.platform.db import session_scope, utcnow
from prodops.platform.deps import PUBLIC, SessionDep
from prodops.platform.errors import NotFound, PermissionDenied, ServiceError
from prodops.platform.web import errors_of, flash, is_htmx, render


class PortalRoute(APIRoute):
    """A portal route whose refusals (not found, not allowed, conflicts, an expired form) render inside the
    portal's own frame — its name and colours, nothing of the staff shell — instead of the staff error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ServiceError as exc:
                if exc.status_code not in (403, 404, 409):
                    raise
                page = await run_in_threadpool(_error_page, request, exc)
                if page is None:
                    raise
                return page

        return portal_handler


def _error_page(request: Request, exc: ServiceError) -> Response | None:
    slug = request.path_params.get("slug")
    with session_scope() as session:
        try:
            ctx = access.portal_context(request, session, str(slug))
        except NotFound:
            return None  # no such portal: the plain not-found page
        title = {403: "Not allowed", 404: "Not found", 409: "Not possible"}[exc.status_code]
        message = (
            "There is nothing here. It may have been removed, or the link may be wrong."
            if exc.status_code == 404
            else exc.message
        )
        return portal_page(
            request,
            ctx,
            "portal/public/error.html",
            {"title": title, "message": message, "status_code": exc.status_code},
            status_code=exc.status_code,
        )


router = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC], route_class=PortalRoute))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def portal_page(
    request: Request,
    ctx: PortalContext,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a portal page: the portal and its visitor in the context, and nothing of any staff session."""
    values: dict[str, Any] = {"portal": ctx.view, "visitor": ctx.visitor, "user": None, "nav": []}
    values.update(context or {})
    response = render(request, template, values, partial=partial, status_code=status_code, headers=headers)
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def sign_in_page(request: Request, ctx: PortalContext, *, status_code: int = 200) -> HTMLResponse:
    """What a visitor who may not see the portal gets instead of any page: the sign-in form (private portals)
    or, once signed in, a plain refusal."""
    from prodops.domains.portal.routes.auth import sign_in_form

    return sign_in_form(request, ctx, next_url=request.url.path, status_code=status_code)


@router.get("/p/{slug}", response_class=HTMLResponse)
def portal_home(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    boards = queries.board_summaries(session, ctx.boards(session))
    return portal_page(request, ctx, "portal/public/home.html", {"boards": boards})


def _idea_url(ctx: PortalContext, idea_id: int) -> str:
    return f"{ctx.view.home}/i/{idea_id}"


def _needs_sign_in(request: Request, ctx: PortalContext, back: str) -> Response:
    """A visitor who must sign in to do this: HTMX gets a redirect header, forms a redirect."""
    url = f"{ctx.view.home}/signin?next={quote(back)}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _limited(exc: ServiceError) -> dict[str, str] | None:
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, abuse.RateLimited) else None


# --- boards --------------------------------------------------------------------------------------


@router.get("/p/{slug}/b/{board_slug}", response_class=HTMLResponse)
def board_page(
    request: Request,
    session: SessionDep,
    slug: str,
    board_slug: str,
    sort: Annotated[str, Query(max_length=20)] = "votes",
    status: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    board = ctx.board(session, board_slug)
    user_id = ctx.user.id if ctx.user is not None else None
    ideas = queries.board_ideas(
        session, board, sort=sort, status=status or None, q=(q or "").strip() or None, page=page, user_id=user_id
    )
    context = {
        "board": board,
        "ideas": ideas,
        "pending": queries.my_pending(session, board, user_id) if page == 1 else [],
        "statuses": queries.status_choices(session, board),
        "sort": sort,
        "status": status or "",
        "q": q or "",
        "sorts": [("votes", "Most votes"), ("newest", "Newest"), ("trending", "Trending")],
        "active": "ideas",
    }
    return portal_page(request, ctx, "portal/public/board.html", context, partial="portal/public/_ideas.html")


# --- submitting ----------------------------------------------------------------------------------


def _submit_form(
    request: Request,
    ctx: PortalContext,
    board: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return portal_page(
        request,
        ctx,
        "portal/public/submit.html",
        {
            "board": board,
            "values": values or {},
            "errors": errors or {},
            "stamp": abuse.form_stamp(),
            "honeypot": abuse.HONEYPOT_FIELD,
            "anonymous": ctx.user is None,
            "active": "ideas",
        },
        status_code=status_code,
        headers=headers,
    )


@router.get("/p/{slug}/b/{board_slug}/new", response_class=HTMLResponse)
def submit_page(request: Request, session: SessionDep, slug: str, board_slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    board = ctx.board(session, board_slug)
    if ctx.user is None and not ctx.portal.allow_anonymous:
        return _needs_sign_in(request, ctx, request.url.path)
    return _submit_form(request, ctx, board)


@router.post("/p/{slug}/b/{board_slug}/new", response_class=HTMLResponse)
def submit_idea(
    request: Request,
    session: SessionDep,
    slug: str,
    board_slug: str,
    title: Annotated[str, Form(max_length=1000)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    form_started: Annotated[str, Form(max_length=200)] = "",
    website: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx, status_code=403)
    board = ctx.board(session, board_slug)
    if ctx.user is None and not ctx.portal.allow_anonymous:
        return _needs_sign_in(request, ctx, f"{ctx.view.home}/b/{board.slug}/new")
    values = {"title": title, "body": body, "email": email}
    try:
        abuse.check_form(form_started, website)
        ideas.check_idea(title, body)
        if ctx.user is None:
            address = identity.normalise_email(email)
            abuse.check_rate("submit", ip=client_ip(request), person=address)
            clean_title, clean_body = ideas.check_idea(title, body)
            identity.request_post_verification(
                session,
                ctx.portal,
                address,
                {"kind": "idea", "board_id": board.id, "title": clean_title, "body": clean_body},
            )
            return portal_page(
                request, ctx, "portal/public/check_email.html", {"email": address, "what": "idea", "active": "ideas"}
            )
        abuse.check_rate("submit", ip=client_ip(request), person=ctx.user.id)
        idea = ideas.submit_idea(session, ctx, ideas.IdeaDraft(board_id=board.id, title=title, body=body))
    except ServiceError as exc:
        return _submit_form(
            request,
            ctx,
            board,
            values=values,
            errors=errors_of(exc),
            status_code=exc.status_code,
            headers=_limited(exc),
        )
    if idea.state == "pending":
        flash(request, "Thank you! Your idea will appear once the team has reviewed it.")
    else:
        flash(request, "Thank you! Your idea is posted.")
    return RedirectResponse(_idea_url(ctx, idea.id), status_code=303)


@router.get("/p/{slug}/similar", response_class=HTMLResponse)
def similar(
    request: Request,
    session: SessionDep,
    slug: str,
    title: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """Ideas like the title being typed (an HTMX fragment for the submit form)."""
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return HTMLResponse("", status_code=403)
    try:
        abuse.check_rate("similar", ip=client_ip(request), person=None)
    except abuse.RateLimited as exc:
        return HTMLResponse("", status_code=429, headers={"Retry-After": str(exc.retry_after)})
    found = ideas.similar_ideas(session, ctx, title)
    return portal_page(request, ctx, "portal/public/_similar.html", {"similar": found, "title": title})


# --- one idea ------------------------------------------------------------------------------------


def _idea_context(session: Session, ctx: PortalContext, idea: Idea) -> dict[str, Any]:
    user_id = ctx.user.id if ctx.user is not None else None
    board = ctx.board_by_id(session, idea.board_id)
    feature = features.features_by_id(session, [idea.feature_id]).get(idea.feature_id)
    now = utcnow()
    return {
        "idea": idea,
        "board": board,
        "status_label": feature.status_label if feature is not None else "",
        "status_kind": feature.status_kind if feature is not None else "idea",
        "author": queries.author_name(session, idea),
        "comments": queries.idea_comments(session, idea, user_id, now),
        "voted": bool(ideas.my_votes(session, user_id, [idea.id])),
        "following": ideas.follows(session, user_id, idea.id),
        "can_edit": ideas.can_edit_idea(session, idea, user_id, now),
        "can_delete": ideas.can_delete_idea(session, idea, user_id),
        "stamp": abuse.form_stamp(),
        "honeypot": abuse.HONEYPOT_FIELD,
        "active": "ideas",
    }


def _idea_or_redirect(session: Session, ctx: PortalContext, idea_id: int) -> Idea | Response:
    """The idea this visitor may see; a merged idea sends them on to the idea it was merged into."""
    row = session.get(Idea, idea_id)
    if row is not None and row.state == "merged" and row.merged_into_id is not None:
        try:
            ideas.visible_idea(session, ctx, row.merged_into_id)
        except ServiceError:
            raise NotFound("idea", idea_id) from None
        return RedirectResponse(_idea_url(ctx, row.merged_into_id), status_code=301)
    return ideas.visible_idea(session, ctx, idea_id)


@router.get("/p/{slug}/i/{idea_id}", response_class=HTMLResponse)
def idea_page(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx)
    found = _idea_or_redirect(session, ctx, idea_id)
    if isinstance(found, Response):
        return found
    return portal_page(request, ctx, "portal/public/idea.html", _idea_context(session, ctx, found))


def _idea_with_errors(
    request: Request,
    session: Session,
    ctx: PortalContext,
    idea_id: int,
    exc: ServiceError,
    values: dict[str, Any],
) -> Response:
    session.rollback()
    idea = ideas.visible_idea(session, ctx, idea_id)
    context = {**_idea_context(session, ctx, idea), "errors": errors_of(exc), "values": values}
    return portal_page(
        request, ctx, "portal/public/idea.html", context, status_code=exc.status_code, headers=_limited(exc)
    )


@router.post("/p/{slug}/i/{idea_id}/vote", response_class=HTMLResponse)
def vote(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    return _vote(request, session, slug, idea_id, up=True)


@router.post("/p/{slug}/i/{idea_id}/unvote", response_class=HTMLResponse)
def unvote(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    return _vote(request, session, slug, idea_id, up=False)


def _vote(request: Request, session: Session, slug: str, idea_id: int, *, up: bool) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, _idea_url(ctx, idea_id))
    try:
        abuse.check_rate("vote", ip=client_ip(request), person=ctx.user.id)
        state = ideas.vote(session, ctx, idea_id) if up else ideas.unvote(session, ctx, idea_id)
    except abuse.RateLimited as exc:
        return HTMLResponse(exc.message, status_code=429, headers={"Retry-After": str(exc.retry_after)})
    if is_htmx(request):
        return portal_page(
            request,
            ctx,
            "portal/public/_vote.html",
            {"idea_id": state.idea_id, "voted": state.voted, "vote_count": state.vote_count},
        )
    referer = request.headers.get("referer")
    back = urlsplit(referer).path if referer and _same_portal(ctx, referer) else _idea_url(ctx, idea_id)
    return RedirectResponse(back, status_code=303)


def _same_portal(ctx: PortalContext, url: str | None) -> bool:
    if not url:
        return False
    path = urlsplit(url).path
    return identity.safe_return_to(ctx.portal, path) == path


@router.post("/p/{slug}/i/{idea_id}/follow", response_class=HTMLResponse)
def follow(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    return _follow(request, session, slug, idea_id, on=True)


@router.post("/p/{slug}/i/{idea_id}/unfollow", response_class=HTMLResponse)
def unfollow(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    return _follow(request, session, slug, idea_id, on=False)


def _follow(request: Request, session: Session, slug: str, idea_id: int, *, on: bool) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, _idea_url(ctx, idea_id))
    following = ideas.follow(session, ctx, idea_id) if on else ideas.unfollow(session, ctx, idea_id)
    if is_htmx(request):
        return portal_page(request, ctx, "portal/public/_follow.html", {"idea_id": idea_id, "following": following})
    return RedirectResponse(_idea_url(ctx, idea_id), status_code=303)


@router.post("/p/{slug}/i/{idea_id}/comments", response_class=HTMLResponse)
def comment(
    request: Request,
    session: SessionDep,
    slug: str,
    idea_id: int,
    body: Annotated[str, Form(max_length=20_000)] = "",
    parent_id: Annotated[int | None, Form()] = None,
    email: Annotated[str, Form(max_length=400)] = "",
    form_started: Annotated[str, Form(max_length=200)] = "",
    website: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ctx = access.portal_context(request, session, slug)
    if not ctx.can_view:
        return sign_in_page(request, ctx, status_code=403)
    if ctx.user is None and not ctx.portal.allow_anonymous:
        return _needs_sign_in(request, ctx, _idea_url(ctx, idea_id))
    values = {"body": body, "email": email, "parent_id": parent_id}
    try:
        abuse.check_form(form_started, website)
        text = ideas.check_comment(body)
        if ctx.user is None:
            address = identity.normalise_email(email)
            idea = ideas.visible_idea(session, ctx, idea_id)
            abuse.check_rate("comment", ip=client_ip(request), person=address)
            identity.request_post_verification(
                session,
                ctx.portal,
                address,
                {"kind": "comment", "idea_id": idea.id, "parent_id": parent_id, "body": text, "title": idea.title},
            )
            return portal_page(
                request, ctx, "portal/public/check_email.html", {"email": address, "what": "comment", "active": "ideas"}
            )
        abuse.check_rate("comment", ip=client_ip(request), person=ctx.user.id)
        posted = ideas.add_comment(session, ctx, idea_id, ideas.CommentDraft(body=body, parent_id=parent_id))
    except NotFound:
        raise
    except ServiceError as exc:
        return _idea_with_errors(request, session, ctx, idea_id, exc, values)
    if posted.state == "pending":
        flash(request, "Thank you! Your comment will appear once the team has reviewed it.")
    return RedirectResponse(f"{_idea_url(ctx, idea_id)}#c-{posted.id}", status_code=303)


# --- editing one's own posts ---------------------------------------------------------------------


@router.get("/p/{slug}/i/{idea_id}/edit", response_class=HTMLResponse)
def idea_edit_page(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, request.url.path)
    idea = ideas.visible_idea(session, ctx, idea_id)
    if not ideas.can_edit_idea(session, idea, ctx.user.id):
        raise PermissionDenied("This idea can no longer be edited.")
    board = ctx.board_by_id(session, idea.board_id)
    return portal_page(
        request,
        ctx,
        "portal/public/edit_idea.html",
        {
            "idea": idea,
            "board": board,
            "values": {"title": idea.title, "body": idea.body},
            "errors": {},
            "active": "ideas",
        },
    )


@router.post("/p/{slug}/i/{idea_id}/edit", response_class=HTMLResponse)
def idea_edit(
    request: Request,
    session: SessionDep,
    slug: str,
    idea_id: int,
    title: Annotated[str, Form(max_length=1000)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, _idea_url(ctx, idea_id))
    try:
        ideas.edit_idea(session, ctx, idea_id, title, body)
    except NotFound:
        raise
    except ServiceError as exc:
        session.rollback()
        idea = ideas.visible_idea(session, ctx, idea_id)
        return portal_page(
            request,
            ctx,
            "portal/public/edit_idea.html",
            {
                "idea": idea,
                "board": ctx.board_by_id(session, idea.board_id),
                "values": {"title": title, "body": body},
                "errors": errors_of(exc),
                "active": "ideas",
            },
            status_code=exc.status_code,
        )
    flash(request, "Your idea is updated.")
    return RedirectResponse(_idea_url(ctx, idea_id), status_code=303)


@router.post("/p/{slug}/i/{idea_id}/delete")
def idea_delete(request: Request, session: SessionDep, slug: str, idea_id: int) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, _idea_url(ctx, idea_id))
    board_id = ideas.delete_idea(session, ctx, idea_id)
    board = ctx.board_by_id(session, board_id)
    flash(request, "Your idea was deleted.")
    return RedirectResponse(f"{ctx.view.home}/b/{board.slug}", status_code=303)


@router.post("/p/{slug}/c/{comment_id}/edit", response_class=HTMLResponse)
def comment_edit(
    request: Request,
    session: SessionDep,
    slug: str,
    comment_id: int,
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, ctx.view.home)
    try:
        changed = ideas.edit_comment(session, ctx, comment_id, body)
    except NotFound:
        raise
    except ServiceError as exc:
        session.rollback()
        row = session.get(Comment, comment_id)
        assert row is not None
        return _idea_with_errors(request, session, ctx, row.idea_id, exc, {"edit_id": comment_id, "edit_body": body})
    return RedirectResponse(f"{_idea_url(ctx, changed.idea_id)}#c-{comment_id}", status_code=303)


@router.post("/p/{slug}/c/{comment_id}/delete")
def comment_delete(request: Request, session: SessionDep, slug: str, comment_id: int) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return _needs_sign_in(request, ctx, ctx.view.home)
    idea_id = ideas.delete_comment(session, ctx, comment_id)
    flash(request, "Your comment was deleted.")
    return RedirectResponse(_idea_url(ctx, idea_id), status_code=303)
