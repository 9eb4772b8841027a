"""Feedback items: ingest (one or a batch, idempotent by source + external id), change, triage, link to features."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.feedback.models import IMPORTANCE, FeedbackItem, FeedbackLink, FeedbackTag
from prodops.domains.feedback.schemas import (
    BulkChange,
    FeedbackIn,
    FeedbackOut,
    FeedbackUpdate,
    IngestResult,
    LinkIn,
    LinkOut,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product

ITEM_CREATED = events.declare("feedback.item.created", "A piece of feedback arrived (any channel).")
ITEM_UPDATED = events.declare("feedback.item.updated", "A feedback item changed (payload lists the changed fields).")
ITEM_DELETED = events.declare("feedback.item.deleted", "A feedback item was deleted.")
ITEM_LINKED = events.declare("feedback.item.linked", "A feedback item (or a passage of it) was linked to a feature.")
ITEM_UNLINKED = events.declare("feedback.item.unlinked", "A link from a feedback item to a feature was removed.")
ITEMS_INGESTED = events.declare(
    "feedback.items.ingested",
    "A batch of feedback was ingested (bulk API or import): counts and ids in one event instead of one per item.",
)

AUDIT_FIELDS = (
    "title",
    "text",
    "source",
    "source_url",
    "external_id",
    "person_id",
    "account_id",
    "product_id",
    "area",
    "importance",
    "received_at",
    "status",
    "assignee_id",
    "notes",
)
_CHUNK = 500
_ITEM_COLUMNS = (
    "title",
    "text",
    "source",
    "source_url",
    "external_id",
    "product_id",
    "area",
    "importance",
    "status",
    "assignee_id",
    "notes",
    "meta",
)
#: Fields an update by (source, external id) leaves as they are when the incoming item does not give them.
_KEPT_WHEN_MISSING = ("product_id", "area", "importance", "assignee_id", "received_at")


# --- helpers --------------------------------------------------------------------------------


def snapshot(item: FeedbackItem) -> dict[str, Any]:
    return {**audit.snapshot(item, AUDIT_FIELDS), "tags": sorted(item.tags)}


def _label(item: FeedbackItem) -> str:
    return (item.title or item.text)[:80]


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _check_ids(session: Session, model: Any, ids: Iterable[int | None], field: str, noun: str) -> None:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return
    known: set[int] = set()
    for chunk in _chunks(wanted):
        known.update(session.scalars(select(model.id).where(model.id.in_(chunk))))
    missing = [i for i in wanted if i not in known]
    if missing:
        raise ValidationFailed(field, f"there is no {noun} {', '.join(map(str, missing[:10]))}")


def _person_and_account(session: Session, values: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Who gave the feedback, and their account (an explicit account wins over the person's)."""
    person_id = values.get("person_id")
    account_id = values.get("account_id")
    person_account: int | None = None
    if person_id is not None:
        found = customers.people_by_id(session, [person_id]).get(person_id)
        if found is None:
            raise ValidationFailed("person_id", f"there is no person {person_id}")
        person_account = found.account_id
    if account_id is not None and not customers.accounts_by_id(session, [account_id]):
        raise ValidationFailed("account_id", f"there is no account {account_id}")
    return person_id, account_id if account_id is not None else person_account


def _set_tags(session: Session, item: FeedbackItem, tags: Sequence[str]) -> None:
    current = {t.tag: t for t in item.tag_rows}
    for tag, row in current.items():
        if tag not in tags:
            item.tag_rows.remove(row)
    for tag in tags:
        if tag not in current:
            item.tag_rows.append(FeedbackTag(tag=tag))


def _out(session: Session, item_id: int) -> FeedbackOut:
    from prodops.domains.feedback.queries.items import get_item

    return get_item(session, item_id)


# --- one item -------------------------------------------------------------------------------


