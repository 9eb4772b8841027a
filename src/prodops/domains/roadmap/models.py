"""Roadmap tables: goals and key results with check-ins, initiatives, feature plans (effort, timing, initiative),
scorecards and scores, and read-only share links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prodops.platform.db import Base, TimestampMixin, utcnow

LEVELS = ("company", "product", "team")
GOAL_STATUSES = ("active", "achieved", "missed", "archived")
CONFIDENCES = ("on_track", "at_risk", "off_track")
KR_SOURCES = ("manual", "metric")
INITIATIVE_STATUSES = ("proposed", "active", "done", "cancelled")
BUCKETS = ("now", "next", "later")
EFFORT_UNITS = ("points", "person_weeks")
SCORECARD_KINDS = ("rice", "wsjf", "value_effort", "custom")

_in = ", ".join


def _check(column: str, values: tuple[str, ...], name: str, nullable: bool = False) -> CheckConstraint:
    clause = f"{column} IN ({_in(repr(v) for v in values)})"
    return CheckConstraint(f"{column} IS NULL OR {clause}" if nullable else clause, name=name)


class Goal(TimestampMixin, Base):
    """A goal (objective) at company, product or team level; ``parent_id`` builds the tree progress rolls up
    along, each child counting with its ``weight``."""

    __tablename__ = "roadmap_goals"
    __table_args__ = (_check("level", LEVELS, "level_known"), _check("status", GOAL_STATUSES, "status_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(10), default="company")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("roadmap_goals.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    """How much this goal counts in its parent's progress."""


class KeyResult(TimestampMixin, Base):
    """A measurable result of a goal. ``source`` ``metric``: the current value comes live from the analytics
    metric ``metric_key``; ``manual``: from weekly check-ins."""

    __tablename__ = "roadmap_key_results"
    __table_args__ = (
        _check("source", KR_SOURCES, "source_known"),
        _check("confidence", CONFIDENCES, "confidence_known", nullable=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("roadmap_goals.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(30), default="")
    start_value: Mapped[float] = mapped_column(Float, default=0.0)
    target_value: Mapped[float] = mapped_column(Float)
    current_value: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(10), default="manual")
    metric_key: Mapped[str | None] = mapped_column(String(80))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    confidence: Mapped[str | None] = mapped_column(String(10))
    """Latest check-in confidence: on_track, at_risk or off_track."""
    last_checkin_at: Mapped[dt.datetime | None] = mapped_column()


class CheckIn(Base):
    """A value of a key result at a point in time: a person's weekly check-in (with confidence and narrative)
    or a snapshot of a live metric (``author_id`` NULL, ``source`` metric). The history chart reads these."""

    __tablename__ = "roadmap_checkins"
    __table_args__ = (
        _check("confidence", CONFIDENCES, "confidence_known", nullable=True),
        _check("source", KR_SOURCES, "source_known"),
        Index("ix_roadmap_checkins_kr_created", "key_result_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_result_id: Mapped[int] = mapped_column(ForeignKey("roadmap_key_results.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    confidence: Mapped[str | None] = mapped_column(String(10))
    narrative: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10), default="manual")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Initiative(TimestampMixin, Base):
    """A body of work that serves one or more goals; features belong to initiatives through their plans."""

    __tablename__ = "roadmap_initiatives"
    __table_args__ = (_check("status", INITIATIVE_STATUSES, "status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class InitiativeGoal(Base):
    __tablename__ = "roadmap_initiative_goals"

    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("roadmap_initiatives.id", ondelete="CASCADE"), primary_key=True
    )
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("roadmap_goals.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FeaturePlan(TimestampMixin, Base):
    """The roadmap's facts about one feature: its initiative, effort, owning team and where it sits on the
    roadmap (``bucket`` for now/next/later, ``start_date``/``end_date`` for the timeline)."""

    __tablename__ = "roadmap_feature_plans"
    __table_args__ = (
        _check("bucket", BUCKETS, "bucket_known", nullable=True),
        _check("effort_unit", EFFORT_UNITS, "effort_unit_known"),
    )

    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), primary_key=True)
    initiative_id: Mapped[int | None] = mapped_column(
        ForeignKey("roadmap_initiatives.id", ondelete="SET NULL"), index=True
    )
    effort: Mapped[float | None] = mapped_column(Float)
    effort_unit: Mapped[str] = mapped_column(String(12), default="points")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    bucket: Mapped[str | None] = mapped_column(String(5), index=True)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Scorecard(TimestampMixin, Base):
    """A prioritisation formula for a product (``product_id`` NULL: the workspace default).

    ``inputs`` lists the formula's variables: ``{"key": "reach", "label": "Reach", "source": "manual" |
    "reach_accounts" | "arr_demand" | "feedback_items" | "votes" | "effort", "default": 1.0}``; evidence sources are
    filled automatically. ``formula`` is an arithmetic expression over the keys, parsed and evaluated safely.
    """

    __tablename__ = "roadmap_scorecards"
    __table_args__ = (_check("kind", SCORECARD_KINDS, "kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(14), default="rice")
    formula: Mapped[str] = mapped_column(String(1000))
    inputs: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Score(Base):
    """A feature's hand-entered inputs for a scorecard and the score last computed from them and the evidence."""

    __tablename__ = "roadmap_scores"
    __table_args__ = (Index("ix_roadmap_scores_card_score", "scorecard_id", "score"),)

    scorecard_id: Mapped[int] = mapped_column(ForeignKey("roadmap_scorecards.id", ondelete="CASCADE"), primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), primary_key=True, index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Values entered by hand (they override evidence for that input)."""
    score: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ShareLink(Base):
    """A revocable read-only link to a roadmap view for stakeholders; ``view`` fixes what it shows
    (layout, filters, fields) so the audience never sees more than the link allows."""

    __tablename__ = "roadmap_share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    view: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
