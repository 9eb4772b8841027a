"""Saved views of the inbox: a named filter (the inbox's query string), private to its owner or shared with the team.

Owners rename, re-point and delete their own views; admins may also delete any shared view. Every write is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import SavedView
from prodops.domains.feedback.queries.inbox import FeedbackFilters
from prodops.platform import audit
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from prodops.platform.identity.models import User

AUDIT_FIELDS = ("name", "query", "shared")
#: Query parameters that say where you are in the list, not what it shows: never saved.
POSITION_PARAMS = frozenset({"page", "after", "before", "item", "csrf_token"})
_LIST_PARAMS = frozenset({"source", "status", "tag"})


class SavedViewIn(BaseModel):
    """A view to save: its name and the inbox query string (``status=new&source=email``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80)
    query: str = Field(default="", max_length=2000, description="The inbox filters as a URL query string.")
    shared: bool = Field(default=False, description="Shown to everyone, not only to you.")

    @field_validator("query", mode="after")
    @classmethod
    def _query(cls, v: str) -> str:
        return normalise_query(v)


class SavedViewUpdate(BaseModel):
    """Changes to a view: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=80)
    query: str | None = Field(default=None, max_length=2000)
    shared: bool | None = None

    @field_validator("query", mode="after")
    @classmethod
    def _query(cls, v: str | None) -> str | None:
        return None if v is None else normalise_query(v)

    @field_validator("name", "shared", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class SavedViewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    query: str
    shared: bool
    owner_id: int
    owner_name: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def url(self) -> str:
        return f"/feedback?{self.query}" if self.query else "/feedback"


def normalise_query(query: str) -> str:
    """The filters of an inbox query string, checked and re-encoded; position (page, cursor, open item) is dropped.

    Raises ``ValueError`` naming the parameter when a filter is unknown or invalid."""
    pairs = [
        (k, v) for k, v in parse_qsl(query.strip().lstrip("?"), keep_blank_values=False) if k not in POSITION_PARAMS
    ]
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key in _LIST_PARAMS:
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    try:
        FeedbackFilters.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "filters"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "is not an inbox filter"
        raise ValueError(f"{where}: {message}") from None
    return urlencode(pairs)


# --- reads ----------------------------------------------------------------------------------


def _out(view: SavedView, owner_name: str | None) -> SavedViewOut:
    out = SavedViewOut.model_validate(view)
    out.owner_name = owner_name
    return out


_owner_label = func.coalesce(func.nullif(User.name, ""), User.email)


def list_views(session: Session, user_id: int) -> list[SavedViewOut]:
    """The user's own views, then the views others shared, each by name."""
    stmt = (
        select(SavedView, _owner_label)
        .join(User, User.id == SavedView.owner_id)
        .where(or_(SavedView.owner_id == user_id, SavedView.shared.is_(True)))
        .order_by(SavedView.owner_id != user_id, func.lower(SavedView.name), SavedView.id)
    )
    return [_out(view, name) for view, name in session.execute(stmt)]


def get_view(session: Session, view_id: int, user_id: int) -> SavedViewOut:
    """A view its owner or (when shared) anyone may see; others' private views do not exist for you."""
    row = session.execute(
        select(SavedView, _owner_label).join(User, User.id == SavedView.owner_id).where(SavedView.id == view_id)
    ).first()
    if row is None or (row[0].owner_id != user_id and not row[0].shared):
        raise NotFound("saved view", view_id)
    return _out(row[0], row[1])


# --- writes ---------------------------------------------------------------------------------


def _check_name(session: Session, owner_id: int, name: str, exclude_id: int | None) -> None:
    stmt = select(SavedView.id).where(SavedView.owner_id == owner_id, func.lower(SavedView.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(SavedView.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict("name", f"you already have a view called {name!r}")


def _record(session: Session, actor: Actor, view: SavedView, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session,
        actor,
        entity_type="feedback_view",
        entity_id=view.id,
        action=action,
        changes=changes,
        entity_label=view.name,
    )


def create_view(session: Session, actor: Actor, data: SavedViewIn) -> SavedViewOut:
    """Save a view for the acting user."""
    if actor.user_id is None:
        raise ValidationFailed(None, "saved views belong to a user; sign in to save one")
    with transaction(session):
        _check_name(session, actor.user_id, data.name, None)
        view = SavedView(name=data.name, query=data.query, shared=data.shared, owner_id=actor.user_id)
        session.add(view)
        session.flush()
        _record(session, actor, view, "create", audit.diff({}, audit.snapshot(view, AUDIT_FIELDS)))
        view_id = view.id
    return get_view(session, view_id, actor.user_id)


def _own(session: Session, actor: Actor, view_id: int) -> SavedView:
    view = session.get(SavedView, view_id)
    if view is None or (view.owner_id != actor.user_id and not view.shared):
        raise NotFound("saved view", view_id)
    return view


def update_view(session: Session, actor: Actor, view_id: int, data: SavedViewUpdate) -> SavedViewOut:
    """Rename a view, point it at other filters, share or unshare it: its owner only."""
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        view = _own(session, actor, view_id)
        if view.owner_id != actor.user_id:
            raise PermissionDenied("Only the owner of a saved view can change it.")
        if "name" in changes:
            _check_name(session, view.owner_id, changes["name"], view.id)
        before = audit.snapshot(view, AUDIT_FIELDS)
        for key, value in changes.items():
            setattr(view, key, value)
        session.flush()
        diff = audit.diff(before, audit.snapshot(view, AUDIT_FIELDS))
        if diff:
            _record(session, actor, view, "update", diff)
    assert actor.user_id is not None
    return get_view(session, view_id, actor.user_id)


def delete_view(session: Session, actor: Actor, view_id: int, *, is_admin: bool = False) -> None:
    """Delete a view: its owner may, and an admin may delete any shared view."""
    with transaction(session):
        view = _own(session, actor, view_id)
        if view.owner_id != actor.user_id and not (is_admin and view.shared):
            raise PermissionDenied("Only the owner of a saved view (or an admin, for shared views) can delete it.")
        _record(session, actor, view, "delete", audit.diff(audit.snapshot(view, AUDIT_FIELDS), {}))
        session.delete(view)


__all__ = [
    "SavedViewIn",
    "SavedViewOut",
    "SavedViewUpdate",
    "create_view",
    "delete_view",
    "get_view",
    "list_views",
    "normalise_query",
    "update_view",
]
