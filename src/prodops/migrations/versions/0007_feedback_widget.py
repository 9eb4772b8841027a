"""feedback widget: default tags and the e-mail requirement of a widget site

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows that already exist; the model supplies the values for new rows.
    with op.batch_alter_table("feedback_widget_sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_tags", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("require_email", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("feedback_widget_sites", schema=None) as batch_op:
        batch_op.drop_column("require_email")
        batch_op.drop_column("default_tags")
