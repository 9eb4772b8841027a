"""Goals and key results: set, change, re-parent (never into a cycle), delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import Goal, KeyResult
from prodops.domains.roadmap.queries import goals as queries
from prodops.domains.roadmap.schemas.goals import (
    GoalDetail,
    GoalIn,
    GoalUpdate,
    KeyResultIn,
    KeyResultOut,
    KeyResultUpdate,
)
from prodops.domains.roadmap.service._shared import (
    GOAL_AUDIT,
    GOAL_CREATED,
    GOAL_DELETED,
    GOAL_UPDATED,
    KR_AUDIT,
    KR_CREATED,
    KR_DELETED,
    KR_UPDATED,
    check_refs,
    record,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed


def _check_parent(session: Session, goal_id: int | None, parent_id: int | None) -> None:
    if parent_id is None:
        return
    if goal_id is not None and parent_id == goal_id:
        raise ValidationFailed("parent_id", "a goal cannot be its own parent")
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == goal_id:
            raise ValidationFailed("parent_id", "that goal is below this one; choosing it would make a loop")
        seen.add(current)
        current = session.scalar(select(Goal.parent_id).where(Goal.id == current))


def create_goal(session: Session, actor: Actor, data: GoalIn) -> GoalDetail:
    with transaction(session):
        check_refs(session, data.model_dump(include={"product_id", "team_id", "owner_id", "parent_id"}))
        goal = Goal(**data.model_dump())
        session.add(goal)
        session.flush()
        after = {k: v for k, v in audit.snapshot(goal, GOAL_AUDIT).items() if v not in (None, "")}
        record(session, actor, "goal", goal.id, goal.title, "create", audit.diff({}, after))
        events.emit(
            session,
            GOAL_CREATED,
            {"id": goal.id, "title": goal.title, "level": goal.level, "parent_id": goal.parent_id},
        )
        goal_id = goal.id
    return queries.get_goal(session, goal_id)


def update_goal(session: Session, actor: Actor, goal_id: int, data: GoalUpdate) -> GoalDetail:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    with transaction(session):
        goal = session.get(Goal, goal_id)
        if goal is None:
            raise NotFound("goal", goal_id)
        check_refs(
            session,
            {k: v for k, v in changes.items() if k in ("product_id", "team_id", "owner_id", "parent_id")},
        )
        if "parent_id" in changes:
            _check_parent(session, goal_id, changes["parent_id"])
        start = changes.get("period_start", goal.period_start)
        end = changes.get("period_end", goal.period_end)
        if start and end and end < start:
            raise ValidationFailed("period_end", "the period must end on or after its first day")
        before = audit.snapshot(goal, GOAL_AUDIT)
        for key, value in changes.items():
            setattr(goal, key, value)
        diff = audit.diff(before, audit.snapshot(goal, GOAL_AUDIT))
        if diff:
            record(session, actor, "goal", goal.id, goal.title, "update", diff)
            events.emit(session, GOAL_UPDATED, {"id": goal.id, "title": goal.title, "changes": diff})
    return queries.get_goal(session, goal_id)


def delete_goal(session: Session, actor: Actor, goal_id: int) -> None:
    """Delete a goal with its key results and check-ins; its child goals move up to its parent."""
    with transaction(session):
        goal = session.get(Goal, goal_id)
        if goal is None:
            raise NotFound("goal", goal_id)
        children = list(session.scalars(select(Goal).where(Goal.parent_id == goal_id)))
        for child in children:
            child.parent_id = goal.parent_id
        before = audit.snapshot(goal, GOAL_AUDIT)
        changes = audit.diff(before, {})
        if children:
            changes["children_moved_up"] = [[c.id for c in children], goal.parent_id]
        record(session, actor, "goal", goal.id, goal.title, "delete", changes)
        session.delete(goal)
        events.emit(session, GOAL_DELETED, {"id": goal_id, "title": before["title"]})


# --- key results ----------------------------------------------------------------------------------


def create_key_result(session: Session, actor: Actor, goal_id: int, data: KeyResultIn) -> KeyResultOut:
    with transaction(session):
        goal = session.get(Goal, goal_id)
        if goal is None:
            raise NotFound("goal", goal_id)
        check_refs(session, data.model_dump(include={"owner_id"}))
        values = data.model_dump()
        if data.source == "manual":
            values["metric_key"] = None
        kr = KeyResult(goal_id=goal_id, **values)
        kr.owner_id = data.owner_id if data.owner_id is not None else goal.owner_id
        session.add(kr)
        session.flush()
        after = {k: v for k, v in audit.snapshot(kr, KR_AUDIT).items() if v not in (None, "")}
        after["goal_id"] = goal_id
        record(session, actor, "key_result", kr.id, kr.title, "create", audit.diff({}, after))
        events.emit(session, KR_CREATED, {"id": kr.id, "goal_id": goal_id, "title": kr.title})
        kr_id = kr.id
    return queries.get_key_result(session, kr_id)


def update_key_result(session: Session, actor: Actor, kr_id: int, data: KeyResultUpdate) -> KeyResultOut:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    with transaction(session):
        kr = session.get(KeyResult, kr_id)
        if kr is None:
            raise NotFound("key result", kr_id)
        check_refs(session, {k: v for k, v in changes.items() if k == "owner_id"})
        start = changes.get("start_value", kr.start_value)
        target = changes.get("target_value", kr.target_value)
        if start == target:
            raise ValidationFailed("target_value", "the target must differ from the start value")
        source = changes.get("source", kr.source)
        metric_key = changes.get("metric_key", kr.metric_key)
        if source == "metric" and not metric_key:
            raise ValidationFailed("metric_key", "a metric key result needs a metric key")
        if source == "manual":
            changes["metric_key"] = None
        before = audit.snapshot(kr, KR_AUDIT)
        for key, value in changes.items():
            setattr(kr, key, value)
        diff = audit.diff(before, audit.snapshot(kr, KR_AUDIT))
        if diff:
            record(session, actor, "key_result", kr.id, kr.title, "update", diff)
            events.emit(session, KR_UPDATED, {"id": kr.id, "goal_id": kr.goal_id, "changes": diff})
    return queries.get_key_result(session, kr_id)


def delete_key_result(session: Session, actor: Actor, kr_id: int) -> int:
    """Delete a key result with its check-ins; returns its goal's id."""
    with transaction(session):
        kr = session.get(KeyResult, kr_id)
        if kr is None:
            raise NotFound("key result", kr_id)
        goal_id = kr.goal_id
        changes = audit.diff(audit.snapshot(kr, KR_AUDIT), {})
        record(session, actor, "key_result", kr.id, kr.title, "delete", changes)
        session.delete(kr)
        events.emit(session, KR_DELETED, {"id": kr_id, "goal_id": goal_id})
    return goal_id
