"""The tabular import engine: reading CSV/XLSX, mapping, row validation, all-or-nothing commits, exports, uploads."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import time
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
import typer
from fastapi import FastAPI, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from pydantic import BaseModel, EmailStr, Field
from rich.console import Console
from starlette.middleware.sessions import SessionMiddleware

from prodops.platform.tabular import (
    ColumnSpec,
    ImportReport,
    ImportWizard,
    RowError,
    Table,
    TabularError,
    UploadNotFound,
    apply_mapping,
    attachment_headers,
    cleanup_uploads,
    cli_import,
    delete_upload,
    duplicate_check,
    escape_formula,
    guess_mapping,
    iter_csv,
    load_upload,
    parse_map_options,
    print_report,
    read_table,
    run_import,
    save_upload,
    validate_rows,
    write_csv,
    write_xlsx,
)
from prodops.platform.tabular.uploads import uploads_dir
from prodops.platform.web import render


@pytest.fixture(autouse=True)
def _clean_db() -> None:
    """These tests never touch the database: skip the suite's per-test table wipe (it also keeps them fast)."""


COLUMNS = (
    ColumnSpec("name", "Name", required=True, aliases=("company", "account name")),
    ColumnSpec("email", "E-mail", required=True, aliases=("email address", "contact email")),
    ColumnSpec("arr", "ARR", aliases=("annual recurring revenue",), help="In USD"),
    ColumnSpec("plan", "Plan"),
    ColumnSpec("renewal", "Renewal date", aliases=("renews on",)),
)


class AccountRow(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    email: EmailStr
    arr: Decimal | None = Field(default=None, ge=0)
    plan: Literal["free", "team", "enterprise"] | None = None
    renewal: dt.date | None = None


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


class Recorder:
    """A commit callable that remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, AccountRow]]] = []

    def __call__(self, rows: list[tuple[int, AccountRow]]) -> tuple[int, int, int]:
        self.calls.append(rows)
        return len(rows), 0, 0


GOOD = "Company,Email address,Annual recurring revenue,Plan\nAcme,ops@acme.com,1200,team\nGlobex,it@globex.com,,free\n"


# --- reading CSV -----------------------------------------------------------------------------


def test_csv_with_bom_semicolons_and_quoted_newlines() -> None:
    data = (
        b"\xef\xbb\xbf"
        + b'Name;Notes;ARR\r\nAcme;"two\r\nlines; and a semicolon";1200\r\n\r\nGlobex;"say ""hi""";5\r\n'
    )
    table = read_table(data, "accounts.csv")
    assert table.headers == ["Name", "Notes", "ARR"]  # no BOM glued to the first header
    assert table.rows == [
        {"Name": "Acme", "Notes": "two\r\nlines; and a semicolon", "ARR": "1200"},
        {"Name": "Globex", "Notes": 'say "hi"', "ARR": "5"},
    ]
    assert table.row_numbers == [2, 4]  # spreadsheet rows: the blank row 3 is skipped, not renumbered


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    text = (
        delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x,y" if delimiter != "," else "x", "3"]) + "\n"
    )
    table = read_table(text.encode(), "f.csv")
    assert table.headers == ["a", "b", "c"]
    assert table.rows[0]["c"] == "3"


def test_latin1_bytes_name_the_line_and_ask_for_utf8() -> None:
    data = "Name,City\nAcme,Paris\nCafé,Lyon\n".encode("latin-1")
    with pytest.raises(TabularError) as info:
        read_table(data, "accounts.csv")
    err = info.value
    assert err.status_code == 400
    assert err.field == "file"
    assert "UTF-8" in err.message
    assert "line 3" in err.message
    assert "0xE9" in err.message
    assert "after 'Caf'" in err.message
    assert "byte offset 24" in err.message
    # With a UTF-8 BOM the position still counts from the start of the file.
    with pytest.raises(TabularError, match=r"byte 0xE9 on line 2, after 'ab' \(byte offset 10\)"):
        read_table(b"\xef\xbb\xbfName\nab\xe9\n", "a.csv")
    # The caller may read a legacy file on purpose.
    assert read_table(data, "accounts.csv", encoding="latin-1").rows[1]["Name"] == "Café"


