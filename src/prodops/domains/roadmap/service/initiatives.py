"""Initiatives: create, change (with the goals they serve), delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import Goal, Initiative, InitiativeGoal
from prodops.domains.roadmap.queries import initiatives as queries
from prodops.domains.roadmap.schemas.goals import InitiativeIn, InitiativeOut, InitiativeUpdate
from prodops.domains.roadmap.service._shared import (
    INITIATIVE_AUDIT,
    INITIATIVE_CREATED,
    INITIATIVE_DELETED,
    INITIATIVE_UPDATED,
    check_refs,
    record,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed


def _check_goals(session: Session, goal_ids: list[int]) -> None:
    if not goal_ids:
        return
    known = set(session.scalars(select(Goal.id).where(Goal.id.in_(goal_ids))))
    missing = [g for g in goal_ids if g not in known]
    if missing:
        raise ValidationFailed("goal_ids", f"there is no goal {', '.join(map(str, missing))}")


def _goal_ids(session: Session, initiative_id: int) -> list[int]:
    return sorted(session.scalars(select(InitiativeGoal.goal_id).where(InitiativeGoal.initiative_id == initiative_id)))


def _set_goals(session: Session, initiative_id: int, goal_ids: list[int]) -> None:
    session.execute(delete(InitiativeGoal).where(InitiativeGoal.initiative_id == initiative_id))
    session.add_all(InitiativeGoal(initiative_id=initiative_id, goal_id=g) for g in goal_ids)


def create_initiative(session: Session, actor: Actor, data: InitiativeIn) -> InitiativeOut:
    with transaction(session):
        check_refs(session, data.model_dump(include={"product_id", "team_id", "owner_id"}))
        _check_goals(session, data.goal_ids)
        row = Initiative(**data.model_dump(exclude={"goal_ids"}))
        session.add(row)
        session.flush()
        _set_goals(session, row.id, data.goal_ids)
        after = {k: v for k, v in audit.snapshot(row, INITIATIVE_AUDIT).items() if v not in (None, "")}
        after["goal_ids"] = sorted(data.goal_ids)
        record(session, actor, "initiative", row.id, row.title, "create", audit.diff({}, after))
        events.emit(session, INITIATIVE_CREATED, {"id": row.id, "title": row.title, "goal_ids": sorted(data.goal_ids)})
        initiative_id = row.id
    return queries.get_initiative(session, initiative_id)


def update_initiative(session: Session, actor: Actor, initiative_id: int, data: InitiativeUpdate) -> InitiativeOut:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    goal_ids = changes.pop("goal_ids", None)
    with transaction(session):
        row = session.get(Initiative, initiative_id)
        if row is None:
            raise NotFound("initiative", initiative_id)
        check_refs(session, {k: v for k, v in changes.items() if k in ("product_id", "team_id", "owner_id")})
        start = changes.get("start_date", row.start_date)
        end = changes.get("end_date", row.end_date)
        if start and end and end < start:
            raise ValidationFailed("end_date", "the end date must be on or after the start date")
        before = {**audit.snapshot(row, INITIATIVE_AUDIT), "goal_ids": _goal_ids(session, initiative_id)}
        for key, value in changes.items():
            setattr(row, key, value)
        if goal_ids is not None:
            _check_goals(session, goal_ids)
            _set_goals(session, initiative_id, goal_ids)
        after = {
            **audit.snapshot(row, INITIATIVE_AUDIT),
            "goal_ids": sorted(goal_ids) if goal_ids is not None else before["goal_ids"],
        }
        diff = audit.diff(before, after)
        if diff:
            record(session, actor, "initiative", row.id, row.title, "update", diff)
            events.emit(session, INITIATIVE_UPDATED, {"id": row.id, "title": row.title, "changes": diff})
    return queries.get_initiative(session, initiative_id)


def delete_initiative(session: Session, actor: Actor, initiative_id: int) -> None:
    """Delete an initiative; its features keep their plans without an initiative (they become unaligned)."""
    with transaction(session):
        row = session.get(Initiative, initiative_id)
        if row is None:
            raise NotFound("initiative", initiative_id)
        changes = audit.diff(audit.snapshot(row, INITIATIVE_AUDIT), {})
        record(session, actor, "initiative", row.id, row.title, "delete", changes)
        session.delete(row)
        events.emit(session, INITIATIVE_DELETED, {"id": initiative_id, "title": changes.get("title", [None])[0]})
