"""surveys and NPS (surveys, questions, waves, invitations, responses, rules)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import prodops.platform.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("intro", sa.JSON(), nullable=False),
        sa.Column("thank_you", sa.JSON(), nullable=False),
        sa.Column("throttle_days", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("public_key", sa.String(length=40), nullable=False),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('nps', 'csat', 'ces', 'custom')", name=op.f("ck_surveys_kind_known")),
        sa.CheckConstraint("status IN ('draft', 'active', 'closed')", name=op.f("ck_surveys_status_known")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_surveys_product_id_products"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_surveys_public_key")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surveys_status"), ["status"], unique=False)

    op.create_table(
        "survey_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("qtype", sa.String(length=10), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("branches", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "qtype IN ('nps', 'csat', 'ces', 'rating', 'single', 'multi', 'text')",
            name=op.f("ck_survey_questions_qtype_known"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_questions_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_questions")),
        sa.UniqueConstraint("survey_id", "key", name="uq_survey_questions_survey_key"),
    )
    with op.batch_alter_table("survey_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_questions_survey_id"), ["survey_id"], unique=False)

    op.create_table(
        "survey_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("group_name", sa.String(length=10), nullable=False),
        sa.Column("min_arr", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "group_name IN ('detractor', 'passive', 'promoter', 'any')", name=op.f("ck_survey_rules_group_known")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_survey_rules_assignee_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_rules_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_rules")),
    )
    with op.batch_alter_table("survey_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_rules_survey_id"), ["survey_id"], unique=False)

    op.create_table(
        "survey_waves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("scheduled_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminder_after_days", sa.Integer(), nullable=False),
        sa.Column("max_reminders", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sent_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'sent', 'cancelled')", name=op.f("ck_survey_waves_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_survey_waves_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["customer_segments.id"],
            name=op.f("fk_survey_waves_segment_id_customer_segments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_waves_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_waves")),
    )
    with op.batch_alter_table("survey_waves", schema=None) as batch_op:
        batch_op.create_index("ix_survey_waves_due", ["status", "scheduled_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_waves_survey_id"), ["survey_id"], unique=False)

    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("nonce", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("last_reminded_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'throttled', 'unsubscribed', 'failed')",
            name=op.f("ck_survey_invitations_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["customer_people.id"],
            name=op.f("fk_survey_invitations_person_id_customer_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_invitations_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["survey_waves.id"],
            name=op.f("fk_survey_invitations_wave_id_survey_waves"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_invitations_token_hash")),
        sa.UniqueConstraint("wave_id", "email", name="uq_survey_invitations_wave_email"),
    )
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.create_index("ix_survey_invitations_person_sent", ["person_id", "sent_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_invitations_survey_id"), ["survey_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_invitations_wave_id"), ["wave_id"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("started_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_key", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email', 'in_app', 'link', 'api', 'import')", name=op.f("ck_survey_responses_channel_known")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_accounts.id"],
            name=op.f("fk_survey_responses_account_id_customer_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["survey_invitations.id"],
            name=op.f("fk_survey_responses_invitation_id_survey_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["customer_people.id"],
            name=op.f("fk_survey_responses_person_id_customer_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_survey_responses_product_id_products"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_responses_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["survey_waves.id"], name=op.f("fk_survey_responses_wave_id_survey_waves"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_survey_responses_invitation_id")),
        sa.UniqueConstraint("survey_id", "external_id", name="uq_survey_responses_survey_external_id"),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index("ix_survey_responses_account", ["account_id", "responded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_responses_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "ix_survey_responses_results", ["survey_id", "responded_at", "account_id", "score"], unique=False
        )
        batch_op.create_index(
            "ix_survey_responses_breakdown",
            ["survey_id", "account_id", "product_id", "score", "responded_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_survey_responses_wave_id"), ["wave_id"], unique=False)

    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_survey_answers_feedback_item_id_feedback_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["survey_questions.id"],
            name=op.f("fk_survey_answers_question_id_survey_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_responses.id"],
            name=op.f("fk_survey_answers_response_id_survey_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("response_id", "question_id", name="uq_survey_answers_response_question"),
    )
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_answers_feedback_item_id"), ["feedback_item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_answers_question_id"), ["question_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_answers_response_id"), ["response_id"], unique=False)

    op.create_table(
        "survey_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("closed_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", prodops.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_survey_follow_ups_status_known")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_accounts.id"],
            name=op.f("fk_survey_follow_ups_account_id_customer_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_survey_follow_ups_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["customer_people.id"],
            name=op.f("fk_survey_follow_ups_person_id_customer_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_responses.id"],
            name=op.f("fk_survey_follow_ups_response_id_survey_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["survey_rules.id"],
            name=op.f("fk_survey_follow_ups_rule_id_survey_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_follow_ups_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_follow_ups")),
        sa.UniqueConstraint("rule_id", "response_id", name="uq_survey_follow_ups_rule_response"),
    )
    with op.batch_alter_table("survey_follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_follow_ups_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_follow_ups_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_follow_ups_response_id"), ["response_id"], unique=False)
        batch_op.create_index("ix_survey_follow_ups_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_follow_ups_survey_id"), ["survey_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("survey_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_follow_ups_survey_id"))
        batch_op.drop_index("ix_survey_follow_ups_status_created")
        batch_op.drop_index(batch_op.f("ix_survey_follow_ups_response_id"))
        batch_op.drop_index(batch_op.f("ix_survey_follow_ups_owner_id"))
        batch_op.drop_index(batch_op.f("ix_survey_follow_ups_account_id"))

    op.drop_table("survey_follow_ups")
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_answers_response_id"))
        batch_op.drop_index(batch_op.f("ix_survey_answers_question_id"))
        batch_op.drop_index(batch_op.f("ix_survey_answers_feedback_item_id"))

    op.drop_table("survey_answers")
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_wave_id"))
        batch_op.drop_index("ix_survey_responses_results")
        batch_op.drop_index("ix_survey_responses_breakdown")
        batch_op.drop_index(batch_op.f("ix_survey_responses_person_id"))
        batch_op.drop_index("ix_survey_responses_account")

    op.drop_table("survey_responses")
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_invitations_wave_id"))
        batch_op.drop_index(batch_op.f("ix_survey_invitations_survey_id"))
        batch_op.drop_index("ix_survey_invitations_person_sent")

    op.drop_table("survey_invitations")
    with op.batch_alter_table("survey_waves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_waves_survey_id"))
        batch_op.drop_index("ix_survey_waves_due")

    op.drop_table("survey_waves")
    with op.batch_alter_table("survey_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_rules_survey_id"))

    op.drop_table("survey_rules")
    with op.batch_alter_table("survey_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_questions_survey_id"))

    op.drop_table("survey_questions")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_status"))

    op.drop_table("surveys")
