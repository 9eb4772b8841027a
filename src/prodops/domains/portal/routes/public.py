"""The customer-facing portal at /p/<slug>: boards, ideas, votes, comments, follows and the submit form.

Every route is ``PUBLIC`` (the kernel checks the CSRF token of form posts) and resolves the portal user itself
from the portal cookie (:func:`access.portal_context`); staff sessions play no part.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodops.domains.portal.queries import public as queries
from prodops.domains.portal.service import access
from prodops.domains.portal.service.access import PortalContext
from prodops.platform import registry
from prodops.platform.deps import PUBLIC, SessionDep
from prodops.platform.web import render

router = registry.router(APIRouter(include_in_schema=False, dependencies=[PUBLIC]))


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
