"""The audit log pages and API (administrators only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, select

from prodops.platform import registry
from prodops.platform.audit import AuditRecord
from prodops.platform.deps import ADMIN, SessionDep
from prodops.platform.listing import paginate
from prodops.platform.web import render

router = registry.router(APIRouter())
registry.nav("Audit log", "/admin/audit", section="Administration", order=30, min_role="admin")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_id: int | None
    actor_label: str
    entity_type: str
    entity_id: str
    entity_label: str
    action: str
    changes: dict[str, list[object]]


class AuditFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1
    per_page: int = 50


def _query(f: AuditFilters) -> Select[AuditRecord]:
    stmt = select(AuditRecord)
    if f.entity_type:
        stmt = stmt.where(AuditRecord.entity_type == f.entity_type)
    if f.entity_id:
        stmt = stmt.where(AuditRecord.entity_id == f.entity_id)
    if f.action:
        stmt = stmt.where(AuditRecord.action == f.action)
    if f.actor:
        stmt = stmt.where(AuditRecord.actor_label.ilike(f"%{f.actor}%"))
    if f.since:
        stmt = stmt.where(AuditRecord.at >= dt.datetime.combine(f.since, dt.time(), dt.UTC))
    if f.until:
        stmt = stmt.where(AuditRecord.at < dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), dt.UTC))
    return stmt.order_by(AuditRecord.at.desc(), AuditRecord.id.desc())


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=[ADMIN], include_in_schema=False)
def audit_page(request: Request, session: SessionDep, filters: Annotated[AuditFilters, Query()]) -> Response:
    page = paginate(session, _query(filters), filters.page, filters.per_page)
    entity_types = list(session.scalars(select(AuditRecord.entity_type).distinct().order_by(AuditRecord.entity_type)))
    actions = list(session.scalars(select(AuditRecord.action).distinct().order_by(AuditRecord.action)))
    active = [
        (k, f"{k.replace('_', ' ')}: {v}") for k, v in filters.model_dump(exclude={"page", "per_page"}).items() if v
    ]
    return render(
        request,
        "audit/list.html",
        {"page": page, "filters": filters, "entity_types": entity_types, "actions": actions, "active": active},
    )


@router.get("/api/v1/audit", dependencies=[ADMIN], tags=["audit"], summary="Audit records, newest first")
def audit_api(session: SessionDep, filters: Annotated[AuditFilters, Query()]) -> dict[str, object]:
    page = paginate(session, _query(filters), filters.page, filters.per_page)
    return {"items": [AuditOut.model_validate(r) for r in page.items], "total": page.total, "page": page.number}
