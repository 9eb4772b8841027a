"""product analytics (event sources and write keys, metrics, insights, dashboards)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import prodops.platform.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- event sources ---
    op.create_table(
        "analytics_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("write_key", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_event_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("events_received", sa.BigInteger(), nullable=False),
        sa.Column("requests_received", sa.BigInteger(), nullable=False),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('segment', 'posthog', 'any')", name=op.f("ck_analytics_sources_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_analytics_sources_name")),
        sa.UniqueConstraint("write_key", name=op.f("uq_analytics_sources_write_key")),
    )
    # --- end of event sources ---
    # --- insights, metrics and dashboards ---
    op.create_table(
        "analytics_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "format IN ('number', 'percent', 'currency', 'duration')", name=op.f("ck_analytics_metrics_format_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_metrics")),
        sa.UniqueConstraint("key", name=op.f("uq_analytics_metrics_key")),
    )
    op.create_table(
        "analytics_dashboards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("date_from", sa.String(length=20), nullable=False),
        sa.Column("date_to", sa.String(length=20), nullable=True),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("refresh_seconds", sa.Integer(), nullable=False),
        sa.Column("share_nonce", sa.String(length=40), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_analytics_dashboards_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_dashboards")),
    )
    op.create_index(op.f("ix_analytics_dashboards_name"), "analytics_dashboards", ["name"], unique=False)
    op.create_table(
        "analytics_insights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_analytics_insights_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_insights")),
    )
    op.create_index(op.f("ix_analytics_insights_name"), "analytics_insights", ["name"], unique=False)
    op.create_table(
        "analytics_dashboard_tiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("insight_id", sa.Integer(), nullable=True),
        sa.Column("metric_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(insight_id IS NULL) <> (metric_id IS NULL)", name=op.f("ck_analytics_dashboard_tiles_one_source")
        ),
        sa.CheckConstraint("width IN (1, 2)", name=op.f("ck_analytics_dashboard_tiles_width_known")),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["analytics_dashboards.id"],
            name=op.f("fk_analytics_dashboard_tiles_dashboard_id_analytics_dashboards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["insight_id"],
            ["analytics_insights.id"],
            name=op.f("fk_analytics_dashboard_tiles_insight_id_analytics_insights"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["analytics_metrics.id"],
            name=op.f("fk_analytics_dashboard_tiles_metric_id_analytics_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_dashboard_tiles")),
    )
    for column in ("dashboard_id", "insight_id", "metric_id"):
        op.create_index(
            op.f(f"ix_analytics_dashboard_tiles_{column}"), "analytics_dashboard_tiles", [column], unique=False
        )
    # --- end of insights, metrics and dashboards ---


def downgrade() -> None:
    # --- insights, metrics and dashboards ---
    op.drop_table("analytics_dashboard_tiles")
    op.drop_table("analytics_insights")
    op.drop_table("analytics_dashboards")
    op.drop_table("analytics_metrics")
    # --- end of insights, metrics and dashboards ---
    # --- event sources ---
    op.drop_table("analytics_sources")
    # --- end of event sources ---
