"""People pages: list, CSV, detail, and the create/edit form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import queries, service
from prodops.domains.customers.routes._forms import (
    PersonForm,
    PersonQuery,
    _csv_response,
    _export_query,
    _person_payload,
    format_attributes,
)
from prodops.domains.customers.schemas import (
    STAGE_LABELS,
    PersonFilters,
    PersonIn,
    PersonOut,
    PersonUpdate,
)
from prodops.platform import audit, registry
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))


# --- people ---------------------------------------------------------------------------------


def _people_chips(f: PersonFilters, account_label: str | None, segments: dict[int, str]) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Search: {f.q}"))
    if f.account_id is not None:
        chips.append(("account_id", f"Account: {account_label or '#' + str(f.account_id)}"))
    if f.title:
        chips.append(("title", f"Title contains: {f.title}"))
    if f.segment_id is not None:
        chips.append(("segment_id", f"Saved segment: {segments.get(f.segment_id, f'#{f.segment_id}')}"))
    if f.attr:
        chips.append(("attr", f"Attribute: {f.attr}"))
    return chips


@router.get("/customers/people", response_class=HTMLResponse)
def people_page(request: Request, session: SessionDep, user: ViewerUser, filters: PersonQuery) -> Response:
    page = queries.list_people(session, filters)
    segments = dict(queries.segment_choices(session, "people"))
    account_label = None
    if filters.account_id is not None:
        account_label = next((p.account_name for p in page.items if p.account_id == filters.account_id), None)
        account_label = account_label or queries.account_name(session, filters.account_id)
    context = {
        "page": page,
        "filters": filters,
        "saved_segments": segments,
        "export_query": _export_query(request),
        "active": _people_chips(filters, account_label, segments),
    }
    return render(request, "customers/people.html", context, partial="customers/_people_results.html")


@router.get("/customers/people.csv")
def people_csv(session: SessionDep, user: ViewerUser, filters: PersonQuery) -> Response:
    headers, rows = queries.person_export(session, filters)
    return _csv_response("people.csv", headers, rows)


def _person_form_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], person: PersonOut | None
) -> dict[str, Any]:
    account_id = form.get("account_id")
    label = None
    if account_id not in (None, ""):
        try:
            label = queries.account_name(session, int(account_id))
        except ValueError:
            label = None
    return {"form": form, "errors": errors, "person": person, "account_label": label}


@router.get("/customers/people/new", response_class=HTMLResponse)
def person_new(request: Request, session: SessionDep, user: MemberUser, account_id: int | None = None) -> Response:
    return render(
        request, "customers/person_form.html", _person_form_context(session, {"account_id": account_id or ""}, {}, None)
    )


@router.post("/customers/people/new")
def person_create(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[PersonForm, Form()]
) -> Response:
    try:
        payload = _person_payload(form)
        if payload["account_id"] is None:
            payload.pop("account_id")  # let the e-mail domain pick the account
        person = service.create_person(session, actor_for(user), PersonIn.model_validate(payload))
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/person_form.html",
            _person_form_context(session, form.model_dump(), errors_of(exc), None),
            status_code=422,
        )
    flash(request, f"{person.display_name} added.")
    return RedirectResponse(f"/customers/people/{person.id}", status_code=303)


@router.get("/customers/people/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, session: SessionDep, user: ViewerUser, person_id: int) -> Response:
    person = service.get_person(session, person_id)
    account = service.get_account(session, person.account_id) if person.account_id else None
    context = {
        "person": person,
        "account": account,
        "history": audit.history(session, "person", person_id),
        "stages": STAGE_LABELS,
    }
    return render(request, "customers/person_detail.html", context)


@router.get("/customers/people/{person_id}/edit", response_class=HTMLResponse)
def person_edit(request: Request, session: SessionDep, user: MemberUser, person_id: int) -> Response:
    person = service.get_person(session, person_id)
    values = {k: ("" if v is None else v) for k, v in person.model_dump().items()}
    values["attributes"] = format_attributes(person.attributes)
    return render(request, "customers/person_form.html", _person_form_context(session, values, {}, person))


@router.post("/customers/people/{person_id}/edit")
def person_update(
    request: Request, session: SessionDep, user: MemberUser, person_id: int, form: Annotated[PersonForm, Form()]
) -> Response:
    person = service.get_person(session, person_id)
    try:
        person = service.update_person(
            session, actor_for(user), person_id, PersonUpdate.model_validate(_person_payload(form))
        )
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/person_form.html",
            _person_form_context(session, form.model_dump(), errors_of(exc), person),
            status_code=422,
        )
    flash(request, f"{person.display_name} saved.")
    return RedirectResponse(f"/customers/people/{person.id}", status_code=303)


@router.post("/customers/people/{person_id}/delete")
def person_delete(request: Request, session: SessionDep, user: MemberUser, person_id: int) -> Response:
    person = service.get_person(session, person_id)
    service.delete_person(session, actor_for(user), person_id)
    flash(request, f"{person.display_name} deleted.")
    target = f"/customers/accounts/{person.account_id}" if person.account_id else "/customers/people"
    return RedirectResponse(target, status_code=303)
