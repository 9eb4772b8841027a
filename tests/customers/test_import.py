"""Importing accounts and people from CSV/XLSX: CLI, web wizard and API, all or nothing, idempotent."""

from __future__ import annotations

import io
import re
from pathlib import Path

import typer
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.customers import service
from prodops.domains.customers.commands import app
from prodops.domains.customers.models import Account, Person
from prodops.platform.tabular import read_table
from tests.conftest import Client, make_user
from tests.customers.conftest import ACTOR, audit_count

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(app, name="customers")

ACCOUNTS_CSV = (
    "External ID,Company,Website,ARR,Stage,Owner,attributes.industry,Seats\n"
    'crm-1,Acme,https://www.acme.example,"$12,000",At risk,owner@corp.example,Retail,40\n'
    "crm-2,Globex,globex.example,250000,active,,Fintech,\n"
    "crm-3,Initech,,0,trial,,,\n"
)


def count(session: Session, model: type) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_service_import_maps_validates_and_is_idempotent(session: Session) -> None:
    make_user("member", email="owner@corp.example")
    table = read_table(ACCOUNTS_CSV.encode(), "accounts.csv")
    columns = service.account_columns(table.headers)
    assert "attributes.Seats" in [c.name for c in columns]  # offered, not matched automatically
    mapping = {
        "external_id": "External ID",
        "name": "Company",
        "domain": "Website",
        "arr": "ARR",
        "lifecycle_stage": "Stage",
        "owner_email": "Owner",
        "attributes.industry": "attributes.industry",
        "attributes.Seats": "Seats",
    }
    dry = service.import_accounts(session, ACTOR, table, mapping, dry_run=True)
    assert (dry.ok, dry.committed, dry.created) == (True, False, 3)
    assert count(session, Account) == 0
    report = service.import_accounts(session, ACTOR, table, mapping, dry_run=False)
    assert (report.committed, report.created, report.updated, report.unchanged) == (True, 3, 0, 0)
    acme = session.scalars(select(Account).where(Account.external_id == "crm-1")).one()
    assert (acme.domain, acme.arr, acme.lifecycle_stage, acme.attributes) == (
        "acme.example",
        12000.0,
        "at_risk",
        {"industry": "Retail", "Seats": 40},
    )
    assert acme.owner_id is not None
    audits = audit_count(session)
    again = service.import_accounts(session, ACTOR, table, mapping, dry_run=False)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert audit_count(session) == audits


def test_every_bad_row_and_column_is_reported_and_nothing_written(session: Session) -> None:
    bad = (
        "external_id,name,domain,arr,lifecycle_stage,owner_email\n"
        "a1,Fine,fine.example,10,active,\n"
        "a2,,two.example,lots,sleepy,\n"
        "a3,Three,not a domain,5,active,ghost@corp.example\n"
        "a1,Again,again.example,1,active,\n"
    )
    table = read_table(bad.encode(), "bad.csv")
    report = service.import_accounts(session, ACTOR, table, service_mapping(table), dry_run=False)
    assert not report.committed
    assert report.status_code == 422
    found = {(e.row, e.column) for e in report.errors}
    assert {(3, "name"), (3, "arr"), (3, "lifecycle_stage"), (4, "domain"), (5, None)} <= found
    assert any("'lots' is not a number" in e.message for e in report.errors)
    assert count(session, Account) == 0
    missing = read_table(b"external_id,arr\nx,1\n", "missing.csv")
    report = service.import_accounts(session, ACTOR, missing, service_mapping(missing), dry_run=False)
    assert report.errors[0].row == 0
    assert "Name" in report.errors[0].message


def service_mapping(table: object) -> dict[str, str]:
    from prodops.platform.tabular import guess_mapping

    return guess_mapping(table.headers, service.account_columns(table.headers))  # type: ignore[attr-defined]


def test_cli_import_dry_run_commit_and_map(session: Session, tmp_path: Path) -> None:
    make_user("member", email="owner@corp.example")
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS_CSV, encoding="utf-8")
    result = runner.invoke(cli, ["customers", "import", str(path), "--dry-run", "--map", "attributes.Seats=Seats"])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output
    assert count(session, Account) == 0
    result = runner.invoke(cli, ["customers", "import", str(path), "--map", "attributes.Seats=Seats"])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    result = runner.invoke(cli, ["customers", "import", str(path)])
    assert "0 created, 0 updated, 3 unchanged" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes("name,arr\nCafé,é\n".encode("latin-1"))
    result = runner.invoke(cli, ["customers", "import", str(bad)])
    assert result.exit_code == 2
    assert "UTF-8" in result.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,arr\nX,-1\n")
    result = runner.invoke(cli, ["customers", "import", str(wrong)])
    assert result.exit_code == 1
    assert "Nothing was imported" in result.output
    result = runner.invoke(cli, ["customers", "import", str(path), "--map", "colour=ARR"])
    assert result.exit_code == 2


