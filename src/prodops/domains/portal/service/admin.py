"""Configuring portals (admins): portals, their boards and invites, and the single-sign-on secret. Every write is
audited (before → after) and emits a ``portal.*`` event after commit."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import jwt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.portal.models import Board, Idea, Portal, PortalInvite
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
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.org.models import Product

PORTAL_CREATED = events.declare("portal.portal.created", "A customer ideas portal was created.")
PORTAL_UPDATED = events.declare("portal.portal.updated", "A portal's settings changed (payload lists the fields).")
PORTAL_DELETED = events.declare("portal.portal.deleted", "A portal was deleted with its boards and ideas.")
BOARD_CREATED = events.declare("portal.board.created", "A board was added to a portal.")
BOARD_UPDATED = events.declare("portal.board.updated", "A board's settings changed (payload lists the fields).")
BOARD_DELETED = events.declare("portal.board.deleted", "An empty board was deleted.")
SSO_ROTATED = events.declare(
    "portal.sso.rotated", "A portal's single-sign-on secret was generated, rotated or removed (never the secret)."
)

PORTAL_AUDIT = (
    "slug",
    "name",
    "intro",
    "logo_url",
    "primary_color",
    "background_color",
    "visibility",
    "allowed_domains",
    "segment_id",
    "allow_anonymous",
    "enabled",
)
BOARD_AUDIT = ("slug", "name", "description", "product_id", "segment_id", "require_approval", "position", "archived")
SSO_LIFETIME = dt.timedelta(minutes=10)


def _record(session: Session, actor: Actor, kind: str, obj: Any, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session, actor, entity_type=kind, entity_id=obj.id, action=action, changes=changes, entity_label=obj.name
    )


def _pairs(rows: Any) -> dict[Any, Any]:
    """``{first column: second column}`` of a two-column result."""
    return {row[0]: row[1] for row in rows}


# --- reads --------------------------------------------------------------------------------------


def portal_out(session: Session, portal: Portal) -> PortalOut:
    out = PortalOut.model_validate(portal)
    out.sso_enabled = bool(portal.sso_secret)
    out.board_count = session.scalar(select(func.count(Board.id)).where(Board.portal_id == portal.id)) or 0
    out.idea_count = (
        session.scalar(
            select(func.count(Idea.id))
            .join(Board, Board.id == Idea.board_id)
            .where(Board.portal_id == portal.id, Idea.state == "published")
        )
        or 0
    )
    return out


def list_portals(session: Session) -> list[PortalOut]:
    """Every portal with its board and published-idea counts (three statements)."""
    portals = list(session.scalars(select(Portal).order_by(Portal.name, Portal.id)))
    boards = _pairs(session.execute(select(Board.portal_id, func.count(Board.id)).group_by(Board.portal_id)))
    ideas = _pairs(
        session.execute(
            select(Board.portal_id, func.count(Idea.id))
            .join(Idea, Idea.board_id == Board.id)
            .where(Idea.state == "published")
            .group_by(Board.portal_id)
        )
    )
    found = []
    for portal in portals:
        out = PortalOut.model_validate(portal)
        out.sso_enabled = bool(portal.sso_secret)
        out.board_count = boards.get(portal.id, 0)
        out.idea_count = ideas.get(portal.id, 0)
        found.append(out)
    return found


def _portal(session: Session, portal_id: int) -> Portal:
    portal = session.get(Portal, portal_id)
    if portal is None:
        raise NotFound("portal", portal_id)
    return portal


def get_portal(session: Session, portal_id: int) -> PortalOut:
    return portal_out(session, _portal(session, portal_id))


def list_boards(session: Session, portal_id: int) -> list[BoardOut]:
    """A portal's boards in their order, with product and segment names and published-idea counts."""
    _portal(session, portal_id)
    boards = list(session.scalars(select(Board).where(Board.portal_id == portal_id).order_by(Board.position, Board.id)))
    counts = _pairs(
        session.execute(
            select(Idea.board_id, func.count(Idea.id))
            .where(Idea.board_id.in_([b.id for b in boards]), Idea.state == "published")
            .group_by(Idea.board_id)
        )
    )
    products = _pairs(session.execute(select(Product.id, Product.name)))
    segments = {s.id: s.name for s in customers.list_segments(session)} if any(b.segment_id for b in boards) else {}
    found = []
    for board in boards:
        out = BoardOut.model_validate(board)
        out.product_name = products.get(board.product_id) if board.product_id else None
        out.segment_name = segments.get(board.segment_id) if board.segment_id else None
        out.idea_count = counts.get(board.id, 0)
        found.append(out)
    return found


