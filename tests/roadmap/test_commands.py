"""`prodops roadmap ...` commands."""

from __future__ import annotations

import json

import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.roadmap import service
from prodops.domains.roadmap.commands import app
from prodops.domains.roadmap.schemas.goals import CheckInIn, GoalIn, InitiativeIn, KeyResultIn, PlanUpdate
from tests.roadmap.conftest import ACTOR, make_feature, make_product

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(app, name="roadmap")  # as `prodops` mounts it


def test_goals_list_and_alignment(session: Session) -> None:
    mobile = make_product(session, key="mobile", name="Mobile").id
    parent = service.create_goal(session, ACTOR, GoalIn(title="Company")).id
    child = service.create_goal(session, ACTOR, GoalIn(title="Mobile goal", parent_id=parent, product_id=mobile)).id
    kr = service.create_key_result(session, ACTOR, child, KeyResultIn(title="KR", target_value=4)).id
    service.check_in(session, ACTOR, kr, CheckInIn(value=1, confidence="at_risk"))
    ini = service.create_initiative(session, ACTOR, InitiativeIn(title="Ini", goal_ids=[child])).id
    service.update_plan(
        session, ACTOR, make_feature(session, product_id=mobile).id, PlanUpdate(initiative_id=ini, effort=3)
    )
    service.update_plan(session, ACTOR, make_feature(session).id, PlanUpdate(effort=1))

    out = runner.invoke(cli, ["roadmap", "goals", "list", "--json"])
    assert out.exit_code == 0, out.output
    items = json.loads(out.stdout)["items"]
    assert [(g["title"], g["depth"], g["progress"]) for g in items] == [("Company", 0, 0.25), ("Mobile goal", 1, 0.25)]
    table = runner.invoke(cli, ["roadmap", "goals", "list", "--product", "mobile"])
    assert table.exit_code == 0 and "Mobile goal" in table.stdout and "At risk" in table.stdout
    unknown = runner.invoke(cli, ["roadmap", "goals", "list", "--product", "nope"])
    assert unknown.exit_code == 2 and "no product" in unknown.output

    summary = runner.invoke(cli, ["roadmap", "alignment"])
    assert summary.exit_code == 0 and "75% of the effort serves a goal" in summary.output
    rows = runner.invoke(cli, ["roadmap", "alignment", "--csv", "unaligned", "--unit", "person_weeks"])
    assert rows.exit_code == 0
    assert rows.stdout.splitlines()[0].startswith("feature_id,title,initiative_id,initiative,effort_person_weeks")
    assert len(rows.stdout.strip().splitlines()) == 2


def test_jobs_on_demand(session: Session) -> None:
    assert runner.invoke(cli, ["roadmap", "remind"]).exit_code == 0
    snap = runner.invoke(cli, ["roadmap", "snapshot-metrics"])
    assert snap.exit_code == 0 and "0 snapshot(s)" in snap.output
    health = runner.invoke(cli, ["roadmap", "health-summary"])
    assert health.exit_code == 0 and "0 on track" in health.output
