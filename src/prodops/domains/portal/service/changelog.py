"""The changelog: staff write entries (Markdown) linked to the shipped ideas they announce, and publish them.

Publishing an entry is done once: it appears on ``/p/<slug>/changelog`` and in the Atom feed, and the voters and
followers of its linked ideas are e-mailed (each person once; see :mod:`.notifications`). Editing a published
entry changes the page and the feed (its ``updated``) but e-mails nobody again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, ChangelogEntry, ChangelogIdea, Idea, Portal
from prodops.domains.portal.service import notifications
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

MAX_IDEAS = 50

ENTRY_PUBLISHED = events.declare(
    "portal.changelog.published",
    "A portal changelog entry was published: entry_id, portal_id, title, idea_ids (its voters and followers are "
    "e-mailed).",
)
ENTRY_SAVED = events.declare(
    "portal.changelog.saved", "A portal changelog entry was created or changed: entry_id, portal_id, title, published."
)
ENTRY_DELETED = events.declare("portal.changelog.deleted", "A portal changelog entry was deleted: entry_id, portal_id.")


class ChangelogIn(BaseModel):
    """A changelog entry as staff write it. ``idea_ids`` are ideas of the entry's portal it announces."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    portal_id: int
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=50_000, description="Markdown; rendered sanitised.")
    idea_ids: list[int] = Field(default_factory=list, max_length=MAX_IDEAS)

    @field_validator("idea_ids")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


_AUDITED = ("portal_id", "title", "body", "published_at")


def _snapshot(entry: ChangelogEntry, idea_ids: list[int]) -> dict[str, Any]:
    return {**audit.snapshot(entry, _AUDITED), "idea_ids": sorted(idea_ids)}


def _check(session: Session, data: ChangelogIn) -> None:
    """Every problem with the portal and the ideas, as field errors, before anything is written."""
    if session.get(Portal, data.portal_id) is None:
        raise ValidationFailed("portal_id", f"there is no portal {data.portal_id}")
    if not data.idea_ids:
        return
    rows = dict(
        session.execute(
            select(Idea.id, Board.portal_id).join(Board, Board.id == Idea.board_id).where(Idea.id.in_(data.idea_ids))
        ).all()
    )
    problems: list[tuple[str | None, str]] = []
    for idea_id in data.idea_ids:
        if idea_id not in rows:
            problems.append(("idea_ids", f"there is no idea {idea_id}"))
        elif rows[idea_id] != data.portal_id:
            problems.append(("idea_ids", f"idea {idea_id} is on another portal"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)


def _linked(session: Session, entry_id: int) -> list[int]:
    return list(session.scalars(select(ChangelogIdea.idea_id).where(ChangelogIdea.entry_id == entry_id)))


def _set_ideas(session: Session, entry_id: int, idea_ids: list[int]) -> None:
    current = set(_linked(session, entry_id))
    wanted = set(idea_ids)
    if current - wanted:
        session.execute(
            delete(ChangelogIdea).where(
                ChangelogIdea.entry_id == entry_id, ChangelogIdea.idea_id.in_(sorted(current - wanted))
            )
        )
    session.add_all(ChangelogIdea(entry_id=entry_id, idea_id=i) for i in sorted(wanted - current))


def _record(session: Session, actor: Actor, entry: ChangelogEntry, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session,
        actor,
        entity_type="portal_changelog_entry",
        entity_id=entry.id,
        action=action,
        changes=changes,
        entity_label=entry.title,
    )


def _live(session: Session, entry_id: int) -> ChangelogEntry:
    entry = session.get(ChangelogEntry, entry_id)
    if entry is None:
        raise NotFound("changelog entry", entry_id)
    return entry


def create_entry(session: Session, actor: Actor, data: ChangelogIn, *, publish: bool = False) -> int:
    """Save a draft (or publish it at once with ``publish``); returns its id."""
    with transaction(session):
        _check(session, data)
        entry = ChangelogEntry(portal_id=data.portal_id, title=data.title, body=data.body, created_by_id=actor.user_id)
        session.add(entry)
        session.flush()
        _set_ideas(session, entry.id, data.idea_ids)
        after = {k: v for k, v in _snapshot(entry, data.idea_ids).items() if v not in (None, "", [])}
        _record(session, actor, entry, "create", audit.diff({}, after))
        events.emit(
            session,
            ENTRY_SAVED,
            {"entry_id": entry.id, "portal_id": entry.portal_id, "title": entry.title, "published": False},
        )
        if publish:
            _publish(session, actor, entry)
        return entry.id


def update_entry(session: Session, actor: Actor, entry_id: int, data: ChangelogIn, *, publish: bool = False) -> bool:
    """Change an entry's text and ideas (a published entry stays published; nobody is e-mailed again); with
    ``publish``, a draft is published in the same transaction. Returns whether it was published now."""
    with transaction(session):
        entry = _live(session, entry_id)
        if data.portal_id != entry.portal_id:
            raise ValidationFailed("portal_id", "an entry stays on its portal; write a new entry for another one")
        _check(session, data)
        before = _snapshot(entry, _linked(session, entry.id))
        entry.title, entry.body = data.title, data.body
        _set_ideas(session, entry.id, data.idea_ids)
        changes = audit.diff(before, _snapshot(entry, data.idea_ids))
        if changes:
            entry.updated_at = utcnow()
            _record(session, actor, entry, "update", changes)
            events.emit(
                session,
                ENTRY_SAVED,
                {
                    "entry_id": entry.id,
                    "portal_id": entry.portal_id,
                    "title": entry.title,
                    "published": entry.published_at is not None,
                },
            )
        if publish and entry.published_at is None:
            _publish(session, actor, entry)
            return True
        return False


def _publish(session: Session, actor: Actor, entry: ChangelogEntry) -> None:
    entry.published_at = utcnow()
    entry.updated_at = entry.published_at
    _record(session, actor, entry, "publish", {"published_at": [None, audit.plain(entry.published_at)]})
    idea_ids = _linked(session, entry.id)
    events.emit(
        session,
        ENTRY_PUBLISHED,
        {"entry_id": entry.id, "portal_id": entry.portal_id, "title": entry.title, "idea_ids": idea_ids},
    )
    notifications.announce_on_commit(session, entry.id)


def publish_entry(session: Session, actor: Actor, entry_id: int) -> None:
    """Publish a draft: it shows on the portal and in the feed, and its ideas' voters and followers are e-mailed
    once the transaction commits. A published entry cannot be published again (409)."""
    with transaction(session):
        entry = _live(session, entry_id)
        if entry.published_at is not None:
            raise Conflict(None, f"“{entry.title}” was already published; its readers were told then.")
        _publish(session, actor, entry)


def delete_entry(session: Session, actor: Actor, entry_id: int) -> None:
    """Delete an entry (draft or published) and its idea links."""
    with transaction(session):
        entry = _live(session, entry_id)
        before = _snapshot(entry, _linked(session, entry.id))
        _record(session, actor, entry, "delete", audit.diff(before, {}))
        events.emit(session, ENTRY_DELETED, {"entry_id": entry.id, "portal_id": entry.portal_id})
        session.delete(entry)
