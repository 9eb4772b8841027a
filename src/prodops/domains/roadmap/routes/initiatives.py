"""Initiative pages: list (filters, CSV), form, detail with the goals it serves and the features planned in it
(add a feature with its effort and team, remove it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.roadmap import service
from prodops.domains.roadmap.queries import goals as goal_queries
from prodops.domains.roadmap.queries import initiatives as queries
from prodops.domains.roadmap.queries._names import owner_choices, product_names, team_names
from prodops.domains.roadmap.routes._forms import InitiativeForm, PlanForm, csv_response, payload, values_of
from prodops.domains.roadmap.schemas.goals import (
    INITIATIVE_STATUS_LABELS,
    UNIT_LABELS,
    InitiativeFilters,
    InitiativeIn,
    InitiativeOut,
    InitiativeUpdate,
    PlanUpdate,
)
from prodops.platform import audit, registry
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))

InitiativeQuery = Annotated[InitiativeFilters, Query()]
STATUS_BADGES = {"active": "ok", "proposed": "warn", "done": "", "cancelled": "bad"}


def _chips(f: InitiativeFilters, names: dict[str, dict[int, str]]) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Search: {f.q}"))
    if f.status:
        chips.append(("status", f"Status: {INITIATIVE_STATUS_LABELS[f.status]}"))
    for key, noun in (("product_id", "product"), ("team_id", "team"), ("goal_id", "goal")):
        value = getattr(f, key)
        if value is not None:
            chips.append((key, f"{noun.capitalize()}: {names[noun].get(value, f'#{value}')}"))
    if f.unaligned:
        chips.append(("unaligned", "Linked to no goal"))
    return chips


@router.get("/roadmap/initiatives", response_class=HTMLResponse)
def initiatives_page(request: Request, session: SessionDep, user: ViewerUser, filters: InitiativeQuery) -> Response:
    page = queries.list_initiatives(session, filters)
    names = {
        "product": product_names(session),
        "team": team_names(session),
        "goal": {g.id: g.title for g in goal_queries.goal_refs(session)},
    }
    context = {
        "page": page,
        "filters": filters,
        "names": names,
        "active": _chips(filters, names),
        "statuses": INITIATIVE_STATUS_LABELS,
        "badges": STATUS_BADGES,
        "export_query": "&".join(
            f"{k}={v}" for k, v in request.query_params.items() if k not in ("page", "per_page") and v
        ),
    }
    return render(request, "roadmap/initiatives.html", context, partial="roadmap/_initiatives.html")


@router.get("/roadmap/initiatives.csv")
def initiatives_csv(session: SessionDep, user: ViewerUser, filters: InitiativeQuery) -> Response:
    rows: list[list[Any]] = []
    f = filters.model_copy(update={"page": 1, "per_page": 500})
    while True:
        page = queries.list_initiatives(session, f)
        rows += [
            [
                i.id,
                i.title,
                i.status,
                i.product_name or "",
                i.team_name or "",
                i.owner_name or "",
                "; ".join(g.title for g in i.goals),
                i.feature_count,
                i.effort_points,
                i.effort_person_weeks,
                i.start_date or "",
                i.end_date or "",
            ]
            for i in page.items
        ]
        if not page.has_next:
            break
        f = f.model_copy(update={"page": f.page + 1})
    headers = ["id", "title", "status", "product", "team", "owner", "goals", "features", "effort_points"]
    headers += ["effort_person_weeks", "start_date", "end_date"]
    return csv_response("initiatives.csv", headers, rows)


# --- form --------------------------------------------------------------------------------------------------


def _form_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], initiative: InitiativeOut | None
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "initiative": initiative,
        "goals": goal_queries.goal_choices(session),
        "products": list(product_names(session).items()),
        "teams": list(team_names(session).items()),
        "owners": owner_choices(session),
        "statuses": INITIATIVE_STATUS_LABELS,
        "selected_goals": {str(g) for g in form.get("goal_ids", [])},
    }


@router.get("/roadmap/initiatives/new", response_class=HTMLResponse)
def initiative_new(
    request: Request, session: SessionDep, user: MemberUser, goal_id: Annotated[str | None, Query()] = None
) -> Response:
    form: dict[str, Any] = {"owner_id": user.id, "status": "proposed", "goal_ids": [goal_id] if goal_id else []}
    return render(request, "roadmap/initiative_form.html", _form_context(session, form, {}, None))


@router.post("/roadmap/initiatives/new")
def initiative_create(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[InitiativeForm, Form()]
) -> Response:
    try:
        initiative = service.create_initiative(session, actor_for(user), InitiativeIn.model_validate(payload(form)))
    except (ValidationError, ServiceError) as exc:
        context = _form_context(session, form.model_dump(), errors_of(exc), None)
        return render(request, "roadmap/initiative_form.html", context, status_code=422)
    flash(request, f"Initiative “{initiative.title}” created. Plan its features below.")
    return RedirectResponse(f"/roadmap/initiatives/{initiative.id}", status_code=303)


@router.get("/roadmap/initiatives/{initiative_id}/edit", response_class=HTMLResponse)
def initiative_edit(request: Request, session: SessionDep, user: MemberUser, initiative_id: int) -> Response:
    initiative = queries.get_initiative(session, initiative_id)
    form = values_of(initiative, {"goal_ids": [g.id for g in initiative.goals]})
    return render(request, "roadmap/initiative_form.html", _form_context(session, form, {}, initiative))


@router.post("/roadmap/initiatives/{initiative_id}/edit")
def initiative_update(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    initiative_id: int,
    form: Annotated[InitiativeForm, Form()],
) -> Response:
    initiative = queries.get_initiative(session, initiative_id)
    try:
        data = InitiativeUpdate.model_validate(payload(form))
        service.update_initiative(session, actor_for(user), initiative_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        context = _form_context(session, form.model_dump(), errors_of(exc), initiative)
        return render(request, "roadmap/initiative_form.html", context, status_code=422)
    flash(request, "Initiative saved.")
    return RedirectResponse(f"/roadmap/initiatives/{initiative_id}", status_code=303)


@router.post("/roadmap/initiatives/{initiative_id}/delete")
def initiative_delete(request: Request, session: SessionDep, user: MemberUser, initiative_id: int) -> Response:
    initiative = queries.get_initiative(session, initiative_id)
    service.delete_initiative(session, actor_for(user), initiative_id)
    flash(request, f"Initiative “{initiative.title}” deleted; its features are now unaligned.")
    return RedirectResponse("/roadmap/initiatives", status_code=303)


# --- detail ------------------------------------------------------------------------------------------------


def _detail_context(
    session: Session, initiative: InitiativeOut, q: str = "", errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "initiative": initiative,
        "planned": queries.planned_features(session, initiative.id),
        "statuses": INITIATIVE_STATUS_LABELS,
        "badges": STATUS_BADGES,
        "units": UNIT_LABELS,
        "teams": list(team_names(session).items()),
        "choices": features.feature_choices(session, q or None, 20) if q else [],
        "q": q,
        "errors": errors or {},
        "history": audit.history(session, "initiative", initiative.id),
    }


@router.get("/roadmap/initiatives/{initiative_id}", response_class=HTMLResponse)
def initiative_page(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    initiative_id: int,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    initiative = queries.get_initiative(session, initiative_id)
    return render(request, "roadmap/initiative.html", _detail_context(session, initiative, q or ""))


@router.post("/roadmap/initiatives/{initiative_id}/features")
def initiative_add_feature(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    initiative_id: int,
    form: Annotated[PlanForm, Form()],
    feature_id: Annotated[str, Form()] = "",
) -> Response:
    initiative = queries.get_initiative(session, initiative_id)
    try:
        if not feature_id.strip().isdigit():
            raise ServiceError("feature_id", "pick the feature to plan in this initiative")
        data = PlanUpdate.model_validate({**payload(form, ("effort",)), "initiative_id": initiative_id})
        service.update_plan(session, actor_for(user), int(feature_id), data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        context = _detail_context(session, initiative, errors=errors_of(exc))
        return render(request, "roadmap/initiative.html", context, status_code=422)
    flash(request, "Feature planned in this initiative.")
    return RedirectResponse(f"/roadmap/initiatives/{initiative_id}#features", status_code=303)


@router.post("/roadmap/initiatives/{initiative_id}/features/{feature_id}/remove")
def initiative_remove_feature(
    request: Request, session: SessionDep, user: MemberUser, initiative_id: int, feature_id: int
) -> Response:
    plan = service.get_plan(session, feature_id)
    if plan is not None and plan.initiative_id == initiative_id:
        service.update_plan(session, actor_for(user), feature_id, PlanUpdate(initiative_id=None))
        flash(request, "Feature taken out of this initiative.")
    return RedirectResponse(f"/roadmap/initiatives/{initiative_id}#features", status_code=303)
