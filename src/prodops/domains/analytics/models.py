"""Operational analytics tables (the events themselves live in the warehouse, see ``service/schema.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prodops.platform.db import Base, TimestampMixin

# --- event sources ----------------------------------------------------------------------------


class EventSource(TimestampMixin, Base):
    """Where usage events come from: one write key per tracker installation (a Segment, RudderStack or PostHog
    client). The write key is kept in clear text, as Segment does: it ships inside customers' apps and only lets
    its holder send events, so an admin can look it up again at any time."""

    __tablename__ = "analytics_sources"
    __table_args__ = (CheckConstraint("kind IN ('segment', 'posthog', 'any')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="any")
    """Which endpoints accept the key: ``segment`` (the Segment HTTP API), ``posthog`` (PostHog capture) or ``any``."""
    write_key: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_event_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    events_received: Mapped[int] = mapped_column(BigInteger, default=0)
    """Events accepted through this source (duplicates included: they were accepted, then dropped)."""
    requests_received: Mapped[int] = mapped_column(BigInteger, default=0)


# --- end of event sources ---------------------------------------------------------------------


# --- insights, metrics and dashboards -----------------------------------------------------------


class Insight(TimestampMixin, Base):
    """A saved insight: a typed query (see ``service/insights/types.py``) with a name."""

    __tablename__ = "analytics_insights"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Metric(TimestampMixin, Base):
    """A named KPI defined once (an insight query producing a single series) and reused everywhere."""

    __tablename__ = "analytics_metrics"
    __table_args__ = (CheckConstraint("format IN ('number', 'percent', 'currency', 'duration')", name="format_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    """Stable identifier other domains use (``weekly_active_accounts``)."""
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    unit: Mapped[str] = mapped_column(String(40), default="")
    format: Mapped[str] = mapped_column(String(20), default="number")


class Dashboard(TimestampMixin, Base):
    """A grid of tiles with one date range and segment filter for all of them."""

    __tablename__ = "analytics_dashboards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    date_from: Mapped[str] = mapped_column(String(20), default="-30d")
    date_to: Mapped[str | None] = mapped_column(String(20), default=None)
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Account filters applied to every tile: ``{"plan": "Pro", "segment": ..., "region": ...}``."""
    refresh_seconds: Mapped[int] = mapped_column(Integer, default=0)
    """Auto-refresh of the open page (0: off)."""
    share_nonce: Mapped[str | None] = mapped_column(String(40), default=None)
    """Part of the signed share link; NULL means not shared, a new value revokes every earlier link."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DashboardTile(Base):
    """One chart on a dashboard: a saved insight or a metric."""

    __tablename__ = "analytics_dashboard_tiles"
    __table_args__ = (
        CheckConstraint("(insight_id IS NULL) <> (metric_id IS NULL)", name="one_source"),
        CheckConstraint("width IN (1, 2)", name="width_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(ForeignKey("analytics_dashboards.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    insight_id: Mapped[int | None] = mapped_column(
        ForeignKey("analytics_insights.id", ondelete="CASCADE"), index=True, default=None
    )
    metric_id: Mapped[int | None] = mapped_column(
        ForeignKey("analytics_metrics.id", ondelete="CASCADE"), index=True, default=None
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    width: Mapped[int] = mapped_column(Integer, default=1)


# --- end of insights, metrics and dashboards ----------------------------------------------------
