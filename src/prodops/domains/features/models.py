"""Feature tables: features (ideas), their per-product status lifecycle, votes and subscribers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prodops.platform.db import Base, TimestampMixin, utcnow
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team

#: What a status means, whatever a product calls it: drives roadmaps (now/next/later) and closing the loop.
STATUS_KINDS = ("idea", "considering", "planned", "active", "shipped", "declined")


class FeatureStatus(Base):
    """One step of a product's status lifecycle. Rows with ``product_id`` NULL are the workspace default,
    used by every product that has not defined its own."""

    __tablename__ = "feature_statuses"
    __table_args__ = (
        UniqueConstraint("product_id", "key", name="uq_feature_statuses_product_key"),
        CheckConstraint(
            "kind IN ('idea', 'considering', 'planned', 'active', 'shipped', 'declined')", name="status_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20), default="idea")
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    """Entering this status tells everyone who asked for the feature (closing the loop)."""


class Feature(TimestampMixin, Base):
    """A feature or idea. A merged feature keeps its row as a redirect to the survivor."""

    __tablename__ = "features"
    __table_args__ = (Index("ix_features_product_status", "product_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    """Markdown; rendered sanitised."""
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    area: Mapped[str | None] = mapped_column(String(80), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(40), default="idea", index=True)
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    release_note: Mapped[str] = mapped_column(Text, default="")
    """Markdown shown when the feature ships (and in the close-the-loop e-mail)."""
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("features.id", ondelete="SET NULL"), index=True)
    """Set when this feature was merged: its pages and API redirect to the survivor."""

    product: Mapped[Product | None] = relationship()
    owner: Mapped[User | None] = relationship()
    team: Mapped[Team | None] = relationship()


class FeatureVote(Base):
    """One person's vote for a feature; ``cast_by_id`` is the staff member who voted on their behalf."""

    __tablename__ = "feature_votes"
    __table_args__ = (UniqueConstraint("feature_id", "person_id", name="uq_feature_votes_feature_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("customer_people.id", ondelete="CASCADE"), index=True)
    cast_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeatureSubscriber(Base):
    """A person who follows a feature and hears about its progress."""

    __tablename__ = "feature_subscribers"
    __table_args__ = (UniqueConstraint("feature_id", "person_id", name="uq_feature_subscribers_feature_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("customer_people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
