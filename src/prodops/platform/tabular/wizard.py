"""The three-step import wizard (upload → match columns → check and commit): contexts for ``tabular/*.html``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prodops.platform.tabular.mapping import ColumnSpec, check_mapping, guess_mapping, normalise_header
from prodops.platform.tabular.report import ImportReport
from prodops.platform.tabular.table import Table, read_table
from prodops.platform.tabular.uploads import UploadNotFound, delete_upload, load_upload, save_upload

MAP_PREFIX = "map."
"""Form fields of the mapping step are named ``map.<field>``; their value is a header of the file ("" = skip)."""

ACCEPT = ".csv,.xlsx"


def mapping_from_form(form: Mapping[str, Any], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """field → header from the mapping form's ``map.<field>`` selects (unmapped fields left out)."""
    mapping: dict[str, str] = {}
    for spec in columns:
        value = form.get(MAP_PREFIX + spec.name)
        if isinstance(value, str) and value:
            mapping[spec.name] = value
    return mapping


@dataclass(frozen=True)
class Submission:
    """A posted mapping or commit form, resolved."""

    upload_id: str
    filename: str
    table: Table
    mapping: dict[str, str]
    commit: bool
    """True when the "Commit import" button was pressed; otherwise this is a dry run."""

    @property
    def dry_run(self) -> bool:
        return not self.commit


@dataclass(frozen=True)
class ImportWizard:
    """What the wizard templates need to know about one kind of import. Build one per domain, at module level."""

    title: str
    """Page title, e.g. "Import accounts"."""
    entity: str
    """What the rows are, plural and lower case, e.g. "accounts"."""
    columns: Sequence[ColumnSpec]
    url: str
    """GET shows the upload form; POST receives the file and shows the mapping step."""
    check_url: str = ""
    """POST runs the dry run (default ``url + "/check"``)."""
    commit_url: str = ""
    """POST with ``commit=1`` commits (default: ``check_url``, so one route serves both)."""
    done_url: str = ""
    """Where "View <entity>" leads after a commit."""
    sample_url: str | None = None
    """An optional example file to download."""
    preview_rows: int = 5
    max_errors_shown: int = 1000

    def _base(self) -> dict[str, Any]:
        check = self.check_url or self.url.rstrip("/") + "/check"
        return {
            "title": self.title,
            "entity": self.entity,
            "columns": list(self.columns),
            "upload_url": self.url,
            "check_url": check,
            "commit_url": self.commit_url or check,
            "done_url": self.done_url,
            "sample_url": self.sample_url,
            "accept": ACCEPT,
            "map_prefix": MAP_PREFIX,
        }

    def upload_step(self, error: str | None = None) -> dict[str, Any]:
        """Context for ``tabular/upload.html`` (``error``: why the last file was refused)."""
        also = {
            c.name: [a for a in dict.fromkeys((c.name, *c.aliases)) if normalise_header(a) != normalise_header(c.label)]
            for c in self.columns
        }
        return {**self._base(), "step": 1, "error": error, "also_known_as": also}

    def mapping_step(self, data: bytes, filename: str) -> dict[str, Any]:
        """Read and store an uploaded file; context for ``tabular/mapping.html``. Raises `TabularError` (400)."""
        table = read_table(data, filename)
        upload_id = save_upload(data, filename)
        return self._mapping(upload_id, filename, table, guess_mapping(table.headers, self.columns))

    def table(self, upload_id: str) -> tuple[Table, str]:
        """The stored upload read again: (table, filename). `UploadNotFound` (404) when it expired."""
        data, filename = load_upload(upload_id)
        return read_table(data, filename), filename

    def submitted(self, form: Mapping[str, Any]) -> Submission:
        """The upload, its table and the chosen mapping from a posted mapping (dry run) or commit form."""
        upload_id = form.get("upload_id")
        if not isinstance(upload_id, str):
            raise UploadNotFound
        table, filename = self.table(upload_id)
        return Submission(upload_id, filename, table, mapping_from_form(form, self.columns), form.get("commit") == "1")

    def _mapping(self, upload_id: str, filename: str, table: Table, mapping: Mapping[str, str]) -> dict[str, Any]:
        _, problems = check_mapping(table.headers, mapping, self.columns)
        return {
            **self._base(),
            "step": 2,
            "upload_id": upload_id,
            "filename": filename,
            "headers": table.headers,
            "total_rows": len(table.rows),
            "preview": list(zip(table.row_numbers, table.preview(self.preview_rows), strict=False)),
            "mapping": dict(mapping),
            "field_errors": {e.field: e.message for e in problems if e.field},
        }

    def report_step(self, submission: Submission, report: ImportReport) -> dict[str, Any]:
        """Context for ``tabular/report.html``. After a commit the upload is deleted (a resubmission gets a 404)."""
        if report.committed:
            delete_upload(submission.upload_id)
        ctx = self._mapping(submission.upload_id, submission.filename, submission.table, submission.mapping)
        ctx.update(
            step=3,
            report=report,
            errors=report.errors[: self.max_errors_shown],
            errors_by_column=report.errors_by_column(),
            field_errors={e.field: e.message for e in report.mapping_errors if e.field},
        )
        return ctx
