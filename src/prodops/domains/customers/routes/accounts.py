"""Account pages: the list (filters, chart, bulk actions, CSV), detail, and the create/edit form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import queries, service
from prodops.domains.customers.routes._forms import (
    AccountForm,
    AccountQuery,
    _account_payload,
    _csv_response,
    _export_query,
    _Form,
    format_attributes,
)
from prodops.domains.customers.schemas import (
    PLANS,
    REGIONS,
    SEGMENTS,
    STAGE_LABELS,
    AccountFilters,
    AccountIn,
    AccountOut,
    AccountUpdate,
)
from prodops.platform import audit, registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, fmt_money, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))


# --- accounts: list -------------------------------------------------------------------------


def _account_chips(f: AccountFilters, owners: dict[int, str], segments: dict[int, str]) -> list[tuple[str, str]]:
    chips: list[tuple[str, str]] = []
    if f.q:
        chips.append(("q", f"Search: {f.q}"))
    for key, label in (("plan", "Plan"), ("segment", "Segment"), ("region", "Region")):
        if getattr(f, key):
            chips.append((key, f"{label}: {getattr(f, key)}"))
    if f.stage:
        chips.append(("stage", f"Stage: {STAGE_LABELS[f.stage]}"))
    if f.owner_id is not None:
        chips.append(("owner_id", f"Owner: {owners.get(f.owner_id, f'#{f.owner_id}')}"))
    if f.arr_min is not None:
        chips.append(("arr_min", f"ARR ≥ {fmt_money(f.arr_min)}"))
    if f.arr_max is not None:
        chips.append(("arr_max", f"ARR ≤ {fmt_money(f.arr_max)}"))
    if f.segment_id is not None:
        chips.append(("segment_id", f"Saved segment: {segments.get(f.segment_id, f'#{f.segment_id}')}"))
    if f.attr:
        chips.append(("attr", f"Attribute: {f.attr}"))
    return chips


@router.get("/customers/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, session: SessionDep, user: ViewerUser, filters: AccountQuery) -> Response:
    page = queries.list_accounts(session, filters)
    owners = dict(queries.owner_choices(session))
    segments = dict(queries.segment_choices(session, "accounts"))
    context = {
        "page": page,
        "filters": filters,
        "facets": queries.account_facets(session),
        "owners": owners,
        "saved_segments": segments,
        "active": _account_chips(filters, owners, segments),
        "stages": STAGE_LABELS,
        "export_query": _export_query(request),
        "chart": chart(
            src=f"/customers/accounts/chart.json?{_export_query(request, ('page', 'per_page', 'sort'))}",
            title="ARR by segment and plan",
            height=110,
        ),
    }
    return render(request, "customers/accounts.html", context, partial="customers/_accounts_results.html")


@router.get("/customers/accounts.csv")
def accounts_csv(session: SessionDep, user: ViewerUser, filters: AccountQuery) -> Response:
    headers, rows = queries.account_export(session, filters)
    return _csv_response("accounts.csv", headers, rows)


@router.get("/customers/accounts/chart.json", dependencies=[VIEWER])
def accounts_chart(session: SessionDep, filters: AccountQuery) -> JSONResponse:
    import altair as alt

    data = queries.arr_by_segment(session, filters)
    order = [s for s in SEGMENTS if any(d["segment"] == s for d in data)] + sorted(
        {d["segment"] for d in data} - set(SEGMENTS)
    )
    spec = (
        alt.Chart(alt.Data(values=data))  # type: ignore[no-untyped-call]
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", sort=order, title=None),
            x=alt.X("sum(arr):Q", title="ARR", axis=alt.Axis(format="~s", tickCount=6)),
            color=alt.Color("plan:N", title="Plan", sort=list(PLANS)),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("plan:N", title="Plan"),
                alt.Tooltip("sum(arr):Q", title="ARR", format=",.0f"),
                alt.Tooltip("sum(accounts):Q", title="Accounts"),
            ],
        )
        .properties(height=max(40, 32 * len(order)), width="container")
    )
    return JSONResponse(spec.to_dict())


class BulkForm(_Form):
    ids: list[int] = Field(default_factory=list)
    action: str = ""
    lifecycle_stage: str = ""
    owner_id: str = ""
    back: str = "/customers/accounts"


@router.post("/customers/accounts/bulk")
def accounts_bulk(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[BulkForm, Form()]
) -> Response:
    back = form.back if form.back.startswith("/customers/") else "/customers/accounts"
    if not form.ids:
        flash(request, "Select at least one account first.", "error")
        return RedirectResponse(back, status_code=303)
    try:
        if form.action == "delete":
            n = service.bulk_delete_accounts(session, actor_for(user), form.ids)
            flash(request, f"Deleted {n} account{'s' if n != 1 else ''}.")
        elif form.action == "stage" and form.lifecycle_stage:
            n = service.bulk_update_accounts(
                session,
                actor_for(user),
                form.ids,
                AccountUpdate.model_validate({"lifecycle_stage": form.lifecycle_stage}),
            )
            flash(
                request,
                f"Moved {n} account{'s' if n != 1 else ''} to {STAGE_LABELS.get(form.lifecycle_stage, form.lifecycle_stage)}.",
            )
        elif form.action == "owner":
            owner = int(form.owner_id) if form.owner_id.strip() else None
            n = service.bulk_update_accounts(session, actor_for(user), form.ids, AccountUpdate(owner_id=owner))
            flash(request, f"Changed the owner of {n} account{'s' if n != 1 else ''}.")
        else:
            flash(request, "Choose what to do with the selected accounts.", "error")
    except (ValidationError, ServiceError) as exc:
        flash(request, "; ".join(errors_of(exc).values()), "error")
    except ValueError:
        flash(request, "Choose an owner from the list.", "error")
    return RedirectResponse(back, status_code=303)


# --- accounts: form and detail --------------------------------------------------------------


def _account_form_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], account: AccountOut | None
) -> dict[str, Any]:
    facets = queries.account_facets(session)
    return {
        "form": form,
        "errors": errors,
        "account": account,
        "owners": queries.owner_choices(session),
        "stages": STAGE_LABELS,
        "plans": sorted({*PLANS, *(v for v, _ in facets["plan"])}),
        "segments": sorted({*SEGMENTS, *(v for v, _ in facets["segment"])}),
        "regions": sorted({*REGIONS, *(v for v, _ in facets["region"])}),
    }


def _account_form_values(account: AccountOut) -> dict[str, Any]:
    values = account.model_dump()
    values["arr"] = f"{account.arr:.2f}".rstrip("0").rstrip(".")
    values["attributes"] = format_attributes(account.attributes)
    return {k: ("" if v is None else v) for k, v in values.items()}


@router.get("/customers/accounts/new", response_class=HTMLResponse)
def account_new(request: Request, session: SessionDep, user: MemberUser) -> Response:
    form = {"lifecycle_stage": "active", "owner_id": user.id}
    return render(request, "customers/account_form.html", _account_form_context(session, form, {}, None))


@router.post("/customers/accounts/new")
def account_create(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[AccountForm, Form()]
) -> Response:
    try:
        data = AccountIn.model_validate(_account_payload(form))
        account = service.create_account(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/account_form.html",
            _account_form_context(session, form.model_dump(), errors_of(exc), None),
            status_code=422,
        )
    flash(request, f"Account {account.name} created.")
    return RedirectResponse(f"/customers/accounts/{account.id}", status_code=303)


@router.get("/customers/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, user: ViewerUser, account_id: int) -> Response:
    account = service.get_account(session, account_id)
    context = {
        "account": account,
        "people": queries.account_people(session, account_id, limit=50),
        "history": audit.history(session, "account", account_id),
        "stages": STAGE_LABELS,
    }
    return render(request, "customers/account_detail.html", context)


@router.get("/customers/accounts/{account_id}/edit", response_class=HTMLResponse)
def account_edit(request: Request, session: SessionDep, user: MemberUser, account_id: int) -> Response:
    account = service.get_account(session, account_id)
    return render(
        request,
        "customers/account_form.html",
        _account_form_context(session, _account_form_values(account), {}, account),
    )


@router.post("/customers/accounts/{account_id}/edit")
def account_update(
    request: Request, session: SessionDep, user: MemberUser, account_id: int, form: Annotated[AccountForm, Form()]
) -> Response:
    account = service.get_account(session, account_id)
    try:
        data = AccountUpdate.model_validate(_account_payload(form))
        account = service.update_account(session, actor_for(user), account_id, data)
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/account_form.html",
            _account_form_context(session, form.model_dump(), errors_of(exc), account),
            status_code=422,
        )
    flash(request, f"Account {account.name} saved.")
    return RedirectResponse(f"/customers/accounts/{account.id}", status_code=303)


@router.post("/customers/accounts/{account_id}/delete")
def account_delete(request: Request, session: SessionDep, user: MemberUser, account_id: int) -> Response:
    account = service.get_account(session, account_id)
    service.delete_account(session, actor_for(user), account_id)
    flash(request, f"Account {account.name} deleted.")
    return RedirectResponse("/customers/accounts", status_code=303)
