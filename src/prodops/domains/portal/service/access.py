"""Who may see which portal and board, and the route helper that resolves the portal and its signed-in user.

- ``public`` portals: anyone reads; signing in is needed to take part.
- ``private`` portals: only people whose e-mail domain is allowed or who were invited; everyone else sees only the
  sign-in page.
- ``segment`` portals, and boards with a ``segment_id``: only people whose customers-domain person is in that
  segment (evaluated by the customers service). A board someone may not see answers 404, exactly like a board that
  does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.portal.models import Board, Portal, PortalInvite, PortalUser
from prodops.domains.portal.service import identity
from prodops.platform.errors import NotFound

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PRIMARY = "#4f46e5"
DEFAULT_BACKGROUND = "#ffffff"


# --- colours and the logo, made safe for the page ------------------------------------------------


def safe_color(value: str | None, default: str) -> str:
    """A ``#rrggbb`` colour, or ``default`` for anything else (it goes into a style sheet)."""
    return value.lower() if value and _HEX.match(value) else default


def _luminance(color: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(color: str) -> str:
    """Black or white, whichever reads better on ``color``."""
    return "#000000" if contrast(color, "#000000") >= contrast(color, "#ffffff") else "#ffffff"


def safe_logo(url: str | None) -> str:
    """An ``https://``, ``http://`` or site-relative logo address, or empty."""
    text = (url or "").strip()
    if text.startswith(("https://", "http://")) or (text.startswith("/") and not text.startswith("//")):
        return text if not any(c in text for c in "\"'<> \\") else ""
    return ""


@dataclass(frozen=True)
class PortalView:
    """What a public page shows of a portal: its name, intro, logo and colours (validated), nothing internal."""

    id: int
    slug: str
    name: str
    intro: str
    logo_url: str
    visibility: str
    allow_anonymous: bool
    sso_enabled: bool
    primary: str
    on_primary: str
    link: str
    background: str
    text: str
    muted: str
    dark: bool

    @property
    def home(self) -> str:
        return f"/p/{self.slug}"

    @classmethod
    def of(cls, portal: Portal) -> PortalView:
        primary = safe_color(portal.primary_color, DEFAULT_PRIMARY)
        background = safe_color(portal.background_color, DEFAULT_BACKGROUND)
        text = readable_on(background)
        dark = text == "#ffffff"
        return cls(
            id=portal.id,
            slug=portal.slug,
            name=portal.name,
            intro=portal.intro,
            logo_url=safe_logo(portal.logo_url),
            visibility=portal.visibility,
            allow_anonymous=portal.allow_anonymous,
            sso_enabled=bool(portal.sso_secret),
            primary=primary,
            on_primary=readable_on(primary),
            # Links in the portal colour only where they stay readable on the background (WCAG AA, 4.5:1).
            link=primary if contrast(primary, background) >= 4.5 else text,
            background=background,
            text=text,
            muted="#d1d5db" if dark else "#4b5563",
            dark=dark,
        )


@dataclass(frozen=True)
class Visitor:
    """The signed-in portal user as pages see them."""

    id: int
    email: str
    name: str
    person_id: int | None

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @classmethod
    def of(cls, user: PortalUser) -> Visitor:
        return cls(id=user.id, email=user.email or "", name=user.name, person_id=user.person_id)


# --- visibility ----------------------------------------------------------------------------------


def in_segment(session: Session, segment_id: int | None, person_id: int | None) -> bool:
    """Whether the person is in the customers segment (nobody is in a missing one)."""
    if segment_id is None or person_id is None:
        return False
    try:
        members = customers.segment_person_ids(session, segment_id)
    except NotFound:  # a deleted segment admits nobody
        return False
    return bool(session.scalar(select(literal(True)).where(literal(person_id).in_(members))))


def email_allowed(session: Session, portal: Portal, email: str) -> bool:
    """Whether an e-mail address may use a private portal: its domain is allowed, or it was invited."""
    email = email.lower()
    domain = email.rpartition("@")[2]
    allowed = {str(d).strip().lower().lstrip("@") for d in (portal.allowed_domains or [])}
    if domain in allowed:
        return True
    invited = select(PortalInvite.id).where(PortalInvite.portal_id == portal.id, PortalInvite.email == email)
    return session.scalar(invited) is not None


def may_view_portal(session: Session, portal: Portal, user: PortalUser | None) -> bool:
    if portal.visibility == "public":
        return True
    if user is None or not user.email:
        return False
    if portal.visibility == "private":
        return email_allowed(session, portal, user.email)
    return in_segment(session, portal.segment_id, user.person_id)


def may_join(session: Session, portal: Portal, email: str) -> bool:
    """Whether an address that is not signed in yet would see the portal once signed in (magic links are sent
    only to them)."""
    if portal.visibility == "public":
        return True
    if portal.visibility == "private":
        return email_allowed(session, portal, email)
    person = customers.person_by_email(session, email)
    return person is not None and in_segment(session, portal.segment_id, person.id)


@dataclass
class PortalContext:
    """A request's portal, its signed-in user (if any) and what they may see."""

    portal: Portal
    view: PortalView
    user: PortalUser | None
    can_view: bool
    _segments: dict[int, bool] = field(default_factory=dict)

    @property
    def visitor(self) -> Visitor | None:
        return Visitor.of(self.user) if self.user is not None else None

    def sees_segment(self, session: Session, segment_id: int | None) -> bool:
        if segment_id is None:
            return True
        if segment_id not in self._segments:
            person_id = self.user.person_id if self.user is not None else None
            self._segments[segment_id] = in_segment(session, segment_id, person_id)
        return self._segments[segment_id]

    def boards(self, session: Session) -> list[Board]:
        """The boards this visitor may see, in the portal's order."""
        if not self.can_view:
            return []
        rows = session.scalars(
            select(Board)
            .where(Board.portal_id == self.portal.id, Board.archived.is_(False))
            .order_by(Board.position, Board.name, Board.id)
        )
        return [b for b in rows if self.sees_segment(session, b.segment_id)]

    def board(self, session: Session, slug: str) -> Board:
        """A board this visitor may see, or NotFound (the same answer as for a board that does not exist)."""
        board = session.scalar(select(Board).where(Board.portal_id == self.portal.id, Board.slug == slug))
        if board is None or board.archived or not self.can_view or not self.sees_segment(session, board.segment_id):
            raise NotFound("board", slug)
        return board

    def board_by_id(self, session: Session, board_id: int) -> Board:
        board = session.get(Board, board_id)
        if (
            board is None
            or board.portal_id != self.portal.id
            or board.archived
            or not self.can_view
            or not self.sees_segment(session, board.segment_id)
        ):
            raise NotFound("board", board_id)
        return board


def get_portal(session: Session, slug: str) -> Portal:
    """An enabled portal by its slug, or NotFound."""
    portal = session.scalar(select(Portal).where(Portal.slug == slug))
    if portal is None or not portal.enabled:
        raise NotFound("portal", slug)
    return portal


def context_for(session: Session, portal: Portal, user: PortalUser | None) -> PortalContext:
    return PortalContext(portal, PortalView.of(portal), user, may_view_portal(session, portal, user))


def portal_context(request: Request, session: Session, slug: str) -> PortalContext:
    """The route helper: the portal at ``/p/<slug>`` and the portal user signed in by the portal cookie (never the
    staff session). Routes check ``can_view`` and show the sign-in page when it is False."""
    portal = get_portal(session, slug)
    user = identity.user_for_cookie(session, request.cookies.get(identity.COOKIE))
    return context_for(session, portal, user)