def ingest(session: Session, actor: Actor, data: FeedbackIn) -> tuple[FeedbackOut, bool]:
    """Create an item, or update the one with the same source and external id. Returns (item, created)."""
    result = ingest_many(session, actor, [data])
    return _out(session, result.ids[0]), result.created == 1


def update_item(session: Session, actor: Actor, item_id: int, data: FeedbackUpdate) -> FeedbackOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        item = session.get(FeedbackItem, item_id)
        if item is None:
            raise NotFound("feedback item", item_id)
        if "person_id" in changes and changes["person_id"] != item.person_id:
            _, account_id = _person_and_account(
                session, {"person_id": changes["person_id"], "account_id": changes.get("account_id")}
            )
            changes.setdefault("account_id", account_id)
        elif changes.get("account_id") is not None:
            _person_and_account(session, {"account_id": changes["account_id"]})
        _check_ids(session, Product, [changes.get("product_id")], "product_id", "product")
        _check_ids(session, User, [changes.get("assignee_id")], "assignee_id", "user")
        diff = _apply(session, item, changes)
        if diff:
            _audit_update(session, actor, item, diff)
    return _out(session, item_id)


def _apply(session: Session, item: FeedbackItem, changes: Mapping[str, Any]) -> dict[str, list[Any]]:
    before = snapshot(item)
    for key, value in changes.items():
        if key == "tags":
            _set_tags(session, item, value)
        elif getattr(item, key) != value:
            setattr(item, key, value)
    session.flush()
    return audit.diff(before, snapshot(item))


def _audit_update(session: Session, actor: Actor, item: FeedbackItem, diff: dict[str, list[Any]]) -> None:
    audit.record(
        session,
        actor,
        entity_type="feedback",
        entity_id=item.id,
        action="update",
        changes=diff,
        entity_label=_label(item),
    )
    events.emit(session, ITEM_UPDATED, {"id": item.id, "changes": diff})


def delete_item(session: Session, actor: Actor, item_id: int) -> None:
    with transaction(session):
        item = session.get(FeedbackItem, item_id)
        if item is None:
            raise NotFound("feedback item", item_id)
        before = snapshot(item)
        session.delete(item)
        audit.record(
            session,
            actor,
            entity_type="feedback",
            entity_id=item_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=(before["title"] or before["text"])[:80],
        )
        events.emit(session, ITEM_DELETED, {"id": item_id})


def bulk_change(session: Session, actor: Actor, change: BulkChange) -> int:
    """Apply one change (status, assignee, importance, product, tags) to many items; returns how many changed."""
    with transaction(session):
        _check_ids(session, Product, [change.product_id], "product_id", "product")
        _check_ids(session, User, [change.assignee_id], "assignee_id", "user")
        items: list[FeedbackItem] = []
        ids = sorted(set(change.ids))
        for chunk in _chunks(ids):
            items.extend(session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(chunk))))
        missing = set(ids) - {i.id for i in items}
        if missing:
            raise ValidationFailed("ids", f"unknown feedback item(s): {', '.join(map(str, sorted(missing)[:10]))}")
        changed = 0
        for item in items:
            values: dict[str, Any] = {}
            for key in ("status", "importance", "product_id", "assignee_id"):
                value = getattr(change, key)
                if value is not None:
                    values[key] = value
            if change.unassign:
                values["assignee_id"] = None
            if change.add_tags or change.remove_tags:
                tags = [t for t in item.tags if t not in change.remove_tags]
                values["tags"] = [*tags, *(t for t in change.add_tags if t not in tags)]
            diff = _apply(session, item, values)
            if diff:
                changed += 1
                _audit_update(session, actor, item, diff)
    return changed


# --- many items -----------------------------------------------------------------------------


