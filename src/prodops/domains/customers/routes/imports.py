"""The import wizard for accounts and people (upload → match columns → check and commit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from prodops.domains.customers import service
from prodops.domains.customers.routes._forms import (
    _csv_response,
)
from prodops.domains.customers.schemas import (
    Entity,
)
from prodops.platform import registry
from prodops.platform.deps import MemberUser, SessionDep
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import (
    ImportWizard,
    Submission,
    TabularError,
    UploadNotFound,
    mapping_from_form,
    read_table,
)
from prodops.platform.web import render

router = registry.router(APIRouter(include_in_schema=False))


# --- import wizard (the platform's tabular engine) ------------------------------------------


def _wizard(entity: Entity, headers: Sequence[str] = ()) -> ImportWizard:
    """The wizard for one kind of row; its fields grow with the custom-attribute columns of the uploaded file."""
    return ImportWizard(
        title=f"Import {entity}",
        entity=entity,
        columns=service.import_columns(entity, headers),
        url=f"/customers/import/{entity}",
        done_url=f"/customers/{entity}",
        sample_url=f"/customers/import/{entity}/sample.csv",
    )


SAMPLES: dict[str, tuple[list[str], list[list[Any]]]] = {
    "accounts": (
        [
            "external_id",
            "name",
            "domain",
            "plan",
            "arr",
            "segment",
            "region",
            "lifecycle_stage",
            "owner_email",
            "attributes.industry",
        ],
        [
            ["crm-001", "Acme Corp", "acme.com", "Growth", 24000, "Mid-Market", "EMEA", "active", "", "Retail"],
            ["crm-002", "Globex", "globex.com", "Enterprise", 310000, "Enterprise", "NA", "at risk", "", "Fintech"],
        ],
    ),
    "people": (
        ["email", "name", "title", "external_id", "account_external_id", "attributes.role"],
        [
            ["ann@acme.com", "Ann Lee", "CTO", "p-1", "crm-001", "admin"],
            ["bo@globex.com", "Bo Chan", "Analyst", "p-2", "", "user"],
        ],
    ),
}


@router.get("/customers/import", response_class=HTMLResponse)
def import_page(request: Request, user: MemberUser, entity: Entity = "accounts") -> Response:
    return render(request, "tabular/upload.html", _wizard(entity).upload_step())


@router.get("/customers/import/{entity}", response_class=HTMLResponse)
def import_entity_page(request: Request, user: MemberUser, entity: Entity) -> Response:
    return render(request, "tabular/upload.html", _wizard(entity).upload_step())


@router.get("/customers/import/{entity}/sample.csv")
def import_sample(user: MemberUser, entity: Entity) -> Response:
    headers, rows = SAMPLES[entity]
    return _csv_response(f"{entity}-example.csv", headers, rows)


@router.post("/customers/import/{entity}")
def import_upload(request: Request, user: MemberUser, entity: Entity, file: UploadFile) -> Response:
    data = file.file.read()
    name = file.filename or "upload.csv"
    try:
        headers = read_table(data, name).headers
        context = _wizard(entity, headers).mapping_step(data, name)
    except TabularError as exc:
        return render(request, "tabular/upload.html", _wizard(entity).upload_step(exc.message), status_code=400)
    return render(request, "tabular/mapping.html", context)


@router.post("/customers/import/{entity}/check")
async def import_check(request: Request, session: SessionDep, user: MemberUser, entity: Entity) -> Response:
    form = await request.form()

    def run() -> Response:
        upload_id = form.get("upload_id")
        if not isinstance(upload_id, str):
            raise UploadNotFound
        table, filename = _wizard(entity).table(upload_id)
        wizard = _wizard(entity, table.headers)
        submission = Submission(
            upload_id, filename, table, mapping_from_form(form, wizard.columns), form.get("commit") == "1"
        )
        report = service.import_file(
            session, actor_for(user), entity, table, submission.mapping, dry_run=submission.dry_run
        )
        return render(
            request, "tabular/report.html", wizard.report_step(submission, report), status_code=report.status_code
        )

    # Checking and importing a large file takes a while: keep it off the event loop.
    return await run_in_threadpool(run)
