"""Customer tables: accounts (companies), people, and saved segments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prodops.platform.db import Base, TimestampMixin
from prodops.platform.identity.models import User


class Account(TimestampMixin, Base):
    """A customer company."""

    __tablename__ = "customer_accounts"
    __table_args__ = (
        CheckConstraint("arr >= 0", name="arr_non_negative"),
        Index("ix_customer_accounts_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # Unique when set: NULLs never collide on SQLite or PostgreSQL.
    domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    plan: Mapped[str | None] = mapped_column(String(60), index=True)
    # Money is kept exact in the database and handed to Python as float (ARR never needs sub-cent maths).
    arr: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0.0, index=True)
    segment: Mapped[str | None] = mapped_column(String(60), index=True)
    region: Mapped[str | None] = mapped_column(String(60), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="active", index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    owner: Mapped[User | None] = relationship()


class Person(TimestampMixin, Base):
    """Someone at a customer (or, without an account, a lone user of the product)."""

    __tablename__ = "customer_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="", index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_accounts.id", ondelete="SET NULL"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    account: Mapped[Account | None] = relationship()


class Segment(TimestampMixin, Base):
    """A saved set of conditions on accounts or people; every domain can scope its records by one."""

    __tablename__ = "customer_segments"
    __table_args__ = (CheckConstraint("entity IN ('accounts', 'people')", name="entity_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    entity: Mapped[str] = mapped_column(String(10), default="accounts")
    filters: Mapped[list[Any]] = mapped_column(default=list)
