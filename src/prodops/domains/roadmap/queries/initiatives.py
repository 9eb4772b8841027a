"""Initiatives with their goals and planned effort, and the features planned in them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap.models import FeaturePlan, Initiative, InitiativeGoal
from prodops.domains.roadmap.queries._names import product_names, team_names, user_names
from prodops.domains.roadmap.schemas.goals import InitiativeFilters, InitiativeOut, PlannedFeature, PlanOut
from prodops.platform.config import get_settings
from prodops.platform.errors import NotFound
from prodops.platform.listing import Page, order_by, paginate, search


def to_points(effort: Any, unit: Any) -> Any:
    """SQL: the effort in points (person-weeks converted with ``PRODOPS_ROADMAP_POINTS_PER_PERSON_WEEK``)."""
    rate = get_settings().roadmap_points_per_person_week
    return case((unit == "person_weeks", effort * rate), else_=effort)


def _effort() -> Select[*tuple[Any, ...]]:
    live = features.feature_facts().where(features.feature_facts().selected_columns.merged_into_id.is_(None))
    feats = live.subquery("lf")
    return (
        select(
            FeaturePlan.initiative_id.label("initiative_id"),
            func.count().label("features"),
            func.coalesce(func.sum(to_points(FeaturePlan.effort, FeaturePlan.effort_unit)), 0).label("points"),
        )
        .join(feats, feats.c.feature_id == FeaturePlan.feature_id)
        .where(FeaturePlan.initiative_id.is_not(None))
        .group_by(FeaturePlan.initiative_id)
    )


SORTS = {
    "title": Initiative.title,
    "status": Initiative.status,
    "start_date": Initiative.start_date,
    "end_date": Initiative.end_date,
    "updated_at": Initiative.updated_at,
}


def _outs(session: Session, rows: Sequence[Initiative]) -> list[InitiativeOut]:
    from prodops.domains.roadmap.queries.goals import goals_of_initiatives

    ids = [r.id for r in rows]
    effort = (
        {
            r.initiative_id: (r.features, float(r.points))
            for r in session.execute(_effort().where(FeaturePlan.initiative_id.in_(ids)))
        }
        if ids
        else {}
    )
    goals = goals_of_initiatives(session, ids)
    users = user_names(session, [r.owner_id for r in rows])
    products = product_names(session) if rows else {}
    teams = team_names(session) if rows else {}
    rate = get_settings().roadmap_points_per_person_week
    out = []
    for row in rows:
        item = InitiativeOut.model_validate(row, from_attributes=True)
        count, points = effort.get(row.id, (0, 0.0))
        item.feature_count = count
        item.effort_points = round(points, 2)
        item.effort_person_weeks = round(points / rate, 2)
        item.goals = goals.get(row.id, [])
        item.owner_name = users.get(row.owner_id) if row.owner_id else None
        item.product_name = products.get(row.product_id) if row.product_id else None
        item.team_name = teams.get(row.team_id) if row.team_id else None
        out.append(item)
    return out


def list_initiatives(session: Session, f: InitiativeFilters) -> Page[InitiativeOut]:
    stmt = select(Initiative).where(search(f.q, Initiative.title, Initiative.description))
    for key in ("status", "product_id", "team_id"):
        value = getattr(f, key)
        if value is not None:
            stmt = stmt.where(getattr(Initiative, key) == value)
    if f.goal_id is not None:
        stmt = stmt.where(
            Initiative.id.in_(select(InitiativeGoal.initiative_id).where(InitiativeGoal.goal_id == f.goal_id))
        )
    if f.unaligned:
        stmt = stmt.where(Initiative.id.not_in(select(InitiativeGoal.initiative_id)))
    stmt = order_by(stmt, f.sort, SORTS, "title", Initiative.id)
    page = paginate(session, stmt, f.page, f.per_page)
    return Page(items=_outs(session, page.items), total=page.total, number=page.number, per_page=page.per_page)


def get_initiative(session: Session, initiative_id: int) -> InitiativeOut:
    row = session.get(Initiative, initiative_id)
    if row is None:
        raise NotFound("initiative", initiative_id)
    return _outs(session, [row])[0]


def initiatives_for_goal(session: Session, goal_id: int) -> list[InitiativeOut]:
    rows = list(
        session.scalars(
            select(Initiative)
            .join(InitiativeGoal, InitiativeGoal.initiative_id == Initiative.id)
            .where(InitiativeGoal.goal_id == goal_id)
            .order_by(Initiative.title)
        )
    )
    return _outs(session, rows)


def initiative_choices(session: Session) -> list[tuple[int, str]]:
    return [
        (r[0], r[1])
        for r in session.execute(
            select(Initiative.id, Initiative.title)
            .where(Initiative.status.in_(("proposed", "active")))
            .order_by(Initiative.title)
        )
    ]


def planned_features(session: Session, initiative_id: int, limit: int = 500) -> list[PlannedFeature]:
    feats = features.feature_facts().subquery("f")
    rows = session.execute(
        select(
            feats.c.feature_id,
            feats.c.title,
            feats.c.status,
            feats.c.product_id,
            FeaturePlan.effort,
            FeaturePlan.effort_unit,
            FeaturePlan.team_id,
            FeaturePlan.bucket,
        )
        .join(feats, feats.c.feature_id == FeaturePlan.feature_id)
        .where(FeaturePlan.initiative_id == initiative_id, feats.c.merged_into_id.is_(None))
        .order_by(FeaturePlan.position, feats.c.title)
        .limit(limit)
    ).all()
    teams = team_names(session) if rows else {}
    return [
        PlannedFeature(
            feature_id=r.feature_id,
            title=r.title,
            status=r.status,
            product_id=r.product_id,
            effort=r.effort,
            effort_unit=r.effort_unit,
            team_id=r.team_id,
            team_name=teams.get(r.team_id) if r.team_id else None,
            bucket=r.bucket,
        )
        for r in rows
    ]


def get_plan(session: Session, feature_id: int) -> PlanOut | None:
    row = session.get(FeaturePlan, feature_id)
    if row is None:
        return None
    return plan_out(session, row)


def plan_out(session: Session, row: FeaturePlan) -> PlanOut:
    out = PlanOut.model_validate(row, from_attributes=True)
    if row.initiative_id is not None:
        out.initiative_title = session.scalar(select(Initiative.title).where(Initiative.id == row.initiative_id))
    if row.team_id is not None:
        out.team_name = team_names(session).get(row.team_id)
    return out


def plans_by_feature(session: Session, feature_ids: Sequence[int]) -> dict[int, PlanOut]:
    """The plans of these features (one statement), for the roadmap views."""
    if not feature_ids:
        return {}
    rows = session.execute(
        select(FeaturePlan, Initiative.title)
        .outerjoin(Initiative, Initiative.id == FeaturePlan.initiative_id)
        .where(FeaturePlan.feature_id.in_(list(feature_ids)))
    ).all()
    teams = team_names(session) if rows else {}
    out: dict[int, PlanOut] = {}
    for plan, title in rows:
        item = PlanOut.model_validate(plan, from_attributes=True)
        item.initiative_title = title
        item.team_name = teams.get(plan.team_id) if plan.team_id else None
        out[plan.feature_id] = item
    return out