def ingest_many(
    session: Session, actor: Actor, items: Sequence[FeedbackIn], *, default_source: str | None = None
) -> IngestResult:
    """Create or update many items in one transaction: all or nothing. Items with a known (source, external id)
    are updated; people given by e-mail are created if new. Scales to imports of 100,000 rows."""
    if default_source:
        items = [
            i if "source" in i.model_fields_set else i.model_copy(update={"source": default_source}) for i in items
        ]
    with transaction(session):
        _check_ids(session, Product, [i.product_id for i in items], "product_id", "product")
        _check_ids(session, User, [i.assignee_id for i in items], "assignee_id", "user")
        people = _resolve_people(session, actor, items)
        accounts = _resolve_accounts(session, items)
        existing = _existing(session, items)
        now = utcnow()
        created_rows: list[dict[str, Any]] = []
        created_pos: list[int] = []
        ids: list[int | None] = [None] * len(items)
        updated = 0
        seen: dict[tuple[str, str], int] = {}
        for pos, data in enumerate(items):
            person_id, account_id = people[pos]
            if data.account_id is not None or data.account_domain is not None:
                account_id = accounts[pos]
            values = {k: getattr(data, k) for k in _ITEM_COLUMNS}
            values.update(person_id=person_id, account_id=account_id, received_at=data.received_at or now)
            key = (data.source, data.external_id) if data.external_id else None
            if key is not None and key in seen:
                raise ValidationFailed(
                    f"items.{pos}.external_id",
                    f"external id {data.external_id!r} appears twice in this batch (also item {seen[key]})",
                )
            if key is not None:
                seen[key] = pos
            target = existing.get(key) if key else None
            if target is not None:
                values.pop("status")  # re-ingesting never undoes triage
                if not data.notes:
                    values.pop("notes")
                # Nor does it clear what triage set, or move the item to today, when the channel leaves them out.
                for name in _KEPT_WHEN_MISSING:
                    if getattr(data, name) is None:
                        values.pop(name)
                diff = _apply(session, target, {**values, "tags": sorted({*target.tags, *data.tags})})
                if diff:
                    updated += 1
                    _audit_update(session, actor, target, diff)
                ids[pos] = target.id
            else:
                created_rows.append({**values, "created_at": now, "updated_at": now})
                created_pos.append(pos)
        new_ids = _insert_items(session, actor, created_rows, [items[p].tags for p in created_pos])
        for pos, new_id in zip(created_pos, new_ids, strict=True):
            ids[pos] = new_id
        if len(items) == 1 and new_ids:
            events.emit(session, ITEM_CREATED, {"id": new_ids[0], "source": items[0].source})
        elif len(items) > 1:
            events.emit(
                session,
                ITEMS_INGESTED,
                {"created": len(new_ids), "updated": updated, "created_ids": new_ids[:10_000]},
            )
    return IngestResult(created=len(new_ids), updated=updated, ids=[i for i in ids if i is not None])


def _resolve_people(session: Session, actor: Actor, items: Sequence[FeedbackIn]) -> list[tuple[int | None, int | None]]:
    by_email: dict[str, str] = {}
    for data in items:
        if data.person_email:
            by_email.setdefault(data.person_email, data.person_name)
    known = customers.ensure_people(session, actor, by_email) if by_email else {}
    by_id = customers.people_by_id(session, sorted({i.person_id for i in items if i.person_id is not None}))
    result: list[tuple[int | None, int | None]] = []
    for pos, data in enumerate(items):
        if data.person_email:
            result.append(known[data.person_email])
        elif data.person_id is not None:
            person = by_id.get(data.person_id)
            if person is None:
                raise ValidationFailed(f"items.{pos}.person_id", f"there is no person {data.person_id}")
            result.append((person.id, person.account_id))
        else:
            result.append((None, None))
    return result


