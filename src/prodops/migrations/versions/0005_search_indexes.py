"""trigram search indexes on PostgreSQL

Case-insensitive "contains" search (ILIKE '%text%') cannot use a B-tree index; on PostgreSQL a GIN trigram
index (pg_trgm) answers it without scanning the table. SQLite keeps its plain scan (fast enough there, and it
has no equivalent). The indexes are not declared on the models: migrations/env.py leaves names ending in
``_trgm`` out of autogenerate and ``alembic check``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:20:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

TRIGRAM_INDEXES = {
    "ix_customer_accounts_name_trgm": ("customer_accounts", "name"),
    "ix_customer_accounts_domain_trgm": ("customer_accounts", "domain"),
    "ix_customer_accounts_external_id_trgm": ("customer_accounts", "external_id"),
    "ix_customer_people_name_trgm": ("customer_people", "name"),
    "ix_customer_people_email_trgm": ("customer_people", "email"),
    "ix_feedback_items_title_trgm": ("feedback_items", "title"),
    "ix_feedback_items_text_trgm": ("feedback_items", "text"),
    "ix_features_title_trgm": ("features", "title"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        log.warning("pg_trgm is not installed on this PostgreSQL server: text search will scan tables")
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
