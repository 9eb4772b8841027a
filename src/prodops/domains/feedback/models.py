"""Feedback tables: items, their tags, links (highlights) to features, saved views, widget sites and the
close-the-loop send log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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


# --- intelligence: what the offline models concluded about each item ---------------------------

#: The default feedback types (admins can add, rename and retire types; keys stay stable).
DEFAULT_TYPES = (
    ("bug", "Bug"),
    ("feature_request", "Feature request"),
    ("praise", "Praise"),
    ("experience", "Experience / usability"),
    ("question", "Question"),
    ("complaint", "Complaint"),
    ("other", "Other"),
)


class FeedbackType(Base):
    """A type feedback can have (bug, feature request...): the classifier's label set."""

    __tablename__ = "feedback_types"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FeedbackInsight(Base):
    """One item's analysis: type (from the model or a person), sentiment, theme and embedding.

    Written by the analysis job, never by a page; ``model_version`` says which models produced it, so a model
    change re-analyses exactly the rows it made stale."""

    __tablename__ = "feedback_insights"
    __table_args__ = (
        CheckConstraint("kind_source IN ('model', 'user')", name="kind_source_known"),
        CheckConstraint("sentiment IS NULL OR (sentiment >= -1 AND sentiment <= 1)", name="sentiment_range"),
        Index("ix_feedback_insights_kind", "kind"),
        Index("ix_feedback_insights_sentiment", "sentiment"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(40))
    kind_confidence: Mapped[float | None] = mapped_column(Float)
    kind_source: Mapped[str] = mapped_column(String(10), default="model")
    """``user`` once a person corrected the type: the model never overwrites it, and it becomes training data."""
    sentiment: Mapped[float | None] = mapped_column(Float)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_themes.id", ondelete="SET NULL"), index=True)
    theme_score: Mapped[float | None] = mapped_column(Float)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The L2-normalised text embedding as little-endian float16."""
    model_version: Mapped[str] = mapped_column(String(120), default="")
    analysed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackTheme(TimestampMixin, Base):
    """A cluster of similar feedback with readable key phrases. People rename, merge and split themes; those
    edits survive re-clustering (a renamed theme keeps its name, a merged one stays merged)."""

    __tablename__ = "feedback_themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    """The generated label (top key phrases)."""
    custom_label: Mapped[str | None] = mapped_column(String(200))
    """A name a person gave it; shown instead of ``label`` and kept across re-clustering."""
    key_phrases: Mapped[list[Any]] = mapped_column(default=list)
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_themes.id", ondelete="SET NULL"))
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    """A person renamed, merged or split it."""
    alerted_week: Mapped[str | None] = mapped_column(String(10))
    """ISO week (e.g. 2026-W48) of the last "emerging theme" notification, so it is sent once a week at most."""


class Suggestion(Base):
    """A near-duplicate found on ingest: similar earlier feedback, or a feature the item probably asks for."""

    __tablename__ = "feedback_suggestions"
    __table_args__ = (
        UniqueConstraint("item_id", "target_type", "target_id", name="uq_feedback_suggestions_target"),
        CheckConstraint("target_type IN ('item', 'feature')", name="target_type_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True)
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeatureVector(Base):
    """A feature's embedding (title and description), for "similar ideas" and link suggestions."""

    __tablename__ = "feedback_feature_vectors"

    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model_version: Mapped[str] = mapped_column(String(120), default="")
    text_hash: Mapped[str] = mapped_column(String(64), default="")
    """Hash of the embedded text: the vector is recomputed only when the title or description changed."""


class TextModel(TimestampMixin, Base):
    """A trained classifier for a label set (the built-in feedback type model, or one a user trained on their
    own labels), with the cross-validated scores it was accepted on."""

    __tablename__ = "text_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(40), default="feedback_type")
    labels: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"macro_f1": x, "per_class": {label: {"precision", "recall", "f1", "support"}}, "folds": k}``."""
    recipe: Mapped[str] = mapped_column(String(120), default="")
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    """The fitted model, serialised by ``platform/text`` (never unpickled from user uploads)."""
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    training_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