def test_utf16_with_bom_is_read() -> None:
    data = "Name\tARR\nZoë\t5\n".encode("utf-16")
    assert read_table(data, "export.txt").rows == [{"Name": "Zoë", "ARR": "5"}]


def test_whole_file_problems() -> None:
    cases: list[tuple[bytes, str, str]] = [
        (b"", "a.csv", "empty"),
        (b"  \n\n ", "a.csv", "empty"),
        (b"Name,Email,Name\nx,y,z\n", "a.csv", "'Name' appears twice (columns A and C)"),
        (b"Name,,ARR\nAcme,oops,5\n", "a.csv", "Column B has values (first on row 2) but no header"),
        (b"a,b\n1,2\n", "a.pdf", "not supported"),
        (b"\xd0\xcf\x11\xe0rest", "old.xls", ".xls"),
        (b"not a zip", "book.xlsx", "not a valid Excel workbook"),
        (b'a,b\n1,2\n"open,3\n4,5\n', "a.csv", "starting on line 3 is never closed"),
    ]
    for data, name, expected in cases:
        with pytest.raises(TabularError) as info:
            read_table(data, name)
        assert expected in info.value.message, (name, info.value.message)


def test_too_many_rows() -> None:
    data = ("n\n" + "x\n" * 11).encode()
    assert len(read_table(data, "a.csv", max_rows=11).rows) == 11
    with pytest.raises(TabularError, match="more than 10 data rows"):
        read_table(data, "a.csv", max_rows=10)


def test_header_only_file_has_no_rows_and_trailing_empty_columns_are_dropped() -> None:
    table = read_table(b"Name,ARR,,\n", "a.csv")
    assert table.headers == ["Name", "ARR"]
    assert table.rows == []


def test_row_with_extra_cells_is_a_row_error() -> None:
    table = read_table(b"Name,ARR\nAcme,1,200\nGlobex,5\n", "a.csv")
    assert [(e.row, e.column) for e in table.errors] == [(2, None)]
    assert "'200'" in table.errors[0].message
    report = run_import(table, {"name": "Name"}, COLUMNS[:1], AccountRow, Recorder(), dry_run=True)
    assert report.errors[0].row == 2


# --- reading XLSX ----------------------------------------------------------------------------


def _xlsx(rows: Sequence[Sequence[object]], *, title: str = "Accounts", extra_sheet: bool = False) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    if extra_sheet:
        ws.title = "Notes"
        ws.append(["ignore me"])
        ws = wb.create_sheet(title)
    else:
        ws.title = title
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_dates_and_numbers_read_as_a_person_typed_them() -> None:
    data = _xlsx(
        [
            ["Name", "ARR", "Renews on", "Signed", "Ratio", "Active", "Seats"],
            # Excel cells have no time zone: openpyxl hands back naive datetimes.
            ["Acme", 1200.0, dt.date(2025, 3, 1), dt.datetime(2024, 5, 6, 7, 8, 9), 0.1 + 0.2, True, 3],  # noqa: DTZ001
            [None, None, None, None, None, None, None],
            ["Globex", 99.5, dt.datetime(2025, 1, 2), None, 1e-7, False, None],  # noqa: DTZ001
        ]
    )
    table = read_table(data, "accounts.xlsx")
    assert table.headers == ["Name", "ARR", "Renews on", "Signed", "Ratio", "Active", "Seats"]
    assert table.rows == [
        {
            "Name": "Acme",
            "ARR": "1200",
            "Renews on": "2025-03-01",
            "Signed": "2024-05-06 07:08:09",
            "Ratio": "0.3",
            "Active": "true",
            "Seats": "3",
        },
        {
            "Name": "Globex",
            "ARR": "99.5",
            "Renews on": "2025-01-02",
            "Signed": "",
            "Ratio": "1e-07",
            "Active": "false",
            "Seats": "",
        },
    ]
    assert table.row_numbers == [2, 4]


