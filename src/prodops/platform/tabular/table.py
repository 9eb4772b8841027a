"""Reading a CSV or XLSX file into a `Table` of text cells, with whole-file problems as `TabularError`."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import Any

from prodops.platform.errors import ServiceError

DELIMITERS = (",", ";", "\t", "|")
CSV_SUFFIXES = {".csv", ".tsv", ".txt", ""}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
_SNIFF_CHARS = 64 * 1024
_FIELD_LIMIT = 1024 * 1024


class TabularError(ServiceError):
    """A problem with the file as a whole (unreadable, wrong encoding, empty...): HTTP 400 on the field ``file``."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__("file", message)


@dataclass(frozen=True)
class RowError:
    """One reason a row (or the column mapping, ``row == 0``) cannot be imported."""

    row: int
    """Row number as a spreadsheet shows it: the header is row 1, the first data row is 2; 0 for mapping problems."""
    column: str | None
    """The column header in the user's file (None when the problem concerns the whole row)."""
    field: str | None
    """The target field."""
    message: str
    """What is wrong, in words a person understands, quoting the bad value."""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field, "message": self.message}


@dataclass
class Table:
    """The cells of a file as text: one dict per non-blank data row, keyed by header."""

    headers: list[str]
    rows: list[dict[str, str]]
    row_numbers: list[int] = field(default_factory=list)
    """The file row number of each entry of ``rows`` (blank rows are skipped, so they need not be consecutive)."""
    errors: list[RowError] = field(default_factory=list)
    """Row problems found while reading (a row with more cells than there are headers)."""

    def __post_init__(self) -> None:
        if not self.row_numbers:
            self.row_numbers = list(range(2, len(self.rows) + 2))

    def numbered(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(row number, row) pairs."""
        return zip(self.row_numbers, self.rows, strict=True)

    def preview(self, n: int = 5) -> list[dict[str, str]]:
        return self.rows[:n]


def shorten(value: object, limit: int = 40) -> str:
    """A value quoted for an error message, cut to ``limit`` characters."""
    text = str(value).replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def read_table(
    data: bytes, filename: str, *, encoding: str = "utf-8", sheet: str | None = None, max_rows: int = 200_000
) -> Table:
    """Read a CSV (any of , ; tab | as delimiter) or XLSX file. Raises `TabularError` naming what is wrong and where."""
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    if not data.strip():
        raise TabularError(f"The file {filename!r} is empty.")
    if data.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise TabularError("Old Excel files (.xls) are not supported. Save the sheet as .xlsx or as CSV (UTF-8).")
    if data.startswith(_ZIP_MAGIC):
        if suffix not in XLSX_SUFFIXES | CSV_SUFFIXES:
            raise TabularError(f"Files of type {suffix!r} are not supported. Upload a .csv or .xlsx file.")
        cells = _xlsx_cells(data, sheet)
    elif suffix in XLSX_SUFFIXES:
        raise TabularError(f"The file {filename!r} is not a valid Excel workbook. Save it again as .xlsx or CSV.")
    elif suffix in CSV_SUFFIXES:
        cells = _csv_cells(_decode(data, encoding))
    else:
        raise TabularError(f"Files of type {suffix!r} are not supported. Upload a .csv or .xlsx file.")
    return _build(cells, filename, max_rows)


# --- CSV -------------------------------------------------------------------------------------


def _decode(data: bytes, encoding: str) -> str:
    skip = 0
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text"; the BOM makes it unambiguous
    else:
        try:
            if codecs.lookup(encoding).name == "utf-8" and data.startswith(codecs.BOM_UTF8):
                skip = len(codecs.BOM_UTF8)
        except LookupError as exc:
            raise TabularError(f"Unknown text encoding {encoding!r}.") from exc
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        line = data.count(b"\n", 0, offset) + 1
        line_start = data.rfind(b"\n", 0, offset) + 1
        before = data[max(line_start, offset - 30) : offset].decode(encoding, "replace").strip()
        near = f", after {before!r}" if before else ""
        name = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
        raise TabularError(
            f"The file is not valid {name}: byte 0x{data[offset]:02X} on line {line}{near} (byte offset {offset}) "
            "cannot be read. Save it as UTF-8 (in Excel: Save As → “CSV UTF-8”) and upload it again."
        ) from exc


def _sniff_delimiter(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > len(sample)
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if r]
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(r) == width for r in rows) / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_cells(text: str) -> Iterator[tuple[int, list[str]]]:
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    old_limit = csv.field_size_limit(_FIELD_LIMIT)
    try:
        record = 0
        while True:
            start_line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise TabularError(
                        f'A quoted value starting on line {start_line} is never closed: check the quotes (") on that line.'
                    ) from exc
                raise TabularError(f"Line {start_line} cannot be read as CSV ({exc}). Check its quotes.") from exc
            record += 1
            yield record, cells
    finally:
        csv.field_size_limit(old_limit)


# --- XLSX ------------------------------------------------------------------------------------


def cell_text(value: object) -> str:
    """A spreadsheet value as the text a person would type: 1200.0 → "1200", dates as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.15g}"  # Excel keeps 15 significant digits; drops float noise like 0.30000000000000004
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _xlsx_cells(data: bytes, sheet: str | None) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TabularError(
            "The file cannot be read as an Excel workbook (.xlsx). Save it again as .xlsx or CSV."
        ) from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            names = ", ".join(repr(n) for n in workbook.sheetnames)
            raise TabularError(f"The workbook has no sheet {sheet!r}; its sheets are {names}.")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        if hasattr(worksheet, "reset_dimensions"):
            worksheet.reset_dimensions()  # some writers record wrong dimensions; read every row
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(v) for v in values]
    finally:
        workbook.close()


