"""The embeddable feedback widget: the admin pages and JSON API for widget sites, the script customers' pages
include (``/feedback/widget.js``), and the public endpoint it posts to (``/api/v1/feedback/widget/{site_key}``).

The public endpoint does its own CORS, per site: ``Access-Control-Allow-Origin`` names the caller's origin only when
it is one of the site's allowed origins; any other origin gets 403 without CORS headers, so browsers block the
request. Nothing here uses cookies: the widget sends none and the endpoint reads none.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from prodops.domains.feedback.queries import inbox
from prodops.domains.feedback.service import widget
from prodops.domains.feedback.service.widget import (
    RateLimited,
    WidgetSiteIn,
    WidgetSiteOut,
    WidgetSiteUpdate,
    WidgetSubmission,
)
from prodops.platform import audit, registry
from prodops.platform.config import get_settings
from prodops.platform.deps import ADMIN, PUBLIC_API, AdminUser, SessionDep
from prodops.platform.errors import NotFound, ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))
registry.nav("Feedback widget", "/admin/feedback/widget", section="Administration", order=45, min_role="admin")

PAGES = "/admin/feedback/widget"
THANKS = "Thank you! Your feedback was sent."


# --- helpers --------------------------------------------------------------------------------


def base_url(request: Request) -> str:
    """Where customers' pages load the script from: PRODOPS_BASE_URL when it is set, else this request's host."""
    settings = get_settings()
    if "base_url" in settings.model_fields_set:
        return settings.base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def snippet(request: Request, site_key: str) -> str:
    return f'<script src="{base_url(request)}/feedback/widget.js" data-site="{site_key}" async></script>'


def _form_values(site: WidgetSiteOut) -> dict[str, Any]:
    """A site's values as the form fields show them (origins one per line, tags comma-separated)."""
    return {
        "name": site.name,
        "allowed_origins": "\n".join(site.allowed_origins),
        "product_id": site.product_id or "",
        "default_tags": ", ".join(site.default_tags),
        "enabled": site.enabled,
        "require_email": site.require_email,
    }


def _submitted(
    name: str, allowed_origins: str, product_id: str, default_tags: str, enabled: bool, require_email: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "allowed_origins": allowed_origins,
        "product_id": int(product_id) if product_id.strip().isdigit() else None,
        "default_tags": default_tags,
        "enabled": enabled,
        "require_email": require_email,
    }


def _list_context(request: Request, session: SessionDep) -> dict[str, Any]:
    sites = widget.list_sites(session)
    return {
        "sites": sites,
        "snippets": {s.id: snippet(request, s.site_key) for s in sites},
        "products": inbox.product_choices(session),
    }


def _detail_context(request: Request, session: SessionDep, site_id: int) -> dict[str, Any]:
    site = widget.get_site(session, site_id)
    return {
        "site": site,
        "snippet": snippet(request, site.site_key),
        "base": base_url(request),
        "products": inbox.product_choices(session),
        "history": audit.history(session, widget.ENTITY, site_id, limit=20),
        "form": _form_values(site),
        "errors": {},
    }


def _to_detail(site_id: int) -> RedirectResponse:
    return RedirectResponse(f"{PAGES}/{site_id}", status_code=303)


FormText = Annotated[str, Form(max_length=4000)]


# --- admin pages ----------------------------------------------------------------------------


@router.get(PAGES, response_class=HTMLResponse, dependencies=[ADMIN])
def sites_page(request: Request, session: SessionDep) -> Response:
    form = {"enabled": True, "allowed_origins": "", "name": "", "default_tags": "", "product_id": ""}
    return render(
        request, "feedback/widget_sites.html", {**_list_context(request, session), "form": form, "errors": {}}
    )


@router.post(PAGES)
def site_create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    *,
    name: FormText = "",
    allowed_origins: FormText = "",
    product_id: FormText = "",
    default_tags: FormText = "",
    enabled: Annotated[bool, Form()] = False,
    require_email: Annotated[bool, Form()] = False,
) -> Response:
    values = _submitted(name, allowed_origins, product_id, default_tags, enabled, require_email)
    try:
        created = widget.create_site(session, actor_for(admin), WidgetSiteIn.model_validate(values))
    except (ValidationError, ServiceError) as exc:
        form = {**values, "allowed_origins": allowed_origins, "product_id": product_id, "default_tags": default_tags}
        context = {**_list_context(request, session), "form": form, "errors": errors_of(exc)}
        return render(request, "feedback/widget_sites.html", context, status_code=422)
    flash(request, f"Widget site {created.name} created. Copy the snippet below into the site's pages.")
    return _to_detail(created.id)


