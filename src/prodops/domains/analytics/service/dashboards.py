"""Dashboards: tiles (saved insights or metrics) on a grid, one date range and segment filter for all of them,
auto-refresh, and a read-only share link.

The share link carries a token signed with ``PRODOPS_SECRET_KEY`` that names the dashboard and its current
share nonce; revoking (or sharing again) replaces the nonce, so every earlier link stops working at once.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.analytics.models import Dashboard, DashboardTile, Insight, Metric
from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import InsightQuery
from prodops.domains.analytics.service.insights.types import check_date
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed

ENTITY = "analytics_dashboard"
DASHBOARD_SAVED = events.declare("analytics.dashboard.saved", "A dashboard, its tiles or its sharing changed.")
DASHBOARD_DELETED = events.declare("analytics.dashboard.deleted", "A dashboard was deleted.")
REFRESH_CHOICES: dict[int, str] = {
    0: "Off",
    60: "Every minute",
    300: "Every 5 minutes",
    900: "Every 15 minutes",
    3600: "Every hour",
}
MAX_TILES = 40
_SALT = "prodops.analytics.dashboard-share"
_AUDITED = ("name", "description", "date_from", "date_to", "segment", "refresh_seconds")


class DashboardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    date_from: str = "-30d"
    date_to: str | None = None
    segment: dict[str, str] = Field(default_factory=dict, description="Account filters: plan, segment, region.")
    refresh_seconds: int = 0

    @field_validator("date_from", mode="before")
    @classmethod
    def _from(cls, v: Any) -> str:
        return check_date(v, allow_none=False) or "-30d"

    @field_validator("date_to", mode="before")
    @classmethod
    def _to(cls, v: Any) -> str | None:
        return check_date(v, allow_none=True)

    @field_validator("segment")
    @classmethod
    def _segment(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(insights.SEGMENT_FIELDS)
        if unknown:
            raise ValueError(f"filter on {', '.join(insights.SEGMENT_FIELDS)} only (not {', '.join(sorted(unknown))})")
        return {k: str(val).strip()[:200] for k, val in v.items() if val is not None and str(val).strip()}

    @field_validator("refresh_seconds")
    @classmethod
    def _refresh(cls, v: int) -> int:
        if v not in REFRESH_CHOICES:
            raise ValueError(f"choose one of {', '.join(str(k) for k in REFRESH_CHOICES)} seconds")
        return v


class TileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    insight_id: int | None = None
    metric_id: int | None = None
    title: str = Field(default="", max_length=200)
    width: Literal[1, 2] = 1

    @model_validator(mode="after")
    def _one(self) -> TileIn:
        if (self.insight_id is None) == (self.metric_id is None):
            raise ValueError("a tile shows either a saved insight or a metric")
        return self


class TileOut(BaseModel):
    id: int
    position: int
    insight_id: int | None
    metric_id: int | None
    title: str
    width: int
    source_name: str
    """The insight's or the metric's name (what the tile shows when it has no title of its own)."""
    metric_key: str | None = None
    kind: str


class DashboardOut(BaseModel):
    id: int
    name: str
    description: str
    date_from: str
    date_to: str | None
    segment: dict[str, str]
    refresh_seconds: int
    shared: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    tiles: list[TileOut] = Field(default_factory=list)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=_SALT)


def _row(session: Session, dashboard_id: int) -> Dashboard:
    row = session.get(Dashboard, dashboard_id)
    if row is None:
        raise NotFound("dashboard", dashboard_id)
    return row


def _tiles(session: Session, dashboard_id: int) -> list[TileOut]:
    stmt = (
        select(DashboardTile, Insight.name, Insight.kind, Metric.name, Metric.key)
        .outerjoin(Insight, Insight.id == DashboardTile.insight_id)
        .outerjoin(Metric, Metric.id == DashboardTile.metric_id)
        .where(DashboardTile.dashboard_id == dashboard_id)
        .order_by(DashboardTile.position, DashboardTile.id)
    )
    return [
        TileOut(
            id=t.id,
            position=t.position,
            insight_id=t.insight_id,
            metric_id=t.metric_id,
            title=t.title,
            width=t.width,
            source_name=(i_name if t.insight_id else m_name) or "",
            metric_key=m_key,
            kind=i_kind if t.insight_id else "metric",
        )
        for t, i_name, i_kind, m_name, m_key in session.execute(stmt)
    ]


def _out(session: Session, row: Dashboard, *, tiles: bool = True) -> DashboardOut:
    return DashboardOut(
        id=row.id,
        name=row.name,
        description=row.description,
        date_from=row.date_from,
        date_to=row.date_to,
        segment=dict(row.segment or {}),
        refresh_seconds=row.refresh_seconds,
        shared=row.share_nonce is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tiles=_tiles(session, row.id) if tiles else [],
    )


def get_dashboard(session: Session, dashboard_id: int) -> DashboardOut:
    return _out(session, _row(session, dashboard_id))


def list_dashboards(session: Session) -> list[tuple[DashboardOut, int]]:
    """Every dashboard with its number of tiles, by name."""
    counts = select(DashboardTile.dashboard_id, func.count().label("n")).group_by(DashboardTile.dashboard_id).subquery()
    stmt = select(Dashboard, counts.c.n).outerjoin(counts, counts.c.dashboard_id == Dashboard.id)
    return [
        (_out(session, d, tiles=False), n or 0) for d, n in session.execute(stmt.order_by(func.lower(Dashboard.name)))
    ]


def get_tile(session: Session, dashboard_id: int, tile_id: int) -> TileOut:
    for tile in _tiles(session, dashboard_id):
        if tile.id == tile_id:
            return tile
    raise NotFound("tile", tile_id)


def tile_query(
    session: Session,
    tile: TileOut,
    dashboard: DashboardOut,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    segment: dict[str, str] | None = None,
) -> InsightQuery:
    """The query a tile runs: its insight's (or metric's) with the dashboard's range and segment (or the ones
    picked on the page)."""
    if tile.insight_id is not None:
        insight = session.get(Insight, tile.insight_id)
        if insight is None:
            raise NotFound("insight", tile.insight_id)
        query = insights.parse_query(insight.query)
    else:
        metric = session.get(Metric, tile.metric_id)
        if metric is None:
            raise NotFound("metric", tile.metric_id)
        query = insights.parse_query(metric.definition)
    return insights.scoped(
        query,
        date_from=date_from or dashboard.date_from,
        date_to=date_to if date_from else dashboard.date_to,
        segment=dashboard.segment if segment is None else segment,
    )


# --- writes ----------------------------------------------------------------------------------------------------


def _audit(session: Session, actor: Actor, row: Dashboard, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session, actor, entity_type=ENTITY, entity_id=row.id, action=action, changes=changes, entity_label=row.name
    )
    events.emit(session, DASHBOARD_SAVED, {"id": row.id, "action": action})


def create_dashboard(session: Session, actor: Actor, data: DashboardIn) -> DashboardOut:
    with transaction(session):
        row = Dashboard(**data.model_dump(), created_by_id=actor.user_id)
        session.add(row)
        session.flush()
        _audit(session, actor, row, "create", audit.diff({}, audit.snapshot(row, _AUDITED)))
        return _out(session, row)


def update_dashboard(session: Session, actor: Actor, dashboard_id: int, data: DashboardIn) -> DashboardOut:
    with transaction(session):
        row = _row(session, dashboard_id)
        before = audit.snapshot(row, _AUDITED)
        for name, value in data.model_dump().items():
            setattr(row, name, value)
        session.flush()
        changes = audit.diff(before, audit.snapshot(row, _AUDITED))
        if changes:
            _audit(session, actor, row, "update", changes)
        return _out(session, row)


def delete_dashboard(session: Session, actor: Actor, dashboard_id: int) -> None:
    with transaction(session):
        row = _row(session, dashboard_id)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.id,
            action="delete",
            changes={"name": [row.name, None]},
            entity_label=row.name,
        )
        session.delete(row)
        events.emit(session, DASHBOARD_DELETED, {"id": dashboard_id})


def add_tile(session: Session, actor: Actor, dashboard_id: int, data: TileIn) -> TileOut:
    with transaction(session):
        row = _row(session, dashboard_id)
        count = session.scalar(select(func.count()).where(DashboardTile.dashboard_id == dashboard_id)) or 0
        if count >= MAX_TILES:
            raise ValidationFailed("_", f"a dashboard holds at most {MAX_TILES} tiles")
        if data.insight_id is not None and session.get(Insight, data.insight_id) is None:
            raise ValidationFailed("insight_id", f"there is no saved insight {data.insight_id}")
        if data.metric_id is not None and session.get(Metric, data.metric_id) is None:
            raise ValidationFailed("metric_id", f"there is no metric {data.metric_id}")
        last = session.scalar(
            select(func.max(DashboardTile.position)).where(DashboardTile.dashboard_id == dashboard_id)
        )
        tile = DashboardTile(dashboard_id=dashboard_id, position=(last or 0) + 1, **data.model_dump())
        session.add(tile)
        session.flush()
        what = f"insight {data.insight_id}" if data.insight_id else f"metric {data.metric_id}"
        _audit(session, actor, row, "add tile", {"tile": [None, what]})
        return get_tile(session, dashboard_id, tile.id)


def remove_tile(session: Session, actor: Actor, dashboard_id: int, tile_id: int) -> None:
    with transaction(session):
        row = _row(session, dashboard_id)
        tile = session.get(DashboardTile, tile_id)
        if tile is None or tile.dashboard_id != dashboard_id:
            raise NotFound("tile", tile_id)
        what = f"insight {tile.insight_id}" if tile.insight_id else f"metric {tile.metric_id}"
        session.delete(tile)
        _audit(session, actor, row, "remove tile", {"tile": [what, None]})


def move_tile(
    session: Session, actor: Actor, dashboard_id: int, tile_id: int, direction: Literal["up", "down"]
) -> None:
    """Swap a tile with its neighbour (earlier for ``up``)."""
    with transaction(session):
        row = _row(session, dashboard_id)
        tiles = list(
            session.scalars(
                select(DashboardTile)
                .where(DashboardTile.dashboard_id == dashboard_id)
                .order_by(DashboardTile.position, DashboardTile.id)
            )
        )
        index = next((i for i, t in enumerate(tiles) if t.id == tile_id), None)
        if index is None:
            raise NotFound("tile", tile_id)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(tiles):
            return
        tiles[index], tiles[other] = tiles[other], tiles[index]
        for position, tile in enumerate(tiles, start=1):
            tile.position = position
        _audit(session, actor, row, "move tile", {"order": [None, [t.id for t in tiles]]})


def share_dashboard(session: Session, actor: Actor, dashboard_id: int) -> str:
    """Create a new share link (every earlier one stops working) and return its token."""
    with transaction(session):
        row = _row(session, dashboard_id)
        row.share_nonce = secrets.token_urlsafe(16)
        _audit(session, actor, row, "share", {"shared": [None, "new link"]})
        return str(_serializer().dumps({"d": row.id, "n": row.share_nonce}))


def revoke_share(session: Session, actor: Actor, dashboard_id: int) -> None:
    with transaction(session):
        row = _row(session, dashboard_id)
        if row.share_nonce is not None:
            row.share_nonce = None
            _audit(session, actor, row, "unshare", {"shared": ["link", None]})


def share_token(session: Session, dashboard_id: int) -> str | None:
    """The token of the dashboard's current share link (None when it is not shared)."""
    row = _row(session, dashboard_id)
    return None if row.share_nonce is None else str(_serializer().dumps({"d": row.id, "n": row.share_nonce}))


def shared_dashboard(session: Session, token: str) -> DashboardOut | None:
    """The dashboard a share token opens; None for a forged, foreign or revoked token."""
    try:
        data: Any = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), int) or not isinstance(data.get("n"), str):
        return None
    row = session.get(Dashboard, data["d"])
    if row is None or row.share_nonce is None or not secrets.compare_digest(row.share_nonce, data["n"]):
        return None
    return _out(session, row)
