"""Saved segments, and the filter functions other domains use to scope their records by segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.customers import queries
from prodops.domains.customers.models import Account, Person, Segment
from prodops.domains.customers.schemas import (
    Condition,
    Entity,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    validate_conditions,
)
from prodops.domains.customers.service._shared import (
    SEGMENT_CREATED,
    SEGMENT_DELETED,
    SEGMENT_UPDATED,
    _segment_snapshot,
    _unique,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound

# --- reads other domains use ----------------------------------------------------------------

get_account = queries.get_account
get_person = queries.get_person
accounts_by_id = queries.accounts_by_id
people_by_id = queries.people_by_id
person_by_email = queries.person_by_email
segment_detail = queries.segment_detail


def account_filter(conditions: Sequence[Condition | dict[str, Any]]) -> ColumnElement[bool]:
    """A WHERE clause on accounts for a list of conditions; raises `FilterInvalid` (HTTP 422) naming each bad one.

    Use it inside ``select(<account id>)``; to scope another table join on the account id, or use
    :func:`account_ids_matching`.
    """
    return queries.account_clause(conditions)


def person_filter(conditions: Sequence[Condition | dict[str, Any]]) -> ColumnElement[bool]:
    """A WHERE clause on people (conditions on the person or, as ``account.<field>``, their account)."""
    return queries.person_clause(conditions)


def account_ids_matching(conditions: Sequence[Condition | dict[str, Any]]) -> Select[Any]:
    """``SELECT id`` of the accounts matching ``conditions``, for ``YourModel.account_id.in_(...)``."""
    return select(Account.id).where(account_filter(conditions))


def segment_account_ids(session: Session, segment_id: int) -> Select[Any]:
    """``SELECT id`` of a segment's accounts (for a people segment: the accounts its people belong to)."""
    return queries.segment_account_ids(session, segment_id)


def segment_person_ids(session: Session, segment_id: int) -> Select[Any]:
    """``SELECT id`` of a segment's people (for an accounts segment: everyone at those accounts)."""
    segment = queries.get_segment(session, segment_id)
    if segment.entity == "people":
        return queries.segment_member_ids(session, segment_id)
    return select(Person.id).where(Person.account_id.in_(queries.segment_account_ids(session, segment_id)))


def account_facts() -> Select[*tuple[Any, ...]]:
    """``SELECT account_id, name, arr, plan, segment, region`` of every account, to join in grouped SQL (demand
    weighs feedback by ARR and breaks it down by plan, segment and region)."""
    return select(
        Account.id.label("account_id"),
        Account.name.label("name"),
        Account.arr.label("arr"),
        Account.plan.label("plan"),
        Account.segment.label("segment"),
        Account.region.label("region"),
    )


def person_accounts() -> Select[*tuple[Any, ...]]:
    """``SELECT person_id, email, account_id`` of every person, to join in grouped SQL (e.g. voters' accounts)."""
    return select(Person.id.label("person_id"), Person.email.label("email"), Person.account_id.label("account_id"))


def account_mirror_facts() -> Select[*tuple[Any, ...]]:
    """``SELECT account_id, external_id, domain, name, plan, arr, segment, region, attributes`` of every account,
    for systems that keep a copy of the accounts (the analytics warehouse) and match them by external id or domain."""
    return select(
        Account.id.label("account_id"),
        Account.external_id.label("external_id"),
        Account.domain.label("domain"),
        Account.name.label("name"),
        Account.plan.label("plan"),
        Account.arr.label("arr"),
        Account.segment.label("segment"),
        Account.region.label("region"),
        Account.attributes.label("attributes"),
    )


def person_mirror_facts() -> Select[*tuple[Any, ...]]:
    """``SELECT person_id, email, external_id, name, account_id`` of every person, for matching people that other
    systems know by e-mail or external id (analytics identify calls)."""
    return select(
        Person.id.label("person_id"),
        Person.email.label("email"),
        Person.external_id.label("external_id"),
        Person.name.label("name"),
        Person.account_id.label("account_id"),
    )


def list_segments(session: Session, entity: Entity | None = None) -> list[SegmentOut]:
    """Every saved segment (with member counts), for segment pickers in other domains."""
    return list(queries.list_segments(session, entity=entity, per_page=500).items)


# --- segments -------------------------------------------------------------------------------


def _stored_filters(entity: Entity, conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [c.model_dump() for c in validate_conditions(entity, list(conditions))]


def create_segment(session: Session, actor: Actor, data: SegmentIn) -> SegmentOut:
    filters = _stored_filters(data.entity, data.filters)
    with transaction(session):
        _unique(session, Segment.name, data.name, None, field="name", what="the name")
        segment = Segment(name=data.name, description=data.description, entity=data.entity, filters=filters)
        session.add(segment)
        session.flush()
        after = _segment_snapshot(segment)
        audit.record(
            session,
            actor,
            entity_type="segment",
            entity_id=segment.id,
            action="create",
            changes=audit.diff({}, after),
            entity_label=segment.name,
        )
        events.emit(session, SEGMENT_CREATED, {"id": segment.id, **after})
        segment_id = segment.id
    return queries.segment_detail(session, segment_id)


def update_segment(session: Session, actor: Actor, segment_id: int, data: SegmentUpdate) -> SegmentOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        segment = session.get(Segment, segment_id)
        if segment is None:
            raise NotFound("segment", segment_id)
        entity = changes.get("entity", segment.entity)
        if "filters" in changes or "entity" in changes:
            conditions = (
                data.filters if data.filters is not None else [Condition.model_validate(c) for c in segment.filters]
            )
            changes["filters"] = _stored_filters(entity, conditions)
        if "name" in changes:
            _unique(session, Segment.name, changes["name"], segment.id, field="name", what="the name")
        before = _segment_snapshot(segment)
        for key, value in changes.items():
            if getattr(segment, key) != value:
                setattr(segment, key, value)
        diff = audit.diff(before, _segment_snapshot(segment))
        if diff:
            audit.record(
                session,
                actor,
                entity_type="segment",
                entity_id=segment.id,
                action="update",
                changes=diff,
                entity_label=segment.name,
            )
            events.emit(session, SEGMENT_UPDATED, {"id": segment.id, "name": segment.name, "changes": diff})
    return queries.segment_detail(session, segment_id)


def delete_segment(session: Session, actor: Actor, segment_id: int) -> None:
    with transaction(session):
        segment = session.get(Segment, segment_id)
        if segment is None:
            raise NotFound("segment", segment_id)
        before = _segment_snapshot(segment)
        session.delete(segment)
        audit.record(
            session,
            actor,
            entity_type="segment",
            entity_id=segment_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=before["name"],
        )
        events.emit(session, SEGMENT_DELETED, {"id": segment_id, "name": before["name"]})