def _resolve_accounts(session: Session, items: Sequence[FeedbackIn]) -> list[int | None]:
    ids = sorted({i.account_id for i in items if i.account_id is not None})
    known = set(customers.accounts_by_id(session, ids)) if ids else set()
    domains = customers.account_ids_by_domain(session, {i.account_domain.lower() for i in items if i.account_domain})
    result: list[int | None] = []
    for pos, data in enumerate(items):
        if data.account_id is not None:
            if data.account_id not in known:
                raise ValidationFailed(f"items.{pos}.account_id", f"there is no account {data.account_id}")
            result.append(data.account_id)
        elif data.account_domain:
            account = domains.get(data.account_domain.lower())
            if account is None:
                raise ValidationFailed(
                    f"items.{pos}.account_domain", f"no account has the domain {data.account_domain}"
                )
            result.append(account)
        else:
            result.append(None)
    return result


def _existing(session: Session, items: Sequence[FeedbackIn]) -> dict[tuple[str, str], FeedbackItem]:
    keys: dict[str, set[str]] = {}
    for data in items:
        if data.external_id:
            keys.setdefault(data.source, set()).add(data.external_id)
    found: dict[tuple[str, str], FeedbackItem] = {}
    for source, ext_ids in keys.items():
        for chunk in _chunks(sorted(ext_ids)):
            stmt = select(FeedbackItem).where(FeedbackItem.source == source, FeedbackItem.external_id.in_(chunk))
            for item in session.scalars(stmt):
                found[(source, item.external_id or "")] = item
    return found


def _insert_items(session: Session, actor: Actor, rows: list[dict[str, Any]], tags: list[list[str]]) -> list[int]:
    """Insert new items with their tags and audit records in a few statements per 500 rows."""
    new_ids: list[int] = []
    # SQLite cannot return generated ids in parameter order from one multi-row INSERT (SQLAlchemy would send one
    # INSERT per row). A SQLite write transaction holds the database's only write lock from BEGIN IMMEDIATE, so
    # the ids can safely be handed out here instead; PostgreSQL returns them in order from batched statements.
    next_id = None
    if session.get_bind().dialect.name == "sqlite":
        next_id = (session.scalar(select(func.max(FeedbackItem.id))) or 0) + 1
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        if next_id is not None:
            chunk_ids = list(range(next_id, next_id + len(chunk)))
            next_id += len(chunk)
            session.execute(insert(FeedbackItem), [{**row, "id": i} for row, i in zip(chunk, chunk_ids, strict=True)])
        else:
            stmt = insert(FeedbackItem).returning(FeedbackItem.id, sort_by_parameter_order=True)
            chunk_ids = list(session.execute(stmt, chunk).scalars())
        new_ids.extend(chunk_ids)
        tag_rows = [
            {"item_id": item_id, "tag": tag}
            for item_id, item_tags in zip(chunk_ids, tags[start : start + _CHUNK], strict=True)
            for tag in item_tags
        ]
        if tag_rows:
            session.execute(insert(FeedbackTag), tag_rows)
        audit.record_many(
            session,
            actor,
            entity_type="feedback",
            action="create",
            entries=(
                (
                    item_id,
                    (row["title"] or row["text"])[:80],
                    audit.diff({}, {k: audit.plain(row.get(k)) for k in AUDIT_FIELDS}),
                )
                for item_id, row in zip(chunk_ids, chunk, strict=True)
            ),
            at=chunk[0]["created_at"] if chunk else None,
        )
    return new_ids


# --- links to features ----------------------------------------------------------------------