def test_xlsx_sheet_choice() -> None:
    data = _xlsx([["Name"], ["Acme"]], title="Accounts", extra_sheet=True)
    assert read_table(data, "book.xlsx").headers == ["ignore me"]  # first sheet by default
    assert read_table(data, "book.xlsx", sheet="Accounts").rows == [{"Name": "Acme"}]
    with pytest.raises(TabularError, match="no sheet 'Nope'; its sheets are 'Notes', 'Accounts'"):
        read_table(data, "book.xlsx", sheet="Nope")


def test_xlsx_round_trip_through_write_xlsx() -> None:
    headers = ["Name", "ARR", "Renewal", "Note"]
    rows: list[list[object]] = [
        ["Acme", 1200, dt.date(2025, 3, 1), '=HYPERLINK("http://evil")'],
        ["Globex", Decimal("99.50"), None, "plain\x01text"],
    ]
    data = write_xlsx(headers, rows)
    table = read_table(data, "export.xlsx")
    assert table.rows == [
        {"Name": "Acme", "ARR": "1200", "Renewal": "2025-03-01", "Note": '=HYPERLINK("http://evil")'},
        {"Name": "Globex", "ARR": "99.5", "Renewal": "", "Note": "plaintext"},
    ]
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml  # the text is stored as text, never as a formula
    cell = load_workbook(io.BytesIO(data))["Export"]["D2"]
    assert cell.data_type == "s"


# --- mapping ---------------------------------------------------------------------------------


def test_guess_mapping_uses_names_labels_and_aliases_ignoring_case_and_spacing() -> None:
    headers = ["  ACCOUNT_NAME ", "e-mail", "Annual Recurring Revenue", "renews-on", "Unrelated", "Company"]
    assert guess_mapping(headers, COLUMNS) == {
        "name": "  ACCOUNT_NAME ",  # first matching header wins; "Company" is not used twice
        "email": "e-mail",
        "arr": "Annual Recurring Revenue",
        "renewal": "renews-on",
    }
    assert guess_mapping(["PLAN", "Arr"], COLUMNS) == {"plan": "PLAN", "arr": "Arr"}
    assert guess_mapping([], COLUMNS) == {}


def test_mapping_errors_name_the_column_and_the_field() -> None:
    table = read_table(b"Company,Revenue\nAcme,5\n", "a.csv")
    records, errors = apply_mapping(table, {"name": "Company", "arr": "Turnover", "colour": "Revenue"}, COLUMNS)
    assert records == []
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {"arr", "colour", "email"}
    assert all(e.row == 0 for e in errors)
    assert by_field["arr"].column == "Turnover"
    assert "no column 'Turnover'" in by_field["arr"].message
    assert "'Company', 'Revenue'" in by_field["arr"].message
    assert "not a field" in by_field["colour"].message
    assert by_field["email"].column == "E-mail"
    assert "Required column 'E-mail' is missing" in by_field["email"].message


def test_apply_mapping_returns_numbered_records_with_only_mapped_fields() -> None:
    table = read_table(GOOD.encode(), "a.csv")
    records, errors = apply_mapping(
        table, {"name": "Company", "email": " ", "plan": ""} | {"email": "Email address"}, COLUMNS
    )
    assert errors == []
    assert records == [
        (2, {"name": "Acme", "email": "ops@acme.com"}),
        (3, {"name": "Globex", "email": "it@globex.com"}),
    ]


def test_missing_required_column_is_reported_and_nothing_is_written() -> None:
    table = read_table(b"Company,ARR\nAcme,5\nGlobex,6\n", "a.csv")
    commit = Recorder()
    report = run_import(table, guess_mapping(table.headers, COLUMNS), COLUMNS, AccountRow, commit, dry_run=False)
    assert commit.calls == []
    assert not report.committed
    assert report.status_code == 422
    assert report.valid_rows == 0
    assert report.summary() == "Nothing was imported: 1 problem with the columns of the file."
    assert [(e.row, e.column, e.field) for e in report.errors] == [(0, "E-mail", "email")]
    assert "E-mail" in report.errors[0].message


