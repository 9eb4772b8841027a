"""`prodops features ...` commands."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.features import service
from prodops.domains.features.commands import app
from tests.features.conftest import ACTOR, make_feature, make_person, make_product

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(app, name="features")  # as `prodops` mounts it


def _seed(session: Session) -> tuple[int, int]:
    mobile = make_product(session, key="mobile", name="Mobile")
    a = make_feature(session, title="Offline mode", product_id=mobile.id, status="planned", tags=["sync"])
    b = make_feature(session, title="=cmd()", description="formula")
    service.add_vote(session, ACTOR, a.id, make_person(session).id)
    return a.id, b.id


def test_list_as_table_and_json(session: Session) -> None:
    a, b = _seed(session)
    result = runner.invoke(cli, ["features", "list"])
    assert result.exit_code == 0, result.output
    assert "Offline mode" in result.stdout and "Planned" in result.stdout
    result = runner.invoke(cli, ["features", "list", "--json", "--product", "mobile"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["total"] == 1
    assert (body["items"][0]["id"], body["items"][0]["vote_count"]) == (a, 1)
    result = runner.invoke(cli, ["features", "list", "--json", "--status", "idea"])
    assert [f["id"] for f in json.loads(result.stdout)["items"]] == [b]
    result = runner.invoke(cli, ["features", "list", "--product", "nope"])
    assert result.exit_code == 2
    assert "no product with the key 'nope'" in result.output


def test_export_csv_to_stdout_and_file(session: Session, tmp_path: Path) -> None:
    _seed(session)
    result = runner.invoke(cli, ["features", "export"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["title"] for r in rows] == ["Offline mode", "'=cmd()"]  # most votes first; formulas neutralised
    assert rows[0]["product"] == "Mobile" and rows[0]["tags"] == "sync"
    out = tmp_path / "features.csv"
    result = runner.invoke(cli, ["features", "export", "--status", "planned", "--output", str(out)])
    assert result.exit_code == 0, result.output
    written = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["title"] for r in written] == ["Offline mode"]