def link_feature(
    session: Session, actor: Actor, item_id: int, data: LinkIn, *, created_by_id: int | None = None
) -> LinkOut:
    """Link an item (or a highlighted passage) to a feature; linking again updates the highlight and importance.
    A new or triaged item becomes ``linked``."""
    with transaction(session):
        item = session.get(FeedbackItem, item_id)
        if item is None:
            raise NotFound("feedback item", item_id)
        try:
            feature_id = features.resolve_feature_id(session, data.feature_id)
        except NotFound as exc:
            raise ValidationFailed("feature_id", f"there is no feature {data.feature_id}") from exc
        highlight = ""
        if data.highlight_start is not None and data.highlight_end is not None:
            if data.highlight_end > len(item.text):
                raise ValidationFailed("highlight_end", f"the text is only {len(item.text)} characters long")
            highlight = item.text[data.highlight_start : data.highlight_end]
        link = session.scalar(
            select(FeedbackLink).where(FeedbackLink.item_id == item_id, FeedbackLink.feature_id == feature_id)
        )
        before = {} if link is None else audit.snapshot(link, ("importance", "highlight"))
        if link is None:
            link = FeedbackLink(item_id=item_id, feature_id=feature_id, created_by_id=created_by_id or actor.user_id)
            session.add(link)
            item.links.append(link)
        link.importance = data.importance
        link.highlight = highlight
        link.highlight_start = data.highlight_start
        link.highlight_end = data.highlight_end
        if item.status in ("new", "triaged"):
            item.status = "linked"
        session.flush()
        audit.record(
            session,
            actor,
            entity_type="feedback",
            entity_id=item.id,
            action="link",
            changes={
                "feature_id": [None if not before else feature_id, feature_id],
                **audit.diff(before, audit.snapshot(link, ("importance", "highlight"))),
            },
            entity_label=_label(item),
        )
        events.emit(
            session,
            ITEM_LINKED,
            {"item_id": item.id, "feature_id": feature_id, "link_id": link.id, "importance": link.importance},
        )
        link_id = link.id
    from prodops.domains.feedback.queries.items import get_link

    return get_link(session, link_id)


def unlink(session: Session, actor: Actor, link_id: int) -> None:
    """Remove a link; an item left with no links goes back to ``triaged``."""
    with transaction(session):
        link = session.get(FeedbackLink, link_id)
        if link is None:
            raise NotFound("link", link_id)
        item = session.get(FeedbackItem, link.item_id)
        assert item is not None
        feature_id = link.feature_id
        item.links.remove(link)
        session.delete(link)
        session.flush()
        if not item.links and item.status == "linked":
            item.status = "triaged"
        audit.record(
            session,
            actor,
            entity_type="feedback",
            entity_id=item.id,
            action="unlink",
            changes={"feature_id": [feature_id, None]},
            entity_label=_label(item),
        )
        events.emit(session, ITEM_UNLINKED, {"item_id": item.id, "feature_id": feature_id, "link_id": link_id})


def move_links(session: Session, source_id: int, target_id: int) -> None:
    """Features merge hook: the links of ``source_id`` move to ``target_id``; an item linked to both keeps one
    link with the higher importance. Runs inside the merge's transaction."""
    rank = {name: i for i, name in enumerate(IMPORTANCE)}
    target_links = {
        link.item_id: link for link in session.scalars(select(FeedbackLink).where(FeedbackLink.feature_id == target_id))
    }
    for link in list(session.scalars(select(FeedbackLink).where(FeedbackLink.feature_id == source_id))):
        kept = target_links.get(link.item_id)
        if kept is None:
            link.feature_id = target_id
            continue
        if rank[link.importance] > rank[kept.importance]:
            kept.importance = link.importance
        if link.highlight and not kept.highlight:
            kept.highlight, kept.highlight_start, kept.highlight_end = (
                link.highlight,
                link.highlight_start,
                link.highlight_end,
            )
        session.delete(link)
    session.flush()


features.on_merge(move_links)


# --- used by other use cases ----------------------------------------------------------------