# --- validation ------------------------------------------------------------------------------


def test_bad_values_name_row_source_column_and_field() -> None:
    text = (
        "Company,Contact email,Revenue,Plan,Renews on\n"
        "Acme,ops@acme.com,1200,team,2025-01-31\n"
        "Globex,not-an-email,lots,gold,31/01/2025\n"
        ",x@y.com,-5,,\n"
    )
    table = read_table(text.encode(), "a.csv")
    mapping = guess_mapping(table.headers, COLUMNS) | {"arr": "Revenue"}
    valid, errors = validate_rows(apply_mapping(table, mapping, COLUMNS)[0], AccountRow, mapping, COLUMNS)
    assert [n for n, _ in valid] == [2]
    assert valid[0][1].arr == Decimal(1200)
    got = {(e.row, e.column, e.field): e.message for e in errors}
    assert set(got) == {
        (3, "Contact email", "email"),
        (3, "Revenue", "arr"),
        (3, "Plan", "plan"),
        (3, "Renews on", "renewal"),
        (4, "Company", "name"),
        (4, "Revenue", "arr"),
    }
    assert got[3, "Revenue", "arr"] == "ARR: 'lots' is not a number."
    assert got[3, "Plan", "plan"] == "Plan: 'gold' is not one of 'free', 'team' or 'enterprise'."
    assert got[3, "Renews on", "renewal"] == "Renewal date: '31/01/2025' is not a date (use YYYY-MM-DD)."
    assert "'not-an-email'" in got[3, "Contact email", "email"]
    assert got[4, "Company", "name"] == "Name is required, but the cell is empty."
    assert got[4, "Revenue", "arr"] == "ARR: '-5' must be at least 0."


def test_blank_cells_become_none_and_long_values_are_cut_in_messages() -> None:
    table = Table(
        headers=["n", "e", "a"],
        rows=[{"n": "Acme", "e": "a@b.com", "a": "  "}, {"n": "x" * 100, "e": "a@b.com", "a": ""}],
    )
    mapping = {"name": "n", "email": "e", "arr": "a"}
    valid, errors = validate_rows(apply_mapping(table, mapping, COLUMNS)[0], AccountRow, mapping, COLUMNS)
    assert valid[0][1].arr is None
    assert "arr" in valid[0][1].model_fields_set  # the file said "empty", which differs from "not imported"
    assert errors[0].row == 3
    assert errors[0].message.startswith("Name: 'xxxxxxxx")
    assert "…" in errors[0].message
    assert len(errors[0].message) < 100


def test_model_level_errors_are_whole_row_errors() -> None:
    from pydantic import model_validator

    class Pair(BaseModel):
        name: str
        email: str

        @model_validator(mode="after")
        def differ(self) -> Pair:
            if self.name == self.email:
                raise ValueError("name and e-mail must differ")
            return self

    mapping = {"name": "n", "email": "e"}
    _, errors = validate_rows([(7, {"name": "a", "email": "a"})], Pair, mapping, COLUMNS)
    assert errors == [RowError(7, None, None, "name and e-mail must differ")]


# --- all or nothing --------------------------------------------------------------------------


def test_commit_called_once_for_a_clean_file() -> None:
    table = read_table(GOOD.encode(), "a.csv")
    commit = Recorder()
    report = run_import(table, guess_mapping(table.headers, COLUMNS), COLUMNS, AccountRow, commit, dry_run=False)
    assert len(commit.calls) == 1
    assert [n for n, _ in commit.calls[0]] == [2, 3]
    assert report.as_dict() == {
        "total_rows": 2,
        "valid_rows": 2,
        "errors": [],
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "committed": True,
    }
    assert report.summary() == "Imported 2 rows: 2 created, 0 updated, 0 unchanged."


