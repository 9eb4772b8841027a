"""Event sources: the write keys trackers send events with (admins create, rename, re-key, disable them; every
change is audited), the cached key look-up the ingestion endpoints use, and the usage counters.

A write key is not a secret in the password sense: Segment, RudderStack and PostHog all embed it in apps and web
pages, and it only lets its holder *send* events. So it is kept in clear text and shown to admins at any time (the
Segment model). Rotating a key makes the old one stop working at once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from prodops.domains.analytics.models import EventSource
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound
from prodops.platform.warehouse import Warehouse

ENTITY = "analytics_source"
AUDIT_FIELDS = ("name", "kind", "enabled")
KEY_PREFIX = "wk_"
SourceKind = Literal["segment", "posthog", "any"]
KIND_LABELS: dict[str, str] = {
    "any": "Any client (Segment API and PostHog capture)",
    "segment": "Segment API (segment-analytics-python, rudder-sdk-python, analytics.js)",
    "posthog": "PostHog capture (posthog, posthog-js)",
}
KEY_CACHE_SECONDS = 10.0
"""How long a looked-up key is trusted without asking the database again (changes made in this process apply at
once; changes made by another process within this many seconds)."""

SOURCE_CHANGED = events.declare(
    "analytics.source.changed", "An event source was created, changed, re-keyed or deleted."
)


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    kind: SourceKind = "any"
    enabled: bool = True


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    kind: SourceKind | None = None
    enabled: bool | None = None

    @field_validator("name", "kind", "enabled", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: SourceKind
    write_key: str
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    last_event_at: dt.datetime | None
    events_received: int
    requests_received: int


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def key_hint(key: str) -> str:
    """A short visible prefix for audit records and logs (never the whole key)."""
    return key[: len(KEY_PREFIX) + 6] + "…"


def _out(source: EventSource) -> SourceOut:
    return SourceOut.model_validate(source)


def _row(session: Session, source_id: int) -> EventSource:
    source = session.get(EventSource, source_id)
    if source is None:
        raise NotFound("event source", source_id)
    return source


def _unique_name(session: Session, name: str, exclude_id: int | None) -> None:
    stmt = select(EventSource.id).where(EventSource.name == name)
    if exclude_id is not None:
        stmt = stmt.where(EventSource.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict("name", f"a source named {name!r} already exists")


def _changed(session: Session, source_id: int, action: str) -> None:
    events.on_commit(session, forget_keys)
    events.emit(session, SOURCE_CHANGED, {"id": source_id, "action": action})


# --- reads ----------------------------------------------------------------------------------


def list_sources(session: Session) -> list[SourceOut]:
    return [_out(s) for s in session.scalars(select(EventSource).order_by(EventSource.name, EventSource.id))]


def get_source(session: Session, source_id: int) -> SourceOut:
    return _out(_row(session, source_id))


# --- writes ---------------------------------------------------------------------------------


def create_source(session: Session, actor: Actor, data: SourceIn) -> SourceOut:
    with transaction(session):
        _unique_name(session, data.name, None)
        source = EventSource(
            name=data.name,
            kind=data.kind,
            enabled=data.enabled,
            write_key=new_key(),
            events_received=0,
            requests_received=0,
        )
        session.add(source)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=source.id,
            action="create",
            changes=audit.diff({}, {**audit.snapshot(source, AUDIT_FIELDS), "write_key": key_hint(source.write_key)}),
            entity_label=source.name,
        )
        _changed(session, source.id, "create")
        return _out(source)


def update_source(session: Session, actor: Actor, source_id: int, data: SourceUpdate) -> SourceOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        source = _row(session, source_id)
        if "name" in changes:
            _unique_name(session, changes["name"], source_id)
        before = audit.snapshot(source, AUDIT_FIELDS)
        for key, value in changes.items():
            setattr(source, key, value)
        diff = audit.diff(before, audit.snapshot(source, AUDIT_FIELDS))
        if diff:
            action = "update"
            if set(diff) == {"enabled"}:
                action = "enable" if source.enabled else "disable"
            audit.record(
                session, actor, entity_type=ENTITY, entity_id=source.id, action=action, changes=diff,
                entity_label=source.name,
            )  # fmt: skip
            _changed(session, source.id, action)
        session.flush()
        return _out(source)


def rotate_key(session: Session, actor: Actor, source_id: int) -> SourceOut:
    """Give the source a new write key; the old one is refused (HTTP 401) from now on."""
    with transaction(session):
        source = _row(session, source_id)
        old = source.write_key
        source.write_key = new_key()
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=source.id,
            action="rotate_key",
            changes={"write_key": [key_hint(old), key_hint(source.write_key)]},
            entity_label=source.name,
        )
        _changed(session, source.id, "rotate_key")
        return _out(source)


def delete_source(session: Session, actor: Actor, source_id: int) -> None:
    """Delete a source; the events it already delivered stay in the warehouse."""
    with transaction(session):
        source = _row(session, source_id)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=source.id,
            action="delete",
            changes=audit.diff({**audit.snapshot(source, AUDIT_FIELDS), "write_key": key_hint(source.write_key)}, {}),
            entity_label=source.name,
        )
        session.delete(source)
        _changed(session, source_id, "delete")


def record_usage(session: Session, usage: Mapping[int, tuple[int, int, dt.datetime]]) -> None:
    """Add ``{source_id: (events, requests, last_received_at)}`` to the sources' counters (not audited: traffic)."""
    if not usage:
        return
    with transaction(session):
        for source_id, (n_events, n_requests, last) in sorted(usage.items()):
            session.execute(
                update(EventSource)
                .where(EventSource.id == source_id)
                .values(
                    events_received=EventSource.events_received + n_events,
                    requests_received=EventSource.requests_received + n_requests,
                    last_event_at=last,
                )
                .execution_options(synchronize_session=False)
            )


