"""Feature pages: the catalogue list (filters, status chips, CSV), detail, form, status changes, votes,
subscribers and merging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.features import queries, service
from prodops.domains.features.routes._forms import (
    FeatureForm,
    FeatureQuery,
    csv_response,
    export_query,
    feature_payload,
    form_values,
    redirect_if_merged,
)
from prodops.domains.features.schemas import FeatureFilters, FeatureIn, FeatureOut, FeatureUpdate
from prodops.platform import audit, registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))

KIND_BADGES = {"shipped": "ok", "active": "ok", "planned": "warn", "declined": "bad"}


# --- list -----------------------------------------------------------------------------------


def _chips(f: FeatureFilters, names: dict[str, dict[int, str]], status_label: str | None) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Search: {f.q}"))
    if f.product_id is not None:
        chips.append(("product_id", f"Product: {names['product'].get(f.product_id, f'#{f.product_id}')}"))
    if f.status:
        chips.append(("status", f"Status: {status_label or f.status}"))
    if f.area:
        chips.append(("area", f"Area: {f.area}"))
    if f.tag:
        chips.append(("tag", f"Tag: {f.tag}"))
    if f.owner_id is not None:
        chips.append(("owner_id", f"Owner: {names['owner'].get(f.owner_id, f'#{f.owner_id}')}"))
    if f.team_id is not None:
        chips.append(("team_id", f"Team: {names['team'].get(f.team_id, f'#{f.team_id}')}"))
    if f.include_merged:
        chips.append(("include_merged", "Including merged"))
    return chips


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request, session: SessionDep, user: ViewerUser, filters: FeatureQuery) -> Response:
    page = queries.list_features(session, **filters.query())
    counts = queries.status_counts(session, **filters.query())
    names = {
        "product": dict(queries.product_choices(session)),
        "team": dict(queries.team_choices(session)),
        "owner": dict(queries.owner_choices(session)),
    }
    status_label = next((s.label for s, _ in counts if s.key == filters.status), None)
    context = {
        "page": page,
        "filters": filters,
        "status_counts": counts,
        "names": names,
        "areas": queries.areas(session, filters.product_id),
        "tags": queries.tag_counts(session),
        "active": _chips(filters, names, status_label),
        "badges": KIND_BADGES,
        "export_query": export_query(request),
    }
    return render(request, "features/list.html", context, partial="features/_results.html")


@router.get("/features.csv")
def features_csv(session: SessionDep, user: ViewerUser, filters: FeatureQuery) -> Response:
    headers, rows = queries.feature_export(session, **filters.query())
    return csv_response("features.csv", headers, rows)


@router.get("/features/choices", response_class=HTMLResponse, dependencies=[VIEWER])
def feature_choices_partial(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    exclude: int | None = None,
) -> Response:
    """Radio buttons of surviving features whose title contains ``q``, for the merge and link pickers."""
    choices = service.feature_choices(session, q, 20, exclude=exclude)
    return render(request, "features/_choices.html", {"choices": choices, "q": q or ""})


@router.get("/features/status-options", response_class=HTMLResponse, dependencies=[VIEWER])
def status_options_partial(
    request: Request,
    session: SessionDep,
    product_id: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The ``<option>`` list of a product's statuses, swapped into the form when the product changes."""
    pid = int(product_id) if product_id and product_id.strip().isdigit() else None
    return render(
        request,
        "features/_status_options.html",
        {"statuses": service.statuses_for(session, pid), "selected": status or ""},
    )


# --- form -----------------------------------------------------------------------------------


def _form_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], feature: FeatureOut | None
) -> dict[str, Any]:
    raw = str(form.get("product_id") or "").strip()
    product_id = int(raw) if raw.isdigit() else None
    return {
        "form": form,
        "errors": errors,
        "feature": feature,
        "products": queries.product_choices(session),
        "teams": queries.team_choices(session),
        "owners": queries.owner_choices(session),
        "statuses": service.statuses_for(session, product_id),
        "areas": queries.areas(session),
        "tags": service.all_tags(session),
    }


@router.get("/features/new", response_class=HTMLResponse)
def feature_new(
    request: Request, session: SessionDep, user: MemberUser, product_id: Annotated[str | None, Query()] = None
) -> Response:
    form = {"owner_id": user.id, "product_id": product_id or ""}
    return render(request, "features/form.html", _form_context(session, form, {}, None))


@router.post("/features/new")
def feature_create(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[FeatureForm, Form()]
) -> Response:
    try:
        data = FeatureIn.model_validate(feature_payload(form))
        feature = service.create_feature(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "features/form.html",
            _form_context(session, form.model_dump(), errors_of(exc), None),
            status_code=422,
        )
    flash(request, f"Feature “{feature.title}” created.")
    return RedirectResponse(f"/features/{feature.id}", status_code=303)


# --- detail ---------------------------------------------------------------------------------


def _detail_context(session: Session, feature: FeatureOut) -> dict[str, Any]:
    return {
        "feature": feature,
        "statuses": service.statuses_for(session, feature.product_id),
        "votes": service.feature_votes(session, feature.id, limit=50),
        "subscribers": service.feature_subscribers(session, feature.id, limit=50),
        "merged_from": queries.merged_into(session, feature.id),
        "history": audit.history(session, "feature", feature.id),
        "badges": KIND_BADGES,
    }


