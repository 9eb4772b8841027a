"""Features: create, change, move through the lifecycle, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from prodops.domains.features import queries
from prodops.domains.features.models import Feature
from prodops.domains.features.schemas import FeatureIn, FeatureOut, FeatureUpdate, StatusOut
from prodops.domains.features.service._shared import (
    FEATURE_CREATED,
    FEATURE_DELETED,
    FEATURE_UPDATED,
    STATUS_CHANGED,
    check_refs,
    feature_snapshot,
    live_feature,
    record,
    status_choice,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound


def create_feature(session: Session, actor: Actor, data: FeatureIn) -> FeatureOut:
    """Add a feature; its status is the first of its product's lifecycle unless ``data.status`` names another."""
    with transaction(session):
        check_refs(session, data.model_dump(include={"product_id", "team_id", "owner_id"}))
        status = status_choice(session, data.product_id, data.status)
        feature = Feature(**data.model_dump(exclude={"status"}), status=status.key, status_changed_at=utcnow())
        session.add(feature)
        session.flush()
        after = {k: v for k, v in feature_snapshot(feature).items() if v not in (None, "", [])}
        record(session, actor, feature, "create", audit.diff({}, after))
        events.emit(
            session,
            FEATURE_CREATED,
            {"id": feature.id, "title": feature.title, "product_id": feature.product_id, "status": feature.status},
        )
        feature_id = feature.id
    return queries.get_feature(session, feature_id)


def _change_status(session: Session, actor: Actor, feature: Feature, status: StatusOut) -> None:
    before = feature.status
    if before == status.key:
        return
    feature.status = status.key
    feature.status_changed_at = utcnow()
    record(session, actor, feature, "status", {"status": [before, status.key]})
    events.emit(
        session,
        STATUS_CHANGED,
        {
            "feature_id": feature.id,
            "title": feature.title,
            "product_id": feature.product_id,
            "from_status": before,
            "to_status": status.key,
            "to_kind": status.kind,
            "notify": status.notify,
        },
    )


def update_feature(session: Session, actor: Actor, feature_id: int, data: FeatureUpdate) -> FeatureOut:
    """Change the fields sent. A new product must have the feature's status (or send ``status`` too)."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    new_status = changes.pop("status", None)
    with transaction(session):
        feature = live_feature(session, feature_id)
        check_refs(
            session,
            {
                k: v
                for k, v in changes.items()
                if k in ("product_id", "team_id", "owner_id") and v != getattr(feature, k)
            },
        )
        product_id = changes.get("product_id", feature.product_id)
        status: StatusOut | None = None
        if new_status is not None or product_id != feature.product_id:
            status = status_choice(session, product_id, new_status or feature.status)
        before = feature_snapshot(feature)
        for key, value in changes.items():
            if getattr(feature, key) != value:
                setattr(feature, key, value)
        diff = audit.diff(before, feature_snapshot(feature))
        if diff:
            record(session, actor, feature, "update", diff)
            events.emit(session, FEATURE_UPDATED, {"id": feature.id, "title": feature.title, "changes": diff})
        if status is not None:
            _change_status(session, actor, feature, status)
    return queries.get_feature(session, feature_id)


def set_status(session: Session, actor: Actor, feature_id: int, status: str) -> FeatureOut:
    """Move a feature to ``status`` (a key of its product's lifecycle; a field error on ``status`` otherwise).

    Emits ``features.feature.status_changed`` with the target status's ``notify`` flag; no-op when unchanged."""
    with transaction(session):
        feature = live_feature(session, feature_id)
        _change_status(session, actor, feature, status_choice(session, feature.product_id, status))
    return queries.get_feature(session, feature_id)


def delete_feature(session: Session, actor: Actor, feature_id: int) -> None:
    """Delete a feature with its votes and subscribers, and the redirects of features merged into it."""
    with transaction(session):
        feature = session.get(Feature, feature_id)
        if feature is None:
            raise NotFound("feature", feature_id)
        before = feature_snapshot(feature)
        redirects = (
            session.scalar(select(func.count()).select_from(Feature).where(Feature.merged_into_id == feature_id)) or 0
        )
        if redirects:
            session.execute(delete(Feature).where(Feature.merged_into_id == feature_id))
        changes = audit.diff(before, {})
        if redirects:
            changes["merged_features_deleted"] = [redirects, 0]
        record(session, actor, feature, "delete", changes)
        session.delete(feature)
        events.emit(session, FEATURE_DELETED, {"id": feature_id, "title": before["title"]})