def test_people_import_from_xlsx(session: Session, tmp_path: Path) -> None:
    service.upsert_accounts(session, ACTOR, [{"external_id": "crm-1", "name": "Acme", "domain": "acme.example"}])
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["E-mail", "Full name", "Job title", "Account external ID", "attributes.role"])
    sheet.append(["Ann@Acme.example", "Ann", "CTO", None, "admin"])
    sheet.append(["bo@elsewhere.example", "Bo", None, "crm-1", None])
    path = tmp_path / "people.xlsx"
    book.save(path)
    result = runner.invoke(cli, ["customers", "import", str(path), "--entity", "people"])
    assert result.exit_code == 0, result.output
    people = {p.email: p for p in session.scalars(select(Person))}
    acme = session.scalars(select(Account.id)).one()
    assert people["ann@acme.example"].account_id == acme
    assert people["ann@acme.example"].attributes == {"role": "admin"}
    assert (people["bo@elsewhere.example"].account_id, people["bo@elsewhere.example"].title) == (acme, "")
    result = runner.invoke(cli, ["customers", "import", str(path), "--entity", "people"])
    assert "2 unchanged" in result.output


def test_export_then_import_changes_nothing(member_client: Client, session: Session) -> None:
    owner = make_user("member", email="owner@corp.example")
    service.upsert_accounts(
        session,
        ACTOR,
        [
            {
                "external_id": f"x{i}",
                "name": f"Co {i}",
                "domain": f"co{i}.example",
                "plan": "Growth" if i % 2 else None,
                "arr": i * 1000.5,
                "owner_id": owner.id if i % 3 else None,
                "lifecycle_stage": "at_risk" if i == 4 else "active",
                "attributes": {"industry": "Retail", "seats": i, "beta": i % 2 == 0, "score": 1.5},
            }
            for i in range(8)
        ],
    )
    service.upsert_people(
        session,
        ACTOR,
        [{"email": f"p{i}@co{i}.example", "name": f"P {i}", "attributes": {"role": "admin"}} for i in range(8)],
    )
    audits = audit_count(session)
    for entity in ("accounts", "people"):
        exported = member_client.get(f"/customers/{entity}.csv").content
        response = member_client.post(
            "/api/v1/customers/import",
            params={"entity": entity},
            files={"file": (f"{entity}.csv", exported, "text/csv")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 8), body
    assert audit_count(session) == audits


def test_api_import(member_client: Client, session: Session) -> None:
    csv_bytes = b"external_id,name,arr\nk1,Kappa,100\nk2,Lambda,oops\n"
    response = member_client.post(
        "/api/v1/customers/import?dry_run=true", files={"file": ("a.csv", csv_bytes, "text/csv")}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [{"row": 3, "column": "arr", "field": "arr", "message": "ARR: 'oops' is not a number."}]
    assert count(session, Account) == 0
    good = b"external_id,name,Annual revenue\nk1,Kappa,100\n"
    response = member_client.post(
        "/api/v1/customers/import",
        data={"mapping": '{"arr": "Annual revenue"}'},
        files={"file": ("a.csv", good, "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["committed"] is True
    session.rollback()
    assert session.scalars(select(Account.arr)).one() == 100.0
    assert (
        member_client.post(
            "/api/v1/customers/import", data={"mapping": "[1]"}, files={"file": ("a.csv", good, "text/csv")}
        ).status_code
        == 422
    )
    response = member_client.post(
        "/api/v1/customers/import", files={"file": ("a.xls", b"\xd0\xcf\x11\xe0....", "application/vnd.ms-excel")}
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_web_wizard(member_client: Client, session: Session) -> None:
    page = member_client.get("/customers/import?entity=accounts")
    assert page.status_code == 200
    assert "Import accounts" in page.text
    assert member_client.get("/customers/import/people/sample.csv").status_code == 200
    upload = member_client.form(
        "/customers/import/accounts",
        files={"file": ("accounts.csv", ACCOUNTS_CSV.replace("owner@corp.example", "").encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    upload_id = re.search(r'name="upload_id" value="([0-9a-f]+)"', upload.text).group(1)  # type: ignore[union-attr]
    assert 'value="Company" selected' in upload.text  # guessed from the header
    mapping = {
        "upload_id": upload_id,
        "map.external_id": "External ID",
        "map.name": "Company",
        "map.domain": "Website",
        "map.arr": "ARR",
        "map.lifecycle_stage": "Stage",
        "map.attributes.industry": "attributes.industry",
    }
    check = member_client.form("/customers/import/accounts/check", mapping)
    assert check.status_code == 200, check.text
    assert "Dry run" in check.text and "Commit import" in check.text
    assert count(session, Account) == 0
    done = member_client.form("/customers/import/accounts/check", {**mapping, "commit": "1"})
    assert done.status_code == 200
    assert "Imported 3 rows" in done.text
    assert count(session, Account) == 3
    # The upload is gone once committed: resubmitting cannot import twice.
    assert member_client.form("/customers/import/accounts/check", {**mapping, "commit": "1"}).status_code == 404
    bad = member_client.form(
        "/customers/import/accounts", files={"file": ("x.csv", "name\nCafé\n".encode("latin-1"), "text/csv")}
    )
    assert bad.status_code == 400
    assert "UTF-8" in bad.text


def test_viewers_cannot_import(viewer_client: Client) -> None:
    assert viewer_client.get("/customers/import").status_code == 403
    response = viewer_client.form(
        "/customers/import/accounts", files={"file": ("a.csv", io.BytesIO(b"name\nX\n"), "text/csv")}
    )
    assert response.status_code == 403
    response = viewer_client.post("/api/v1/customers/import", files={"file": ("a.csv", b"name\nX\n", "text/csv")})
    assert response.status_code == 403
