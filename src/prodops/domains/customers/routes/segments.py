"""Segment pages: list with member counts, the condition-row form, and a segment's members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.customers import queries, service
from prodops.domains.customers.routes._forms import (
    SegmentForm,
)
from prodops.domains.customers.schemas import (
    ACCOUNT_FIELDS,
    KIND_OPS,
    LIST_OPS,
    NO_VALUE_OPS,
    OP_LABELS,
    OPS,
    PERSON_FIELDS,
    STAGE_LABELS,
    STAGES,
    AccountFilters,
    Entity,
    MembersQuery,
    PersonFilters,
    SegmentFilters,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    describe,
    parse_scalar,
    resolve_field,
)
from prodops.platform import audit, registry
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.listing import Page
from prodops.platform.web import flash, render

router = registry.router(APIRouter(include_in_schema=False))


# --- segments -------------------------------------------------------------------------------


@router.get("/customers/segments", response_class=HTMLResponse)
def segments_page(
    request: Request, session: SessionDep, user: ViewerUser, filters: Annotated[SegmentFilters, Query()]
) -> Response:
    page = queries.list_segments(session, filters.q, filters.entity, filters.page, filters.per_page)
    return render(request, "customers/segments.html", {"page": page, "filters": filters, "describe": describe})


def _condition_value(entity: str, field: str, op: str, raw: str) -> Any:
    """A condition value as typed in the form, converted to what the field expects."""
    if op in NO_VALUE_OPS:
        return None
    ref = resolve_field("people" if entity == "people" else "accounts", field.strip())
    kind = ref.kind if ref else "text"

    def one(text: str) -> Any:
        text = text.strip()
        if kind in ("number", "id") or (kind == "attribute" and op in ("gt", "gte", "lt", "lte")):
            value = parse_scalar(text.replace(",", "") if kind == "number" else text)
            return value
        if kind == "attribute" and isinstance(parse_scalar(text), bool):
            return parse_scalar(text)
        return text

    if op in LIST_OPS:
        return [one(part) for part in raw.split(",") if part.strip()]
    return one(raw)


def _segment_rows(form: SegmentForm) -> list[dict[str, Any]]:
    rows = []
    for i, field in enumerate(form.cond_field):
        op = form.cond_op[i] if i < len(form.cond_op) else ""
        value = form.cond_value[i] if i < len(form.cond_value) else ""
        if field.strip():
            rows.append({"field": field.strip(), "op": op, "value": value})
    return rows


def _segment_form_context(
    session: Session,
    form: dict[str, Any],
    rows: list[dict[str, Any]],
    errors: dict[str, str],
    segment: SegmentOut | None,
) -> dict[str, Any]:
    return {
        "form": form,
        "rows": rows + [{"field": "", "op": "eq", "value": ""} for _ in range(3)],
        "errors": errors,
        "segment": segment,
        "ops": OPS,
        "op_labels": OP_LABELS,
        "account_fields": [*ACCOUNT_FIELDS, *(f"attributes.{k}" for k in queries.attribute_keys(session, "accounts"))],
        "people_fields": [
            *PERSON_FIELDS,
            *(f"attributes.{k}" for k in queries.attribute_keys(session, "people")),
            *(f"account.{f}" for f in ACCOUNT_FIELDS),
        ],
        "kind_ops": KIND_OPS,
        "stages": STAGES,
    }


def _segment_payload(form: SegmentForm) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = _segment_rows(form)
    filters = [
        {"field": r["field"], "op": r["op"], "value": _condition_value(form.entity, r["field"], r["op"], r["value"])}
        for r in rows
    ]
    return {"name": form.name, "description": form.description, "entity": form.entity, "filters": filters}, rows


def _segment_errors(exc: ValidationError | ServiceError) -> dict[str, str]:
    errors: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            errors.setdefault(
                ".".join(loc[:2]) if loc and loc[0] == "filters" else (loc[0] if loc else "_"), err["msg"]
            )
        return errors
    for d in exc.as_detail():
        where = d["loc"]
        key = str(where[-1]) if isinstance(where, list) and where else "_"  # "filters.2.value"
        if key.startswith("filters."):
            key = ".".join(key.split(".")[:2])
        errors.setdefault(key if exc.field else "_", str(d["msg"]))
    return errors


@router.get("/customers/segments/new", response_class=HTMLResponse)
def segment_new(request: Request, session: SessionDep, user: MemberUser, entity: Entity = "accounts") -> Response:
    return render(
        request, "customers/segment_form.html", _segment_form_context(session, {"entity": entity}, [], {}, None)
    )


@router.post("/customers/segments/new")
def segment_create(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[SegmentForm, Form()]
) -> Response:
    payload, rows = _segment_payload(form)
    try:
        segment = service.create_segment(session, actor_for(user), SegmentIn.model_validate(payload))
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/segment_form.html",
            _segment_form_context(session, payload, rows, _segment_errors(exc), None),
            status_code=422,
        )
    flash(request, f"Segment {segment.name} saved: {segment.member_count or 0} {segment.entity}.")
    return RedirectResponse(f"/customers/segments/{segment.id}", status_code=303)


@router.get("/customers/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(
    request: Request, session: SessionDep, user: ViewerUser, segment_id: int, q: Annotated[MembersQuery, Query()]
) -> Response:
    segment = service.segment_detail(session, segment_id)
    members: Page[Any]
    if segment.entity == "accounts":
        members = queries.list_accounts(
            session, AccountFilters(segment_id=segment_id, sort=q.sort, page=q.page, per_page=q.per_page)
        )
    else:
        members = queries.list_people(
            session, PersonFilters(segment_id=segment_id, sort=q.sort, page=q.page, per_page=q.per_page)
        )
    context = {
        "segment": segment,
        "page": members,
        "describe": describe,
        "stages": STAGE_LABELS,
        "history": audit.history(session, "segment", segment_id, limit=20),
        "filters": q,
    }
    return render(request, "customers/segment_detail.html", context)


@router.get("/customers/segments/{segment_id}/edit", response_class=HTMLResponse)
def segment_edit(request: Request, session: SessionDep, user: MemberUser, segment_id: int) -> Response:
    segment = service.segment_detail(session, segment_id)
    rows = [
        {
            "field": c.field,
            "op": c.op,
            "value": ", ".join(map(_show, c.value)) if isinstance(c.value, list) else _show(c.value),
        }
        for c in segment.filters
    ]
    form = {"name": segment.name, "description": segment.description, "entity": segment.entity}
    return render(request, "customers/segment_form.html", _segment_form_context(session, form, rows, {}, segment))


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@router.post("/customers/segments/{segment_id}/edit")
def segment_update(
    request: Request, session: SessionDep, user: MemberUser, segment_id: int, form: Annotated[SegmentForm, Form()]
) -> Response:
    segment = service.segment_detail(session, segment_id)
    payload, rows = _segment_payload(form)
    try:
        segment = service.update_segment(session, actor_for(user), segment_id, SegmentUpdate.model_validate(payload))
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "customers/segment_form.html",
            _segment_form_context(session, payload, rows, _segment_errors(exc), segment),
            status_code=422,
        )
    flash(request, f"Segment {segment.name} saved.")
    return RedirectResponse(f"/customers/segments/{segment.id}", status_code=303)


@router.post("/customers/segments/{segment_id}/delete")
def segment_delete(request: Request, session: SessionDep, user: MemberUser, segment_id: int) -> Response:
    segment = service.segment_detail(session, segment_id)
    service.delete_segment(session, actor_for(user), segment_id)
    flash(request, f"Segment {segment.name} deleted.")
    return RedirectResponse("/customers/segments", status_code=303)
