"""Capture pages: one page that explains every way feedback gets in (with a form to add an item by hand), and the
import wizard for CSV/XLSX files (upload → match columns → check and commit). Viewers read; members capture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from prodops.domains.feedback import service
from prodops.domains.feedback.models import IMPORTANCE_LABELS, SOURCE_LABELS
from prodops.domains.feedback.queries import inbox
from prodops.domains.feedback.queries.export import EXPORT_COLUMNS
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.domains.feedback.service import imports
from prodops.platform import registry
from prodops.platform.config import get_settings
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import (
    ImportWizard,
    Submission,
    TabularError,
    UploadNotFound,
    attachment_headers,
    mapping_from_form,
    read_table,
    write_csv,
)
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))

registry.nav("Capture", "/feedback/capture", section="Feedback", order=20)

#: Channels a person records by hand, first the most common (the automatic ones have their own endpoints).
MANUAL_SOURCES = ("sales_call", "interview", "support_ticket", "email", "survey", "app_review", "portal", "api")
FORM_FIELDS = (
    "text",
    "title",
    "source",
    "person_email",
    "person_name",
    "account_domain",
    "product_id",
    "area",
    "tags",
    "importance",
    "received_at",
    "notes",
    "source_url",
)

SAMPLE_HEADERS = ["external_id", "source", "received_at", "title", "text", "person_email", "product", "tags", "rating"]
SAMPLE_ROWS: list[list[Any]] = [
    [
        "T-1042",
        "Support ticket",
        "2024-03-05 14:22",
        "Export loses charts",
        "When I export the dashboard to PDF the charts are missing.",
        "ann@acme.com",
        "",
        "export, pdf",
        "",
    ],
    [
        "R-77",
        "App review",
        "2024-03-06",
        "",
        "Love the app, but I wish I could share a board with my team.",
        "",
        "",
        "sharing",
        "4",
    ],
]


def _wizard(headers: Sequence[str] = ()) -> ImportWizard:
    """The wizard; its fields grow with the file's other columns, which are kept in each item's meta."""
    return ImportWizard(
        title="Import feedback",
        entity="feedback",
        columns=imports.import_columns(headers),
        url="/feedback/import",
        done_url="/feedback?status=all",
        sample_url="/feedback/import/sample.csv",
    )


# --- the capture page -----------------------------------------------------------------------


def _secret_set(name: str) -> bool:
    value = getattr(get_settings(), name, None)
    getter = getattr(value, "get_secret_value", None)
    return bool(getter() if callable(getter) else value)


def _capture_context(
    request: Request, session: Session, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    settings = get_settings()
    return {
        "base_url": settings.base_url.rstrip("/"),
        "values": values or {"source": MANUAL_SOURCES[0]},
        "errors": errors or {},
        "sources": [(s, SOURCE_LABELS[s]) for s in MANUAL_SOURCES],
        "source_labels": SOURCE_LABELS,
        "importances": inbox.importance_choices(),
        "importance_labels": IMPORTANCE_LABELS,
        "products": inbox.product_choices(session),
        "import_columns": imports.IMPORT_COLUMNS,
        "export_columns": EXPORT_COLUMNS,
        "imap_host": getattr(settings, "imap_host", ""),
        "imap_mailbox": getattr(settings, "imap_mailbox", "INBOX"),
        "zendesk_on": _secret_set("zendesk_webhook_secret"),
        "intercom_on": _secret_set("intercom_client_secret"),
    }


@router.get("/feedback/capture", response_class=HTMLResponse)
def capture_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    return render(request, "feedback/capture.html", _capture_context(request, session))


@router.post("/feedback/capture")
async def capture_add(request: Request, session: SessionDep, user: MemberUser) -> Response:
    """Add one item by hand (a sales call, an interview...); errors come back next to the fields."""
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    values["notes"] = values["notes"].replace("\r\n", "\n")
    values["text"] = values["text"].replace("\r\n", "\n")
    payload: dict[str, Any] = {k: v for k, v in values.items() if v}
    try:
        data = FeedbackIn.model_validate(payload)
        item, _ = service.ingest(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        # The service names a batch's fields items.<i>.<field>; this form holds one item.
        errors = {k.removeprefix("items.0."): v for k, v in errors_of(exc).items()}
        context = _capture_context(request, session, values, errors)
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        return render(request, "feedback/capture.html", context, status_code=status)
    flash(request, f"Feedback added from {SOURCE_LABELS[item.source].lower()}.")
    return RedirectResponse(f"/feedback/items/{item.id}", status_code=303)


# --- the import wizard ----------------------------------------------------------------------


@router.get("/feedback/import", response_class=HTMLResponse)
def import_page(request: Request, user: MemberUser) -> Response:
    return render(request, "tabular/upload.html", _wizard().upload_step())


@router.get("/feedback/import/sample.csv")
def import_sample(user: MemberUser) -> Response:
    return Response(
        write_csv(SAMPLE_HEADERS, SAMPLE_ROWS),
        media_type="text/csv; charset=utf-8",
        headers=attachment_headers("feedback-example.csv"),
    )


@router.post("/feedback/import")
def import_upload(request: Request, user: MemberUser, file: UploadFile) -> Response:
    data = file.file.read()
    name = file.filename or "upload.csv"
    try:
        headers = read_table(data, name).headers
        context = _wizard(headers).mapping_step(data, name)
    except TabularError as exc:
        return render(request, "tabular/upload.html", _wizard().upload_step(exc.message), status_code=400)
    return render(request, "tabular/mapping.html", context)


@router.post("/feedback/import/check")
async def import_check(request: Request, session: SessionDep, user: MemberUser) -> Response:
    """The dry run, and the commit when the form carries ``commit=1``."""
    form = await request.form()

    def run() -> Response:
        upload_id = form.get("upload_id")
        if not isinstance(upload_id, str):
            raise UploadNotFound
        table, filename = _wizard().table(upload_id)
        wizard = _wizard(table.headers)
        submission = Submission(
            upload_id, filename, table, mapping_from_form(form, wizard.columns), form.get("commit") == "1"
        )
        report = imports.import_feedback(
            session, actor_for(user), table, submission.mapping, dry_run=submission.dry_run
        )
        return render(
            request, "tabular/report.html", wizard.report_step(submission, report), status_code=report.status_code
        )

    # Checking and importing a large file takes a while: keep it off the event loop.
    return await run_in_threadpool(run)
