"""The all-or-nothing import: validate everything, report every problem, and commit only a clean file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from prodops.platform.tabular.mapping import ColumnSpec, apply_mapping, validate_rows
from prodops.platform.tabular.table import RowError, Table

M = TypeVar("M", bound=BaseModel)


@dataclass
class ImportReport:
    """What an import found and did. ``errors`` lists every problem; nothing is written while there is one."""

    total_rows: int
    valid_rows: int
    errors: list[RowError]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = True
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def status_code(self) -> int:
        """HTTP status for the API: 200 when clean, 422 when any row or column is wrong."""
        return 200 if self.ok else 422

    @property
    def mapping_errors(self) -> list[RowError]:
        return [e for e in self.errors if e.row == 0]

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors if e.row > 0})

    def errors_by_column(self) -> list[tuple[str, int]]:
        """(column, number of errors), most errors first — a summary for long error lists."""
        counts = Counter(e.column or "(whole row)" for e in self.errors)
        return counts.most_common()

    def summary(self) -> str:
        """One sentence saying what happened."""
        if self.errors:
            n = len(self.errors)
            problems = f"{n:,} problem{'s' if n != 1 else ''}"
            if self.bad_rows:
                return f"Nothing was imported: {problems} in {self.bad_rows:,} of {self.total_rows:,} rows."
            return f"Nothing was imported: {problems} with the columns of the file."
        counts = f"{self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged"
        if self.committed:
            return f"Imported {self.total_rows:,} rows: {counts}."
        if self.created or self.updated or self.unchanged:
            return f"Dry run: all {self.total_rows:,} rows are valid and would give {counts}. Nothing was written."
        return f"Dry run: all {self.total_rows:,} rows are valid. Nothing was written."

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "valid_rows": self.valid_rows,
            "errors": [e.as_dict() for e in self.errors],
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "committed": self.committed,
        }


def run_import(
    table: Table,
    mapping: Mapping[str, str | None],
    columns: Sequence[ColumnSpec],
    model: type[M],
    commit: Callable[[list[tuple[int, M]]], tuple[int, int, int]],
    *,
    dry_run: bool,
    extra_checks: Callable[[list[tuple[int, M]]], list[RowError]] | None = None,
    preview: Callable[[list[tuple[int, M]]], tuple[int, int, int]] | None = None,
) -> ImportReport:
    """Map, validate and (unless ``dry_run``) commit ``table`` — all or nothing.

    ``commit(rows)`` receives every valid ``(row_number, model)`` pair and returns ``(created, updated, unchanged)``;
    it is called only when there is no error at all: not in the mapping, not in any row, and none from
    ``extra_checks(rows)`` (the caller's checks across rows, e.g. the same e-mail twice in the file, see
    `duplicate_check`). ``preview(rows)``, when given, fills in the counts a dry run *would* produce without writing.
    """
    records, errors = apply_mapping(table, mapping, columns)
    errors = list(table.errors) + errors
    total = len(table.rows)
    if any(e.row == 0 for e in errors):
        # Without a usable mapping every row would repeat the same complaint; report the columns only.
        return ImportReport(total_rows=total, valid_rows=0, errors=errors, dry_run=dry_run)
    clean = {k: v for k, v in mapping.items() if v}
    valid, row_errors = validate_rows(records, model, clean, columns)
    errors += row_errors
    if extra_checks is not None:
        errors += extra_checks(valid)
    errors.sort(key=lambda e: e.row)
    bad = {e.row for e in errors}
    report = ImportReport(
        total_rows=total, valid_rows=sum(1 for n, _ in valid if n not in bad), errors=errors, dry_run=dry_run
    )
    if errors:
        return report
    if dry_run:
        if preview is not None:
            report.created, report.updated, report.unchanged = preview(valid)
        return report
    report.created, report.updated, report.unchanged = commit(valid)
    report.committed = True
    return report


def duplicate_check(
    key: Callable[[M], object], field: str, mapping: Mapping[str, str | None], label: str | None = None
) -> Callable[[list[tuple[int, M]]], list[RowError]]:
    """An ``extra_checks`` callable that reports rows repeating a key (e.g. the same e-mail) within the file.

    ``key(model)`` returns the key (None or "" is not checked); the error names the row it first appeared on.
    """
    column = mapping.get(field) or None
    name = label or field

    def check(rows: list[tuple[int, M]]) -> list[RowError]:
        first: dict[object, int] = {}
        errors: list[RowError] = []
        for number, item in rows:
            value = key(item)
            if value is None or value == "":
                continue
            normal = value.casefold() if isinstance(value, str) else value
            if normal in first:
                errors.append(
                    RowError(
                        number,
                        column,
                        field,
                        f"{name}: {value!r} appears again — it is already on row {first[normal]}.",
                    )
                )
            else:
                first[normal] = number
        return errors

    return check