def test_dry_run_never_commits_but_may_preview() -> None:
    table = read_table(GOOD.encode(), "a.csv")
    commit = Recorder()
    mapping = guess_mapping(table.headers, COLUMNS)
    report = run_import(table, mapping, COLUMNS, AccountRow, commit, dry_run=True)
    assert commit.calls == []
    assert (report.ok, report.dry_run, report.committed, report.valid_rows) == (True, True, False, 2)
    assert "Nothing was written" in report.summary()
    previewed = run_import(table, mapping, COLUMNS, AccountRow, commit, dry_run=True, preview=lambda rows: (1, 1, 0))
    assert commit.calls == []
    assert (previewed.created, previewed.updated) == (1, 1)


def test_one_bad_row_blocks_the_whole_file() -> None:
    table = read_table((GOOD + "Initech,bad,1,team\n").encode(), "a.csv")
    commit = Recorder()
    report = run_import(table, guess_mapping(table.headers, COLUMNS), COLUMNS, AccountRow, commit, dry_run=False)
    assert commit.calls == []
    assert (report.total_rows, report.valid_rows, report.bad_rows) == (3, 2, 1)
    assert report.errors[0].row == 4
    assert report.summary() == "Nothing was imported: 1 problem in 1 of 3 rows."


def test_duplicates_inside_the_file_block_the_commit() -> None:
    text = GOOD + "Acme again,OPS@acme.com,5,free\n"
    table = read_table(text.encode(), "a.csv")
    mapping = guess_mapping(table.headers, COLUMNS)
    commit = Recorder()
    checks = duplicate_check(lambda r: str(r.email), "email", mapping, "E-mail")
    report = run_import(table, mapping, COLUMNS, AccountRow, commit, dry_run=False, extra_checks=checks)
    assert commit.calls == []
    assert report.errors == [
        RowError(4, "Email address", "email", "E-mail: 'OPS@acme.com' appears again — it is already on row 2.")
    ]
    assert report.valid_rows == 2


def test_errors_are_sorted_by_row() -> None:
    table = read_table(b"Company,Email address\nA,bad\nB,b@b.com\nC,also bad\n", "a.csv")
    mapping = guess_mapping(table.headers, COLUMNS)
    checks = duplicate_check(lambda r: "same", "name", mapping)
    report = run_import(table, mapping, COLUMNS, AccountRow, Recorder(), dry_run=True, extra_checks=checks)
    assert [e.row for e in report.errors] == sorted(e.row for e in report.errors)


# --- exports ---------------------------------------------------------------------------------


def test_formula_injection_is_escaped_in_csv() -> None:
    assert escape_formula("=SUM(A1:A9)") == "'=SUM(A1:A9)"
    assert escape_formula("+1 555 0100") == "'+1 555 0100"
    assert escape_formula("@cmd") == "'@cmd"
    assert escape_formula("-2+3") == "'-2+3"
    assert escape_formula("\t=1") == "'\t=1"
    for number in ("-12.5", "+3", "-1e5", "42", "-.5"):
        assert escape_formula(number) == number
    assert escape_formula("a=b") == "a=b"
    data = write_csv(["Name", "=Header"], [["=cmd|' /C calc'!A0", -3], {"Name": "ok", "=Header": None}], bom=False)
    assert data.decode().splitlines() == ["Name,'=Header", "'=cmd|' /C calc'!A0,-3", "ok,"]


def test_csv_export_formats_values_for_people() -> None:
    data = write_csv(
        ["a", "b", "c", "d", "e"],
        [[1200.0, dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC), True, Decimal("1.50")]],
    )
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[1] == "1200,2025-01-02,2025-01-02T03:04:00+00:00,true,1.50"


