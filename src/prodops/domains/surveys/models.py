"""Survey tables: surveys and their questions, waves of e-mail invitations, responses with their answers, and the
rules that open follow-ups on responses."""

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
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from prodops.platform.db import Base, TimestampMixin, utcnow

KINDS = ("nps", "csat", "ces", "custom")
SURVEY_STATUSES = ("draft", "active", "closed")
QUESTION_TYPES = ("nps", "csat", "ces", "rating", "single", "multi", "text")
CHANNELS = ("email", "in_app", "link", "api", "import")
WAVE_STATUSES = ("scheduled", "sending", "sent", "cancelled")
INVITATION_STATUSES = ("queued", "sent", "throttled", "unsubscribed", "failed")
FOLLOW_UP_STATUSES = ("open", "done")
GROUPS = ("detractor", "passive", "promoter", "any")

_in = ", ".join


def _check(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({_in(repr(v) for v in values)})"


class Survey(TimestampMixin, Base):
    """A survey: an NPS, CSAT or CES programme or a custom questionnaire, in one or more languages."""

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint(_check("kind", KINDS), name="kind_known"),
        CheckConstraint(_check("status", SURVEY_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="nps")
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    """Language codes the survey is written in, the default first (e.g. ``["en", "de"]``)."""
    intro: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Language → the sentence shown above the first question."""
    thank_you: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Language → the message shown after the last answer."""
    throttle_days: Mapped[int | None] = mapped_column(Integer)
    """This survey's own "ask nobody more often than every N days"; None means the global setting."""
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    public_key: Mapped[str] = mapped_column(String(40), unique=True)
    """The key in the survey's public link (anyone with it may answer, anonymously)."""


class Question(Base):
    """One question of a survey; ``key`` names it in branching rules (stable when questions are reordered)."""

    __tablename__ = "survey_questions"
    __table_args__ = (
        UniqueConstraint("survey_id", "key", name="uq_survey_questions_survey_key"),
        CheckConstraint(_check("qtype", QUESTION_TYPES), name="qtype_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    qtype: Mapped[str] = mapped_column(String(10))
    text: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Language → the question."""
    options: Mapped[list[Any]] = mapped_column(default=list)
    """Choices of single/multi questions: ``[{"value": "price", "label": {"en": "Price"}}]``; for ``rating`` the
    scale as ``[{"value": 1}, ..., {"value": 5}]``."""
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    branches: Mapped[list[Any]] = mapped_column(default=list)
    """Where to go after this question: ``[{"min": 0, "max": 6, "goto": "why_bad"}, {"choices": ["x"], "goto":
    "end"}]``; the first rule that matches wins, otherwise the next question by position."""


class Wave(TimestampMixin, Base):
    """A scheduled send of personal survey links to an audience (a customer segment or a list of addresses)."""

    __tablename__ = "survey_waves"
    __table_args__ = (
        CheckConstraint(_check("status", WAVE_STATUSES), name="status_known"),
        Index("ix_survey_waves_due", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("customer_segments.id", ondelete="SET NULL"))
    emails: Mapped[list[Any]] = mapped_column(default=list)
    """The audience as addresses, when no segment is given."""
    language: Mapped[str | None] = mapped_column(String(10))
    scheduled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reminder_after_days: Mapped[int] = mapped_column(Integer, default=3)
    """Remind people who have not answered after this many days (0: never)."""
    max_reminders: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Invitation(Base):
    """One person's personal link in a wave. The link's token is never stored: only its hash (for look-up) and the
    random nonce it is derived from with the secret key (so a reminder can repeat the same link)."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        UniqueConstraint("wave_id", "email", name="uq_survey_invitations_wave_email"),
        CheckConstraint(_check("status", INVITATION_STATUSES), name="status_known"),
        Index("ix_survey_invitations_person_sent", "person_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    nonce: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(14), default="queued")
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[dt.datetime | None] = mapped_column()
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    completed_at: Mapped[dt.datetime | None] = mapped_column()


class Response(Base):
    """One person's answers to a survey (kept when partial). ``score`` repeats the survey's main score (NPS 0–10,
    CSAT 1–5, CES 1–7) so results group one table; ``responded_at`` is when it was given (imports keep their date)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint(_check("channel", CHANNELS), name="channel_known"),
        # Results group a survey's scored responses by period and account: this index serves them alone.
        Index("ix_survey_responses_results", "survey_id", "responded_at", "account_id", "score"),
        # ...and the breakdowns by account and product are read in this order, so they are grouped without a sort.
        Index("ix_survey_responses_breakdown", "survey_id", "account_id", "product_id", "score", "responded_at"),
        Index("ix_survey_responses_account", "account_id", "responded_at"),
        UniqueConstraint("survey_id", "external_id", name="uq_survey_responses_survey_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("survey_waves.id", ondelete="SET NULL"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_accounts.id", ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10), default="link")
    language: Mapped[str] = mapped_column(String(10), default="en")
    external_id: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    responded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_key: Mapped[str | None] = mapped_column(String(40))
    """The question a partial response continues with (None when complete)."""


class Answer(Base):
    """One answer: a number (scores, ratings), choices, or text. A text answer also becomes a feedback item."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id", name="uq_survey_answers_response_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    choices: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    feedback_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="SET NULL"), index=True
    )


class Rule(TimestampMixin, Base):
    """ "When a response matches, open a follow-up": e.g. a detractor from an account above an ARR opens one for
    the account owner, who is e-mailed; a webhook event goes out for every follow-up."""

    __tablename__ = "survey_rules"
    __table_args__ = (CheckConstraint(_check("group_name", GROUPS), name="group_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    """None: every survey."""
    group_name: Mapped[str] = mapped_column(String(10), default="detractor")
    """Which scores match: detractor (NPS 0–6, CSAT 1–2, CES 1–3), passive, promoter, or any."""
    min_arr: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """Who gets the follow-up when the account has no owner (or the response no account)."""
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class FollowUp(TimestampMixin, Base):
    """Something to do about one response: call the customer back, and what came of it."""

    __tablename__ = "survey_follow_ups"
    __table_args__ = (
        UniqueConstraint("rule_id", "response_id", name="uq_survey_follow_ups_rule_response"),
        CheckConstraint(_check("status", FOLLOW_UP_STATUSES), name="status_known"),
        Index("ix_survey_follow_ups_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("survey_rules.id", ondelete="SET NULL"))
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_accounts.id", ondelete="SET NULL"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("customer_people.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(6), default="open")
    score: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column()
