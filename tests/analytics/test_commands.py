"""`prodops analytics` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prodops.domains.analytics.commands import app

pytestmark = pytest.mark.usefixtures("clean_warehouse")


def test_create_and_list_sources() -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["create-source", "Backend", "--kind", "segment"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("wk_")
    listed = runner.invoke(app, ["sources", "--json"])
    assert listed.exit_code == 0
    assert [(s["name"], s["kind"], s["write_key"]) for s in json.loads(listed.stdout)] == [("Backend", "segment", key)]
    assert "Backend" in runner.invoke(app, ["sources"]).stdout
    dup = runner.invoke(app, ["create-source", "Backend"])
    assert dup.exit_code == 2 and "already exists" in dup.output
    bad = runner.invoke(app, ["create-source", "Other", "--kind", "mixpanel"])
    assert bad.exit_code == 2
