"""Tabular import and export: read CSV/XLSX, map columns, validate every row, commit all or nothing; write exports.

The pipeline, used by every domain that imports rows (customers, feedback, surveys...)::

    read_table(bytes, filename) -> Table              # whole-file problems raise TabularError (400, field "file")
    guess_mapping(table.headers, COLUMNS) -> {field: header}
    run_import(table, mapping, COLUMNS, Model, commit, dry_run=..., extra_checks=...) -> ImportReport

``run_import`` = ``apply_mapping`` (records as ``(row_number, {field: text})`` pairs, plus row-0 errors for an
unknown field, a header not in the file, a required field left unmapped) → ``validate_rows`` (every Pydantic
error becomes a `RowError` naming the row, the column *as headed in the user's file* and the field) →
``extra_checks`` → ``commit`` only when there is no error at all and it is not a dry run.

A domain's service owns the transaction::

    # domains/customers/service.py
    ACCOUNT_COLUMNS = (
        ColumnSpec("name", "Name", required=True, aliases=("company", "account name")),
        ColumnSpec("arr", "ARR", aliases=("annual recurring revenue",), help="In USD, no currency sign"),
        ColumnSpec("external_id", "External ID", aliases=("id", "crm id")),
    )

    def import_accounts(session, actor, table: Table, mapping: dict[str, str], *, dry_run: bool) -> ImportReport:
        def commit(rows: list[tuple[int, AccountImport]]) -> tuple[int, int, int]:
            with session.begin():
                ...  # upsert each row, audit; return (created, updated, unchanged)
        checks = duplicate_check(lambda a: a.external_id, "external_id", mapping, "External ID")
        return run_import(table, mapping, ACCOUNT_COLUMNS, AccountImport, commit, dry_run=dry_run, extra_checks=checks)

The web wizard is three templates (``tabular/upload.html``, ``tabular/mapping.html``, ``tabular/report.html``)
driven by an `ImportWizard`; a domain writes three small routes::

    # domains/customers/routes.py
    account_import = ImportWizard(title="Import accounts", entity="accounts", columns=service.ACCOUNT_COLUMNS,
                                  url="/customers/accounts/import", done_url="/customers/accounts")

    @router.get("/customers/accounts/import", response_class=HTMLResponse, include_in_schema=False)
    def accounts_import_page(request: Request, user: MemberUser) -> Response:
        return render(request, "tabular/upload.html", account_import.upload_step())

    @router.post("/customers/accounts/import", include_in_schema=False)
    async def accounts_import_upload(request: Request, user: MemberUser, file: UploadFile) -> Response:
        try:
            ctx = account_import.mapping_step(await file.read(), file.filename or "upload.csv")
        except TabularError as exc:
            return render(request, "tabular/upload.html", account_import.upload_step(exc.message), status_code=400)
        return render(request, "tabular/mapping.html", ctx)

    @router.post("/customers/accounts/import/check", include_in_schema=False)  # dry run, and commit with commit=1
    async def accounts_import_check(request: Request, session: SessionDep, user: MemberUser) -> Response:
        sub = account_import.submitted(await request.form())  # UploadNotFound (404) when expired or forged
        report = service.import_accounts(session, actor_for(user), sub.table, sub.mapping, dry_run=sub.dry_run)
        return render(request, "tabular/report.html", account_import.report_step(sub, report),
                      status_code=report.status_code)

The JSON API takes the file and an optional mapping and returns ``report.as_dict()`` with ``report.status_code``
(200, or 422 when any row or column is wrong). The CLI command is one call to `cli_import` (reads the file,
applies ``--map field=Header`` options over the guessed mapping, prints the report, exits 1 on errors).
Exports: `write_csv`, `write_xlsx`, or ``StreamingResponse(iter_csv(headers, rows), media_type="text/csv",
headers=attachment_headers("accounts.csv"))``; every text cell is protected from formula injection.
Uploads live under ``<data_dir>/uploads/`` (`save_upload`, `load_upload`); `cleanup_uploads` removes those older
than a day and is meant for a periodic job.
"""

from __future__ import annotations

from prodops.platform.tabular.console import cli_import, parse_map_options, print_report, progress
from prodops.platform.tabular.export import (
    attachment_headers,
    escape_formula,
    export_text,
    iter_csv,
    write_csv,
    write_xlsx,
)
from prodops.platform.tabular.mapping import (
    ColumnSpec,
    Record,
    apply_mapping,
    check_mapping,
    guess_mapping,
    normalise_header,
    validate_rows,
)
from prodops.platform.tabular.report import ImportReport, duplicate_check, run_import
from prodops.platform.tabular.table import RowError, Table, TabularError, cell_text, read_table
from prodops.platform.tabular.uploads import (
    UploadNotFound,
    cleanup_uploads,
    delete_upload,
    load_upload,
    save_upload,
)
from prodops.platform.tabular.wizard import ImportWizard, Submission, mapping_from_form

__all__ = [
    "ColumnSpec",
    "ImportReport",
    "ImportWizard",
    "Record",
    "RowError",
    "Submission",
    "Table",
    "TabularError",
    "UploadNotFound",
    "apply_mapping",
    "attachment_headers",
    "cell_text",
    "check_mapping",
    "cleanup_uploads",
    "cli_import",
    "delete_upload",
    "duplicate_check",
    "escape_formula",
    "export_text",
    "guess_mapping",
    "iter_csv",
    "load_upload",
    "mapping_from_form",
    "normalise_header",
    "parse_map_options",
    "print_report",
    "progress",
    "read_table",
    "run_import",
    "save_upload",
    "validate_rows",
    "write_csv",
    "write_xlsx",
]
