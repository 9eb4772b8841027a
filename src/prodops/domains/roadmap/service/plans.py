"""Feature plans: a feature's initiative, effort, owning team and place on the roadmap (bucket, dates, position).

:func:`update_plan` is the one writer; the roadmap views call it for drag-and-drop moves too."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap.models import FeaturePlan
from prodops.domains.roadmap.queries import initiatives as queries
from prodops.domains.roadmap.schemas.goals import PlanOut, PlanUpdate
from prodops.domains.roadmap.service._shared import PLAN_AUDIT, PLAN_UPDATED, check_refs
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, ValidationFailed


def update_plan(session: Session, actor: Actor, feature_id: int, data: PlanUpdate) -> PlanOut:
    """Change the plan fields sent (creating the plan on first use). A merged feature is refused (409)."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    feature = features.get_feature(session, feature_id)
    if feature.merged_into_id is not None:
        raise Conflict(None, f"“{feature.title}” was merged into feature {feature.merged_into_id}; plan that one")
    with transaction(session):
        check_refs(session, {k: v for k, v in changes.items() if k in ("initiative_id", "team_id")})
        plan = session.get(FeaturePlan, feature_id)
        created = plan is None
        if plan is None:
            plan = FeaturePlan(feature_id=feature_id, effort_unit="points", position=0)
            session.add(plan)
        before = {} if created else audit.snapshot(plan, PLAN_AUDIT)
        for key, value in changes.items():
            setattr(plan, key, value)
        start, end = plan.start_date, plan.end_date
        if start and end and end < start:
            raise ValidationFailed("end_date", "the end date must be on or after the start date")
        session.flush()
        after = audit.snapshot(plan, PLAN_AUDIT)
        diff = audit.diff(before, {k: v for k, v in after.items() if not created or v not in (None, 0, "points")})
        if diff:
            audit.record(
                session,
                actor,
                entity_type="feature_plan",
                entity_id=feature_id,
                action="create" if created else "update",
                changes=diff,
                entity_label=feature.title,
            )
            events.emit(session, PLAN_UPDATED, {"feature_id": feature_id, "title": feature.title, "changes": diff})
    plan_out = queries.get_plan(session, feature_id)
    assert plan_out is not None
    return plan_out


def get_plan(session: Session, feature_id: int) -> PlanOut | None:
    return queries.get_plan(session, feature_id)


plans_by_feature = queries.plans_by_feature
