"""`prodops customers ...` commands."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import typer
from openpyxl import load_workbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.customers import service
from prodops.domains.customers.commands import app
from tests.customers.conftest import ACTOR

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(app, name="customers")  # as `prodops` mounts it


def _seed(session: Session) -> None:
    service.upsert_accounts(
        session,
        ACTOR,
        [
            {
                "external_id": "a1",
                "name": "Acme",
                "domain": "acme.example",
                "arr": 1200,
                "attributes": {"industry": "Retail"},
            },
            {"external_id": "a2", "name": "=cmd()", "arr": 50},
        ],
    )
    service.upsert_people(session, ACTOR, [{"email": "ann@acme.example", "name": "Ann"}])


def test_export_csv_to_stdout(session: Session) -> None:
    _seed(session)
    result = runner.invoke(cli, ["customers", "export"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == ["'=cmd()", "Acme"]
    assert rows[1]["attributes.industry"] == "Retail"


def test_export_people_xlsx(session: Session, tmp_path: Path) -> None:
    _seed(session)
    out = tmp_path / "people.xlsx"
    result = runner.invoke(cli, ["customers", "export", "--entity", "people", "--format", "xlsx", "--output", str(out)])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    values = list(sheet.values)
    assert values[0][:3] == ("id", "external_id", "email")
    assert values[1][2] == "ann@acme.example"
    assert values[1][values[0].index("account_name")] == "Acme"


def test_export_xlsx_needs_a_file_and_segment_must_exist(session: Session) -> None:
    result = runner.invoke(cli, ["customers", "export", "--format", "xlsx"])
    assert result.exit_code == 2
    result = runner.invoke(cli, ["customers", "export", "--segment-id", "99"])
    assert result.exit_code == 2
    assert "segment_id" in result.output
