"""Status lifecycles: the workspace default and each product's own (admins configure them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from prodops.domains.features import queries
from prodops.domains.features.models import FeatureStatus
from prodops.domains.features.schemas import DEFAULT_STATUSES, MAX_STATUSES, StatusIn, StatusOut
from prodops.domains.features.service._shared import STATUSES_UPDATED, where_label
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, ValidationFailed
from prodops.platform.org.models import Product


def _check_list(statuses: Sequence[StatusIn]) -> list[tuple[str, StatusIn]]:
    problems: list[tuple[str | None, str]] = []
    if not statuses:
        problems.append(("statuses", "a lifecycle needs at least one status"))
    if len(statuses) > MAX_STATUSES:
        problems.append(("statuses", f"at most {MAX_STATUSES} statuses"))
    keys: set[str] = set()
    labels: set[str] = set()
    resolved: list[tuple[str, StatusIn]] = []
    for i, status in enumerate(statuses):
        key = status.resolved_key()
        if key in keys:
            problems.append((f"statuses.{i}.key", f"the key “{key}” is used twice; keys must differ"))
        if status.label.casefold() in labels:
            problems.append((f"statuses.{i}.label", f"two statuses are called “{status.label}”"))
        keys.add(key)
        labels.add(status.label.casefold())
        resolved.append((key, status))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)
    return resolved


def _check_product(session: Session, product_id: int | None) -> None:
    if product_id is not None and session.get(Product, product_id) is None:
        raise ValidationFailed("product_id", f"there is no product {product_id}")


def _refuse_removing_used(session: Session, product_id: int | None, current: list[StatusOut], kept: set[str]) -> None:
    """Refuse (409) when live features of this lifecycle are in a status the new lifecycle lacks."""
    usage = queries.status_usage(session, queries.lifecycle_members(product_id))
    labels = {s.key: s.label for s in current}
    problems: list[tuple[str | None, str]] = []
    for key, count in sorted(usage.items()):
        if key not in kept:
            features = "1 feature is" if count == 1 else f"{count} features are"
            problems.append(
                ("statuses", f"{features} “{labels.get(key, key)}”: move them to another status before removing it")
            )
    if problems:
        (field, message), *rest = problems
        raise Conflict(field, message, more=rest)


def _describe(statuses: Sequence[StatusOut]) -> dict[str, Any]:
    """A lifecycle as audit fields: one per status, and the order."""
    snap: dict[str, Any] = {
        f"status.{s.key}": f"{s.label} ({s.kind}{', notifies' if s.notify else ''})" for s in statuses
    }
    snap["order"] = [s.key for s in statuses]
    return snap


def _finish(
    session: Session, actor: Actor, product_id: int | None, before: list[StatusOut], action: str
) -> list[StatusOut]:
    session.flush()
    after = queries.statuses_for(session, product_id)
    changes = audit.diff(_describe(before), _describe(after))
    if changes:
        audit.record(
            session,
            actor,
            entity_type="feature_lifecycle",
            entity_id=product_id if product_id is not None else "workspace",
            action=action,
            changes=changes,
            entity_label=f"Feature statuses of {where_label(session, product_id)}",
        )
        events.emit(session, STATUSES_UPDATED, {"product_id": product_id, "statuses": [s.key for s in after]})
    return after


def set_statuses(
    session: Session, actor: Actor, product_id: int | None, statuses: Sequence[StatusIn]
) -> list[StatusOut]:
    """Replace the lifecycle of a product (``None``: the workspace default) with ``statuses``, in that order.

    Adds, renames (same key, new label), reorders and removes in one step. Removing a status that live
    features of this lifecycle are in is refused (409) with how many use it."""
    resolved = _check_list(statuses)
    with transaction(session):
        _check_product(session, product_id)
        before = queries.statuses_for(session, product_id)
        _refuse_removing_used(session, product_id, before, {key for key, _ in resolved})
        scope = FeatureStatus.product_id.is_(None) if product_id is None else FeatureStatus.product_id == product_id
        session.execute(delete(FeatureStatus).where(scope))
        for position, (key, status) in enumerate(resolved):
            session.add(
                FeatureStatus(
                    product_id=product_id,
                    key=key,
                    label=status.label,
                    position=position,
                    kind=status.kind,
                    notify=status.notify,
                )
            )
        after = _finish(session, actor, product_id, before, "configure")
    return after


def reset_statuses(session: Session, actor: Actor, product_id: int | None) -> list[StatusOut]:
    """Drop a product's own lifecycle (it follows the workspace's again), or the workspace's (back to the
    built-in default). Refused like :func:`set_statuses` when live features use a status that would go."""
    with transaction(session):
        _check_product(session, product_id)
        before = queries.statuses_for(session, product_id)
        inherited = list(DEFAULT_STATUSES) if product_id is None else queries.statuses_for(session, None)
        _refuse_removing_used(session, product_id, before, {s.key for s in inherited})
        scope = FeatureStatus.product_id.is_(None) if product_id is None else FeatureStatus.product_id == product_id
        session.execute(delete(FeatureStatus).where(scope))
        after = _finish(session, actor, product_id, before, "reset")
    return after