def test_iter_csv_streams_in_chunks() -> None:
    chunks = list(iter_csv(["n"], ([i] for i in range(1200)), chunk_rows=500))
    assert len(chunks) == 3
    assert chunks[0].startswith(b"\xef\xbb\xbf") and not chunks[1].startswith(b"\xef\xbb\xbf")
    assert len(read_table(b"".join(chunks), "x.csv").rows) == 1200
    assert list(iter_csv(["only"], [], bom=False)) == [b"only\r\n"]
    assert attachment_headers("Zoë accounts.csv")["Content-Disposition"] == (
        "attachment; filename=\"Zo_accounts.csv\"; filename*=UTF-8''Zo%C3%AB%20accounts.csv"
    )


text_cells = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(text_cells, min_size=3, max_size=3), max_size=8))
def test_write_csv_then_read_table_round_trips_text(rows: list[list[str]]) -> None:
    headers = ["alpha", "beta", "gamma"]
    data = write_csv(headers, rows)
    expected = [[escape_formula(c) for c in row] for row in rows]
    expected = [row for row in expected if any(c.strip() for c in row)]  # blank rows are skipped on reading
    table = read_table(data, "export.csv")
    assert table.headers == headers
    assert [[r[h] for h in headers] for r in table.rows] == expected


# --- uploads ---------------------------------------------------------------------------------


def test_upload_round_trip_and_display_name() -> None:
    upload_id = save_upload(b"a,b\n1,2\n", "../../etc/C:\\evil\\accounts.csv")
    assert re.fullmatch(r"[0-9a-f]{32}", upload_id)
    data, name = load_upload(upload_id)
    assert (data, name) == (b"a,b\n1,2\n", "accounts.csv")
    assert {p.name for p in uploads_dir().iterdir() if p.name.startswith(upload_id)} == {
        f"{upload_id}.bin",
        f"{upload_id}.json",
    }
    delete_upload(upload_id)
    with pytest.raises(UploadNotFound):
        load_upload(upload_id)


@pytest.mark.parametrize(
    "upload_id",
    [
        "../../etc/passwd",
        "..",
        "",
        "0" * 31,
        "0" * 33,
        "A" * 32,
        "0" * 31 + "/",
        "../" + "0" * 29,
        "%2e%2e%2f" + "0" * 23,
        "0" * 32 + "\x00",
        "/tmp/" + "0" * 27,
        "0" * 32,  # well-formed but unknown
    ],
)
def test_bad_upload_ids_are_not_found(upload_id: str) -> None:
    with pytest.raises(UploadNotFound) as info:
        load_upload(upload_id)
    assert info.value.status_code == 404
    assert upload_id not in info.value.message or upload_id == ""


def test_cleanup_removes_uploads_older_than_a_day() -> None:
    old = save_upload(b"old", "old.csv")
    new = save_upload(b"new", "new.csv")
    stale = time.time() - 2 * 86400
    for suffix in (".bin", ".json"):
        os.utime(uploads_dir() / f"{old}{suffix}", (stale, stale))
    (uploads_dir() / "README.txt").write_text("not an upload")
    assert cleanup_uploads() == 1
    with pytest.raises(UploadNotFound):
        load_upload(old)
    assert load_upload(new)[0] == b"new"
    assert (uploads_dir() / "README.txt").exists()


# --- command line ----------------------------------------------------------------------------


def test_parse_map_options() -> None:
    assert parse_map_options(["arr=Annual revenue", " email = E-mail = primary "], COLUMNS) == {
        "arr": "Annual revenue",
        "email": "E-mail = primary",
    }
    for bad, message in (
        (["arr"], "is not FIELD=Header"),
        (["=ARR"], "is not FIELD=Header"),
        (["arr="], "is not FIELD=Header"),
        (["colour=Red"], "'colour' is not a field; the fields are arr, email, name, plan, renewal"),
        (["arr=A", "arr=B"], "'arr' is mapped twice"),
    ):
        with pytest.raises(typer.BadParameter, match=re.escape(message)):
            parse_map_options(bad, COLUMNS)


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, color_system=None), out


