"""Events, audit helpers and reference checks shared by the goals, check-in, initiative and plan use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import Goal, Initiative
from prodops.platform import audit, events
from prodops.platform.errors import ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product, Team

GOAL_CREATED = events.declare("roadmap.goal.created", "A goal was set: id, title, level, parent_id.")
GOAL_UPDATED = events.declare("roadmap.goal.updated", "A goal changed (payload lists the changes).")
GOAL_DELETED = events.declare("roadmap.goal.deleted", "A goal was deleted with its key results.")
KR_CREATED = events.declare("roadmap.key_result.created", "A key result was added to a goal.")
KR_UPDATED = events.declare("roadmap.key_result.updated", "A key result changed (payload lists the changes).")
KR_DELETED = events.declare("roadmap.key_result.deleted", "A key result was deleted with its check-ins.")
CHECKED_IN = events.declare(
    "roadmap.key_result.checked_in",
    "Someone checked in on a key result: key_result_id, goal_id, value, confidence, progress.",
)
INITIATIVE_CREATED = events.declare("roadmap.initiative.created", "An initiative was created.")
INITIATIVE_UPDATED = events.declare("roadmap.initiative.updated", "An initiative changed (goals, status, dates...).")
INITIATIVE_DELETED = events.declare("roadmap.initiative.deleted", "An initiative was deleted; its features stay.")
PLAN_UPDATED = events.declare(
    "roadmap.plan.updated", "A feature's roadmap plan changed: initiative, effort, team, bucket or dates."
)

GOAL_AUDIT = (
    "title",
    "description",
    "level",
    "parent_id",
    "product_id",
    "team_id",
    "owner_id",
    "period_start",
    "period_end",
    "status",
    "weight",
)
KR_AUDIT = ("title", "unit", "start_value", "target_value", "source", "metric_key", "weight", "owner_id")
INITIATIVE_AUDIT = ("title", "description", "product_id", "team_id", "owner_id", "status", "start_date", "end_date")
PLAN_AUDIT = ("initiative_id", "effort", "effort_unit", "team_id", "bucket", "start_date", "end_date", "position")


def record(
    session: Session, actor: audit.Actor, kind: str, entity_id: int, label: str, action: str, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor,
        entity_type=kind,
        entity_id=entity_id,
        action=action,
        changes=changes,
        entity_label=label,
    )


def check_refs(session: Session, values: dict[str, Any]) -> None:
    """Every unknown product, team, owner, parent goal or initiative in ``values``, as one field error each."""
    problems: list[tuple[str | None, str]] = []
    checks = (("product_id", Product, "product"), ("team_id", Team, "team"), ("parent_id", Goal, "goal"))
    for key, model, noun in checks:
        value = values.get(key)
        if value is not None and session.get(model, value) is None:
            problems.append((key, f"there is no {noun} {value}"))
    value = values.get("initiative_id")
    if value is not None and session.get(Initiative, value) is None:
        problems.append(("initiative_id", f"there is no initiative {value}"))
    owner = values.get("owner_id")
    if owner is not None:
        user = session.get(User, owner)
        if user is None:
            problems.append(("owner_id", f"there is no user {owner}"))
        elif not user.is_active:
            problems.append(("owner_id", f"{user.email} is deactivated and cannot own goals or work"))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)
