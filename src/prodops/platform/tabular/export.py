"""CSV and XLSX exports, safe to open in a spreadsheet (no formula injection)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from prodops.platform.tabular.table import cell_text

ExportRow = Sequence[Any] | Mapping[str, Any]
"""A row to export: values in header order, or a mapping read by header."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def escape_formula(text: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula (= + - @ ...) with ' — plain numbers like -12.5 stay."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def export_text(value: object) -> str:
    """A value as exported CSV text: None → "", dates ISO 8601, numbers without float noise, formulas escaped."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.isoformat()
    return escape_formula(cell_text(value))


def _values(headers: Sequence[str], row: ExportRow) -> list[Any]:
    if isinstance(row, Mapping):
        return [row.get(h) for h in headers]
    return list(row)


def iter_csv(
    headers: Sequence[str], rows: Iterable[ExportRow], *, bom: bool = True, chunk_rows: int = 500
) -> Iterator[bytes]:
    """UTF-8 CSV in chunks, for ``StreamingResponse(iter_csv(...), media_type="text/csv; charset=utf-8",
    headers=attachment_headers("accounts.csv"))``. The BOM makes Excel read the file as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([escape_formula(str(h)) for h in headers])
    prefix = "\ufeff" if bom else ""
    pending = 1
    for row in rows:
        writer.writerow([export_text(v) for v in _values(headers, row)])
        pending += 1
        if pending >= chunk_rows:
            yield (prefix + buffer.getvalue()).encode()
            prefix = ""
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending or prefix:
        yield (prefix + buffer.getvalue()).encode()


def write_csv(headers: Sequence[str], rows: Iterable[ExportRow], *, bom: bool = True) -> bytes:
    """A whole CSV file (UTF-8, with a BOM unless ``bom=False``)."""
    return b"".join(iter_csv(headers, rows, bom=bom))


def _xlsx_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | Decimal | dt.date | dt.time):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)  # Excel has no time zones: store UTC
        return value
    return _ILLEGAL_XML.sub("", str(value))


def write_xlsx(headers: Sequence[str], rows: Iterable[ExportRow], *, sheet: str = "Export") -> bytes:
    """An .xlsx workbook with one sheet: a bold header row, then typed cells (numbers and dates stay numbers and
    dates). Text that starts with = is stored as text, never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31])
    worksheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: object, *, header: bool = False) -> Cell:
        c = WriteOnlyCell(worksheet, value=_xlsx_value(value))  # type: ignore[arg-type]
        if isinstance(c.value, str):
            c.data_type = "s"  # openpyxl would otherwise turn "=..." into a formula
        if header:
            c.font = bold
        return c

    worksheet.append([cell(h, header=True) for h in headers])
    for row in rows:
        worksheet.append([cell(v) for v in _values(headers, row)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def attachment_headers(filename: str) -> dict[str, str]:
    """Content-Disposition for a download, with non-ASCII names encoded as RFC 6266 asks."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename) or "export"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"}
