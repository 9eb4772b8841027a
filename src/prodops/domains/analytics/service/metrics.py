"""The metrics catalogue: named KPIs defined once ("weekly active accounts") and read everywhere.

A metric is a key, a name, a description, a unit, a display format and a definition: an insight query that
produces a single series (a trend with one series and no breakdown, a feature adoption, or a dataset count).

Other domains read metrics through two functions:

- :func:`metric_value` — the metric at a moment: its measure over the trailing interval that ends then (weekly
  active accounts at 9:00 on a Wednesday = accounts active since 9:00 the Wednesday before);
- :func:`metric_series` — the metric per calendar interval (UTC) between two dates, zero-filled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.analytics.models import DashboardTile, Metric
from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import InsightQuery, window
from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.types import Point
from prodops.domains.analytics.service.warehouse import insight_warehouse
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

ENTITY = "analytics_metric"
METRIC_SAVED = events.declare("analytics.metric.saved", "A metric of the catalogue was created or changed.")
METRIC_DELETED = events.declare("analytics.metric.deleted", "A metric was removed from the catalogue.")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MetricFormat = Literal["number", "percent", "currency", "duration"]
FORMATS: dict[str, str] = {
    "number": "Number (12,400)",
    "percent": "Percentage (a share, 0.42 → 42%)",
    "currency": "Money",
    "duration": "Duration (seconds)",
}
CACHE_SECONDS = 60.0
"""How long a computed reading or series is reused (pages with many metrics; the data moves slowly)."""
_AUDITED = ("key", "name", "description", "definition", "unit", "format")


def _single(query: InsightQuery | None) -> None:
    if query is not None:
        try:
            window.check_single_series(query)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None


class MetricIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=60, description="Lowercase letters, digits and `_`; never changes.")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    definition: InsightQuery
    unit: str = Field(default="", max_length=40)
    format: MetricFormat = "number"

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY.match(v):
            raise ValueError(
                "use lowercase letters, digits and '_', starting with a letter (e.g. weekly_active_accounts)"
            )
        return v

    @model_validator(mode="after")
    def _one_series(self) -> MetricIn:
        _single(self.definition)
        return self


class MetricUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    definition: InsightQuery | None = None
    unit: str | None = Field(default=None, max_length=40)
    format: MetricFormat | None = None

    @model_validator(mode="after")
    def _one_series(self) -> MetricUpdate:
        _single(self.definition)
        return self


class MetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    name: str
    description: str
    definition: dict[str, Any]
    unit: str
    format: MetricFormat
    created_at: dt.datetime
    updated_at: dt.datetime

    def query(self) -> InsightQuery:
        return insights.parse_query(self.definition)

    @property
    def interval(self) -> str:
        return str(self.definition.get("interval") or "day")


class MetricReading(BaseModel):
    """A metric at a moment, with the interval before it for comparison."""

    key: str
    value: float | None
    previous: float | None
    change: float | None
    """value − previous."""
    start: dt.datetime
    end: dt.datetime


# --- reads -----------------------------------------------------------------------------------------------------


def _row(session: Session, key: str) -> Metric:
    row = session.scalar(select(Metric).where(Metric.key == key))
    if row is None:
        raise NotFound("metric", key)
    return row


def get_metric(session: Session, key: str) -> MetricOut:
    return MetricOut.model_validate(_row(session, key))


def list_metrics(session: Session) -> list[MetricOut]:
    return [
        MetricOut.model_validate(m)
        for m in session.scalars(select(Metric).order_by(func.lower(Metric.name), Metric.id))
    ]


def metric_choices(session: Session) -> list[tuple[int, str, str]]:
    return [
        (i, k, n)
        for i, k, n in session.execute(select(Metric.id, Metric.key, Metric.name).order_by(func.lower(Metric.name)))
    ]


_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(key: str, compute: Any) -> Any:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = compute()
    with _cache_lock:
        if len(_cache) > 2000:
            _cache.clear()
        _cache[key] = (now, value)
    return value


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _fingerprint(metric: MetricOut, *parts: object) -> str:
    text = json.dumps([metric.definition, [str(p) for p in parts]], sort_keys=True)
    return metric.key + ":" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _moment(at: dt.datetime | None) -> dt.datetime:
    at = at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise ValueError("give an aware datetime (UTC)")
    # Readings within the same minute are the same reading (and share the cache).
    return at.astimezone(dt.UTC).replace(second=0, microsecond=0)


def read_metric(metric: MetricOut, at: dt.datetime | None = None) -> MetricReading:
    """The metric over the trailing interval ending at ``at`` (default now), and over the interval before."""
    end = _moment(at)
    start = q.add(end, metric.interval, -1)
    before = q.add(start, metric.interval, -1)

    def compute() -> MetricReading:
        wh = insight_warehouse()
        query = metric.query()
        value = window.value(wh, query, start, end)
        previous = window.value(wh, query, before, start)
        change = None if value is None or previous is None else value - previous
        return MetricReading(key=metric.key, value=value, previous=previous, change=change, start=start, end=end)

    return _cached(_fingerprint(metric, "read", end), compute)  # type: ignore[no-any-return]


def metric_value(session: Session, key: str, at: dt.datetime | None = None) -> float | None:
    """The value of metric ``key`` at ``at`` (default now): its measure over the trailing interval ending then."""
    return read_metric(get_metric(session, key), at).value


def series_of(
    metric: MetricOut,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    interval: str | None = None,
    *,
    segment: dict[str, str] | None = None,
) -> list[Point]:
    """The metric per interval from the date of ``start`` to the date of ``end`` (both included)."""
    first = start.date() if isinstance(start, dt.datetime) else start
    last = end.date() if isinstance(end, dt.datetime) else end
    if last < first:
        raise ValidationFailed("end", "the end comes before the start")
    every = interval or metric.interval
    if every not in q.TRUNC or every == "minute":
        raise ValidationFailed("interval", "choose hour, day, week or month")

    def compute() -> list[Point]:
        query = insights.scoped(metric.query(), date_from=first.isoformat(), date_to=last.isoformat(), segment=segment)
        query = query.model_copy(update={"interval": every})
        result = insights.run(insight_warehouse(), query)
        return result.series[0].points if result.series else []

    return _cached(_fingerprint(metric, "series", first, last, every, sorted((segment or {}).items())), compute)  # type: ignore[no-any-return]


def metric_series(
    session: Session, key: str, start: dt.date | dt.datetime, end: dt.date | dt.datetime, interval: str | None = None
) -> list[Point]:
    """Metric ``key`` per calendar interval (its own, or ``interval``) from ``start`` to ``end`` (dates, both
    included), zero-filled for counts."""
    return series_of(get_metric(session, key), start, end, interval)


# --- writes ----------------------------------------------------------------------------------------------------


def create_metric(session: Session, actor: Actor, data: MetricIn) -> MetricOut:
    with transaction(session):
        if session.scalar(select(Metric.id).where(Metric.key == data.key)) is not None:
            raise Conflict("key", f"a metric with the key {data.key!r} already exists")
        row = Metric(**data.model_dump(mode="json"))
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.key,
            action="create",
            changes=audit.diff({}, audit.snapshot(row, _AUDITED)),
            entity_label=row.name,
        )
        events.emit(session, METRIC_SAVED, {"key": row.key, "action": "create"})
        return MetricOut.model_validate(row)


def update_metric(session: Session, actor: Actor, key: str, data: MetricUpdate) -> MetricOut:
    with transaction(session):
        row = _row(session, key)
        before = audit.snapshot(row, _AUDITED)
        for name, value in data.model_dump(mode="json", exclude_unset=True).items():
            if value is not None:
                setattr(row, name, value)
        session.flush()
        changes = audit.diff(before, audit.snapshot(row, _AUDITED))
        if changes:
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=row.key,
                action="update",
                changes=changes,
                entity_label=row.name,
            )
            events.emit(session, METRIC_SAVED, {"key": row.key, "action": "update"})
        return MetricOut.model_validate(row)


def delete_metric(session: Session, actor: Actor, key: str) -> None:
    with transaction(session):
        row = _row(session, key)
        tiles = session.scalar(select(func.count()).where(DashboardTile.metric_id == row.id)) or 0
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=row.key,
            action="delete",
            changes={"name": [row.name, None], "tiles": [tiles, 0]},
            entity_label=row.name,
        )
        session.delete(row)
        events.emit(session, METRIC_DELETED, {"key": key})


def _trend(math: str, interval: str, date_from: str) -> dict[str, Any]:
    return {"kind": "trends", "series": [{"math": math}], "interval": interval, "date_from": date_from}


DEFAULT_METRICS: list[dict[str, Any]] = [
    {
        "key": "daily_active_people",
        "name": "Daily active people",
        "description": "People who sent any event in the day.",
        "definition": _trend("people", "day", "-30d"),
        "unit": "people",
    },
    {
        "key": "weekly_active_people",
        "name": "Weekly active people",
        "description": "People who sent any event in the week.",
        "definition": _trend("people", "week", "-12w"),
        "unit": "people",
    },
    {
        "key": "weekly_active_accounts",
        "name": "Weekly active accounts",
        "description": "Accounts with at least one active person (or account event) in the week.",
        "definition": _trend("accounts", "week", "-12w"),
        "unit": "accounts",
    },
    {
        "key": "monthly_active_accounts",
        "name": "Monthly active accounts",
        "description": "Accounts with any event in the month.",
        "definition": _trend("accounts", "month", "-6m"),
        "unit": "accounts",
    },
    {
        "key": "events_per_day",
        "name": "Events per day",
        "description": "Every usage event received, per day.",
        "definition": _trend("total", "day", "-30d"),
        "unit": "events",
    },
]


def seed_default_metrics(session: Session, actor: Actor) -> list[str]:
    """Add the default metrics that are missing (by key); returns the keys added."""
    known = set(session.scalars(select(Metric.key)))
    added = []
    for spec in DEFAULT_METRICS:
        if spec["key"] not in known:
            create_metric(session, actor, MetricIn.model_validate(spec))
            added.append(spec["key"])
    return added
