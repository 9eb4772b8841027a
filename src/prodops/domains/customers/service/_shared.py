"""Events, audit snapshots and checks shared by the customers use cases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import queries
from prodops.domains.customers.models import Account, Person, Segment
from prodops.platform import audit, events
from prodops.platform.errors import Conflict, ValidationFailed
from prodops.platform.identity.models import User

ACCOUNT_CREATED = events.declare("customers.account.created", "A customer account was created.")
ACCOUNT_UPDATED = events.declare(
    "customers.account.updated", "A customer account changed (payload lists the changed fields)."
)
ACCOUNT_DELETED = events.declare("customers.account.deleted", "A customer account was deleted.")
PERSON_CREATED = events.declare("customers.person.created", "A person was added to the customer base.")
PERSON_UPDATED = events.declare("customers.person.updated", "A person's details or account changed.")
PERSON_DELETED = events.declare("customers.person.deleted", "A person was deleted.")
SEGMENT_CREATED = events.declare("customers.segment.created", "A saved segment was created.")
SEGMENT_UPDATED = events.declare("customers.segment.updated", "A saved segment's name or conditions changed.")
SEGMENT_DELETED = events.declare("customers.segment.deleted", "A saved segment was deleted.")
IMPORTED = events.declare(
    "customers.import.completed",
    "Accounts or people were imported or bulk-upserted: counts and the created and updated ids in one event "
    "(bulk writes send this instead of one created/updated event per row).",
)

ACCOUNT_AUDIT = ("name", "domain", "plan", "arr", "segment", "region", "lifecycle_stage", "owner_id", "external_id")
PERSON_AUDIT = ("email", "name", "title", "account_id", "external_id")
SEGMENT_AUDIT = ("name", "description", "entity", "filters")
_CHUNK = 500


# --- helpers --------------------------------------------------------------------------------


def _flat_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {f"attributes.{k}": v for k, v in sorted(attributes.items())}


def _account_snapshot(account: Account) -> dict[str, Any]:
    return {**audit.snapshot(account, ACCOUNT_AUDIT), **_flat_attributes(account.attributes or {})}


def _person_snapshot(person: Person) -> dict[str, Any]:
    return {**audit.snapshot(person, PERSON_AUDIT), **_flat_attributes(person.attributes or {})}


def _segment_snapshot(segment: Segment) -> dict[str, Any]:
    return audit.snapshot(segment, SEGMENT_AUDIT)


def _unique(session: Session, column: Any, value: Any, exclude_id: int | None, *, field: str, what: str) -> None:
    if value is None:
        return
    model = column.class_
    stmt = select(model.id, model.name if hasattr(model, "name") else model.id).where(column == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    clash = session.execute(stmt).first()
    if clash is not None:
        raise Conflict(field, f"{what} {value!r} is already used by {clash[1] or '#' + str(clash[0])}")


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is None:
        return
    user = session.get(User, owner_id)
    if user is None:
        raise ValidationFailed("owner_id", f"there is no user {owner_id}")
    if not user.is_active:
        raise ValidationFailed("owner_id", f"{user.email} is deactivated and cannot own accounts")


def _check_account(session: Session, account_id: int | None) -> None:
    if account_id is not None and session.get(Account, account_id) is None:
        raise ValidationFailed("account_id", f"there is no account {account_id}")


def _email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def _account_for_email(session: Session, email: str) -> int | None:
    return session.scalar(select(Account.id).where(Account.domain == _email_domain(email)))


@events.subscribe("customers.*")
def _forget_cached_facets(event: events.Event) -> None:
    queries.forget_facets()
