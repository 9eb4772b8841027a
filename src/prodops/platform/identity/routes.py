"""Sign-in, sign-out, password reset, personal API tokens, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.deps import ADMIN, PUBLIC, VIEWER, AdminUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity import service
from prodops.platform.identity.models import ROLES, ApiToken, User
from prodops.platform.identity.schemas import TokenCreate, TokenCreated, TokenOut, UserCreate, UserOut, UserUpdate
from prodops.platform.identity.security import login_limiter
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter())
registry.nav("Users", "/admin/users", section="Administration", order=10, min_role="admin")


def _safe_next(value: str | None) -> str:
    # Only same-site relative paths: never redirect to another host after sign-in.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC], include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "identity/login.html", {"next": _safe_next(next), "email": ""})


@router.post("/login", dependencies=[PUBLIC], include_in_schema=False)
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    settings = get_settings()
    context = {"next": _safe_next(next), "email": email}
    if not login_limiter.hit(_client_ip(request), settings.login_rate_per_minute):
        return render(
            request,
            "identity/login.html",
            {**context, "error": "Too many sign-in attempts from your address. Wait a minute and try again."},
            status_code=429,
        )
    result = service.authenticate(session, email, password)
    if result.user is None:
        return render(request, "identity/login.html", {**context, "error": result.error}, status_code=401)
    request.session.clear()
    request.session.update({"uid": result.user.id, "epoch": result.user.session_epoch})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[PUBLIC], include_in_schema=False)
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password/forgot", response_class=HTMLResponse, dependencies=[PUBLIC], include_in_schema=False)
def forgot_page(request: Request) -> Response:
    return render(request, "identity/forgot.html", {})


@router.post("/password/forgot", dependencies=[PUBLIC], include_in_schema=False)
def forgot(request: Request, session: SessionDep, email: Annotated[str, Form(max_length=320)]) -> Response:
    if not login_limiter.hit("reset:" + _client_ip(request), get_settings().login_rate_per_minute):
        return render(
            request,
            "identity/forgot.html",
            {"error": "Too many requests. Wait a minute and try again."},
            status_code=429,
        )
    service.request_password_reset(session, email)
    return render(request, "identity/forgot.html", {"sent": True})


@router.get("/password/reset/{token}", response_class=HTMLResponse, dependencies=[PUBLIC], include_in_schema=False)
def reset_page(request: Request, session: SessionDep, token: str) -> Response:
    valid = service.reset_token_is_valid(session, token)
    return render(request, "identity/reset.html", {"token": token, "valid": valid}, status_code=200 if valid else 400)


@router.post("/password/reset/{token}", dependencies=[PUBLIC], include_in_schema=False)
def reset(
    request: Request, session: SessionDep, token: str, password: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        service.reset_password(session, token, password)
    except ServiceError as exc:
        return render(
            request,
            "identity/reset.html",
            {"token": token, "valid": exc.field != "token", "errors": errors_of(exc)},
            status_code=422,
        )
    request.session.clear()
    flash(request, "Your password was changed. Sign in with the new one.")
    return RedirectResponse("/login", status_code=303)


# --- own account and tokens -------------------------------------------------------------------


def _tokens(session: SessionDep, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc()))
    )


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    return render(request, "identity/account.html", {"tokens": _tokens(session, user)})


@router.post("/account/tokens", include_in_schema=False)
def account_token_create(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    name: Annotated[str, Form(max_length=120)],
    scope: Annotated[str, Form()] = "read",
) -> Response:
    try:
        data = TokenCreate(name=name, scope=scope)
        _, secret = service.create_token(session, service.actor_for(user), user.id, data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "identity/account.html",
            {"tokens": _tokens(session, user), "errors": errors_of(exc)},
            status_code=422,
        )
    return render(request, "identity/account.html", {"tokens": _tokens(session, user), "new_token": secret})


@router.post("/account/tokens/{token_id}/revoke", include_in_schema=False)
def account_token_revoke(request: Request, session: SessionDep, user: ViewerUser, token_id: int) -> Response:
    service.revoke_token(session, service.actor_for(user), token_id, owner_id=user.id)
    flash(request, "Token revoked.")
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password", include_in_schema=False)
def account_password(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    current: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    from prodops.platform.identity.security import verify_password

    if not verify_password(current, user.password_hash)[0]:
        return render(
            request,
            "identity/account.html",
            {"tokens": _tokens(session, user), "errors": {"current": "This is not your current password."}},
            status_code=422,
        )
    try:
        updated = service.set_password(session, service.actor_for(user), user.id, password)
    except ServiceError as exc:
        return render(
            request,
            "identity/account.html",
            {"tokens": _tokens(session, user), "errors": errors_of(exc)},
            status_code=422,
        )
    request.session.update({"epoch": updated.session_epoch})
    flash(request, "Password changed. Other sessions were signed out.")
    return RedirectResponse("/account", status_code=303)


# --- user administration (HTML) ---------------------------------------------------------------


def _users(session: SessionDep) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    return render(request, "identity/users.html", {"users": _users(session), "roles": ROLES, "form": {}})


@router.post("/admin/users", include_in_schema=False)
def users_create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form()] = "member",
) -> Response:
    form = {"email": email, "name": name, "role": role}
    try:
        service.create_user(
            session, service.actor_for(admin), UserCreate(email=email, name=name, role=role, password=password)
        )
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "identity/users.html",
            {"users": _users(session), "roles": ROLES, "form": form, "errors": errors_of(exc)},
            status_code=422,
        )
    flash(request, f"User {email} created.")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}", include_in_schema=False)
def users_update(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    role: Annotated[str | None, Form()] = None,
    is_active: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        data = UserUpdate(role=role, is_active=None if is_active is None else is_active == "true")
        user = service.update_user(session, service.actor_for(admin), user_id, data)
        flash(request, f"{user.email} updated.")
    except (ValidationError, ServiceError) as exc:
        flash(request, "; ".join(errors_of(exc).values()), "error")
    return RedirectResponse("/admin/users", status_code=303)


# --- JSON API ---------------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1", tags=["identity"]))


@api.get("/me", response_model=UserOut, dependencies=[VIEWER])
def api_me(user: ViewerUser) -> User:
    return user


@api.get("/users", dependencies=[ADMIN])
def api_users(session: SessionDep) -> dict[str, object]:
    users = _users(session)
    return {"items": [UserOut.model_validate(u) for u in users], "total": len(users)}


@api.post("/users", response_model=UserOut, status_code=201)
def api_users_create(session: SessionDep, admin: AdminUser, data: UserCreate) -> User:
    return service.create_user(session, service.actor_for(admin), data)


@api.patch("/users/{user_id}", response_model=UserOut)
def api_users_update(session: SessionDep, admin: AdminUser, user_id: int, data: UserUpdate) -> User:
    return service.update_user(session, service.actor_for(admin), user_id, data)


@api.get("/tokens", dependencies=[VIEWER])
def api_tokens(session: SessionDep, user: ViewerUser) -> dict[str, object]:
    tokens = _tokens(session, user)
    return {"items": [TokenOut.model_validate(t) for t in tokens], "total": len(tokens)}


@api.post("/tokens", response_model=TokenCreated, status_code=201)
def api_tokens_create(session: SessionDep, user: ViewerUser, data: TokenCreate) -> TokenCreated:
    token, secret = service.create_token(session, service.actor_for(user), user.id, data)
    return TokenCreated.model_validate({**TokenOut.model_validate(token).model_dump(), "token": secret})


@api.delete("/tokens/{token_id}", status_code=204)
def api_tokens_revoke(session: SessionDep, user: ViewerUser, token_id: int) -> Response:
    service.revoke_token(session, service.actor_for(user), token_id, owner_id=user.id)
    return Response(status_code=204)
