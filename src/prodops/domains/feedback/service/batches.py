"""Batches of feedback (the bulk API): every item checked against the database before anything is written, so a
refused batch names each bad item at once instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback.schemas import FeedbackIn, IngestResult
from prodops.domains.feedback.service.items import ingest_many
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product

_CHUNK = 500


@dataclass(frozen=True)
class Problem:
    """Why the item at ``index`` of a batch cannot be written, about its ``field``."""

    index: int
    field: str
    message: str


def _chunks(values: Sequence[int] | Sequence[str]) -> Iterable[Sequence[int] | Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def known_ids(session: Session, model: type[Product] | type[User], ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are rows of ``model`` (products or users)."""
    wanted = sorted(set(ids))
    found: set[int] = set()
    for chunk in _chunks(wanted):
        found.update(session.scalars(select(model.id).where(model.id.in_(chunk))))
    return found


def known_people(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    return set(customers.people_by_id(session, wanted)) if wanted else set()


def known_accounts(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    return set(customers.accounts_by_id(session, wanted)) if wanted else set()


def accounts_by_domain(session: Session, domains: Iterable[str]) -> dict[str, int]:
    """``{domain: account id}`` for the given web domains (compared lower-case)."""
    return customers.account_ids_by_domain(session, {d.lower() for d in domains if d})


def batch_problems(session: Session, items: Sequence[FeedbackIn]) -> list[Problem]:
    """Every reason the database would refuse an item of the batch: unknown people, accounts, account domains,
    products and assignees, and the same (source, external id) twice. Read only."""
    products = known_ids(session, Product, (i.product_id for i in items if i.product_id is not None))
    users = known_ids(session, User, (i.assignee_id for i in items if i.assignee_id is not None))
    people = known_people(session, (i.person_id for i in items if i.person_id is not None))
    accounts = known_accounts(session, (i.account_id for i in items if i.account_id is not None))
    domains = accounts_by_domain(session, (i.account_domain for i in items if i.account_domain))
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if item.product_id is not None and item.product_id not in products:
            problems.append(Problem(index, "product_id", f"there is no product {item.product_id}"))
        if item.assignee_id is not None and item.assignee_id not in users:
            problems.append(Problem(index, "assignee_id", f"there is no user {item.assignee_id}"))
        if item.person_id is not None and item.person_id not in people:
            problems.append(Problem(index, "person_id", f"there is no person {item.person_id}"))
        if item.account_id is not None and item.account_id not in accounts:
            problems.append(Problem(index, "account_id", f"there is no account {item.account_id}"))
        elif item.account_id is None and item.account_domain and item.account_domain.lower() not in domains:
            problems.append(Problem(index, "account_domain", f"no account has the domain {item.account_domain}"))
        if item.external_id:
            key = (item.source, item.external_id)
            if key in seen:
                problems.append(
                    Problem(
                        index,
                        "external_id",
                        f"external id {item.external_id!r} (source {item.source}) appears twice in this batch "
                        f"(also item {seen[key]})",
                    )
                )
            else:
                seen[key] = index
    return problems


def ingest_batch(session: Session, actor: Actor, items: Sequence[FeedbackIn]) -> IngestResult:
    """Create or update every item, all or nothing; a refusal (`ValidationFailed`, fields ``items.<i>.<field>``)
    lists every problem of every item."""
    with transaction(session):
        problems = batch_problems(session, items)
        if problems:
            first, *rest = problems
            raise ValidationFailed(
                f"items.{first.index}.{first.field}",
                first.message,
                more=[(f"items.{p.index}.{p.field}", p.message) for p in rest],
            )
        return ingest_many(session, actor, items)


__all__ = [
    "Problem",
    "accounts_by_domain",
    "batch_problems",
    "ingest_batch",
    "known_accounts",
    "known_ids",
    "known_people",
]