def _board(session: Session, board_id: int) -> Board:
    board = session.get(Board, board_id)
    if board is None:
        raise NotFound("board", board_id)
    return board


def get_board(session: Session, board_id: int) -> BoardOut:
    board = _board(session, board_id)
    return next(b for b in list_boards(session, board.portal_id) if b.id == board_id)


def list_invites(session: Session, portal_id: int) -> list[InviteOut]:
    _portal(session, portal_id)
    stmt = select(PortalInvite).where(PortalInvite.portal_id == portal_id).order_by(PortalInvite.email)
    return [InviteOut.model_validate(i) for i in session.scalars(stmt)]


# --- checks -------------------------------------------------------------------------------------


def _check_segment(session: Session, segment_id: int | None) -> None:
    if segment_id is not None and segment_id not in {s.id for s in customers.list_segments(session)}:
        raise ValidationFailed("segment_id", f"there is no saved segment {segment_id}")


def _check_portal(session: Session, values: dict[str, Any], portal_id: int | None) -> None:
    problems: list[tuple[str | None, str]] = []
    slug = values.get("slug")
    if slug is not None:
        clash = session.scalar(select(Portal.id).where(Portal.slug == slug, Portal.id != (portal_id or 0)))
        if clash is not None:
            problems.append(("slug", f"another portal already lives at /p/{slug}"))
    try:
        _check_segment(session, values.get("segment_id"))
    except ValidationFailed as exc:
        problems.append(("segment_id", exc.message))
    if values.get("visibility") == "segment" and values.get("segment_id") is None:
        problems.append(("segment_id", "a segment portal needs the segment whose people may enter"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)


def _check_board(session: Session, portal_id: int, values: dict[str, Any], board_id: int | None) -> None:
    problems: list[tuple[str | None, str]] = []
    slug = values.get("slug")
    if slug is not None:
        clash = session.scalar(
            select(Board.id).where(Board.portal_id == portal_id, Board.slug == slug, Board.id != (board_id or 0))
        )
        if clash is not None:
            problems.append(("slug", f"this portal already has a board called {slug}"))
    product_id = values.get("product_id")
    if product_id is not None and session.get(Product, product_id) is None:
        problems.append(("product_id", f"there is no product {product_id}"))
    try:
        _check_segment(session, values.get("segment_id"))
    except ValidationFailed as exc:
        problems.append(("segment_id", exc.message))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)


# --- portals ------------------------------------------------------------------------------------


def create_portal(session: Session, actor: Actor, data: PortalIn) -> PortalOut:
    values = data.model_dump()
    with transaction(session):
        _check_portal(session, values, None)
        portal = Portal(**values)
        session.add(portal)
        try:
            session.flush()
        except IntegrityError:
            raise ValidationFailed("slug", f"another portal already lives at /p/{data.slug}") from None
        _record(session, actor, "portal", portal, "create", audit.diff({}, audit.snapshot(portal, PORTAL_AUDIT)))
        events.emit(session, PORTAL_CREATED, {"id": portal.id, "slug": portal.slug, "name": portal.name})
        return portal_out(session, portal)


