"""Check-ins: a person's weekly value, confidence and narrative on a key result, and the daily snapshot of
metric key results (``source`` metric) that charts their history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import CheckIn, KeyResult
from prodops.domains.roadmap.queries import goals as queries
from prodops.domains.roadmap.schemas.goals import CheckInIn, CheckInOut
from prodops.domains.roadmap.service import metrics
from prodops.domains.roadmap.service import progress as calc
from prodops.domains.roadmap.service._shared import CHECKED_IN, record
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed


def live_values(session: Session, krs: Iterable[KeyResult]) -> tuple[dict[int, float | None], set[int]]:
    """Live values of the metric key results among ``krs``, and the ids whose metric source is not available
    (those keep their last snapshot)."""
    values: dict[int, float | None] = {}
    unavailable: set[int] = set()
    by_key: dict[str, float | None] = {}  # key results sharing a metric read it once
    for kr in krs:
        if kr.source != "metric" or not kr.metric_key:
            continue
        if kr.metric_key not in by_key:
            by_key[kr.metric_key] = metrics.current_value(session, kr.metric_key)
        value = by_key[kr.metric_key]
        if value is None:
            unavailable.add(kr.id)
        else:
            values[kr.id] = value
    return values, unavailable


def check_in(
    session: Session, actor: Actor, kr_id: int, data: CheckInIn, *, at: dt.datetime | None = None
) -> CheckInOut:
    """Record a person's check-in. On a metric key result the value may be left out: the live value is taken."""
    kr = session.get(KeyResult, kr_id)
    if kr is None:
        raise NotFound("key result", kr_id)
    value = data.value
    if value is None and kr.source == "metric" and kr.metric_key:
        value = metrics.current_value(session, kr.metric_key)
        if value is None:
            raise ValidationFailed("value", "the metric source is not available: enter the value by hand")
    if value is None:
        raise ValidationFailed("value", "enter the key result's value now")
    when = at or utcnow()
    with transaction(session):
        kr = session.get(KeyResult, kr_id)
        if kr is None:
            raise NotFound("key result", kr_id)
        row = CheckIn(
            key_result_id=kr_id,
            value=value,
            confidence=data.confidence,
            narrative=data.narrative,
            source="manual",
            author_id=actor.user_id,
            created_at=when,
        )
        session.add(row)
        before = {"current_value": kr.current_value, "confidence": kr.confidence}
        kr.current_value = value
        kr.confidence = data.confidence
        kr.last_checkin_at = when
        session.flush()
        changes = audit.diff(before, {"current_value": value, "confidence": data.confidence})
        record(session, actor, "key_result", kr.id, kr.title, "check_in", changes)
        events.emit(
            session,
            CHECKED_IN,
            {
                "key_result_id": kr.id,
                "goal_id": kr.goal_id,
                "value": value,
                "confidence": data.confidence,
                "progress": round(calc.kr_progress(kr.start_value, kr.target_value, value), 4),
            },
        )
        checkin_id = row.id
    return next(c for c in queries.checkins(session, kr_id, limit=5) if c.id == checkin_id)


@dataclass
class SnapshotResult:
    taken: int = 0
    skipped: int = 0
    unavailable: int = 0

    def summary(self) -> str:
        return (
            f"{self.taken} snapshot(s), {self.skipped} already taken today, {self.unavailable} metric(s) not available"
        )


def snapshot_metrics(session: Session, *, now: dt.datetime | None = None) -> SnapshotResult:
    """Store each metric key result's live value as a check-in (``source`` metric), at most one a day, and make
    it the key result's current value. The values are read first; the writes are one transaction."""
    now = now or utcnow()
    day_start = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    result = SnapshotResult()
    krs = queries.metric_krs(session)
    taken_today = set(
        session.scalars(
            select(CheckIn.key_result_id).where(
                CheckIn.source == "metric", CheckIn.created_at >= day_start, CheckIn.created_at <= now
            )
        )
    )
    values: dict[int, float] = {}
    for kr in krs:
        if kr.id in taken_today:
            result.skipped += 1
            continue
        value = metrics.current_value(session, kr.metric_key or "")
        if value is None:
            result.unavailable += 1
        else:
            values[kr.id] = value
    if not values:
        return result
    actor = Actor.system("metric snapshot")
    with transaction(session):
        entries = []
        for kr in session.scalars(select(KeyResult).where(KeyResult.id.in_(sorted(values)))):
            value = values[kr.id]
            session.add(CheckIn(key_result_id=kr.id, value=value, source="metric", created_at=now))
            entries.append((kr.id, kr.title, {"current_value": [kr.current_value, value]}))
            kr.current_value = value
            result.taken += 1
        audit.record_many(session, actor, entity_type="key_result", action="metric_snapshot", entries=entries)
    return result