def ingest_linked(
    session: Session,
    actor: Actor,
    items: Sequence[FeedbackIn],
    feature_ids: Sequence[int],
    *,
    importance: str = "nice",
) -> list[int]:
    """Ingest items (as :func:`ingest_many`) and link item ``i`` to feature ``feature_ids[i]`` in the same
    transaction, in a few statements per 500 items: how a channel that already knows the feature files its
    evidence (portal ideas, votes and comments). An item already linked to its feature keeps its link; new items
    become ``linked``. Returns the item ids in input order."""
    if len(items) != len(feature_ids):
        raise ValueError("one feature per item")
    if importance not in IMPORTANCE:
        raise ValidationFailed("importance", f"choose one of {', '.join(IMPORTANCE)}")
    with transaction(session):
        # Merges point every merged feature straight at its survivor, so one hop finds it.
        facts = features.feature_facts().subquery("ff")
        merged: dict[int, int | None] = {}
        for chunk in _chunks(sorted(set(feature_ids))):
            stmt = select(facts.c.feature_id, facts.c.merged_into_id).where(facts.c.feature_id.in_(chunk))
            merged.update((fid, into) for fid, into in session.execute(stmt))
        missing = sorted(set(feature_ids) - set(merged))
        if missing:
            raise ValidationFailed("feature_id", f"there is no feature {missing[0]}")
        survivors = {fid: into or fid for fid, into in merged.items()}
        ids = ingest_many(session, actor, items).ids
        pairs = [(item_id, survivors[fid]) for item_id, fid in zip(ids, feature_ids, strict=True)]
        existing: set[tuple[int, int]] = set()
        for chunk in _chunks(ids):
            stmt = select(FeedbackLink.item_id, FeedbackLink.feature_id).where(FeedbackLink.item_id.in_(chunk))
            existing.update((item_id, feature_id) for item_id, feature_id in session.execute(stmt))
        now = utcnow()
        new = [p for p in dict.fromkeys(pairs) if p not in existing]
        for chunk in _chunks(new):
            session.execute(
                insert(FeedbackLink),
                [
                    {
                        "item_id": item_id,
                        "feature_id": feature_id,
                        "importance": importance,
                        "highlight": "",
                        "created_by_id": actor.user_id,
                        "created_at": now,
                    }
                    for item_id, feature_id in chunk
                ],
            )
            session.execute(
                update(FeedbackItem)
                .where(FeedbackItem.id.in_([i for i, _ in chunk]), FeedbackItem.status.in_(("new", "triaged")))
                .values(status="linked")
                .execution_options(synchronize_session=False)
            )
            audit.record_many(
                session,
                actor,
                entity_type="feedback",
                action="link",
                entries=((item_id, "", {"feature_id": [None, feature_id]}) for item_id, feature_id in chunk),
                at=now,
            )
        if len(new) == 1:
            events.emit(
                session,
                ITEM_LINKED,
                {"item_id": new[0][0], "feature_id": new[0][1], "importance": importance},
            )
    session.expire_all()
    return ids


def items_by_external_id(session: Session, source: str, external_ids: Iterable[str]) -> dict[str, int]:
    """``{external id: item id}`` of the items of ``source`` with these external ids (a channel finds the feedback
    it filed, e.g. to withdraw a vote)."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(external_ids))):
        stmt = select(FeedbackItem.external_id, FeedbackItem.id).where(
            FeedbackItem.source == source, FeedbackItem.external_id.in_(chunk)
        )
        found.update((ext or "", item_id) for ext, item_id in session.execute(stmt))
    return found


def requesters(session: Session, feature_id: int) -> list[int]:
    """The ids of the people whose feedback is linked to a feature."""
    stmt = (
        select(FeedbackItem.person_id)
        .join(FeedbackLink, FeedbackLink.item_id == FeedbackItem.id)
        .where(FeedbackLink.feature_id == feature_id, FeedbackItem.person_id.is_not(None))
        .distinct()
    )
    return [pid for pid in session.scalars(stmt) if pid is not None]


__all__ = [
    "ITEMS_INGESTED",
    "ITEM_CREATED",
    "ITEM_DELETED",
    "ITEM_LINKED",
    "ITEM_UNLINKED",
    "ITEM_UPDATED",
    "bulk_change",
    "delete_item",
    "ingest",
    "ingest_linked",
    "ingest_many",
    "items_by_external_id",
    "link_feature",
    "move_links",
    "requesters",
    "snapshot",
    "unlink",
    "update_item",
]
