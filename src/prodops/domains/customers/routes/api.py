"""The customers JSON API under /api/v1/customers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from prodops.domains.customers import queries, service
from prodops.domains.customers.routes._forms import (
    AccountQuery,
    PersonQuery,
)
from prodops.domains.customers.schemas import (
    AccountFilters,
    AccountIn,
    AccountOut,
    AccountUpdate,
    Entity,
    MembersQuery,
    PersonFilters,
    PersonIn,
    PersonOut,
    PersonUpdate,
    SegmentFilters,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
)
from prodops.platform import registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep
from prodops.platform.errors import ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.listing import Page
from prodops.platform.tabular import (
    guess_mapping,
    read_table,
)

# --- JSON API -------------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1/customers", tags=["customers"]))


class AccountList(BaseModel):
    items: list[AccountOut]
    total: int
    page: int
    per_page: int


class PersonList(BaseModel):
    items: list[PersonOut]
    total: int
    page: int
    per_page: int


class SegmentList(BaseModel):
    items: list[SegmentOut]
    total: int
    page: int
    per_page: int


class MemberList(BaseModel):
    entity: Entity
    items: list[AccountOut] | list[PersonOut]
    total: int
    page: int
    per_page: int


@api.get(
    "/accounts",
    response_model=AccountList,
    dependencies=[VIEWER],
    summary="List accounts (filter, search, sort, paginate)",
)
def api_accounts(session: SessionDep, filters: AccountQuery) -> AccountList:
    page = queries.list_accounts(session, filters)
    return AccountList(items=list(page.items), total=page.total, page=page.number, per_page=page.per_page)


@api.post("/accounts", response_model=AccountOut, status_code=201, summary="Create an account")
def api_account_create(session: SessionDep, user: MemberUser, data: AccountIn) -> AccountOut:
    return service.create_account(session, actor_for(user), data)


@api.get("/accounts/{account_id}", response_model=AccountOut, dependencies=[VIEWER], summary="One account")
def api_account(session: SessionDep, account_id: int) -> AccountOut:
    return service.get_account(session, account_id)


@api.patch("/accounts/{account_id}", response_model=AccountOut, summary="Change an account (only the fields sent)")
def api_account_update(session: SessionDep, user: MemberUser, account_id: int, data: AccountUpdate) -> AccountOut:
    return service.update_account(session, actor_for(user), account_id, data)


@api.delete(
    "/accounts/{account_id}", status_code=204, summary="Delete an account (its people stay, without an account)"
)
def api_account_delete(session: SessionDep, user: MemberUser, account_id: int) -> Response:
    service.delete_account(session, actor_for(user), account_id)
    return Response(status_code=204)


@api.get(
    "/people", response_model=PersonList, dependencies=[VIEWER], summary="List people (filter, search, sort, paginate)"
)
def api_people(session: SessionDep, filters: PersonQuery) -> PersonList:
    page = queries.list_people(session, filters)
    return PersonList(items=list(page.items), total=page.total, page=page.number, per_page=page.per_page)


@api.post("/people", response_model=PersonOut, status_code=201, summary="Create a person")
def api_person_create(session: SessionDep, user: MemberUser, data: PersonIn) -> PersonOut:
    return service.create_person(session, actor_for(user), data)


@api.get("/people/{person_id}", response_model=PersonOut, dependencies=[VIEWER], summary="One person")
def api_person(session: SessionDep, person_id: int) -> PersonOut:
    return service.get_person(session, person_id)


@api.patch("/people/{person_id}", response_model=PersonOut, summary="Change a person (only the fields sent)")
def api_person_update(session: SessionDep, user: MemberUser, person_id: int, data: PersonUpdate) -> PersonOut:
    return service.update_person(session, actor_for(user), person_id, data)


@api.delete("/people/{person_id}", status_code=204, summary="Delete a person")
def api_person_delete(session: SessionDep, user: MemberUser, person_id: int) -> Response:
    service.delete_person(session, actor_for(user), person_id)
    return Response(status_code=204)


@api.get(
    "/segments", response_model=SegmentList, dependencies=[VIEWER], summary="List saved segments with member counts"
)
def api_segments(session: SessionDep, filters: Annotated[SegmentFilters, Query()]) -> SegmentList:
    page = queries.list_segments(session, filters.q, filters.entity, filters.page, filters.per_page)
    return SegmentList(items=list(page.items), total=page.total, page=page.number, per_page=page.per_page)


@api.post("/segments", response_model=SegmentOut, status_code=201, summary="Create a saved segment")
def api_segment_create(session: SessionDep, user: MemberUser, data: SegmentIn) -> SegmentOut:
    return service.create_segment(session, actor_for(user), data)


@api.get(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    dependencies=[VIEWER],
    summary="One saved segment with its member count",
)
def api_segment(session: SessionDep, segment_id: int) -> SegmentOut:
    return service.segment_detail(session, segment_id)


@api.patch("/segments/{segment_id}", response_model=SegmentOut, summary="Change a saved segment")
def api_segment_update(session: SessionDep, user: MemberUser, segment_id: int, data: SegmentUpdate) -> SegmentOut:
    return service.update_segment(session, actor_for(user), segment_id, data)


@api.delete("/segments/{segment_id}", status_code=204, summary="Delete a saved segment")
def api_segment_delete(session: SessionDep, user: MemberUser, segment_id: int) -> Response:
    service.delete_segment(session, actor_for(user), segment_id)
    return Response(status_code=204)


def _api_mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed("mapping", "mapping must be a JSON object of field → column header") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed("mapping", "mapping must be a JSON object of field → column header")
    return value


@api.post(
    "/import",
    summary="Import a CSV or XLSX file of accounts or people (all or nothing)",
    responses={
        200: {"description": "The report; `committed` is true unless `dry_run`"},
        400: {"description": "The file cannot be read (`file`)"},
        422: {"description": "The report, listing every bad row and column; nothing was written"},
    },
)
def api_import(
    session: SessionDep,
    user: MemberUser,
    file: UploadFile,
    *,
    entity: Entity = "accounts",
    dry_run: bool = False,
    mapping: Annotated[
        str | None, Form(description="Optional JSON object field → column header; matching headers need none.")
    ] = None,
) -> JSONResponse:
    table = read_table(file.file.read(), file.filename or "upload.csv")
    columns = service.import_columns(entity, table.headers)
    chosen = {**guess_mapping(table.headers, columns), **(_api_mapping(mapping) or {})}
    report = service.import_file(session, actor_for(user), entity, table, chosen, dry_run=dry_run)
    return JSONResponse(
        {**report.as_dict(), "summary": report.summary(), "mapping": chosen}, status_code=report.status_code
    )


@api.get(
    "/segments/{segment_id}/members",
    response_model=MemberList,
    dependencies=[VIEWER],
    summary="The accounts or people in a segment",
)
def api_segment_members(session: SessionDep, segment_id: int, q: Annotated[MembersQuery, Query()]) -> MemberList:
    segment = service.segment_detail(session, segment_id)
    page: Page[Any]
    if segment.entity == "accounts":
        page = queries.list_accounts(
            session, AccountFilters(segment_id=segment_id, sort=q.sort, page=q.page, per_page=q.per_page)
        )
    else:
        page = queries.list_people(
            session, PersonFilters(segment_id=segment_id, sort=q.sort, page=q.page, per_page=q.per_page)
        )
    return MemberList(
        entity=segment.entity, items=list(page.items), total=page.total, page=page.number, per_page=page.per_page
    )
