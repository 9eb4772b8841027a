"""The write side of the feedback JSON API under /api/v1/feedback: capture one item or a batch, change, delete,
link to features, bulk changes, and file import and CSV export. Members write (session or a ``write`` token);
viewers export.

Every path here is a literal or takes an ``:int`` id, so none shadows the read routes (``GET /{item_id:int}``,
``/views``, ``/facets``) or another module's (``/demand``, ``/widget``, ``/email``, ``/webhooks/...``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prodops.domains.feedback import service
from prodops.domains.feedback.queries import export
from prodops.domains.feedback.queries.inbox import FeedbackFilters, conditions, require_item
from prodops.domains.feedback.schemas import (
    BulkChange,
    BulkIn,
    FeedbackIn,
    FeedbackOut,
    FeedbackUpdate,
    IngestResult,
    LinkIn,
    LinkOut,
)
from prodops.domains.feedback.service import imports
from prodops.domains.feedback.service.batches import ingest_batch
from prodops.platform import registry
from prodops.platform.db import session_scope
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import attachment_headers, iter_csv, read_table

api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback"]))

FeedbackQuery = Annotated[FeedbackFilters, Query()]


class Changed(BaseModel):
    changed: int
    """How many items the change touched (items already in that state are not counted)."""


def _loc(name: str | None) -> list[str | int]:
    """``items.3.account_domain`` → ``["body", "items", 3, "account_domain"]`` (the shape request validation uses)."""
    if not name:
        return ["body"]
    return ["body", *(int(part) if part.isdigit() else part for part in name.split("."))]


def _refusal(exc: ServiceError, *, one_item: bool = False) -> JSONResponse:
    """The service's field-level refusal with ``loc`` split the way request validation splits it; for a single item
    the batch prefix ``items.0.`` is dropped (the item is the body)."""
    kind = type(exc).__name__.lower()
    detail = [
        {"loc": _loc(name.removeprefix("items.0.") if one_item and name else name), "msg": message, "type": kind}
        for name, message in exc.problems
    ]
    return JSONResponse({"detail": detail}, status_code=exc.status_code)


@api.post(
    "",
    response_model=FeedbackOut,
    status_code=201,
    summary="Capture one piece of feedback",
    description=(
        "Creates an item (**201**). With a `source` and `external_id` that are already known the item is updated "
        "instead (**200**): its triage status stays, and fields left out keep their value."
    ),
    responses={200: {"description": "An item with this source and external id existed and was updated"}},
)
def api_create(
    session: SessionDep, user: MemberUser, data: FeedbackIn, response: Response
) -> FeedbackOut | JSONResponse:
    try:
        item, created = service.ingest(session, actor_for(user), data)
    except ServiceError as exc:
        return _refusal(exc, one_item=True)
    response.status_code = 201 if created else 200
    return item


@api.post(
    "/bulk",
    response_model=IngestResult,
    summary="Capture up to 1,000 items at once, all or nothing",
    description=(
        "Every item is checked before anything is written; a refusal lists every bad item "
        '(`{"detail": [{"loc": ["body", "items", 3, "account_domain"], "msg": ...}]}`). Items with a known source '
        "and external id are updated. `ids` follow the order of the input."
    ),
    responses={422: {"description": "Every problem of every item; nothing was written"}},
)
def api_bulk(session: SessionDep, user: MemberUser, data: BulkIn) -> IngestResult | JSONResponse:
    try:
        return ingest_batch(session, actor_for(user), data.items)
    except ServiceError as exc:
        return _refusal(exc)


@api.post(
    "/bulk-change",
    response_model=Changed,
    summary="Apply one change (status, assignee, importance, product, tags) to many items",
)
def api_bulk_change(session: SessionDep, user: MemberUser, data: BulkChange) -> Changed:
    return Changed(changed=service.bulk_change(session, actor_for(user), data))


@api.patch("/{item_id:int}", response_model=FeedbackOut, summary="Change an item (only the fields sent)")
def api_update(session: SessionDep, user: MemberUser, item_id: int, data: FeedbackUpdate) -> FeedbackOut:
    return service.update_item(session, actor_for(user), item_id, data)


@api.delete("/{item_id:int}", status_code=204, summary="Delete an item (and its links to features)")
def api_delete(session: SessionDep, user: MemberUser, item_id: int) -> Response:
    service.delete_item(session, actor_for(user), item_id)
    return Response(status_code=204)


@api.post(
    "/{item_id:int}/links",
    response_model=LinkOut,
    status_code=201,
    summary="Link an item, or a passage of its text, to a feature",
    description="Linking the same feature again changes the highlight and importance. A new or triaged item "
    "becomes `linked`.",
)
def api_link(session: SessionDep, user: MemberUser, item_id: int, data: LinkIn) -> LinkOut:
    require_item(session, item_id)
    return service.link_feature(session, actor_for(user), item_id, data)


@api.delete("/links/{link_id:int}", status_code=204, summary="Remove a link; an item left without links is triaged")
def api_unlink(session: SessionDep, user: MemberUser, link_id: int) -> Response:
    service.unlink(session, actor_for(user), link_id)
    return Response(status_code=204)


def _mapping(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed("mapping", "mapping must be a JSON object of field → column header") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed("mapping", "mapping must be a JSON object of field → column header")
    return value


@api.post(
    "/import",
    summary="Import a CSV or XLSX file of feedback (all or nothing)",
    description=(
        "Multipart form: `file`, and optionally `mapping` (a JSON object field → column header over the columns "
        "recognised by name; an empty header leaves a field out), `dry_run` and `source` (the source of rows "
        "without one, default `import`). The answer is the report: `errors` lists every bad row and column "
        "(`row` as the spreadsheet numbers it, the header being row 1)."
    ),
    responses={
        200: {"description": "The report; `committed` is true unless `dry_run`"},
        400: {"description": "The file cannot be read (`file`)"},
        422: {"description": "The report, listing every bad row and column; nothing was written"},
    },
)
async def api_import(
    session: SessionDep,
    user: MemberUser,
    file: UploadFile,
    dry_run: Annotated[bool, Form(description="Check every row and report; write nothing.")] = False,
    mapping: Annotated[str | None, Form(description="JSON object field → column header.")] = None,
    source: Annotated[str, Form(description="Source of rows without one.")] = "import",
    dry_run_query: Annotated[
        bool, Query(alias="dry_run", description="The same as the form field, for clients that prefer the URL.")
    ] = False,
) -> JSONResponse:
    dry_run = dry_run or dry_run_query
    data = await file.read()
    chosen_source = imports.source_of(source)
    if chosen_source is None:
        raise ValidationFailed("source", f"{source!r} is not a source")
    overrides = _mapping(mapping)

    def run() -> JSONResponse:
        table = read_table(data, file.filename or "upload.csv")
        chosen = {**imports.suggest_mapping(table.headers), **overrides}
        report = imports.import_feedback(
            session, actor_for(user), table, chosen, dry_run=dry_run, default_source=chosen_source
        )
        used = {k: v for k, v in chosen.items() if v}
        body = {**report.as_dict(), "summary": report.summary(), "mapping": used}
        return JSONResponse(body, status_code=report.status_code)

    # Checking and importing a large file takes a while: keep it off the event loop.
    return await run_in_threadpool(run)


@api.get(
    "/export.csv",
    summary="Export the feedback matching the inbox filters as CSV",
    description=(
        "Takes the list's filters (without `status`: `new` and `triaged`; `status=all` for everything). The columns "
        "are the import's, so the file imports back unchanged. Streams: any number of items."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def api_export(session: SessionDep, user: ViewerUser, filters: FeedbackQuery) -> StreamingResponse:
    conditions(session, filters, me=user.id)  # a bad filter (unknown segment...) is refused before streaming
    me = user.id

    def rows() -> Any:
        # The request's session closes when the route returns; the stream reads with its own.
        with session_scope() as own:
            yield from (export.flat(r) for r in export.export_rows(own, filters, me=me))

    return StreamingResponse(
        iter_csv(export.EXPORT_COLUMNS, rows()),
        media_type="text/csv; charset=utf-8",
        headers=attachment_headers("feedback.csv"),
    )
