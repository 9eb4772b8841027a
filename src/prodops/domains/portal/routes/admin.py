"""Admin pages and API for portals: settings, boards, invites and the single-sign-on secret (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.portal.schemas import (
    BoardIn,
    BoardOut,
    BoardUpdate,
    InviteIn,
    InviteOut,
    PortalIn,
    PortalOut,
    PortalUpdate,
    SsoSecretOut,
)
from prodops.domains.portal.service import admin
from prodops.platform import registry
from prodops.platform.deps import AdminUser, SessionDep
from prodops.platform.errors import NotFound, ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.org import service as org
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/portal", tags=["portal"]))
registry.nav("Portals", "/admin/portals", section="Administration", order=40, min_role="admin")

PAGE = "/admin/portals"


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PortalForm(_Form):
    slug: str = ""
    name: str = ""
    intro: str = ""
    logo_url: str = ""
    primary_color: str = "#4f46e5"
    background_color: str = "#ffffff"
    visibility: str = "public"
    allowed_domains: str = ""
    segment_id: str = ""
    allow_anonymous: str = ""
    enabled: str = ""


class BoardForm(_Form):
    slug: str = ""
    name: str = ""
    description: str = ""
    product_id: str = ""
    segment_id: str = ""
    require_approval: str = ""
    position: str = "0"
    archived: str = ""


def _blank(value: str) -> str | None:
    return value.strip() or None


def _portal_payload(form: PortalForm) -> dict[str, Any]:
    return {
        "slug": form.slug,
        "name": form.name,
        "intro": form.intro,
        "logo_url": form.logo_url,
        "primary_color": form.primary_color,
        "background_color": form.background_color,
        "visibility": form.visibility,
        "allowed_domains": form.allowed_domains,
        "segment_id": _blank(form.segment_id),
        "allow_anonymous": bool(form.allow_anonymous),
        "enabled": bool(form.enabled),
    }


def _board_payload(form: BoardForm) -> dict[str, Any]:
    return {
        "slug": form.slug,
        "name": form.name,
        "description": form.description,
        "product_id": _blank(form.product_id),
        "segment_id": _blank(form.segment_id),
        "require_approval": bool(form.require_approval),
        "position": form.position.strip() or "0",
        "archived": bool(form.archived),
    }


def _choices(session: Session) -> dict[str, Any]:
    return {
        "segments": [(s.id, s.name) for s in customers.list_segments(session)],
        "products": [(p.id, p.name) for p in org.list_products(session)],
    }


def _portal_values(portal: PortalOut) -> dict[str, Any]:
    values = portal.model_dump()
    values["allowed_domains"] = ", ".join(portal.allowed_domains)
    values["segment_id"] = portal.segment_id or ""
    return values


# --- pages --------------------------------------------------------------------------------------


@router.get(PAGE, response_class=HTMLResponse)
def portals_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return render(request, "portal/staff/admin_list.html", {"portals": admin.list_portals(session)})


def _new_form(
    request: Request, session: Session, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    return render(
        request,
        "portal/staff/admin_portal_form.html",
        {"portal": None, "form": values, "errors": errors, **_choices(session)},
        status_code=status,
    )


@router.get(f"{PAGE}/new", response_class=HTMLResponse)
def portal_new(request: Request, session: SessionDep, user: AdminUser) -> Response:
    defaults = PortalForm(enabled="on").model_dump()
    return _new_form(request, session, defaults, {})


@router.post(f"{PAGE}/new")
def portal_create(
    request: Request, session: SessionDep, user: AdminUser, form: Annotated[PortalForm, Form()]
) -> Response:
    try:
        data = PortalIn.model_validate(_portal_payload(form))
        portal = admin.create_portal(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        return _new_form(request, session, form.model_dump(), errors_of(exc), 422)
    flash(request, f"Portal “{portal.name}” created at /p/{portal.slug}. Add a board next.")
    return RedirectResponse(f"{PAGE}/{portal.id}", status_code=303)


def _detail(
    request: Request,
    session: Session,
    portal_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    portal = admin.get_portal(session, portal_id)
    base = str(request.base_url).rstrip("/")
    return render(
        request,
        "portal/staff/admin_portal.html",
        {
            "portal": portal,
            "form": values if values is not None else _portal_values(portal),
            "errors": errors or {},
            "boards": admin.list_boards(session, portal_id),
            "invites": admin.list_invites(session, portal_id),
            "sso": admin.sso_details(session, portal_id, base),
            "sso_url": admin.sso_url(portal, base),
            **_choices(session),
        },
        status_code=status,
    )


@router.get(PAGE + "/{portal_id}", response_class=HTMLResponse)
def portal_page(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    return _detail(request, session, portal_id)


@router.post(PAGE + "/{portal_id}")
def portal_save(
    request: Request, session: SessionDep, user: AdminUser, portal_id: int, form: Annotated[PortalForm, Form()]
) -> Response:
    try:
        data = PortalUpdate.model_validate(_portal_payload(form))
        admin.update_portal(session, actor_for(user), portal_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        return _detail(request, session, portal_id, values=form.model_dump(), errors=errors_of(exc), status=422)
    flash(request, "Portal settings saved.")
    return RedirectResponse(f"{PAGE}/{portal_id}", status_code=303)


@router.post(PAGE + "/{portal_id}/delete")
def portal_delete(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    try:
        admin.delete_portal(session, actor_for(user), portal_id)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
        return RedirectResponse(f"{PAGE}/{portal_id}", status_code=303)
    flash(request, "Portal deleted.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{portal_id}/sso")
def portal_sso_rotate(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    admin.rotate_sso_secret(session, actor_for(user), portal_id)
    flash(request, "New single-sign-on secret generated: update the host product; the old secret no longer works.")
    return RedirectResponse(f"{PAGE}/{portal_id}#sso", status_code=303)


@router.post(PAGE + "/{portal_id}/sso/remove")
def portal_sso_remove(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    admin.remove_sso_secret(session, actor_for(user), portal_id)
    flash(request, "Single sign-on switched off.")
    return RedirectResponse(f"{PAGE}/{portal_id}#sso", status_code=303)


@router.post(PAGE + "/{portal_id}/invites")
def portal_invite(
    request: Request, session: SessionDep, user: AdminUser, portal_id: int, email: Annotated[str, Form()] = ""
) -> Response:
    try:
        admin.invite(session, actor_for(user), portal_id, InviteIn.model_validate({"email": email}))
    except ValidationError:
        flash(request, f"“{email}” is not an e-mail address.", "error")
    else:
        flash(request, f"{email.strip().lower()} may now enter this portal.")
    return RedirectResponse(f"{PAGE}/{portal_id}#invites", status_code=303)


@router.post(PAGE + "/{portal_id}/invites/{invite_id}/delete")
def portal_uninvite(request: Request, session: SessionDep, user: AdminUser, portal_id: int, invite_id: int) -> Response:
    admin.remove_invite(session, actor_for(user), portal_id, invite_id)
    flash(request, "Invitation removed.")
    return RedirectResponse(f"{PAGE}/{portal_id}#invites", status_code=303)


def _board_form(
    request: Request,
    session: Session,
    portal: PortalOut,
    board: BoardOut | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "portal/staff/admin_board_form.html",
        {"portal": portal, "board": board, "form": values, "errors": errors, **_choices(session)},
        status_code=status,
    )


@router.get(PAGE + "/{portal_id}/boards/new", response_class=HTMLResponse)
def board_new(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    portal = admin.get_portal(session, portal_id)
    return _board_form(request, session, portal, None, BoardForm(position=str(portal.board_count)).model_dump(), {})


@router.post(PAGE + "/{portal_id}/boards/new")
def board_create(
    request: Request, session: SessionDep, user: AdminUser, portal_id: int, form: Annotated[BoardForm, Form()]
) -> Response:
    portal = admin.get_portal(session, portal_id)
    try:
        board = admin.create_board(session, actor_for(user), portal_id, BoardIn.model_validate(_board_payload(form)))
    except (ValidationError, ServiceError) as exc:
        return _board_form(request, session, portal, None, form.model_dump(), errors_of(exc), 422)
    flash(request, f"Board “{board.name}” added.")
    return RedirectResponse(f"{PAGE}/{portal_id}#boards", status_code=303)


@router.get(PAGE + "/boards/{board_id}", response_class=HTMLResponse)
def board_page(request: Request, session: SessionDep, user: AdminUser, board_id: int) -> Response:
    board = admin.get_board(session, board_id)
    values = board.model_dump()
    values.update(product_id=board.product_id or "", segment_id=board.segment_id or "")
    return _board_form(request, session, admin.get_portal(session, board.portal_id), board, values, {})


@router.post(PAGE + "/boards/{board_id}")
def board_save(
    request: Request, session: SessionDep, user: AdminUser, board_id: int, form: Annotated[BoardForm, Form()]
) -> Response:
    board = admin.get_board(session, board_id)
    try:
        admin.update_board(session, actor_for(user), board_id, BoardUpdate.model_validate(_board_payload(form)))
    except (ValidationError, ServiceError) as exc:
        portal = admin.get_portal(session, board.portal_id)
        return _board_form(request, session, portal, board, form.model_dump(), errors_of(exc), 422)
    flash(request, "Board saved.")
    return RedirectResponse(f"{PAGE}/{board.portal_id}#boards", status_code=303)


@router.post(PAGE + "/boards/{board_id}/delete")
def board_delete(request: Request, session: SessionDep, user: AdminUser, board_id: int) -> Response:
    board = admin.get_board(session, board_id)
    try:
        admin.delete_board(session, actor_for(user), board_id)
    except ServiceError as exc:
        flash(request, exc.message, "error")
        return RedirectResponse(f"{PAGE}/boards/{board_id}", status_code=303)
    flash(request, f"Board “{board.name}” deleted.")
    return RedirectResponse(f"{PAGE}/{board.portal_id}#boards", status_code=303)


# --- JSON API -----------------------------------------------------------------------------------


class PortalList(BaseModel):
    items: list[PortalOut]
    total: int


class BoardList(BaseModel):
    items: list[BoardOut]
    total: int


class InviteList(BaseModel):
    items: list[InviteOut]
    total: int


@api.get("/portals", response_model=PortalList, summary="List portals")
def api_portals(session: SessionDep, user: AdminUser) -> PortalList:
    items = admin.list_portals(session)
    return PortalList(items=items, total=len(items))


@api.post("/portals", response_model=PortalOut, status_code=201, summary="Create a portal")
def api_portal_create(session: SessionDep, user: AdminUser, data: PortalIn) -> PortalOut:
    return admin.create_portal(session, actor_for(user), data)


@api.get("/portals/{portal_id}", response_model=PortalOut, summary="Get a portal")
def api_portal(session: SessionDep, user: AdminUser, portal_id: int) -> PortalOut:
    return admin.get_portal(session, portal_id)


@api.patch("/portals/{portal_id}", response_model=PortalOut, summary="Change a portal's settings")
def api_portal_update(session: SessionDep, user: AdminUser, portal_id: int, data: PortalUpdate) -> PortalOut:
    return admin.update_portal(session, actor_for(user), portal_id, data)


@api.delete("/portals/{portal_id}", status_code=204, summary="Delete a portal without ideas")
def api_portal_delete(session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    admin.delete_portal(session, actor_for(user), portal_id)
    return Response(status_code=204)


@api.get("/portals/{portal_id}/sso", response_model=SsoSecretOut, summary="Show the single-sign-on secret")
def api_sso(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> SsoSecretOut:
    details = admin.sso_details(session, portal_id, str(request.base_url))
    if details is None:
        raise NotFound("single-sign-on secret of portal", portal_id)
    return details


@api.post("/portals/{portal_id}/sso", response_model=SsoSecretOut, summary="Generate or rotate the secret")
def api_sso_rotate(request: Request, session: SessionDep, user: AdminUser, portal_id: int) -> SsoSecretOut:
    admin.rotate_sso_secret(session, actor_for(user), portal_id)
    details = admin.sso_details(session, portal_id, str(request.base_url))
    assert details is not None
    return details


@api.delete("/portals/{portal_id}/sso", status_code=204, summary="Switch single sign-on off")
def api_sso_remove(session: SessionDep, user: AdminUser, portal_id: int) -> Response:
    admin.remove_sso_secret(session, actor_for(user), portal_id)
    return Response(status_code=204)


@api.get("/portals/{portal_id}/invites", response_model=InviteList, summary="List invited people")
def api_invites(session: SessionDep, user: AdminUser, portal_id: int) -> InviteList:
    items = admin.list_invites(session, portal_id)
    return InviteList(items=items, total=len(items))


@api.post("/portals/{portal_id}/invites", response_model=InviteOut, status_code=201, summary="Invite a person")
def api_invite(session: SessionDep, user: AdminUser, portal_id: int, data: InviteIn) -> InviteOut:
    return admin.invite(session, actor_for(user), portal_id, data)


@api.delete("/portals/{portal_id}/invites/{invite_id}", status_code=204, summary="Remove an invitation")
def api_uninvite(session: SessionDep, user: AdminUser, portal_id: int, invite_id: int) -> Response:
    admin.remove_invite(session, actor_for(user), portal_id, invite_id)
    return Response(status_code=204)


@api.get("/portals/{portal_id}/boards", response_model=BoardList, summary="List a portal's boards")
def api_boards(session: SessionDep, user: AdminUser, portal_id: int) -> BoardList:
    items = admin.list_boards(session, portal_id)
    return BoardList(items=items, total=len(items))


@api.post("/portals/{portal_id}/boards", response_model=BoardOut, status_code=201, summary="Add a board")
def api_board_create(session: SessionDep, user: AdminUser, portal_id: int, data: BoardIn) -> BoardOut:
    return admin.create_board(session, actor_for(user), portal_id, data)


@api.get("/boards/{board_id}", response_model=BoardOut, summary="Get a board")
def api_board(session: SessionDep, user: AdminUser, board_id: int) -> BoardOut:
    return admin.get_board(session, board_id)


@api.patch("/boards/{board_id}", response_model=BoardOut, summary="Change a board (archive with archived=true)")
def api_board_update(session: SessionDep, user: AdminUser, board_id: int, data: BoardUpdate) -> BoardOut:
    return admin.update_board(session, actor_for(user), board_id, data)


@api.delete("/boards/{board_id}", status_code=204, summary="Delete a board without ideas")
def api_board_delete(session: SessionDep, user: AdminUser, board_id: int) -> Response:
    admin.delete_board(session, actor_for(user), board_id)
    return Response(status_code=204)
