"""Portal sign-in, separate from staff sign-in: e-mailed magic links (a GET shows a confirm button and only the
POST uses the link, so mail scanners that open links do not spend them), single sign-on handed over from the
customer's product (``/p/<slug>/sso?jwt=...``), confirmation of anonymous posts, and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prodops.domains.portal.routes.public import PortalRoute, client_ip, portal_page
from prodops.domains.portal.service import abuse, access, identity
from prodops.domains.portal.service.access import PortalContext
from prodops.platform import registry
from prodops.platform.deps import PUBLIC, SessionDep
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.web import errors_of

router = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC], route_class=PortalRoute))


def sign_in_form(
    request: Request,
    ctx: PortalContext,
    *,
    next_url: str | None = None,
    email: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The sign-in page (also what outsiders of a private portal see instead of any page)."""
    signed_in_elsewhere = ctx.user is not None and not ctx.can_view
    return portal_page(
        request,
        ctx,
        "portal/public/signin.html",
        {
            "next_url": identity.safe_return_to(ctx.portal, next_url),
            "email": email,
            "errors": errors or {},
            "no_access": signed_in_elsewhere,
            "active": "signin",
        },
        status_code=403 if signed_in_elsewhere else status_code,
    )


def _signed_in(result: identity.SignedIn) -> RedirectResponse:
    response = RedirectResponse(result.return_to, status_code=303)
    identity.set_session(response, result.user_id, result.epoch)
    return response


@router.get("/p/{slug}/signin", response_class=HTMLResponse)
def signin_page(request: Request, session: SessionDep, slug: str, next: str | None = None) -> Response:
    ctx = access.portal_context(request, session, slug)
    if ctx.user is not None and ctx.can_view:
        return RedirectResponse(identity.safe_return_to(ctx.portal, next), status_code=303)
    return sign_in_form(request, ctx, next_url=next)


@router.post("/p/{slug}/signin", response_class=HTMLResponse)
def signin_request(
    request: Request,
    session: SessionDep,
    slug: str,
    email: Annotated[str, Form(max_length=400)] = "",
    next: Annotated[str, Form(max_length=600)] = "",
    website: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ctx = access.portal_context(request, session, slug)
    try:
        if website:
            raise ValidationFailed(None, "This looked like an automated submission, so it was not sent.")
        address = identity.normalise_email(email)
        abuse.check_rate("signin", ip=client_ip(request), person=address)
        identity.request_magic_link(
            session, ctx.portal, address, next, may_join=access.may_join(session, ctx.portal, address)
        )
    except abuse.RateLimited as exc:
        return _rate_limited(request, ctx, exc, next, email)
    except ServiceError as exc:
        return sign_in_form(
            request, ctx, next_url=next, email=email, errors=errors_of(exc), status_code=exc.status_code
        )
    return portal_page(request, ctx, "portal/public/signin_sent.html", {"email": address, "active": "signin"})


def _rate_limited(
    request: Request, ctx: PortalContext, exc: abuse.RateLimited, next_url: str | None, email: str
) -> HTMLResponse:
    response = sign_in_form(request, ctx, next_url=next_url, email=email, errors=errors_of(exc), status_code=429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.get("/p/{slug}/signin/{token}", response_class=HTMLResponse)
def signin_link(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    valid = identity.valid_token(session, ctx.portal, token, "login") is not None
    return portal_page(
        request,
        ctx,
        "portal/public/confirm.html",
        {"valid": valid, "action": f"{ctx.view.home}/signin/{token}", "purpose": "login", "active": "signin"},
        status_code=200 if valid else 400,
    )


@router.post("/p/{slug}/signin/{token}", response_class=HTMLResponse)
def signin_confirm(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    try:
        result = identity.confirm_magic_link(session, ctx.portal, token)
    except ServiceError as exc:
        return sign_in_form(request, ctx, errors=errors_of(exc), status_code=exc.status_code)
    return _signed_in(result)


@router.get("/p/{slug}/sso", response_class=HTMLResponse)
def sso(request: Request, session: SessionDep, slug: str, jwt: str = "") -> Response:
    ctx = access.portal_context(request, session, slug)
    try:
        result = identity.sso_sign_in(session, ctx.portal, jwt)
    except ServiceError as exc:
        return portal_page(
            request,
            ctx,
            "portal/public/sso_error.html",
            {"message": exc.message, "active": "signin"},
            status_code=exc.status_code if exc.status_code != 422 else 400,
        )
    return _signed_in(result)


@router.get("/p/{slug}/verify/{token}", response_class=HTMLResponse)
def verify_link(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    row = identity.valid_token(session, ctx.portal, token, "verify_post")
    return portal_page(
        request,
        ctx,
        "portal/public/confirm.html",
        {
            "valid": row is not None,
            "action": f"{ctx.view.home}/verify/{token}",
            "purpose": "verify_post",
            "post": dict(row.payload) if row is not None else {},
            "active": "signin",
        },
        status_code=200 if row is not None else 400,
    )


@router.post("/p/{slug}/verify/{token}", response_class=HTMLResponse)
def verify_confirm(request: Request, session: SessionDep, slug: str, token: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    try:
        result = identity.confirm_post(session, ctx.portal, token)
    except ServiceError as exc:
        return portal_page(
            request,
            ctx,
            "portal/public/confirm.html",
            {"valid": False, "purpose": "verify_post", "post": {}, "message": exc.message, "active": "signin"},
            status_code=exc.status_code,
        )
    return _signed_in(result)


@router.post("/p/{slug}/signout")
def signout(request: Request, session: SessionDep, slug: str) -> Response:
    ctx = access.portal_context(request, session, slug)
    response = RedirectResponse(ctx.view.home, status_code=303)
    identity.clear_session(response)
    return response
