"""feedback inbox indexes: filter, then walk in date order

The inbox shows the newest items first under a filter (source, product, account). A composite
(filter column, received_at) index lets the database read the first page in order instead of sorting every
match; it also serves the plain filter, so the single-column indexes it replaces go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COMPOSITES = {
    "ix_feedback_items_source_received": ("source", "ix_feedback_items_source"),
    "ix_feedback_items_product_received": ("product_id", "ix_feedback_items_product_id"),
    "ix_feedback_items_account_received": ("account_id", "ix_feedback_items_account_id"),
}


def upgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        for name, (column, single) in _COMPOSITES.items():
            batch_op.create_index(name, [column, "received_at"], unique=False)
            batch_op.drop_index(single)


def downgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        for name, (column, single) in _COMPOSITES.items():
            batch_op.create_index(single, [column], unique=False)
            batch_op.drop_index(name)
