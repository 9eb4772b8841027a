"""Initiatives and feature plans (service, API, pages) and the evidence panel on the feature page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import FeedbackIn, LinkIn
from prodops.domains.roadmap import service
from prodops.domains.roadmap.models import FeaturePlan, Initiative, InitiativeGoal
from prodops.domains.roadmap.schemas.goals import GoalIn, InitiativeIn, InitiativeUpdate, KeyResultIn, PlanUpdate
from prodops.platform.errors import Conflict, ValidationFailed
from tests.conftest import Client
from tests.roadmap.conftest import ACTOR, make_feature, make_team


def test_initiative_goals_and_plans(session: Session) -> None:
    g1 = service.create_goal(session, ACTOR, GoalIn(title="G1")).id
    g2 = service.create_goal(session, ACTOR, GoalIn(title="G2")).id
    team = make_team(session).id
    ini = service.create_initiative(session, ACTOR, InitiativeIn(title="Onboarding", goal_ids=[g1, g2], team_id=team))
    assert [g.title for g in ini.goals] == ["G1", "G2"]
    f1, f2 = make_feature(session).id, make_feature(session).id
    service.update_plan(session, ACTOR, f1, PlanUpdate(initiative_id=ini.id, effort=3))
    service.update_plan(session, ACTOR, f2, PlanUpdate(initiative_id=ini.id, effort=2, effort_unit="person_weeks"))
    got = service.update_initiative(session, ACTOR, ini.id, InitiativeUpdate(goal_ids=[g2]))
    assert [g.id for g in got.goals] == [g2]
    assert (got.feature_count, got.effort_points, got.effort_person_weeks) == (2, 13.0, 2.6)
    # only the fields sent change
    plan = service.update_plan(session, ACTOR, f1, PlanUpdate(bucket="now"))
    assert (plan.initiative_id, plan.effort, plan.bucket, plan.initiative_title) == (ini.id, 3.0, "now", "Onboarding")
    with pytest.raises(ValidationFailed) as err:
        service.create_initiative(session, ACTOR, InitiativeIn(title="x", goal_ids=[999]))
    assert err.value.field == "goal_ids"
    with pytest.raises(ValidationFailed):
        service.update_plan(session, ACTOR, f1, PlanUpdate(initiative_id=999))
    assert session.scalar(select(func.count()).select_from(Initiative)) == 1
    service.delete_initiative(session, ACTOR, ini.id)
    session.expire_all()
    assert session.get(FeaturePlan, f1).initiative_id is None  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(InitiativeGoal)) == 0


def test_merged_features_cannot_be_planned(session: Session) -> None:
    from prodops.domains.features import service as features

    a, b = make_feature(session).id, make_feature(session).id
    features.merge_features(session, ACTOR, a, b)
    with pytest.raises(Conflict):
        service.update_plan(session, ACTOR, a, PlanUpdate(effort=1))


def test_initiative_api(member_client: Client) -> None:
    gid = member_client.post("/api/v1/roadmap/goals", json={"title": "Grow"}).json()["id"]
    created = member_client.post("/api/v1/roadmap/initiatives", json={"title": "Templates", "goal_ids": [gid]})
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    bad = member_client.post(
        "/api/v1/roadmap/initiatives", json={"title": "x", "start_date": "2026-05-02", "end_date": "2026-05-01"}
    )
    assert bad.status_code == 422
    listed = member_client.get(f"/api/v1/roadmap/initiatives?goal_id={gid}").json()
    assert listed["total"] == 1 and listed["items"][0]["goals"][0]["id"] == gid
    assert member_client.get("/api/v1/roadmap/initiatives?unaligned=true").json()["total"] == 0
    patched = member_client.patch(f"/api/v1/roadmap/initiatives/{iid}", json={"goal_ids": [], "status": "active"})
    assert patched.json()["goals"] == [] and patched.json()["status"] == "active"
    assert member_client.get("/api/v1/roadmap/initiatives?unaligned=true").json()["total"] == 1


def test_plan_api(member_client: Client, session: Session) -> None:
    fid = make_feature(session).id
    assert member_client.get(f"/api/v1/roadmap/features/{fid}/plan").json() is None
    put = member_client.patch(f"/api/v1/roadmap/features/{fid}/plan", json={"effort": 5, "effort_unit": "points"})
    assert put.status_code == 200 and put.json()["effort"] == 5
    bad = member_client.patch(f"/api/v1/roadmap/features/{fid}/plan", json={"effort": -1, "bucket": "someday"})
    assert bad.status_code == 422 and {d["loc"][-1] for d in bad.json()["detail"]} == {"effort", "bucket"}
    assert member_client.patch("/api/v1/roadmap/features/99999/plan", json={"effort": 1}).status_code == 404


def test_initiative_pages(member_client: Client, session: Session) -> None:
    gid = service.create_goal(session, ACTOR, GoalIn(title="Grow")).id
    empty = member_client.get("/roadmap/initiatives")
    assert "No initiatives yet" in empty.text
    bad = member_client.form("/roadmap/initiatives/new", {"title": "", "goal_ids": [str(gid)], "status": "active"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and "selected" in bad.text
    ok = member_client.form(
        "/roadmap/initiatives/new",
        {"title": "Templates", "goal_ids": [str(gid)], "status": "active"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    iid = int(ok.headers["location"].rsplit("/", 1)[1])
    fid = make_feature(session, title="Report templates").id
    search = member_client.get(f"/roadmap/initiatives/{iid}?q=templates")
    assert "Report templates" in search.text
    nothing = member_client.form(f"/roadmap/initiatives/{iid}/features", {"effort": "3"})
    assert nothing.status_code == 422 and "pick the feature" in nothing.text
    added = member_client.form(
        f"/roadmap/initiatives/{iid}/features",
        {"feature_id": str(fid), "effort": "3", "effort_unit": "points"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    detail = member_client.get(f"/roadmap/initiatives/{iid}")
    assert "Report templates" in detail.text and "3.0 points" in detail.text
    listing = member_client.get("/roadmap/initiatives")
    assert "Templates" in listing.text and "Grow" in listing.text
    assert "Templates" in member_client.get("/roadmap/initiatives.csv").text
    goal_page = member_client.get(f"/roadmap/goals/{gid}")
    assert "Templates" in goal_page.text
    member_client.form(f"/roadmap/initiatives/{iid}/features/{fid}/remove")
    session.rollback()
    assert session.get(FeaturePlan, fid).initiative_id is None  # type: ignore[union-attr]


def test_evidence_panel_on_the_feature_page(member_client: Client, session: Session, active_accounts: object) -> None:
    account = customers.create_account(session, ACTOR, AccountIn(name="Big", domain="big.example", arr=120_000))
    fid = make_feature(session, title="Dark mode").id
    item, _ = feedback.ingest(
        session, ACTOR, FeedbackIn(text="Dark mode please", person_email="ann@big.example", account_id=account.id)
    )
    feedback.link_feature(session, ACTOR, item.id, LinkIn(feature_id=fid))
    gid = service.create_goal(session, ACTOR, GoalIn(title="Delight night owls")).id
    service.create_key_result(
        session, ACTOR, gid, KeyResultIn(title="Night sessions", target_value=100, source="metric", metric_key="night")
    )
    feature_page = member_client.get(f"/features/{fid}")
    assert f"/roadmap/features/{fid}/evidence" in feature_page.text
    panel = member_client.get(f"/roadmap/features/{fid}/evidence")
    assert panel.status_code == 200
    assert "1</strong> account asking" in panel.text and "$120K ARR" in panel.text
    assert "Not on the roadmap yet" in panel.text and "Linked to no goal" in panel.text
    ini = service.create_initiative(session, ACTOR, InitiativeIn(title="Themes", goal_ids=[gid])).id
    saved = member_client.form(
        f"/roadmap/features/{fid}/plan",
        {"initiative_id": str(ini), "effort": "5", "effort_unit": "points"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    panel = member_client.get(f"/roadmap/features/{fid}/evidence")
    assert "Delight night owls" in panel.text and "Themes" in panel.text and "5.0 points" in panel.text
    assert "metric source not available" in panel.text
    service.create_key_result(
        session,
        ACTOR,
        gid,
        KeyResultIn(title="Active accounts", target_value=10, source="metric", metric_key="weekly_active_accounts"),
    )
    live = member_client.get(f"/roadmap/features/{fid}/evidence")  # the analytics metric's weekly series
    assert "<code>night</code> <small" in live.text  # still unknown to the catalogue
    assert "<code>weekly_active_accounts</code></p>" in live.text and 'class="vega-spec"' in live.text
    refused = member_client.form(f"/roadmap/features/{fid}/plan", {"effort": "lots"}, follow_redirects=False)
    assert refused.status_code == 303
    session.rollback()
    assert session.get(FeaturePlan, fid).effort == 5  # type: ignore[union-attr]