# --- shared ----------------------------------------------------------------------------------


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _build(cells: Iterable[tuple[int, Sequence[str]]], filename: str, max_rows: int) -> Table:
    iterator = iter(cells)
    header_cells: list[str] | None = None
    for _number, values in iterator:
        if any(v.strip() for v in values):
            header_cells = [v.strip() for v in values]
            break
    if header_cells is None:
        raise TabularError(f"The file {filename!r} has no rows.")

    rows: list[tuple[int, list[str]]] = []
    for number, values in iterator:
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= max_rows:
            raise TabularError(f"The file has more than {max_rows:,} data rows. Split it into smaller files.")
        rows.append((number, list(values)))

    # Columns without a header are dropped when they are empty (trailing cells Excel leaves behind).
    keep: list[int] = []
    for i, name in enumerate(header_cells):
        if name:
            keep.append(i)
        elif any(i < len(values) and values[i].strip() for _, values in rows):
            first = next(n for n, values in rows if i < len(values) and values[i].strip())
            raise TabularError(
                f"Column {_column_letter(i)} has values (first on row {first}) but no header. "
                "Give every column a name in the first row."
            )
    headers = [header_cells[i] for i in keep]
    seen: dict[str, int] = {}
    for i in keep:
        name = header_cells[i]
        if name in seen:
            raise TabularError(
                f"The header {name!r} appears twice (columns {_column_letter(seen[name])} and {_column_letter(i)}). "
                "Rename one of them."
            )
        seen[name] = i

    table = Table(headers=headers, rows=[], row_numbers=[])
    width = len(header_cells)
    for number, values in rows:
        if len(values) > width and any(v.strip() for v in values[width:]):
            extra = next(v for v in values[width:] if v.strip())
            table.errors.append(
                RowError(
                    number,
                    None,
                    None,
                    f"The row has {len(values)} cells but the header has {width} columns (extra value {shorten(extra)}). "
                    "Check for an unquoted delimiter in a value.",
                )
            )
        table.rows.append({header_cells[i]: values[i] if i < len(values) else "" for i in keep})
        table.row_numbers.append(number)
    return table
