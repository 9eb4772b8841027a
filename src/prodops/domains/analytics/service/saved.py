"""Saved insights: a named query anyone can open again, put on dashboards, or run through the API.

Viewers read and run them; members create, change and delete them. Every write is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.analytics.models import DashboardTile, Insight
from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import InsightQuery
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.listing import Page, paginate, search

ENTITY = "analytics_insight"
INSIGHT_SAVED = events.declare("analytics.insight.saved", "A saved insight was created or changed.")
INSIGHT_DELETED = events.declare("analytics.insight.deleted", "A saved insight was deleted.")


def validate_query(data: Any, field: str = "query") -> InsightQuery:
    """An insight query from JSON, or a 422 naming the field inside the query that is wrong."""
    if isinstance(data, BaseModel):
        data = data.model_dump()
    try:
        return insights.parse_query(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and p in insights.KINDS)]
            problems.append((".".join([field, *loc]), err["msg"].removeprefix("Value error, ")))
        (first, message), *rest = problems
        raise ValidationFailed(first, message, more=rest) from None


class InsightIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    query: InsightQuery


class InsightUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    query: InsightQuery | None = None


class InsightOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    kind: str
    query: dict[str, Any]
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def parsed(self) -> InsightQuery:
        return insights.parse_query(self.query)


def _row(session: Session, insight_id: int) -> Insight:
    row = session.get(Insight, insight_id)
    if row is None:
        raise NotFound("insight", insight_id)
    return row


def get_insight(session: Session, insight_id: int) -> InsightOut:
    return InsightOut.model_validate(_row(session, insight_id))


def list_insights(
    session: Session, *, q: str | None = None, kind: str | None = None, page: int = 1, per_page: int = 50
) -> Page[InsightOut]:
    stmt = (
        select(Insight)
        .where(search(q, Insight.name, Insight.description))
        .order_by(Insight.updated_at.desc(), Insight.id.desc())
    )
    if kind:
        stmt = stmt.where(Insight.kind == kind)
    found = paginate(session, stmt, page, per_page)
    return Page([InsightOut.model_validate(r) for r in found.items], found.total, found.number, found.per_page)


def insight_choices(session: Session) -> list[tuple[int, str, str]]:
    return [
        (i, n, k)
        for i, n, k in session.execute(
            select(Insight.id, Insight.name, Insight.kind).order_by(func.lower(Insight.name))
        )
    ]


def create_insight(session: Session, actor: Actor, data: InsightIn, user_id: int | None = None) -> InsightOut:
    with transaction(session):
        row = Insight(
            name=data.name,
            description=data.description,
            kind=data.query.kind,
            query=data.query.model_dump(mode="json"),
            created_by_id=user_id if user_id is not None else actor.user_id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.id,
            action="create",
            changes=audit.diff({}, {"name": row.name, "kind": row.kind, "query": row.query}),
            entity_label=row.name,
        )
        events.emit(session, INSIGHT_SAVED, {"id": row.id, "action": "create"})
        return InsightOut.model_validate(row)


def update_insight(session: Session, actor: Actor, insight_id: int, data: InsightUpdate) -> InsightOut:
    with transaction(session):
        row = _row(session, insight_id)
        before = audit.snapshot(row, ("name", "description", "query"))
        if data.name is not None:
            row.name = data.name
        if data.description is not None:
            row.description = data.description
        if data.query is not None:
            row.query = data.query.model_dump(mode="json")
            row.kind = data.query.kind
        session.flush()
        changes = audit.diff(before, audit.snapshot(row, ("name", "description", "query")))
        if changes:
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=row.id,
                action="update",
                changes=changes,
                entity_label=row.name,
            )
            events.emit(session, INSIGHT_SAVED, {"id": row.id, "action": "update"})
        return InsightOut.model_validate(row)


def delete_insight(session: Session, actor: Actor, insight_id: int) -> None:
    """Delete a saved insight; the dashboard tiles showing it go with it."""
    with transaction(session):
        row = _row(session, insight_id)
        tiles = session.scalar(select(func.count()).where(DashboardTile.insight_id == insight_id)) or 0
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.id,
            action="delete",
            changes={"name": [row.name, None], "tiles": [tiles, 0]},
            entity_label=row.name,
        )
        session.delete(row)
        events.emit(session, INSIGHT_DELETED, {"id": insight_id})
