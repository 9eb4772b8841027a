"""Accounts: create, change, delete (one at a time or several at once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import queries
from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import (
    AccountIn,
    AccountOut,
    AccountUpdate,
)
from prodops.domains.customers.service._shared import (
    ACCOUNT_CREATED,
    ACCOUNT_DELETED,
    ACCOUNT_UPDATED,
    _account_snapshot,
    _check_owner,
    _unique,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, ValidationFailed

# --- accounts -------------------------------------------------------------------------------


def create_account(session: Session, actor: Actor, data: AccountIn) -> AccountOut:
    with transaction(session):
        _unique(session, Account.domain, data.domain, None, field="domain", what="the domain")
        _unique(session, Account.external_id, data.external_id, None, field="external_id", what="the external id")
        _check_owner(session, data.owner_id)
        account = Account(**data.model_dump())
        session.add(account)
        session.flush()
        after = _account_snapshot(account)
        audit.record(
            session,
            actor,
            entity_type="account",
            entity_id=account.id,
            action="create",
            changes=audit.diff({}, after),
            entity_label=account.name,
        )
        events.emit(session, ACCOUNT_CREATED, {"id": account.id, **after})
        account_id = account.id
    return queries.get_account(session, account_id)


def _apply_account(session: Session, account: Account, changes: Mapping[str, Any]) -> dict[str, list[Any]]:
    before = _account_snapshot(account)
    for key, value in changes.items():
        if getattr(account, key) != value:
            setattr(account, key, value)
    return audit.diff(before, _account_snapshot(account))


def update_account(session: Session, actor: Actor, account_id: int, data: AccountUpdate) -> AccountOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("account", account_id)
        if "domain" in changes:
            _unique(session, Account.domain, changes["domain"], account.id, field="domain", what="the domain")
        if "external_id" in changes:
            _unique(
                session,
                Account.external_id,
                changes["external_id"],
                account.id,
                field="external_id",
                what="the external id",
            )
        if changes.get("owner_id") is not None and changes["owner_id"] != account.owner_id:
            _check_owner(session, changes["owner_id"])
        diff = _apply_account(session, account, changes)
        if diff:
            audit.record(
                session,
                actor,
                entity_type="account",
                entity_id=account.id,
                action="update",
                changes=diff,
                entity_label=account.name,
            )
            events.emit(session, ACCOUNT_UPDATED, {"id": account.id, "name": account.name, "changes": diff})
    return queries.get_account(session, account_id)


def delete_account(session: Session, actor: Actor, account_id: int) -> None:
    """Delete an account; its people stay, without an account."""
    with transaction(session):
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("account", account_id)
        before = _account_snapshot(account)
        people = session.scalar(select(func.count()).select_from(Person).where(Person.account_id == account.id)) or 0
        session.delete(account)
        audit.record(
            session,
            actor,
            entity_type="account",
            entity_id=account_id,
            action="delete",
            changes={**audit.diff(before, {}), **({"people_detached": [people, 0]} if people else {})},
            entity_label=before["name"],
        )
        events.emit(session, ACCOUNT_DELETED, {"id": account_id, "name": before["name"], "people_detached": people})


def bulk_update_accounts(session: Session, actor: Actor, account_ids: Sequence[int], data: AccountUpdate) -> int:
    """Apply the same change (e.g. stage or owner) to several accounts in one transaction; returns how many changed."""
    changes = data.model_dump(exclude_unset=True)
    if {"domain", "external_id"} & set(changes):
        raise ValidationFailed(
            "domain" if "domain" in changes else "external_id",
            "unique fields cannot be set on several accounts at once",
        )
    changed = 0
    with transaction(session):
        if changes.get("owner_id") is not None:
            _check_owner(session, changes["owner_id"])
        accounts = list(session.scalars(select(Account).where(Account.id.in_(set(account_ids)))))
        missing = set(account_ids) - {a.id for a in accounts}
        if missing:
            raise ValidationFailed("ids", f"unknown account id(s): {', '.join(map(str, sorted(missing)))}")
        for account in accounts:
            diff = _apply_account(session, account, changes)
            if diff:
                changed += 1
                audit.record(
                    session,
                    actor,
                    entity_type="account",
                    entity_id=account.id,
                    action="update",
                    changes=diff,
                    entity_label=account.name,
                )
                events.emit(session, ACCOUNT_UPDATED, {"id": account.id, "name": account.name, "changes": diff})
    return changed


def bulk_delete_accounts(session: Session, actor: Actor, account_ids: Sequence[int]) -> int:
    with transaction(session):
        for account_id in sorted(set(account_ids)):
            delete_account(session, actor, account_id)
    return len(set(account_ids))