# --- the key look-up the endpoints use --------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    source_id: int
    kind: str
    enabled: bool


_cache: dict[str, tuple[float, KeyInfo | None]] = {}
_cache_lock = threading.Lock()


def forget_keys() -> None:
    with _cache_lock:
        _cache.clear()


def lookup_key(session_factory: object, key: str) -> KeyInfo | None:
    """The source of a write key (None when unknown), cached for :data:`KEY_CACHE_SECONDS` so the hot path does
    not open a database session per request. ``session_factory`` is a zero-argument callable returning a Session."""
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if not key.startswith(KEY_PREFIX) or len(key) > 64:
        return None
    with session_factory() as session:  # type: ignore[operator]
        row = session.execute(
            select(EventSource.id, EventSource.kind, EventSource.enabled).where(EventSource.write_key == key)
        ).first()
    info = None if row is None else KeyInfo(row[0], row[1], bool(row[2]))
    with _cache_lock:
        if len(_cache) > 10_000:  # unknown keys are cached too; keep a flood of them bounded
            _cache.clear()
        _cache[key] = (now + KEY_CACHE_SECONDS, info)
    return info


# --- traffic ----------------------------------------------------------------------------------


def daily_events(wh: Warehouse, source_id: int | None, days: int = 30) -> list[dict[str, Any]]:
    """Events received per day over the last ``days`` days, per source (or for one source)."""
    ensure_schema(wh)
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)
    where = "received_at >= $since" + (" AND source_id = $source" if source_id is not None else "")
    params: dict[str, Any] = {"since": since}
    if source_id is not None:
        params["source"] = source_id
    result = wh.query(
        f"SELECT source_id, CAST(received_at AS DATE) AS day, count(*) AS events FROM events WHERE {where} "  # noqa: S608  # fixed text
        "GROUP BY ALL ORDER BY day, source_id",
        params,
    )
    return [{"source_id": s, "day": d.isoformat(), "events": n} for s, d, n in result.rows]
