"""The audit log: who changed what, when, with every changed field before and after."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodops.platform.db import Base, utcnow


@dataclass(frozen=True)
class Actor:
    """Who performs a write: a signed-in user, an API token's owner, or the system (CLI, jobs)."""

    user_id: int | None
    label: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(None, label)


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_label: Mapped[str] = mapped_column(String(320))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(80))
    entity_label: Mapped[str] = mapped_column(String(300), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


def plain(value: Any) -> Any:
    """A value as stored in an audit record (JSON: dates as ISO text, decimals as floats)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def snapshot(obj: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The audited fields of an ORM object as plain JSON values."""
    return {f: plain(getattr(obj, f)) for f in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Changed fields as ``{field: [before, after]}``."""
    keys = list(dict.fromkeys([*before, *after]))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def record(
    session: Session,
    actor: Actor,
    *,
    entity_type: str,
    entity_id: object,
    action: str,
    changes: Mapping[str, list[Any]] | None = None,
    entity_label: str = "",
) -> AuditRecord:
    """Add an audit record to the caller's transaction (called by services only)."""
    rec = AuditRecord(
        actor_id=actor.user_id,
        actor_label=actor.label,
        entity_type=entity_type,
        entity_id=str(entity_id),
        entity_label=entity_label[:300],
        action=action,
        changes=dict(changes or {}),
    )
    session.add(rec)
    return rec


def record_many(
    session: Session,
    actor: Actor,
    *,
    entity_type: str,
    action: str,
    entries: Iterable[tuple[object, str, Mapping[str, list[Any]]]],
    at: dt.datetime | None = None,
) -> None:
    """Audit many writes of one kind in one multi-row INSERT: ``entries`` are (entity id, label, changes).
    For bulk channels (imports, API batches), where one ORM object per record would dominate the time."""
    rows = [
        {
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "entity_label": label[:300],
            "action": action,
            "changes": dict(changes),
            "at": at or utcnow(),
        }
        for entity_id, label, changes in entries
    ]
    if rows:
        session.execute(insert(AuditRecord), rows)


def history(session: Session, entity_type: str, entity_id: object, limit: int = 50) -> list[AuditRecord]:
    """The newest audit records of one entity, for detail pages."""
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.entity_type == entity_type, AuditRecord.entity_id == str(entity_id))
        .order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