@router.get(PAGES + "/{site_id:int}", response_class=HTMLResponse, dependencies=[ADMIN])
def site_page(request: Request, session: SessionDep, site_id: int) -> Response:
    return render(request, "feedback/widget_site.html", _detail_context(request, session, site_id))


@router.post(PAGES + "/{site_id:int}")
def site_update(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    site_id: int,
    *,
    name: FormText = "",
    allowed_origins: FormText = "",
    product_id: FormText = "",
    default_tags: FormText = "",
    enabled: Annotated[bool, Form()] = False,
    require_email: Annotated[bool, Form()] = False,
) -> Response:
    values = _submitted(name, allowed_origins, product_id, default_tags, enabled, require_email)
    try:
        widget.update_site(session, actor_for(admin), site_id, WidgetSiteUpdate.model_validate(values))
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        form = {**values, "allowed_origins": allowed_origins, "product_id": product_id, "default_tags": default_tags}
        context = {
            **_detail_context(request, session, site_id),
            "form": form,
            "errors": errors_of(exc),
            "editing": True,
        }
        return render(request, "feedback/widget_site.html", context, status_code=422)
    flash(request, "Widget site saved.")
    return _to_detail(site_id)


@router.post(PAGES + "/{site_id:int}/enabled")
def site_set_enabled(
    request: Request, session: SessionDep, admin: AdminUser, site_id: int, enabled: Annotated[bool, Form()]
) -> Response:
    site = widget.update_site(session, actor_for(admin), site_id, WidgetSiteUpdate(enabled=enabled))
    flash(
        request,
        f"Widget on {site.name} enabled."
        if site.enabled
        else f"Widget on {site.name} disabled: it accepts nothing now.",
    )
    return _to_detail(site_id)


@router.post(PAGES + "/{site_id:int}/rotate")
def site_rotate_key(request: Request, session: SessionDep, admin: AdminUser, site_id: int) -> Response:
    widget.rotate_key(session, actor_for(admin), site_id)
    flash(request, "The site has a new key. Update the snippet on its pages: the old key no longer works.")
    return _to_detail(site_id)


@router.post(PAGES + "/{site_id:int}/delete")
def site_delete(request: Request, session: SessionDep, admin: AdminUser, site_id: int) -> Response:
    name = widget.get_site(session, site_id).name
    widget.delete_site(session, actor_for(admin), site_id)
    flash(request, f"Widget site {name} deleted. Feedback captured through it stays in the inbox.")
    return RedirectResponse(PAGES, status_code=303)


# --- admin JSON API -------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1/feedback/widget-sites", tags=["feedback widget"], dependencies=[ADMIN]))


class WidgetSiteApiOut(WidgetSiteOut):
    snippet: str
    """The HTML to paste into the site's pages."""


def _api_out(request: Request, site: WidgetSiteOut) -> WidgetSiteApiOut:
    return WidgetSiteApiOut(**site.model_dump(), snippet=snippet(request, site.site_key))


@api.get("", summary="Widget sites (administrators)")
def api_list(request: Request, session: SessionDep) -> dict[str, Any]:
    items = [_api_out(request, s) for s in widget.list_sites(session)]
    return {"items": items, "total": len(items)}


@api.post("", status_code=201, summary="Create a widget site; the answer carries its key and snippet")
def api_create(request: Request, session: SessionDep, admin: AdminUser, data: WidgetSiteIn) -> WidgetSiteApiOut:
    return _api_out(request, widget.create_site(session, actor_for(admin), data))


@api.get("/{site_id}", summary="One widget site")
def api_get(request: Request, session: SessionDep, site_id: int) -> WidgetSiteApiOut:
    return _api_out(request, widget.get_site(session, site_id))