@router.get("/features/{feature_id}", response_class=HTMLResponse)
def feature_page(request: Request, session: SessionDep, user: ViewerUser, feature_id: int) -> Response:
    feature = service.get_feature(session, feature_id)
    moved = redirect_if_merged(request, session, feature)
    if moved is not None:
        return moved
    return render(request, "features/detail.html", _detail_context(session, feature))


@router.get("/features/{feature_id}/edit", response_class=HTMLResponse)
def feature_edit(request: Request, session: SessionDep, user: MemberUser, feature_id: int) -> Response:
    feature = service.get_feature(session, feature_id)
    moved = redirect_if_merged(request, session, feature, "/edit")
    if moved is not None:
        return moved
    return render(request, "features/form.html", _form_context(session, form_values(feature), {}, feature))


@router.post("/features/{feature_id}/edit")
def feature_update(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, form: Annotated[FeatureForm, Form()]
) -> Response:
    feature = service.get_feature(session, feature_id)
    try:
        data = FeatureUpdate.model_validate(feature_payload(form))
        feature = service.update_feature(session, actor_for(user), feature_id, data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "features/form.html",
            _form_context(session, form.model_dump(), errors_of(exc), feature),
            status_code=422,
        )
    flash(request, f"Feature “{feature.title}” saved.")
    return RedirectResponse(f"/features/{feature.id}", status_code=303)


@router.post("/features/{feature_id}/status")
def feature_status(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, status: Annotated[str, Form()] = ""
) -> Response:
    try:
        feature = service.set_status(session, actor_for(user), feature_id, status.strip())
        flash(request, f"“{feature.title}” is now {feature.status_label}.")
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, "; ".join(errors_of(exc).values()), "error")
    return RedirectResponse(f"/features/{feature_id}", status_code=303)


@router.post("/features/{feature_id}/delete")
def feature_delete(request: Request, session: SessionDep, user: MemberUser, feature_id: int) -> Response:
    feature = service.get_feature(session, feature_id)
    service.delete_feature(session, actor_for(user), feature_id)
    flash(request, f"Feature “{feature.title}” deleted.")
    return RedirectResponse("/features", status_code=303)


# --- votes and subscribers ------------------------------------------------------------------


@router.post("/features/{feature_id}/votes")
def feature_vote_add(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    feature_id: int,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    try:
        vote = service.add_vote_by_email(session, actor_for(user), feature_id, email, name)
        flash(request, f"Vote recorded for {vote.person_name or vote.person_email}.")
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        flash(request, "; ".join(errors_of(exc).values()), "error")
    return RedirectResponse(f"/features/{feature_id}#votes", status_code=303)


@router.post("/features/{feature_id}/votes/{person_id}/delete")
def feature_vote_remove(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, person_id: int
) -> Response:
    if service.remove_vote(session, actor_for(user), feature_id, person_id):
        flash(request, "Vote removed.")
    return RedirectResponse(f"/features/{feature_id}#votes", status_code=303)


@router.post("/features/{feature_id}/subscribers")
def feature_subscriber_add(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    feature_id: int,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    try:
        sub = service.subscribe_by_email(session, actor_for(user), feature_id, email, name)
        flash(request, f"{sub.person_name or sub.person_email} now follows this feature.")
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        flash(request, "; ".join(errors_of(exc).values()), "error")
    return RedirectResponse(f"/features/{feature_id}#subscribers", status_code=303)


@router.post("/features/{feature_id}/subscribers/{person_id}/delete")
def feature_subscriber_remove(
    request: Request, session: SessionDep, user: MemberUser, feature_id: int, person_id: int
) -> Response:
    if service.unsubscribe(session, actor_for(user), feature_id, person_id):
        flash(request, "Subscriber removed.")
    return RedirectResponse(f"/features/{feature_id}#subscribers", status_code=303)


# --- merge ----------------------------------------------------------------------------------


def _merge_context(session: Session, feature: FeatureOut, q: str, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "feature": feature,
        "q": q,
        "choices": service.feature_choices(session, q, 20, exclude=feature.id),
        "errors": errors,
    }


@router.get("/features/{feature_id}/merge", response_class=HTMLResponse)
def feature_merge_page(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    feature_id: int,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    feature = service.get_feature(session, feature_id)
    moved = redirect_if_merged(request, session, feature, "/merge")
    if moved is not None:
        return moved
    return render(request, "features/merge.html", _merge_context(session, feature, q or "", {}))


@router.post("/features/{feature_id}/merge")
def feature_merge(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    feature_id: int,
    into: Annotated[str, Form()] = "",
    q: Annotated[str, Form()] = "",
) -> Response:
    source = service.get_feature(session, feature_id)
    try:
        if not into.strip().isdigit():
            return render(
                request,
                "features/merge.html",
                _merge_context(session, source, q, {"into": "Pick the feature that stays."}),
                status_code=422,
            )
        survivor = service.merge_features(session, actor_for(user), feature_id, int(into))
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        return render(
            request, "features/merge.html", _merge_context(session, source, q, errors_of(exc)), status_code=422
        )
    flash(request, f"“{source.title}” merged into “{survivor.title}”.")
    return RedirectResponse(f"/features/{survivor.id}", status_code=303)
