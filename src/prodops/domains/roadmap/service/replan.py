"""Re-planning from the roadmap views: move a feature to a bucket (before another card) or shift its dates by
whole months or quarters. Every change goes through the plan service (:func:`.plans.update_plan`), so it is
audited and announced like any other plan change, in one transaction per move."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import FeaturePlan
from prodops.domains.roadmap.queries.roadmap import add_months
from prodops.domains.roadmap.schemas.goals import PlanOut, PlanUpdate
from prodops.domains.roadmap.schemas.roadmap import MoveIn
from prodops.domains.roadmap.service import plans
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import ValidationFailed

STEP = 1024
"""Gap between positions when a bucket is renumbered, so most moves change one row."""


def _place(session: Session, actor: Actor, feature_id: int, bucket: str, before_id: int | None) -> int:
    """The position that puts the feature just before ``before_id`` in ``bucket`` (at the end without one),
    renumbering the bucket first when there is no gap."""
    order = [
        (fid, pos)
        for fid, pos in session.execute(
            select(FeaturePlan.feature_id, FeaturePlan.position)
            .where(FeaturePlan.bucket == bucket, FeaturePlan.feature_id != feature_id)
            .order_by(FeaturePlan.position, FeaturePlan.feature_id)
        )
    ]
    ids = [fid for fid, _ in order]
    if before_id is not None and before_id not in ids:
        raise ValidationFailed("before_id", f"feature {before_id} is not in {bucket}")
    index = ids.index(before_id) if before_id is not None else len(ids)
    prev_pos = order[index - 1][1] if index > 0 else None
    next_pos = order[index][1] if index < len(order) else None
    if next_pos is None:
        return (prev_pos or 0) + STEP
    low = prev_pos if prev_pos is not None else next_pos - 2 * STEP if next_pos >= 2 * STEP else -1
    if low >= 0 and next_pos - low >= 2:
        return (low + next_pos) // 2
    for n, (fid, pos) in enumerate(order, start=1):  # no room: spread the bucket out again
        if pos != n * STEP:
            plans.update_plan(session, actor, fid, PlanUpdate(position=n * STEP))
    return index * STEP + STEP // 2


def move(session: Session, actor: Actor, feature_id: int, data: MoveIn) -> PlanOut:
    """Apply one re-plan from the board (bucket, before_id or position) or the timeline (shift)."""
    with transaction(session):
        changes: dict[str, Any] = {}
        plan = plans.get_plan(session, feature_id)
        if data.shift:
            if plan is None or (plan.start_date is None and plan.end_date is None):
                raise ValidationFailed("shift", "this feature has no dates to move; give it a start or end date first")
            months = data.shift * (3 if data.granularity == "quarter" else 1)
            if plan.start_date is not None:
                changes["start_date"] = add_months(plan.start_date, months)
            if plan.end_date is not None:
                changes["end_date"] = add_months(plan.end_date, months)
        if data.bucket is not None or data.before_id is not None:
            bucket = data.bucket or (plan.bucket if plan else None)
            if bucket is None:
                raise ValidationFailed("bucket", "choose now, next or later")
            changes["bucket"] = bucket
            changes["position"] = _place(session, actor, feature_id, bucket, data.before_id)
        if data.position is not None:
            changes["position"] = data.position
        if not changes:
            raise ValidationFailed(None, "send a bucket, a place, a position or a shift")
        return plans.update_plan(session, actor, feature_id, PlanUpdate.model_validate(changes))
