"""Feedback exports: the items matching the inbox filters, in the import's column names, read in batches so an
export of 100,000 items never holds more than one batch. Reads only; never commits."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, select, true
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback.models import FeedbackItem, FeedbackTag
from prodops.domains.feedback.queries.inbox import FeedbackFilters, conditions
from prodops.platform.org.models import Product

#: The columns of an export, in order. Every one but the read-only ``account_name``, ``created_at`` and
#: ``updated_at`` is an import column, so an exported file imports back without changing anything.
EXPORT_COLUMNS: tuple[str, ...] = (
    "prodops_id",
    "source",
    "external_id",
    "received_at",
    "title",
    "text",
    "source_url",
    "person_email",
    "person_name",
    "prodops_account_id",
    "account_domain",
    "account_name",
    "product",
    "area",
    "tags",
    "importance",
    "status",
    "notes",
    "meta",
    "created_at",
    "updated_at",
)
BATCH = 1000

_COLUMNS = (
    FeedbackItem.id,
    FeedbackItem.source,
    FeedbackItem.external_id,
    FeedbackItem.received_at,
    FeedbackItem.title,
    FeedbackItem.text,
    FeedbackItem.source_url,
    FeedbackItem.person_id,
    FeedbackItem.account_id,
    FeedbackItem.product_id,
    FeedbackItem.area,
    FeedbackItem.importance,
    FeedbackItem.status,
    FeedbackItem.notes,
    FeedbackItem.meta,
    FeedbackItem.created_at,
    FeedbackItem.updated_at,
)


def export_rows(
    session: Session, filters: FeedbackFilters, *, me: int | None = None, batch: int = BATCH
) -> Iterator[dict[str, Any]]:
    """Every item matching ``filters`` (the inbox's: without ``status`` only ``new`` and ``triaged``), oldest id
    first, as ``{column: value}`` with ``tags`` a list and ``meta`` a dict. Rows are fetched ``batch`` at a time
    (keyset on the id), with the names of people, accounts and products looked up once per batch."""
    where = and_(true(), *conditions(session, filters, me=me))
    products: dict[int, str] = dict(session.execute(select(Product.id, Product.key)).all())
    last = 0
    while True:
        stmt = select(*_COLUMNS).where(where, FeedbackItem.id > last).order_by(FeedbackItem.id).limit(batch)
        rows = session.execute(stmt).all()
        if not rows:
            return
        yield from _batch(session, rows, products)
        last = rows[-1].id
        if len(rows) < batch:
            return


def _batch(session: Session, rows: Sequence[Any], products: dict[int, str]) -> Iterator[dict[str, Any]]:
    ids = [r.id for r in rows]
    people = customers.people_by_id(session, sorted({r.person_id for r in rows if r.person_id is not None}))
    accounts = customers.accounts_by_id(session, sorted({r.account_id for r in rows if r.account_id is not None}))
    tags: dict[int, list[str]] = {}
    stmt = select(FeedbackTag.item_id, FeedbackTag.tag).where(FeedbackTag.item_id.in_(ids)).order_by(FeedbackTag.tag)
    for item_id, tag in session.execute(stmt):
        tags.setdefault(item_id, []).append(tag)
    for r in rows:
        person = people.get(r.person_id) if r.person_id is not None else None
        account = accounts.get(r.account_id) if r.account_id is not None else None
        yield {
            "prodops_id": r.id,
            "source": r.source,
            "external_id": r.external_id,
            "received_at": r.received_at,
            "title": r.title,
            "text": r.text,
            "source_url": r.source_url,
            "person_email": person.email if person else None,
            "person_name": person.name if person else None,
            "prodops_account_id": r.account_id,
            "account_domain": account.domain if account else None,
            "account_name": account.name if account else None,
            "product": products.get(r.product_id) if r.product_id is not None else None,
            "area": r.area,
            "tags": tags.get(r.id, []),
            "importance": r.importance,
            "status": r.status,
            "notes": r.notes,
            "meta": r.meta or {},
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """A row for CSV or XLSX: tags as ``a, b`` and meta as JSON text (empty when there is none)."""
    return {
        **row,
        "tags": ", ".join(row["tags"]),
        "meta": json.dumps(row["meta"], ensure_ascii=False, sort_keys=True) if row["meta"] else "",
    }


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON: dates as ISO 8601 text."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


__all__ = ["BATCH", "EXPORT_COLUMNS", "export_rows", "flat", "json_row"]