def update_portal(session: Session, actor: Actor, portal_id: int, data: PortalUpdate) -> PortalOut:
    changes = data.model_dump(exclude_unset=True)
    for key in ("slug", "name", "primary_color", "background_color", "visibility", "enabled", "allow_anonymous"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(key, "cannot be empty")
    for key in ("intro", "logo_url"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    if "allowed_domains" in changes and changes["allowed_domains"] is None:
        changes["allowed_domains"] = []
    with transaction(session):
        portal = _portal(session, portal_id)
        before = audit.snapshot(portal, PORTAL_AUDIT)
        _check_portal(session, {**before, **changes}, portal_id)
        for key, value in changes.items():
            setattr(portal, key, value)
        session.flush()
        diff = audit.diff(before, audit.snapshot(portal, PORTAL_AUDIT))
        if diff:
            _record(session, actor, "portal", portal, "update", diff)
            events.emit(session, PORTAL_UPDATED, {"id": portal.id, "changes": sorted(diff)})
        return portal_out(session, portal)


def delete_portal(session: Session, actor: Actor, portal_id: int) -> None:
    """Delete a portal that has no ideas (disable it instead when it has: ideas are customers' evidence)."""
    with transaction(session):
        portal = _portal(session, portal_id)
        ideas = session.scalar(
            select(func.count(Idea.id)).join(Board, Board.id == Idea.board_id).where(Board.portal_id == portal_id)
        )
        if ideas:
            raise Conflict(
                None, f"“{portal.name}” has {ideas} idea(s); switch it off instead of deleting customers' ideas."
            )
        before = audit.snapshot(portal, PORTAL_AUDIT)
        session.delete(portal)
        audit.record(
            session,
            actor,
            entity_type="portal",
            entity_id=portal_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=before["name"],
        )
        events.emit(session, PORTAL_DELETED, {"id": portal_id, "slug": before["slug"]})


# --- single sign-on -----------------------------------------------------------------------------


def sso_url(portal: Portal | PortalOut, base_url: str = "") -> str:
    return f"{base_url.rstrip('/')}/p/{portal.slug}/sso"


def example_claims(now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "email": "ada@customer.example",
        "name": "Ada Lovelace",
        "iat": int(now.timestamp()),
        "exp": int((now + SSO_LIFETIME).timestamp()),
        "return_to": "/",
    }


def sso_details(session: Session, portal_id: int, base_url: str = "") -> SsoSecretOut | None:
    """The secret and a signed example token, or None when single sign-on is off (admins only)."""
    portal = _portal(session, portal_id)
    if not portal.sso_secret:
        return None
    claims = example_claims()
    token = jwt.encode(claims, portal.sso_secret, algorithm="HS256")
    return SsoSecretOut(
        portal_id=portal.id,
        secret=portal.sso_secret,
        sso_url=sso_url(portal, base_url),
        example_claims=claims,
        example_token=token,
    )


def rotate_sso_secret(session: Session, actor: Actor, portal_id: int) -> str:
    """Generate (or replace) the portal's single-sign-on secret; tokens signed with the old one stop working.
    Returns the new secret; the audit log records that it changed, never the value."""
    secret = secrets.token_urlsafe(48)
    with transaction(session):
        portal = _portal(session, portal_id)
        had = bool(portal.sso_secret)
        portal.sso_secret = secret
        _record(session, actor, "portal", portal, "rotate_sso" if had else "enable_sso", {"sso_secret": [had, True]})
        events.emit(session, SSO_ROTATED, {"id": portal.id, "enabled": True})
    return secret


def remove_sso_secret(session: Session, actor: Actor, portal_id: int) -> None:
    """Switch single sign-on off."""
    with transaction(session):
        portal = _portal(session, portal_id)
        if not portal.sso_secret:
            return
        portal.sso_secret = None
        _record(session, actor, "portal", portal, "disable_sso", {"sso_secret": [True, False]})
        events.emit(session, SSO_ROTATED, {"id": portal.id, "enabled": False})


# --- invites ------------------------------------------------------------------------------------


def invite(session: Session, actor: Actor, portal_id: int, data: InviteIn) -> InviteOut:
    """Let one e-mail address into a private portal (idempotent)."""
    email = str(data.email).strip().lower()
    with transaction(session):
        portal = _portal(session, portal_id)
        found = session.scalar(
            select(PortalInvite).where(PortalInvite.portal_id == portal_id, PortalInvite.email == email)
        )
        if found is None:
            found = PortalInvite(portal_id=portal_id, email=email, invited_by_id=actor.user_id)
            session.add(found)
            session.flush()
            _record(session, actor, "portal", portal, "invite", {"invited": [None, email]})
        return InviteOut.model_validate(found)


def remove_invite(session: Session, actor: Actor, portal_id: int, invite_id: int) -> None:
    with transaction(session):
        portal = _portal(session, portal_id)
        found = session.get(PortalInvite, invite_id)
        if found is None or found.portal_id != portal_id:
            raise NotFound("invite", invite_id)
        email = found.email
        session.delete(found)
        _record(session, actor, "portal", portal, "uninvite", {"invited": [email, None]})


# --- boards -------------------------------------------------------------------------------------


def create_board(session: Session, actor: Actor, portal_id: int, data: BoardIn) -> BoardOut:
    values = data.model_dump()
    with transaction(session):
        portal = _portal(session, portal_id)
        _check_board(session, portal.id, values, None)
        board = Board(portal_id=portal.id, **values)
        session.add(board)
        session.flush()
        _record(session, actor, "portal_board", board, "create", audit.diff({}, audit.snapshot(board, BOARD_AUDIT)))
        events.emit(session, BOARD_CREATED, {"id": board.id, "portal_id": portal.id, "slug": board.slug})
        board_id = board.id
    return get_board(session, board_id)


def update_board(session: Session, actor: Actor, board_id: int, data: BoardUpdate) -> BoardOut:
    changes = data.model_dump(exclude_unset=True)
    for key in ("slug", "name", "require_approval", "position", "archived"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(key, "cannot be empty")
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    with transaction(session):
        board = _board(session, board_id)
        before = audit.snapshot(board, BOARD_AUDIT)
        _check_board(session, board.portal_id, changes, board_id)
        for key, value in changes.items():
            setattr(board, key, value)
        session.flush()
        diff = audit.diff(before, audit.snapshot(board, BOARD_AUDIT))
        if diff:
            _record(session, actor, "portal_board", board, "update", diff)
            events.emit(session, BOARD_UPDATED, {"id": board.id, "portal_id": board.portal_id, "changes": sorted(diff)})
    return get_board(session, board_id)


def delete_board(session: Session, actor: Actor, board_id: int) -> None:
    """Delete a board without ideas (archive one that has them)."""
    with transaction(session):
        board = _board(session, board_id)
        ideas = session.scalar(select(func.count(Idea.id)).where(Idea.board_id == board_id))
        if ideas:
            raise Conflict(None, f"“{board.name}” has {ideas} idea(s); archive it instead.")
        before = audit.snapshot(board, BOARD_AUDIT)
        session.delete(board)
        audit.record(
            session,
            actor,
            entity_type="portal_board",
            entity_id=board_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=before["name"],
        )
        events.emit(session, BOARD_DELETED, {"id": board_id, "portal_id": board.portal_id})


__all__ = [
    "BOARD_CREATED",
    "BOARD_DELETED",
    "BOARD_UPDATED",
    "PORTAL_CREATED",
    "PORTAL_DELETED",
    "PORTAL_UPDATED",
    "SSO_ROTATED",
    "create_board",
    "create_portal",
    "delete_board",
    "delete_portal",
    "example_claims",
    "get_board",
    "get_portal",
    "invite",
    "list_boards",
    "list_invites",
    "list_portals",
    "portal_out",
    "remove_invite",
    "remove_sso_secret",
    "rotate_sso_secret",
    "sso_details",
    "sso_url",
    "update_board",
    "update_portal",
]
