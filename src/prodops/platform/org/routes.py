"""Products and teams: pages for admins, read API for everyone signed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from prodops.platform import registry
from prodops.platform.deps import VIEWER, AdminUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.models import User
from prodops.platform.identity.service import actor_for
from prodops.platform.org import service
from prodops.platform.org.schemas import ProductIn, ProductOut, TeamIn, TeamOut
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))
registry.nav("Products & teams", "/admin/org", section="Administration", order=20, min_role="viewer")


def _context(session: SessionDep) -> dict[str, object]:
    users = list(session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.email)))
    return {
        "products": service.list_products(session),
        "teams": service.list_teams(session),
        "users": {u.id: u for u in users},
    }


@router.get("/admin/org", response_class=HTMLResponse)
def org_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    return render(request, "org/org.html", _context(session))


@router.post("/admin/org/products")
def product_create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    key: Annotated[str, Form()],
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        service.create_product(session, actor_for(admin), ProductIn(key=key, name=name, description=description))
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "org/org.html",
            {**_context(session), "product_errors": errors_of(exc), "product_form": {"key": key, "name": name}},
            status_code=422,
        )
    flash(request, f"Product {name} created.")
    return RedirectResponse("/admin/org", status_code=303)


@router.post("/admin/org/teams")
def team_create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    key: Annotated[str, Form()],
    name: Annotated[str, Form()],
    product_id: Annotated[str, Form()] = "",
    member_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    try:
        data = TeamIn(
            key=key, name=name, product_id=int(product_id) if product_id else None, member_ids=member_ids or []
        )
        service.create_team(session, actor_for(admin), data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "org/org.html",
            {**_context(session), "team_errors": errors_of(exc), "team_form": {"key": key, "name": name}},
            status_code=422,
        )
    flash(request, f"Team {name} created.")
    return RedirectResponse("/admin/org", status_code=303)


@router.post("/admin/org/teams/{team_id}/members")
def team_members(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    team_id: int,
    member_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    service.set_team_members(session, actor_for(admin), team_id, member_ids or [])
    flash(request, "Team members saved.")
    return RedirectResponse("/admin/org", status_code=303)


api = registry.router(APIRouter(prefix="/api/v1/org", tags=["organisation"]))


@api.get("/products", dependencies=[VIEWER])
def api_products(session: SessionDep) -> dict[str, object]:
    items = service.list_products(session)
    return {"items": items, "total": len(items)}


@api.post("/products", response_model=ProductOut, status_code=201)
def api_product_create(session: SessionDep, admin: AdminUser, data: ProductIn) -> ProductOut:
    return service.create_product(session, actor_for(admin), data)


@api.get("/teams", dependencies=[VIEWER])
def api_teams(session: SessionDep) -> dict[str, object]:
    items = service.list_teams(session)
    return {"items": items, "total": len(items)}


@api.post("/teams", response_model=TeamOut, status_code=201)
def api_team_create(session: SessionDep, admin: AdminUser, data: TeamIn) -> TeamOut:
    return service.create_team(session, actor_for(admin), data)
