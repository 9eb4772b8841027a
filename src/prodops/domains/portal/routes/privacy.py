"""A portal user's account page at /p/<slug>/account: their profile, a download of their data (JSON) and
deleting the account; and the signed "unfollow this idea" link of portal e-mails."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prodops.domains.portal.routes.auth import sign_in_form
from prodops.domains.portal.routes.public import portal_page
from prodops.domains.portal.service import access, identity, notifications, privacy
from prodops.platform import registry
from prodops.platform.deps import PUBLIC, PUBLIC_API, SessionDep
from prodops.platform.web import flash

router = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC]))
# The unfollow link's POST: the signed token is the credential (mail clients post it without cookies).
links = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC_API]))

CONFIRM = "delete"


@router.get("/p/{slug}/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return sign_in_form(request, ctx, next_url=request.url.path)
    data = privacy.export_data(session, ctx.user.id)
    return portal_page(request, ctx, "portal/account/account.html", {"data": data, "errors": {}, "active": "account"})


@router.get("/p/{slug}/account/export.json")
def account_export(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return sign_in_form(request, ctx, next_url=f"{ctx.view.home}/account", status_code=401)
    data = privacy.export_data(session, ctx.user.id)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{ctx.portal.slug}-my-data.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/p/{slug}/account/delete")
def account_delete(request: Request, session: SessionDep, slug: str, confirm: Annotated[str, Form()] = "") -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is None:
        return sign_in_form(request, ctx, next_url=f"{ctx.view.home}/account", status_code=401)
    if confirm.strip().lower() != CONFIRM:
        data = privacy.export_data(session, ctx.user.id)
        errors = {"confirm": f"Type “{CONFIRM}” to confirm. Nothing was deleted."}
        return portal_page(
            request,
            ctx,
            "portal/account/account.html",
            {"data": data, "errors": errors, "active": "account"},
            status_code=422,
        )
    privacy.delete_account(session, ctx.user.id)
    flash(
        request,
        "Your account is deleted and you are signed out. Your ideas and comments stay, without your name.",
    )
    response = RedirectResponse(ctx.view.home, status_code=303)
    identity.clear_session(response)
    return response


# --- "Unfollow this idea" in portal e-mails ------------------------------------------------------


def _unfollow_page(
    request: Request, session: SessionDep, slug: str, view: notifications.UnfollowView | None, *, done: bool
) -> Response:
    ctx = access.portal_context(request, session, slug)
    return portal_page(
        request,
        ctx,
        "portal/account/unfollow.html",
        {"view": view, "done": done, "token": request.path_params.get("token", "")},
        status_code=200 if view is not None else 400,
    )


@router.get("/p/{slug}/unfollow/{token}", response_class=HTMLResponse)
def unfollow_page(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    # A GET changes nothing: mail scanners open links.
    return _unfollow_page(request, session, slug, notifications.unfollow_view(session, token), done=False)


@links.post("/p/{slug}/unfollow/{token}", response_class=HTMLResponse)
def unfollow(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    view = notifications.unfollow_by_token(session, token)
    return _unfollow_page(request, session, slug, view, done=view is not None)
