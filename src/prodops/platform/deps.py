"""Request dependencies: the database session, settings, and access control.

Every route declares who may call it with exactly one of the access dependencies below
(``PUBLIC``, ``PUBLIC_API``, ``VIEWER``, ``MEMBER``, ``ADMIN`` or the ``*User`` aliases that imply
them). ``create_app`` refuses to start when a route declares none, and a test walks every route.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from prodops.platform.config import Settings, get_settings
from prodops.platform.db import session_factory
from prodops.platform.errors import PermissionDenied
from prodops.platform.identity import security
from prodops.platform.identity.models import ApiToken, User, UserView
from prodops.platform.identity.service import touch_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotAuthenticated(Exception):
    def __init__(self, message: str = "Sign in to continue.") -> None:
        super().__init__(message)
        self.message = message


class CsrfFailed(PermissionDenied):
    def __init__(self) -> None:
        super().__init__("The form expired or did not come from this site. Reload the page and try again.")


def get_session() -> Iterator[Session]:
    session = session_factory()()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Principal:
    user: User
    via: Literal["session", "token"]
    scope: Literal["read", "write"]
    #: Taken when the request is authenticated: error pages render it even after a rollback expired ``user``.
    view: UserView = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", self.user.view())


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def _check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise CsrfFailed()


def _principal(request: Request, session: SessionDep) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    principal: Principal | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise NotAuthenticated("The Authorization header must be 'Bearer <token>'.")
        token = session.scalar(
            select(ApiToken)
            .options(joinedload(ApiToken.user))
            .where(ApiToken.token_hash == security.token_digest(credential.strip()))
        )
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise NotAuthenticated("This API token is invalid or has been revoked.")
        touch_token(session, token)
        scope: Literal["read", "write"] = "write" if token.scope == "write" else "read"
        principal = Principal(token.user, "token", scope)
    else:
        uid = request.session.get("uid")
        if uid is not None:
            user = session.get(User, uid)
            if user is not None and user.is_active and user.session_epoch == request.session.get("epoch"):
                principal = Principal(user, "session", "write")
            else:
                request.session.pop("uid", None)
                request.session.pop("epoch", None)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal | None, Depends(_principal)]


def _require(role: str) -> Callable[..., object]:
    async def check(request: Request, principal: PrincipalDep) -> User:
        if principal is None:
            raise NotAuthenticated()
        if principal.via == "session" and request.method not in SAFE_METHODS:
            await _check_csrf(request)
        if principal.via == "token" and principal.scope == "read" and request.method not in SAFE_METHODS:
            raise PermissionDenied("This API token has the 'read' scope; writing needs a 'write' token.")
        if not principal.user.has_role(role):
            raise PermissionDenied(f"This needs the {role} role; you are a {principal.user.role}.")
        return principal.user

    check.__name__ = f"require_{role}"
    check.access_level = role  # type: ignore[attr-defined]
    return check


async def _public(request: Request, principal: PrincipalDep) -> Principal | None:
    """Anyone, signed in or not; form posts still need the session's CSRF token."""
    if request.method not in SAFE_METHODS and (principal is None or principal.via == "session"):
        await _check_csrf(request)
    return principal


async def _public_api() -> None:
    """Machine-to-machine endpoints that authenticate their own way (keys, signatures) or not at all."""
    return None


_public.access_level = "public"  # type: ignore[attr-defined]
_public_api.access_level = "public-api"  # type: ignore[attr-defined]

require_viewer = _require("viewer")
require_member = _require("member")
require_admin = _require("admin")

PUBLIC = Depends(_public)
PUBLIC_API = Depends(_public_api)
VIEWER = Depends(require_viewer)
MEMBER = Depends(require_member)
ADMIN = Depends(require_admin)

OptionalPrincipal = Annotated[Principal | None, Depends(_public)]
ViewerUser = Annotated[User, Depends(require_viewer)]
MemberUser = Annotated[User, Depends(require_member)]
AdminUser = Annotated[User, Depends(require_admin)]

ACCESS_CALLS: dict[Callable[..., object], str] = {
    _public: "public",
    _public_api: "public-api",
    require_viewer: "viewer",
    require_member: "member",
    require_admin: "admin",
}
