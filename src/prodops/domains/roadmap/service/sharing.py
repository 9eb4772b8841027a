"""Share links: read-only addresses of one roadmap view for stakeholders without an account.

The token in a link is an HMAC (SHA-256, keyed with ``PRODOPS_SECRET_KEY``) of the link's id and creation time,
so an admin can copy the link again at any time while the database keeps only the token's SHA-256 digest. A
link is revoked by setting ``revoked_at`` (and stops working everywhere at once); changing the secret key
invalidates every link. The link's stored ``view`` decides everything the public page shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import Goal, ShareLink
from prodops.domains.roadmap.schemas.roadmap import RoadmapView, ShareIn, ShareOut
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.identity import security
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team

SHARE_CREATED = events.declare("roadmap.share.created", "A read-only roadmap share link was created: id, name.")
SHARE_REVOKED = events.declare("roadmap.share.revoked", "A roadmap share link was revoked: id, name.")


def _token(link: ShareLink) -> str:
    key = get_settings().secret_key.encode()
    message = f"roadmap-share:{link.id}:{link.created_at.isoformat()}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


_digest = security.token_digest  # the kernel's digest of opaque tokens


def link_path(link: ShareLink) -> str:
    return f"/r/{_token(link)}"


def _out(link: ShareLink, names: dict[int, str]) -> ShareOut:
    return ShareOut(
        id=link.id,
        name=link.name,
        view=RoadmapView.model_validate(link.view or {}),
        url=get_settings().base_url.rstrip("/") + link_path(link),
        created_at=link.created_at,
        created_by=names.get(link.created_by_id) if link.created_by_id else None,
        revoked_at=link.revoked_at,
        last_used_at=link.last_used_at,
    )


def list_links(session: Session) -> list[ShareOut]:
    links = list(session.scalars(select(ShareLink).order_by(ShareLink.revoked_at.is_not(None), ShareLink.id.desc())))
    ids = {lk.created_by_id for lk in links if lk.created_by_id}
    names = {u.id: u.name or u.email for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [_out(lk, names) for lk in links]


def _check(session: Session, view: RoadmapView) -> None:
    problems: list[tuple[str | None, str]] = []
    if view.product_id is not None and session.get(Product, view.product_id) is None:
        problems.append(("view.product_id", f"there is no product {view.product_id}"))
    if view.team_id is not None and session.get(Team, view.team_id) is None:
        problems.append(("view.team_id", f"there is no team {view.team_id}"))
    if view.goal_id is not None and session.get(Goal, view.goal_id) is None:
        problems.append(("view.goal_id", f"there is no goal {view.goal_id}"))
    if problems:
        (field, message), *more = problems
        raise ValidationFailed(field, message, more=more)


def create_link(session: Session, actor: Actor, data: ShareIn) -> ShareOut:
    """A new share link for ``data.view``; its URL is in the answer (and can be read again from the list)."""
    with transaction(session):
        _check(session, data.view)
        link = ShareLink(
            name=data.name,
            view=data.view.model_dump(mode="json"),
            created_by_id=actor.user_id,
            created_at=utcnow(),
            token_hash=secrets.token_hex(32),  # replaced below, once the id is known
        )
        session.add(link)
        session.flush()
        link.token_hash = _digest(_token(link))
        audit.record(
            session,
            actor,
            entity_type="share_link",
            entity_id=link.id,
            action="create",
            changes={"name": [None, link.name], "view": [None, link.view]},
            entity_label=link.name,
        )
        events.emit(session, SHARE_CREATED, {"id": link.id, "name": link.name})
        link_id = link.id
    found = session.get(ShareLink, link_id)
    assert found is not None
    return _out(found, {})


def revoke_link(session: Session, actor: Actor, link_id: int) -> ShareOut:
    """Stop a link from working (idempotent)."""
    with transaction(session):
        link = session.get(ShareLink, link_id)
        if link is None:
            raise NotFound("share link", link_id)
        if link.revoked_at is None:
            link.revoked_at = utcnow()
            audit.record(
                session,
                actor,
                entity_type="share_link",
                entity_id=link.id,
                action="revoke",
                changes={"revoked_at": [None, link.revoked_at.isoformat()]},
                entity_label=link.name,
            )
            events.emit(session, SHARE_REVOKED, {"id": link.id, "name": link.name})
    found = session.get(ShareLink, link_id)
    assert found is not None
    return _out(found, {})


def open_link(session: Session, token: str) -> tuple[str, RoadmapView] | None:
    """The (name, view) of a live link, noting when it was last used; None for an unknown or revoked token."""
    if not token or len(token) > 100:
        return None
    with transaction(session):
        link = session.scalar(select(ShareLink).where(ShareLink.token_hash == _digest(token)))
        if link is None or link.revoked_at is not None:
            return None
        # The digest matched; compare the recomputed token too, so a link signed with an old key stops working.
        if not hmac.compare_digest(_token(link), token):
            return None
        now = utcnow()
        if link.last_used_at is None or (now - link.last_used_at).total_seconds() > 60:
            link.last_used_at = now
        name, view = link.name, RoadmapView.model_validate(link.view or {})
    return name, view
