"""People: create (joining the account of their e-mail domain), change, delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from prodops.domains.customers import queries
from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import (
    PersonIn,
    PersonOut,
    PersonUpdate,
)
from prodops.domains.customers.service._shared import (
    _CHUNK,
    IMPORTED,
    PERSON_AUDIT,
    PERSON_CREATED,
    PERSON_DELETED,
    PERSON_UPDATED,
    _account_for_email,
    _check_account,
    _email_domain,
    _person_snapshot,
    _unique,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
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


def ensure_people(session: Session, actor: Actor, people: Mapping[str, str]) -> dict[str, tuple[int, int | None]]:
    """``{e-mail: name}`` → ``{e-mail: (person id, account id)}``, creating the people not known yet (each joins
    the account of their e-mail domain) in a few statements whatever the count. E-mails must be lower-case.
    Bulk channels (imports, API batches) use this instead of :func:`ensure_person` one at a time."""
    found: dict[str, tuple[int, int | None]] = {}
    emails = sorted(people)
    with transaction(session):
        for start in range(0, len(emails), _CHUNK):
            chunk = emails[start : start + _CHUNK]
            known = session.execute(select(Person.email, Person.id, Person.account_id).where(Person.email.in_(chunk)))
            found.update({email: (pid, aid) for email, pid, aid in known})
        missing = [e for e in emails if e not in found]
        if not missing:
            return found
        domains = account_ids_by_domain(session, {_email_domain(e) for e in missing})
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "email": e,
                "name": people[e][:200],
                "account_id": domains.get(_email_domain(e)),
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for e in missing
        ]
        # Plain multi-row INSERTs (no RETURNING: SQLite would send one statement per row to keep the order), then
        # the new ids by their unique e-mail.
        for start in range(0, len(rows), _CHUNK):
            session.execute(insert(Person), rows[start : start + _CHUNK])
        new: list[int] = []
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for email, pid, aid in session.execute(
                select(Person.email, Person.id, Person.account_id).where(Person.email.in_(chunk))
            ):
                found[email] = (pid, aid)
                new.append(pid)
        audit.record_many(
            session,
            actor,
            entity_type="person",
            action="create",
            entries=(
                (found[r["email"]][0], r["email"], audit.diff({}, {k: r[k] for k in PERSON_AUDIT if k in r}))
                for r in rows
            ),
            at=now,
        )
        events.emit(
            session,
            IMPORTED,
            {"entity": "people", "created": len(new), "updated": 0, "created_ids": new},
        )
    return found


def account_ids_by_domain(session: Session, domains: Iterable[str]) -> dict[str, int]:
    """``{domain: account id}`` for the accounts whose web domain is one of ``domains`` (lower-case)."""
    wanted = sorted({d for d in domains if d})
    result: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        result.update(
            (d, i)
            for d, i in session.execute(select(Account.domain, Account.id).where(Account.domain.in_(chunk))).all()
            if d is not None
        )
    return result
