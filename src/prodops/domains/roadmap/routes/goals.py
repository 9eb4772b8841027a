"""Goal pages: the goal tree (filters, health chips, CSV), goal detail with its progress history, the goal and key
result forms, key result detail with its check-ins chart and the check-in form, and "my check-ins"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap import service
from prodops.domains.roadmap.models import KeyResult
from prodops.domains.roadmap.queries import goals as queries
from prodops.domains.roadmap.queries._names import owner_choices, product_names, team_names
from prodops.domains.roadmap.routes._forms import (
    CheckInForm,
    GoalForm,
    KeyResultForm,
    checkin_chart,
    csv_response,
    payload,
    progress_chart,
    values_of,
)
from prodops.domains.roadmap.schemas.goals import (
    CONFIDENCE_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    CheckInIn,
    GoalDetail,
    GoalFilters,
    GoalIn,
    GoalUpdate,
    KeyResultIn,
    KeyResultOut,
    KeyResultUpdate,
)
from prodops.domains.roadmap.service import metrics
from prodops.platform import audit, registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))

HEALTH_BADGES = {"on_track": "ok", "at_risk": "warn", "off_track": "bad", "no_data": ""}
GoalQuery = Annotated[GoalFilters, Query()]
#: The goal page compares progress with this many weeks ago.
TREND_WEEKS = 4


def _common() -> dict[str, Any]:
    return {
        "levels": LEVEL_LABELS,
        "statuses": STATUS_LABELS,
        "confidences": CONFIDENCE_LABELS,
        "badges": HEALTH_BADGES,
    }


# --- list -------------------------------------------------------------------------------------------------


def _chips(f: GoalFilters, names: dict[str, dict[int, str]]) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Search: {f.q}"))
    if f.level:
        chips.append(("level", f"Level: {LEVEL_LABELS[f.level]}"))
    if f.status:
        chips.append(("status", f"Status: {STATUS_LABELS[f.status]}"))
    if f.health:
        chips.append(("health", f"Health: {CONFIDENCE_LABELS[f.health]}"))
    for key, noun in (("product_id", "product"), ("team_id", "team"), ("owner_id", "owner")):
        value = getattr(f, key)
        if value is not None:
            chips.append((key, f"{noun.capitalize()}: {names[noun].get(value, f'#{value}')}"))
    return chips


@router.get("/roadmap/goals", response_class=HTMLResponse)
def goals_page(request: Request, session: SessionDep, user: ViewerUser, filters: GoalQuery) -> Response:
    tree = queries.load_tree(session)
    goals = queries.list_goals(session, filters, tree=tree)
    everything = queries.list_goals(session, GoalFilters(status=filters.status or "active"), tree=tree)
    health_counts = {h: sum(1 for g in everything if g.health == h) for h in CONFIDENCE_LABELS}
    names = {"product": product_names(session), "team": team_names(session), "owner": dict(owner_choices(session))}
    context = {
        **_common(),
        "goals": goals,
        "filters": filters,
        "names": names,
        "active": _chips(filters, names),
        "health_counts": health_counts,
        "export_query": str(request.url.query),
    }
    return render(request, "roadmap/goals.html", context, partial="roadmap/_goals.html")


@router.get("/roadmap/goals.csv")
def goals_csv(session: SessionDep, user: ViewerUser, filters: GoalQuery) -> Response:
    goals = queries.list_goals(session, filters)
    headers = ["id", "title", "level", "parent_id", "status", "health", "progress", "product", "team", "owner"]
    headers += ["period_start", "period_end", "weight", "key_results"]
    rows = [
        [
            g.id,
            g.title,
            g.level,
            g.parent_id or "",
            g.status,
            g.health,
            "" if g.progress is None else round(g.progress, 4),
            g.product_name or "",
            g.team_name or "",
            g.owner_name or "",
            g.period_start.isoformat() if g.period_start else "",
            g.period_end.isoformat() if g.period_end else "",
            g.weight,
            g.key_result_count,
        ]
        for g in goals
    ]
    return csv_response("goals.csv", headers, rows)


# --- goal form ------------------------------------------------------------------------------------------


def _goal_form_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], goal: GoalDetail | None
) -> dict[str, Any]:
    return {
        **_common(),
        "form": form,
        "errors": errors,
        "goal": goal,
        "parents": queries.goal_choices(session, exclude=goal.id if goal else None),
        "products": list(product_names(session).items()),
        "teams": list(team_names(session).items()),
        "owners": owner_choices(session),
    }


@router.get("/roadmap/goals/new", response_class=HTMLResponse)
def goal_new(
    request: Request, session: SessionDep, user: MemberUser, parent_id: Annotated[str | None, Query()] = None
) -> Response:
    form = {"owner_id": user.id, "parent_id": parent_id or "", "level": "company", "status": "active", "weight": 1}
    if parent_id and parent_id.isdigit():
        form["level"] = "product"
    return render(request, "roadmap/goal_form.html", _goal_form_context(session, form, {}, None))


@router.post("/roadmap/goals/new")
def goal_create(request: Request, session: SessionDep, user: MemberUser, form: Annotated[GoalForm, Form()]) -> Response:
    try:
        goal = service.create_goal(session, actor_for(user), GoalIn.model_validate(payload(form, ("weight",))))
    except (ValidationError, ServiceError) as exc:
        context = _goal_form_context(session, form.model_dump(), errors_of(exc), None)
        return render(request, "roadmap/goal_form.html", context, status_code=422)
    flash(request, f"Goal “{goal.title}” set. Add its key results: how will you know it is achieved?")
    return RedirectResponse(f"/roadmap/goals/{goal.id}", status_code=303)


@router.get("/roadmap/goals/{goal_id}/edit", response_class=HTMLResponse)
def goal_edit(request: Request, session: SessionDep, user: MemberUser, goal_id: int) -> Response:
    goal = queries.get_goal(session, goal_id)
    return render(request, "roadmap/goal_form.html", _goal_form_context(session, values_of(goal), {}, goal))


@router.post("/roadmap/goals/{goal_id}/edit")
def goal_update(
    request: Request, session: SessionDep, user: MemberUser, goal_id: int, form: Annotated[GoalForm, Form()]
) -> Response:
    goal = queries.get_goal(session, goal_id)
    try:
        data = GoalUpdate.model_validate(payload(form, ("weight",)))
        service.update_goal(session, actor_for(user), goal_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        context = _goal_form_context(session, form.model_dump(), errors_of(exc), goal)
        return render(request, "roadmap/goal_form.html", context, status_code=422)
    flash(request, "Goal saved.")
    return RedirectResponse(f"/roadmap/goals/{goal_id}", status_code=303)


@router.post("/roadmap/goals/{goal_id}/delete")
def goal_delete(request: Request, session: SessionDep, user: MemberUser, goal_id: int) -> Response:
    goal = queries.get_goal(session, goal_id)
    service.delete_goal(session, actor_for(user), goal_id)
    flash(request, f"Goal “{goal.title}” deleted.")
    return RedirectResponse(f"/roadmap/goals/{goal.parent_id}" if goal.parent_id else "/roadmap/goals", status_code=303)


# --- goal detail -----------------------------------------------------------------------------------------


def live_goal(session: Session, goal_id: int) -> GoalDetail:
    """The goal with its metric key results' live values (unavailable sources keep their last snapshot). Every
    metric key result is read, since progress rolls up from child goals; each metric once."""
    krs = session.scalars(select(KeyResult).where(KeyResult.source == "metric"))
    values, unavailable = service.live_values(session, krs)
    return queries.get_goal(session, goal_id, live=values, unavailable=unavailable)


@router.get("/roadmap/goals/{goal_id}", response_class=HTMLResponse)
def goal_page(request: Request, session: SessionDep, user: ViewerUser, goal_id: int) -> Response:
    goal = live_goal(session, goal_id)
    past = queries.progress_history(session, goal_id, weeks=TREND_WEEKS)[0].progress
    context = {
        **_common(),
        "goal": goal,
        "trend": None if goal.progress is None or past is None else goal.progress - past,
        "trend_weeks": TREND_WEEKS,
        "chart": chart(
            src=f"/roadmap/goals/{goal_id}/progress.json", title=f"Progress of “{goal.title}”, last 12 weeks"
        ),
        "history": audit.history(session, "goal", goal_id),
    }
    return render(request, "roadmap/goal.html", context)


@router.get("/roadmap/goals/{goal_id}/progress.json", dependencies=[VIEWER])
def goal_progress_chart(session: SessionDep, goal_id: int) -> JSONResponse:
    points = queries.progress_history(session, goal_id)
    return JSONResponse(progress_chart(points, "Rolled-up progress per week"))


# --- key results ------------------------------------------------------------------------------------------


def _kr_form_context(
    session: Session, goal: GoalDetail, form: dict[str, Any], errors: dict[str, str], kr: KeyResultOut | None
) -> dict[str, Any]:
    return {
        **_common(),
        "goal": goal,
        "form": form,
        "errors": errors,
        "kr": kr,
        "owners": owner_choices(session),
        "metrics": metrics.known_metrics(session),
    }


@router.get("/roadmap/goals/{goal_id}/key-results/new", response_class=HTMLResponse)
def kr_new(request: Request, session: SessionDep, user: MemberUser, goal_id: int) -> Response:
    goal = queries.get_goal(session, goal_id)
    form = {"start_value": 0, "weight": 1, "source": "manual", "owner_id": goal.owner_id or ""}
    return render(request, "roadmap/kr_form.html", _kr_form_context(session, goal, form, {}, None))


@router.post("/roadmap/goals/{goal_id}/key-results/new")
def kr_create(
    request: Request, session: SessionDep, user: MemberUser, goal_id: int, form: Annotated[KeyResultForm, Form()]
) -> Response:
    goal = queries.get_goal(session, goal_id)
    try:
        data = KeyResultIn.model_validate(payload(form, ("start_value", "weight")))
        kr = service.create_key_result(session, actor_for(user), goal_id, data)
    except (ValidationError, ServiceError) as exc:
        context = _kr_form_context(session, goal, form.model_dump(), errors_of(exc), None)
        return render(request, "roadmap/kr_form.html", context, status_code=422)
    flash(request, f"Key result “{kr.title}” added.")
    return RedirectResponse(f"/roadmap/goals/{goal_id}", status_code=303)


def live_key_result(session: Session, kr_id: int) -> KeyResultOut:
    kr = session.get(KeyResult, kr_id)
    if kr is None:
        return queries.get_key_result(session, kr_id)  # raises NotFound
    values, unavailable = service.live_values(session, [kr])
    return queries.get_key_result(session, kr_id, live=values.get(kr_id), metric_ok=kr_id not in unavailable)


def _kr_context(
    session: Session, kr: KeyResultOut, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    goal = queries.get_goal(session, kr.goal_id)
    return {
        **_common(),
        "kr": kr,
        "goal": goal,
        "checkins": queries.checkins(session, kr.id, limit=100),
        "chart": chart(src=f"/roadmap/key-results/{kr.id}/history.json", title=f"Values of “{kr.title}” over time"),
        "form": form
        or {"value": "" if kr.source == "metric" else (kr.current_value if kr.current_value is not None else "")},
        "errors": errors or {},
        "history": audit.history(session, "key_result", kr.id),
    }


@router.get("/roadmap/key-results/{kr_id}", response_class=HTMLResponse)
def kr_page(request: Request, session: SessionDep, user: ViewerUser, kr_id: int) -> Response:
    kr = live_key_result(session, kr_id)
    return render(request, "roadmap/key_result.html", _kr_context(session, kr))


@router.get("/roadmap/key-results/{kr_id}/history.json", dependencies=[VIEWER])
def kr_history_chart(session: SessionDep, kr_id: int) -> JSONResponse:
    kr = queries.get_key_result(session, kr_id)
    return JSONResponse(checkin_chart(kr, queries.checkins(session, kr_id, limit=1000)))


@router.post("/roadmap/key-results/{kr_id}/checkins")
def kr_checkin(
    request: Request, session: SessionDep, user: MemberUser, kr_id: int, form: Annotated[CheckInForm, Form()]
) -> Response:
    kr = live_key_result(session, kr_id)
    try:
        data = CheckInIn.model_validate(payload(form))
        service.check_in(session, actor_for(user), kr_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        context = _kr_context(session, kr, form.model_dump(), errors_of(exc))
        return render(request, "roadmap/key_result.html", context, status_code=422)
    flash(request, f"Checked in on “{kr.title}”.")
    return RedirectResponse(f"/roadmap/key-results/{kr_id}", status_code=303)


@router.get("/roadmap/key-results/{kr_id}/edit", response_class=HTMLResponse)
def kr_edit(request: Request, session: SessionDep, user: MemberUser, kr_id: int) -> Response:
    kr = queries.get_key_result(session, kr_id)
    goal = queries.get_goal(session, kr.goal_id)
    return render(request, "roadmap/kr_form.html", _kr_form_context(session, goal, values_of(kr), {}, kr))


@router.post("/roadmap/key-results/{kr_id}/edit")
def kr_update(
    request: Request, session: SessionDep, user: MemberUser, kr_id: int, form: Annotated[KeyResultForm, Form()]
) -> Response:
    kr = queries.get_key_result(session, kr_id)
    try:
        data = KeyResultUpdate.model_validate(payload(form, ("start_value", "weight", "target_value")))
        service.update_key_result(session, actor_for(user), kr_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        goal = queries.get_goal(session, kr.goal_id)
        context = _kr_form_context(session, goal, form.model_dump(), errors_of(exc), kr)
        return render(request, "roadmap/kr_form.html", context, status_code=422)
    flash(request, "Key result saved.")
    return RedirectResponse(f"/roadmap/key-results/{kr_id}", status_code=303)


@router.post("/roadmap/key-results/{kr_id}/delete")
def kr_delete(request: Request, session: SessionDep, user: MemberUser, kr_id: int) -> Response:
    goal_id = service.delete_key_result(session, actor_for(user), kr_id)
    flash(request, "Key result deleted.")
    return RedirectResponse(f"/roadmap/goals/{goal_id}", status_code=303)


# --- my check-ins -------------------------------------------------------------------------------------------


@router.get("/roadmap/check-ins", response_class=HTMLResponse)
def my_checkins(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    """The key results the signed-in person owns (directly or through their goal), due ones first."""
    tree = queries.load_tree(session)
    mine: list[dict[str, Any]] = []
    for kr in tree.krs:
        goal = tree.goals[kr.goal_id]
        if goal.status != "active" or (kr.owner_id or goal.owner_id) != user.id:
            continue
        mine.append(
            {
                "kr": kr,
                "goal": goal,
                "progress": tree.kr_progress[kr.id],
                "health": tree.kr_health[kr.id],
                "due": queries.is_due(kr.last_checkin_at),
            }
        )
    mine.sort(key=lambda r: (not r["due"], r["goal"].title.lower(), r["kr"].title.lower()))
    return render(request, "roadmap/checkins.html", {**_common(), "rows": mine, "due": sum(r["due"] for r in mine)})
