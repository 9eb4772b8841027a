"""Fast bulk seeding of generated data (the demo), with one summary audit record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from prodops.domains.customers.models import Account, Person, Segment
from prodops.domains.customers.schemas import (
    SegmentIn,
)
from prodops.domains.customers.service.segments import _stored_filters
from prodops.platform import audit
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow

# --- bulk seeding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    accounts: int
    people: int
    segments: int


def seed_customers(
    session: Session,
    actor: Actor,
    accounts: Sequence[Mapping[str, Any]],
    people: Sequence[Mapping[str, Any]],
    segments: Sequence[SegmentIn],
    *,
    label: str = "seed",
) -> SeedResult:
    """Insert generated accounts and people that are not there yet (by external id) and segments (by name), fast.

    For demo and fixture data only: bulk inserts, no per-row events, and ONE summary audit record.
    People refer to their account by ``account_external_id``.
    """
    now = utcnow()
    with transaction(session):
        have = set(session.scalars(select(Account.external_id).where(Account.external_id.is_not(None))))
        new_accounts = [
            {"arr": 0.0, "lifecycle_stage": "active", "attributes": {}, "created_at": now, "updated_at": now, **a}
            for a in accounts
            if a["external_id"] not in have
        ]
        if new_accounts:
            session.execute(insert(Account), new_accounts)
        account_ids = dict(
            session.execute(select(Account.external_id, Account.id).where(Account.external_id.is_not(None))).all()
        )
        have_people = set(session.scalars(select(Person.external_id).where(Person.external_id.is_not(None))))
        have_emails = set(session.scalars(select(Person.email)))
        new_people = []
        for p in people:
            if p["external_id"] in have_people or p["email"] in have_emails:
                continue
            row = {"name": "", "title": "", "attributes": {}, "created_at": now, "updated_at": now, **p}
            row["account_id"] = account_ids.get(row.pop("account_external_id", None))
            new_people.append(row)
        if new_people:
            session.execute(insert(Person), new_people)
        names = set(session.scalars(select(Segment.name)))
        new_segments = [s for s in segments if s.name not in names]
        for s in new_segments:
            session.add(
                Segment(
                    name=s.name,
                    description=s.description,
                    entity=s.entity,
                    filters=_stored_filters(s.entity, s.filters),
                )
            )
        result = SeedResult(len(new_accounts), len(new_people), len(new_segments))
        if new_accounts or new_people or new_segments:
            audit.record(
                session,
                actor,
                entity_type="customers",
                entity_id=label,
                action="seed",
                changes={
                    "accounts": [0, result.accounts],
                    "people": [0, result.people],
                    "segments": [0, result.segments],
                },
                entity_label=f"{result.accounts} accounts, {result.people} people, {result.segments} segments",
            )
    return result
