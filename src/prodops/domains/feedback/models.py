"""Feedback tables: items, their tags, links (highlights) to features, saved views, widget sites and the
close-the-loop send log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prodops.platform.db import Base, TimestampMixin, utcnow
from prodops.platform.identity.models import User

SOURCES = (
    "api",
    "import",
    "email",
    "widget",
    "portal",
    "survey",
    "support_ticket",
    "sales_call",
    "interview",
    "app_review",
)
SOURCE_LABELS = {
    "api": "API",
    "import": "Import",
    "email": "E-mail",
    "widget": "Widget",
    "portal": "Portal",
    "survey": "Survey",
    "support_ticket": "Support ticket",
    "sales_call": "Sales call",
    "interview": "Interview",
    "app_review": "App review",
}
IMPORTANCE = ("not", "nice", "important", "critical")
IMPORTANCE_LABELS = {"not": "Not important", "nice": "Nice to have", "important": "Important", "critical": "Critical"}
#: Weight of a link in the importance-weighted demand score.
IMPORTANCE_WEIGHTS = {"not": 0.0, "nice": 1.0, "important": 2.0, "critical": 4.0}
STATUSES = ("new", "triaged", "linked", "archived")

_in = ", ".join


class FeedbackItem(TimestampMixin, Base):
    """One piece of customer feedback, whatever channel it came from."""

    __tablename__ = "feedback_items"
    __table_args__ = (
        # Re-ingesting the same (source, external id) updates the item; NULL external ids never collide.
        UniqueConstraint("source", "external_id", name="uq_feedback_items_source_external_id"),
        CheckConstraint(f"source IN ({_in(repr(s) for s in SOURCES)})", name="source_known"),
        CheckConstraint(f"status IN ({_in(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint(
            f"importance IS NULL OR importance IN ({_in(repr(s) for s in IMPORTANCE)})", name="importance_known"
        ),
        # The inbox lists newest first under a filter: each index serves "filter, then walk in date order" for
        # the filters users pick most, so a page never sorts the whole match.
        Index("ix_feedback_items_status_received", "status", "received_at"),
        Index("ix_feedback_items_received_id", "received_at", "id"),
        Index("ix_feedback_items_source_received", "source", "received_at"),
        Index("ix_feedback_items_product_received", "product_id", "received_at"),
        Index("ix_feedback_items_account_received", "account_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    """A subject line when the channel has one (e-mail, ticket); may be empty."""
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="api")
    source_url: Mapped[str | None] = mapped_column(String(2000))
    external_id: Mapped[str | None] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_accounts.id", ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    area: Mapped[str | None] = mapped_column(String(80), index=True)
    importance: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(12), default="new", index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    """Internal notes (Markdown): never shown outside the team."""
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Channel extras kept as received: a review's rating, a survey score, the e-mail's Message-ID."""

    assignee: Mapped[User | None] = relationship()
    tag_rows: Mapped[list[FeedbackTag]] = relationship(
        cascade="all, delete-orphan", order_by="FeedbackTag.tag", lazy="selectin"
    )
    links: Mapped[list[FeedbackLink]] = relationship(
        cascade="all, delete-orphan", order_by="FeedbackLink.id", lazy="selectin"
    )

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]


class FeedbackTag(Base):
    """A tag on an item (one row per tag, so filtering by tag stays indexed on every database)."""

    __tablename__ = "feedback_tags"

    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class FeedbackLink(Base):
    """Evidence: an item (or a highlighted passage of it) linked to a feature, with how much it matters."""

    __tablename__ = "feedback_links"
    __table_args__ = (
        UniqueConstraint("item_id", "feature_id", name="uq_feedback_links_item_feature"),
        CheckConstraint(f"importance IN ({_in(repr(s) for s in IMPORTANCE)})", name="importance_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    highlight: Mapped[str] = mapped_column(Text, default="")
    """The passage the user selected ('' for the whole item)."""
    highlight_start: Mapped[int | None] = mapped_column(Integer)
    highlight_end: Mapped[int | None] = mapped_column(Integer)
    importance: Mapped[str] = mapped_column(String(12), default="nice")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class SavedView(TimestampMixin, Base):
    """A named inbox filter (the query string of the inbox), private to its owner or shared."""

    __tablename__ = "feedback_views"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_feedback_views_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class WidgetSite(TimestampMixin, Base):
    """A customer-facing site that embeds the feedback widget; its public key and allowed origins."""

    __tablename__ = "feedback_widget_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    site_key: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_origins: Mapped[list[Any]] = mapped_column(default=list)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_tags: Mapped[list[Any]] = mapped_column(default=list)
    """Tags every item captured on this site gets."""
    require_email: Mapped[bool] = mapped_column(Boolean, default=False)
    """Refuse feedback sent without an e-mail address."""


class LoopNotice(Base):
    """The close-the-loop send log: one row per person told (or skipped) about a feature's status."""

    __tablename__ = "feedback_loop_notices"
    __table_args__ = (
        UniqueConstraint("feature_id", "status", "person_id", name="uq_feedback_loop_notices_once"),
        CheckConstraint("outcome IN ('queued', 'sent', 'unsubscribed', 'failed')", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(14), default="queued")
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
