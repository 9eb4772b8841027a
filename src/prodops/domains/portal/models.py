"""Portal tables: portals and boards, portal users (separate from staff), ideas (the public face of features),
votes, comments, follows, sign-in tokens and the changelog."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prodops.platform.db import Base, TimestampMixin, utcnow

VISIBILITIES = ("public", "private", "segment")
IDEA_STATES = ("pending", "published", "rejected", "merged", "deleted")
COMMENT_STATES = ("pending", "published", "deleted")
TOKEN_PURPOSES = ("login", "verify_post")

_in = ", ".join


class Portal(TimestampMixin, Base):
    """One customer-facing portal at ``/p/<slug>`` with its own name, logo, colours and audience.

    ``visibility``: ``public`` (anyone may read; signing in is needed to take part), ``private`` (only people
    whose e-mail domain is in ``allowed_domains`` or who were invited), ``segment`` (only people whose account
    is in the customers segment ``segment_id``).
    """

    __tablename__ = "portals"
    __table_args__ = (
        CheckConstraint(f"visibility IN ({_in(repr(v) for v in VISIBILITIES)})", name="visibility_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    intro: Mapped[str] = mapped_column(Text, default="")
    """Markdown shown at the top of the portal; rendered sanitised."""
    logo_url: Mapped[str] = mapped_column(String(2000), default="")
    primary_color: Mapped[str] = mapped_column(String(7), default="#4f46e5")
    background_color: Mapped[str] = mapped_column(String(7), default="#ffffff")
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    allowed_domains: Mapped[list[Any]] = mapped_column(default=list)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("customer_segments.id", ondelete="SET NULL"))
    sso_secret: Mapped[str | None] = mapped_column(String(128))
    """Shared secret (HS256) that verifies single-sign-on JWTs handed over from the customer's product."""
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    """Let people post without an account: the post waits until they confirm their e-mail."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class PortalInvite(Base):
    """A person invited to a private portal."""

    __tablename__ = "portal_invites"
    __table_args__ = (UniqueConstraint("portal_id", "email", name="uq_portal_invites_portal_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Board(TimestampMixin, Base):
    """A board of ideas inside a portal; ``segment_id`` restricts it to one customer segment."""

    __tablename__ = "portal_boards"
    __table_args__ = (UniqueConstraint("portal_id", "slug", name="uq_portal_boards_portal_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    """New ideas on this board become features of this product."""
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("customer_segments.id", ondelete="SET NULL"))
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    """New ideas and comments wait in the moderation queue until staff approve them."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    portal: Mapped[Portal] = relationship()


class PortalUser(Base):
    """A customer who signs in to portals (never a staff user). One row per e-mail for the whole workspace.

    Deleting the account anonymises the row (e-mail and name cleared, ``deleted_at`` set) and keeps it, so
    votes and comments stay counted.
    """

    __tablename__ = "portal_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"), index=True)
    """The customers-domain person this user is; votes are weighted by that person's account ARR."""
    email_verified_at: Mapped[dt.datetime | None] = mapped_column()
    blocked_at: Mapped[dt.datetime | None] = mapped_column()
    blocked_reason: Mapped[str] = mapped_column(String(500), default="")
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped to sign the user out everywhere (blocking, deletion)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column()


class PortalToken(Base):
    """A single-use e-mailed token: a magic sign-in link, or the confirmation of an anonymous post."""

    __tablename__ = "portal_tokens"
    __table_args__ = (CheckConstraint(f"purpose IN ({_in(repr(v) for v in TOKEN_PURPOSES)})", name="purpose_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(12), default="login")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """For ``verify_post``: what to publish once the e-mail is confirmed; for ``login``: where to return."""
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Idea(Base):
    """An idea on a board: the public face of a feature (``feature_id``), whose status it shows."""

    __tablename__ = "portal_ideas"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(repr(v) for v in IDEA_STATES)})", name="state_known"),
        Index("ix_portal_ideas_board_state_votes", "board_id", "state", "vote_count"),
        Index("ix_portal_ideas_board_state_created", "board_id", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("portal_boards.id", ondelete="CASCADE"))
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    """Markdown; rendered sanitised."""
    author_id: Mapped[int | None] = mapped_column(ForeignKey("portal_users.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """Staff member who posted it on a customer's behalf (or posted it themselves)."""
    state: Mapped[str] = mapped_column(String(12), default="published")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("portal_ideas.id", ondelete="SET NULL"))
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    """Kept in step with ``portal_votes`` by the service (boards sort by it)."""
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    """Published, non-internal comments."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    board: Mapped[Board] = relationship()


class Vote(Base):
    """One person's vote on an idea; ``cast_by_id`` is the staff member who voted on their behalf."""

    __tablename__ = "portal_votes"
    __table_args__ = (UniqueConstraint("idea_id", "user_id", name="uq_portal_votes_idea_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("portal_ideas.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_users.id", ondelete="CASCADE"), index=True)
    cast_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """A threaded Markdown comment. Staff comments may be ``official`` (marked as the team's answer) or
    ``internal`` (never shown on the portal)."""

    __tablename__ = "portal_comments"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(repr(v) for v in COMMENT_STATES)})", name="state_known"),
        CheckConstraint("author_id IS NULL OR staff_author_id IS NULL", name="one_author"),
        Index("ix_portal_comments_idea_created", "idea_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("portal_ideas.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("portal_comments.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("portal_users.id", ondelete="SET NULL"), index=True)
    staff_author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12), default="published")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column()


class Follow(Base):
    """A portal user following an idea: they hear about status changes, official replies and the launch."""

    __tablename__ = "portal_follows"
    __table_args__ = (UniqueConstraint("idea_id", "user_id", name="uq_portal_follows_idea_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("portal_ideas.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChangelogEntry(TimestampMixin, Base):
    """A changelog post of a portal, linked to the shipped ideas it announces."""

    __tablename__ = "portal_changelog_entries"
    __table_args__ = (Index("ix_portal_changelog_portal_published", "portal_id", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    """Markdown; rendered sanitised."""
    published_at: Mapped[dt.datetime | None] = mapped_column()
    """NULL while a draft; publishing e-mails the voters and followers of the linked ideas."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ChangelogIdea(Base):
    __tablename__ = "portal_changelog_ideas"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("portal_changelog_entries.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("portal_ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )
