"""People: create (joining the account of their e-mail domain), change, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.customers import queries
from prodops.domains.customers.models import Person
from prodops.domains.customers.schemas import (
    PersonIn,
    PersonOut,
    PersonUpdate,
)
from prodops.domains.customers.service._shared import (
    PERSON_CREATED,
    PERSON_DELETED,
    PERSON_UPDATED,
    _account_for_email,
    _check_account,
    _person_snapshot,
    _unique,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound

# --- people ---------------------------------------------------------------------------------


def create_person(session: Session, actor: Actor, data: PersonIn) -> PersonOut:
    values = data.model_dump()
    with transaction(session):
        _unique(session, Person.email, values["email"], None, field="email", what="the e-mail address")
        _unique(session, Person.external_id, data.external_id, None, field="external_id", what="the external id")
        if "account_id" in data.model_fields_set:
            _check_account(session, data.account_id)
        else:
            values["account_id"] = _account_for_email(session, values["email"])
        person = Person(**values)
        session.add(person)
        session.flush()
        after = _person_snapshot(person)
        audit.record(
            session,
            actor,
            entity_type="person",
            entity_id=person.id,
            action="create",
            changes=audit.diff({}, after),
            entity_label=person.email,
        )
        events.emit(session, PERSON_CREATED, {"id": person.id, **after})
        person_id = person.id
    return queries.get_person(session, person_id)


def ensure_person(session: Session, actor: Actor, email: str, name: str = "") -> PersonOut:
    """The person with this e-mail, created (and linked to the account of their e-mail domain) if new."""
    found = queries.person_by_email(session, email)
    if found is not None:
        return found
    return create_person(session, actor, PersonIn(email=email, name=name))


def _apply_person(person: Person, changes: Mapping[str, Any]) -> dict[str, list[Any]]:
    before = _person_snapshot(person)
    for key, value in changes.items():
        if getattr(person, key) != value:
            setattr(person, key, value)
    return audit.diff(before, _person_snapshot(person))


def update_person(session: Session, actor: Actor, person_id: int, data: PersonUpdate) -> PersonOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound("person", person_id)
        if "email" in changes:
            _unique(session, Person.email, changes["email"], person.id, field="email", what="the e-mail address")
        if "external_id" in changes:
            _unique(
                session,
                Person.external_id,
                changes["external_id"],
                person.id,
                field="external_id",
                what="the external id",
            )
        if changes.get("account_id") is not None and changes["account_id"] != person.account_id:
            _check_account(session, changes["account_id"])
        diff = _apply_person(person, changes)
        if diff:
            audit.record(
                session,
                actor,
                entity_type="person",
                entity_id=person.id,
                action="update",
                changes=diff,
                entity_label=person.email,
            )
            events.emit(session, PERSON_UPDATED, {"id": person.id, "email": person.email, "changes": diff})
    return queries.get_person(session, person_id)


def delete_person(session: Session, actor: Actor, person_id: int) -> None:
    with transaction(session):
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound("person", person_id)
        before = _person_snapshot(person)
        session.delete(person)
        audit.record(
            session,
            actor,
            entity_type="person",
            entity_id=person_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=person.email,
        )
        events.emit(session, PERSON_DELETED, {"id": person_id, "email": before["email"]})
