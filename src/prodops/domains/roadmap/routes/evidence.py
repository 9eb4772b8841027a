"""The evidence panel on every feature page: demand (feedback items, votes, accounts and their ARR), the feature's
plan (initiative, effort, team) and through its initiative the goals it serves, with their metric trends."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback import service as feedback
from prodops.domains.roadmap import service
from prodops.domains.roadmap.models import CheckIn, KeyResult
from prodops.domains.roadmap.queries import goals as goal_queries
from prodops.domains.roadmap.queries import initiatives as initiative_queries
from prodops.domains.roadmap.queries._names import team_names
from prodops.domains.roadmap.routes._forms import PlanForm, metric_chart, payload
from prodops.domains.roadmap.schemas.goals import CONFIDENCE_LABELS, UNIT_LABELS, PlanUpdate
from prodops.domains.roadmap.service import metrics
from prodops.platform import registry
from prodops.platform.db import utcnow
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))

registry.panel("feature", "Strategy: goals, plan and metrics", "/roadmap/features/{id}/evidence", order=30)

TREND_WEEKS = 12
BADGES = {"on_track": "ok", "at_risk": "warn", "off_track": "bad", "no_data": ""}


def _trends(session: Session, goal_ids: list[int]) -> list[dict[str, Any]]:
    """The metric key results of these goals with their last 12 weeks: from the analytics metric when it is
    available, else from the stored snapshots."""
    if not goal_ids:
        return []
    krs = list(
        session.scalars(
            select(KeyResult)
            .where(KeyResult.goal_id.in_(goal_ids), KeyResult.source == "metric")
            .order_by(KeyResult.goal_id, KeyResult.id)
        )
    )
    end = utcnow().date()
    start = end - dt.timedelta(weeks=TREND_WEEKS)
    out = []
    for kr in krs:
        points = metrics.series(session, kr.metric_key or "", start, end)
        live = bool(points)
        if not points:
            rows = session.execute(
                select(CheckIn.created_at, CheckIn.value)
                .where(
                    CheckIn.key_result_id == kr.id,
                    CheckIn.created_at >= dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC),
                )
                .order_by(CheckIn.created_at)
            ).all()
            points = [(r[0].date(), r[1]) for r in rows]
        title = f"{kr.title} ({kr.metric_key}), last {TREND_WEEKS} weeks"
        out.append(
            {
                "kr": kr,
                "live": live,
                "chart": chart(metric_chart(title, points), title=title, height=120) if points else None,
            }
        )
    return out


def _context(session: Session, feature_id: int, errors: dict[str, str] | None = None) -> dict[str, Any]:
    feature = features.get_feature(session, feature_id)
    plan = service.get_plan(session, feature_id)
    demand = feedback.demand_facts(session, [feature_id]).get(feature_id)
    goals = []
    if plan is not None and plan.initiative_id is not None:
        refs = goal_queries.goals_of_initiatives(session, [plan.initiative_id]).get(plan.initiative_id, [])
        listed = {g.id: g for g in goal_queries.list_goals(session)}
        goals = [listed[r.id] for r in refs if r.id in listed]
    return {
        "feature": feature,
        "plan": plan,
        "demand": demand,
        "goals": goals,
        "trends": _trends(session, [g.id for g in goals]),
        "initiatives": initiative_queries.initiative_choices(session),
        "teams": list(team_names(session).items()),
        "units": UNIT_LABELS,
        "confidences": CONFIDENCE_LABELS,
        "badges": BADGES,
        "errors": errors or {},
    }


@router.get("/roadmap/features/{feature_id}/evidence", response_class=HTMLResponse)
def evidence_panel(request: Request, session: SessionDep, user: ViewerUser, feature_id: int) -> Response:
    return render(request, "roadmap/_evidence.html", _context(session, feature_id))


@router.post("/roadmap/features/{feature_id}/plan")
def feature_plan(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, form: Annotated[PlanForm, Form()]
) -> Response:
    try:
        data = PlanUpdate.model_validate(payload(form))
        service.update_plan(session, actor_for(user), feature_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        flash(request, "Plan not saved: " + "; ".join(f"{k}: {v}" for k, v in errors_of(exc).items()), "error")
        return RedirectResponse(f"/features/{feature_id}", status_code=303)
    flash(request, "Plan saved.")
    return RedirectResponse(f"/features/{feature_id}", status_code=303)