@api.patch("/{site_id}", summary="Change a widget site (only the fields sent)")
def api_update(
    request: Request, session: SessionDep, admin: AdminUser, site_id: int, data: WidgetSiteUpdate
) -> WidgetSiteApiOut:
    return _api_out(request, widget.update_site(session, actor_for(admin), site_id, data))


@api.post("/{site_id}/rotate-key", summary="Give the site a new key (the old one stops working)")
def api_rotate_key(request: Request, session: SessionDep, admin: AdminUser, site_id: int) -> WidgetSiteApiOut:
    return _api_out(request, widget.rotate_key(session, actor_for(admin), site_id))


@api.delete("/{site_id}", status_code=204, summary="Delete a widget site (captured feedback stays)")
def api_delete(session: SessionDep, admin: AdminUser, site_id: int) -> Response:
    widget.delete_site(session, actor_for(admin), site_id)
    return Response(status_code=204)


# --- the script -----------------------------------------------------------------------------


@cache
def _static(name: str) -> tuple[bytes, str]:
    body = resources.files("prodops.domains.feedback").joinpath("static", name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def serve_script(request: Request, name: str) -> Response:
    """A script customers' pages load from another origin: cacheable with an ETag, allowed cross-origin."""
    body, etag = _static(name)
    headers = {
        "Cache-Control": "public, max-age=3600",
        "ETag": etag,
        # Customers' pages load it from another origin, some of them with Cross-Origin-Embedder-Policy.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/feedback/widget.js", dependencies=[PUBLIC_API])
def widget_script(request: Request) -> Response:
    return serve_script(request, "widget.js")


# --- the public endpoint --------------------------------------------------------------------

public = registry.router(APIRouter(prefix="/api/v1/feedback/widget", tags=["feedback widget"]))


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}


def _error(exc: ServiceError, headers: dict[str, str]) -> JSONResponse:
    detail: Any = exc.as_detail() if exc.status_code in (400, 422) else exc.message
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def _site_and_cors(session: SessionDep, site_key: str, origin: str | None) -> tuple[WidgetSiteOut, dict[str, str]]:
    """The site and the CORS headers its answer carries; raises NotFound (unknown or disabled site) or
    PermissionDenied (origin not allowed)."""
    site = widget.site_for_key(session, site_key)
    if site is None:
        raise NotFound("widget site", "with this key")
    widget.check_origin(site, origin)
    assert origin is not None  # check_origin refuses a missing origin
    return site, _cors(origin)


_SUBMISSION_SCHEMA = WidgetSubmission.model_json_schema()


@public.options("/{site_key}", dependencies=[PUBLIC_API], summary="CORS preflight for the widget endpoint")
def widget_preflight(request: Request, session: SessionDep, site_key: str) -> Response:
    try:
        _, headers = _site_and_cors(session, site_key, request.headers.get("origin"))
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    headers |= {
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@public.post(
    "/{site_key}",
    status_code=202,
    dependencies=[PUBLIC_API],
    summary="Send feedback from the embeddable widget",
    description=(
        "Called by `/feedback/widget.js` from a page on one of the site's allowed origins (the `Origin` header must "
        "match; the answer carries `Access-Control-Allow-Origin` for it). Rate limited per site and client address "
        "(429 with `Retry-After`). Answers 202 with a thank-you message; `website` is a honeypot that must stay "
        "empty."
    ),
    responses={403: {"description": "The origin is not allowed"}, 404: {"description": "No enabled site"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _SUBMISSION_SCHEMA}}}},
)
def widget_submit(request: Request, session: SessionDep, site_key: str, body: RawBody) -> Response:
    origin = request.headers.get("origin")
    try:
        site, headers = _site_and_cors(session, site_key, origin)
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return JSONResponse(
            {"detail": "Send the feedback as JSON (Content-Type: application/json)."}, status_code=415, headers=headers
        )
    client = request.client.host if request.client else "unknown"
    try:
        widget.submit(session, site, body, origin, client, user_agent=request.headers.get("user-agent", ""))
    except RateLimited as exc:
        return _error(exc, {**headers, "Retry-After": str(exc.retry_after)})
    except ServiceError as exc:
        return _error(exc, headers)
    # A filled honeypot gets exactly this answer too: bots learn nothing.
    return JSONResponse({"status": "received", "message": THANKS}, status_code=202, headers=headers)