def test_print_report_lists_row_and_column() -> None:
    console, out = _console()
    errors = [
        RowError(0, "E-mail", "email", "Required column 'E-mail' is missing."),
        RowError(7, "Revenue", "arr", "ARR: 'x' is not a number."),
    ]
    print_report(console, ImportReport(total_rows=9, valid_rows=8, errors=errors))
    text = out.getvalue()
    assert "Revenue" in text and "ARR: 'x' is not a number." in text and " 7 " in text
    assert "Nothing was imported: 2 problems in 1 of 9 rows." in text

    console, out = _console()
    print_report(
        console,
        ImportReport(total_rows=3, valid_rows=3, errors=[], created=1, updated=2, dry_run=False, committed=True),
    )
    assert "Imported 3 rows: 1 created, 2 updated, 0 unchanged." in out.getvalue()

    console, out = _console()
    many = [RowError(i, "Revenue", "arr", "bad") for i in range(2, 300)]
    print_report(console, ImportReport(total_rows=298, valid_rows=0, errors=many), limit=5)
    assert "… and 293 more. Errors by column: Revenue (298)." in out.getvalue()


def test_cli_import(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("Company,Mail,Revenue\nAcme,a@acme.com,5\n")
    console, out = _console()
    commit = Recorder()
    report = cli_import(
        console, path, COLUMNS, AccountRow, commit, dry_run=False, map_options=["email=Mail", "arr=Revenue"]
    )
    assert report.committed and len(commit.calls) == 1 and commit.calls[0][0][1].arr == 5
    assert "Imported 1 rows" in out.getvalue()

    with pytest.raises(typer.Exit):
        cli_import(console, path, COLUMNS, AccountRow, commit, dry_run=False)  # e-mail not mapped
    assert "Required column 'E-mail' is missing" in out.getvalue()
    assert len(commit.calls) == 1

    path.write_bytes("Company\nCafé\n".encode("cp1252"))
    with pytest.raises(typer.BadParameter, match="UTF-8"):
        cli_import(console, path, COLUMNS, AccountRow, commit, dry_run=True)
    with pytest.raises(typer.BadParameter, match="cannot be read"):
        cli_import(console, tmp_path / "missing.csv", COLUMNS, AccountRow, commit, dry_run=True)


# --- the web wizard --------------------------------------------------------------------------


class FakeStore:
    """Stands in for a domain service: upserts accounts by e-mail, in memory."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}

    def import_accounts(self, table: Table, mapping: dict[str, str], *, dry_run: bool) -> ImportReport:
        def commit(rows: list[tuple[int, AccountRow]]) -> tuple[int, int, int]:
            created = updated = unchanged = 0
            for _, row in rows:
                before = self.accounts.get(str(row.email))
                after = row.model_dump()
                if before is None:
                    created += 1
                elif before == after:
                    unchanged += 1
                else:
                    updated += 1
                self.accounts[str(row.email)] = after
            return created, updated, unchanged

        checks = duplicate_check(lambda r: str(r.email), "email", mapping, "E-mail")
        return run_import(table, mapping, COLUMNS, AccountRow, commit, dry_run=dry_run, extra_checks=checks)


def _wizard_app(store: FakeStore) -> FastAPI:
    """The three routes exactly as the module docstring tells a domain to write them (minus access control)."""
    from prodops.platform.tabular import TabularError

    wizard = ImportWizard(title="Import accounts", entity="accounts", columns=COLUMNS, url="/imp", done_url="/accounts")
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test")

    @app.exception_handler(UploadNotFound)
    async def _not_found(request: Request, exc: UploadNotFound) -> Response:
        return Response(exc.message, status_code=exc.status_code)

    @app.get("/imp", response_class=HTMLResponse)
    def page(request: Request) -> Response:
        return render(request, "tabular/upload.html", wizard.upload_step())

    @app.post("/imp")
    async def upload(request: Request, file: UploadFile) -> Response:
        try:
            ctx = wizard.mapping_step(await file.read(), file.filename or "upload.csv")
        except TabularError as exc:
            return render(request, "tabular/upload.html", wizard.upload_step(exc.message), status_code=400)
        return render(request, "tabular/mapping.html", ctx)

    @app.post("/imp/check")
    async def check(request: Request) -> Response:
        sub = wizard.submitted(await request.form())
        report = store.import_accounts(sub.table, sub.mapping, dry_run=sub.dry_run)
        return render(request, "tabular/report.html", wizard.report_step(sub, report), status_code=report.status_code)

    return app


def _form_fields(html: str) -> dict[str, str]:
    """Hidden inputs and selected options of the last form on a page."""
    form = html[html.rindex("<form") :]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)".*?>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        fields[name] = chosen.group(1) if chosen else ""
    return fields


def test_wizard_upload_map_check_commit() -> None:
    store = FakeStore()
    with TestClient(_wizard_app(store)) as client:
        page = client.get("/imp")
        assert page.status_code == 200
        assert 'accept=".csv,.xlsx"' in page.text and 'name="csrf_token"' in page.text
        assert "Renewal date" in page.text and ">email address, contact email<" in page.text
        assert '<td class="wrap muted">plan</td>' not in page.text  # the label itself is not repeated

        bad = client.post("/imp", files={"file": ("a.csv", "Name\nCafé\n".encode("latin-1"), "text/csv")})
        assert bad.status_code == 400
        assert "Save it as UTF-8" in bad.text and 'aria-invalid="true"' in bad.text

        text = "Company,Mail,ARR,Plan\nAcme,a@acme.com,100,team\nGlobex,g@globex.com,oops,gold\n"
        mapping_page = client.post("/imp", files={"file": ("accounts.csv", text.encode(), "text/csv")})
        assert mapping_page.status_code == 200
        assert "accounts.csv" in mapping_page.text and "First 2 of 2 rows" in mapping_page.text
        fields = _form_fields(mapping_page.text)
        assert fields["map.name"] == "Company" and fields["map.arr"] == "ARR" and fields["map.email"] == ""
        assert "csrf_token" in fields

        # E-mail not chosen: the report names the missing column and offers the mapping form again, open.
        report = client.post("/imp/check", data=fields)
        assert report.status_code == 422
        assert "Required column &#39;E-mail&#39; is missing" in report.text
        assert "<details open>" in report.text and "Commit import" not in report.text

        fields["map.email"] = "Mail"
        report = client.post("/imp/check", data=fields)
        assert report.status_code == 422
        assert "ARR: &#39;oops&#39; is not a number." in report.text
        assert "Plan: &#39;gold&#39;" in report.text
        assert "Commit import" not in report.text and store.accounts == {}

        good = text.replace("oops,gold", "200,free")
        upload_id = save_upload(good.encode(), "fixed.csv")
        fields["upload_id"] = upload_id
        report = client.post("/imp/check", data=fields)
        assert report.status_code == 200
        assert "Commit import" in report.text and store.accounts == {}

        commit_fields = _form_fields(report.text[: report.text.index("Commit import")])
        assert commit_fields["commit"] == "1" and commit_fields["map.email"] == "Mail"
        done = client.post("/imp/check", data=commit_fields)
        assert done.status_code == 200
        assert "2 created, 0 updated, 0 unchanged" in done.text
        assert 'href="/accounts"' in done.text
        assert set(store.accounts) == {"a@acme.com", "g@globex.com"}

        # The upload is gone after a commit: resubmitting the form cannot import twice.
        again = client.post("/imp/check", data=commit_fields)
        assert again.status_code == 404
        forged = client.post("/imp/check", data={**commit_fields, "upload_id": "../../etc/passwd"})
        assert forged.status_code == 404


def test_progress_bar_counts_work() -> None:
    from prodops.platform.tabular import progress

    console, _ = _console()
    with progress(console, "Importing accounts", total=3) as advance:
        advance()
        advance(2)
