"""Events, audit snapshots and checks shared by the features use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import PersonOut
from prodops.domains.features import queries
from prodops.domains.features.models import Feature
from prodops.domains.features.schemas import StatusOut
from prodops.platform import audit, events
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team

FEATURE_CREATED = events.declare("features.feature.created", "A feature or idea was added to the catalogue.")
FEATURE_UPDATED = events.declare(
    "features.feature.updated", "A feature's title, description, product, owner, tags... changed (payload lists them)."
)
FEATURE_DELETED = events.declare("features.feature.deleted", "A feature was deleted.")
STATUS_CHANGED = events.declare(
    "features.feature.status_changed",
    "A feature moved to another status: feature_id, title, product_id, from_status, to_status, to_kind, and notify "
    "(true when the new status tells everyone who asked for the feature).",
)
FEATURE_MERGED = events.declare(
    "features.feature.merged",
    "A feature was merged into another: its votes, subscribers and links moved to the survivor (target_id).",
)
VOTE_ADDED = events.declare("features.vote.added", "Someone voted for a feature (or a staff member did for them).")
VOTE_REMOVED = events.declare("features.vote.removed", "A vote for a feature was withdrawn.")
SUBSCRIBER_ADDED = events.declare("features.subscriber.added", "Someone started following a feature.")
SUBSCRIBER_REMOVED = events.declare("features.subscriber.removed", "Someone stopped following a feature.")
STATUSES_UPDATED = events.declare(
    "features.statuses.updated", "A product's (or the workspace's) feature status lifecycle was configured."
)

FEATURE_AUDIT = (
    "title",
    "description",
    "product_id",
    "area",
    "owner_id",
    "team_id",
    "tags",
    "status",
    "release_note",
)


def feature_snapshot(feature: Feature) -> dict[str, Any]:
    snap = audit.snapshot(feature, FEATURE_AUDIT)
    snap["tags"] = list(feature.tags or [])
    return snap


def record(session: Session, actor: audit.Actor, feature: Feature, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session,
        actor,
        entity_type="feature",
        entity_id=feature.id,
        action=action,
        changes=changes,
        entity_label=feature.title,
    )


def check_refs(session: Session, values: dict[str, Any]) -> None:
    """Every unknown product, team or owner id in ``values`` as one field error each."""
    problems: list[tuple[str | None, str]] = []
    product_id = values.get("product_id")
    if product_id is not None and session.get(Product, product_id) is None:
        problems.append(("product_id", f"there is no product {product_id}"))
    team_id = values.get("team_id")
    if team_id is not None and session.get(Team, team_id) is None:
        problems.append(("team_id", f"there is no team {team_id}"))
    owner_id = values.get("owner_id")
    if owner_id is not None:
        user = session.get(User, owner_id)
        if user is None:
            problems.append(("owner_id", f"there is no user {owner_id}"))
        elif not user.is_active:
            problems.append(("owner_id", f"{user.email} is deactivated and cannot own features"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)


def live_feature(session: Session, feature_id: int) -> Feature:
    """The feature to change: NotFound when missing, Conflict when it was merged (change the survivor)."""
    feature = session.get(Feature, feature_id)
    if feature is None:
        raise NotFound("feature", feature_id)
    if feature.merged_into_id is not None:
        raise Conflict(
            None,
            f"“{feature.title}” was merged into feature {feature.merged_into_id}; change that one instead.",
        )
    return feature


def where_label(session: Session, product_id: int | None) -> str:
    """``the workspace`` or the product's name, for messages."""
    if product_id is None:
        return "the workspace"
    name = session.scalar(select(Product.name).where(Product.id == product_id))
    return name or f"product {product_id}"


def status_choice(session: Session, product_id: int | None, key: str | None) -> StatusOut:
    """The status ``key`` of the product's lifecycle (its first status when None), or a field error on ``status``."""
    statuses = queries.statuses_for(session, product_id)
    if key is None:
        return statuses[0]
    for status in statuses:
        if status.key == key:
            return status
    choices = ", ".join(s.key for s in statuses)
    raise ValidationFailed(
        "status", f"“{key}” is not a status of {where_label(session, product_id)}; choose one of {choices}"
    )


def person(session: Session, person_id: int) -> PersonOut:
    found = customers.people_by_id(session, [person_id]).get(person_id)
    if found is None:
        raise ValidationFailed("person_id", f"there is no person {person_id}")
    return found


def check_user(session: Session, user_id: int | None, field: str) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise ValidationFailed(field, f"there is no user {user_id}")
