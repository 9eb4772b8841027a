"""The alignment report on a hand-built plan: shares by goal and initiative, unaligned work, unstaffed goals,
team and product filters, unit conversion, the page (charts, CSV) and the API."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from prodops.domains.roadmap import service
from prodops.domains.roadmap.queries import alignment
from prodops.domains.roadmap.schemas.goals import AlignmentFilters, GoalIn, InitiativeIn, PlanUpdate
from tests.conftest import Client
from tests.roadmap.conftest import ACTOR, make_feature, make_product, make_team


@pytest.fixture
def plan(session: Session) -> dict[str, int]:
    core, mobile = make_product(session).id, make_product(session).id
    red, blue = make_team(session).id, make_team(session).id
    company = service.create_goal(session, ACTOR, GoalIn(title="Company")).id
    onboard = service.create_goal(session, ACTOR, GoalIn(title="Onboarding", parent_id=company, product_id=core)).id
    speed = service.create_goal(session, ACTOR, GoalIn(title="Speed", product_id=core)).id
    idle = service.create_goal(session, ACTOR, GoalIn(title="Idle goal", product_id=mobile)).id
    service.create_goal(session, ACTOR, GoalIn(title="Archived", status="archived"))
    both = service.create_initiative(
        session, ACTOR, InitiativeIn(title="Both", goal_ids=[onboard, speed], team_id=red)
    ).id
    fast = service.create_initiative(session, ACTOR, InitiativeIn(title="Fast", goal_ids=[speed], team_id=blue)).id
    orphan = service.create_initiative(session, ACTOR, InitiativeIn(title="Orphan", team_id=blue)).id

    def planned(product: int, **fields: object) -> int:
        fid = make_feature(session, product_id=product).id
        service.update_plan(session, ACTOR, fid, PlanUpdate(**fields))  # type: ignore[arg-type]
        return fid

    planned(core, initiative_id=both, effort=8)  # 4 to onboarding, 4 to speed; team red (from initiative)
    planned(core, initiative_id=fast, effort=2, effort_unit="person_weeks")  # 10 points to speed; team blue
    planned(mobile, initiative_id=orphan, effort=5)  # unaligned: initiative without goal
    planned(mobile, effort=5, team_id=red)  # unaligned: no initiative
    planned(core, initiative_id=fast)  # no estimate: counts 0
    make_feature(session, product_id=core)  # not planned: not in the report
    return {
        "core": core,
        "mobile": mobile,
        "red": red,
        "blue": blue,
        "company": company,
        "onboard": onboard,
        "speed": speed,
        "idle": idle,
        "both": both,
        "fast": fast,
        "orphan": orphan,
    }


def test_shares_by_goal_and_initiative(session: Session, plan: dict[str, int]) -> None:
    rep = alignment.report(session, AlignmentFilters())
    assert rep.total_features == 5 and rep.total_effort == 28 and rep.unestimated == 1
    by_goal = {r.id: (r.features, r.effort) for r in rep.by_goal}
    assert by_goal == {plan["speed"]: (3, 14), plan["onboard"]: (1, 4), None: (2, 10)}
    assert [r.id for r in rep.by_goal] == [plan["speed"], plan["onboard"], None]  # biggest first, unaligned last
    assert rep.aligned_share == pytest.approx(18 / 28)
    shares = {r.id: r.share for r in rep.by_initiative}
    assert shares == pytest.approx({plan["fast"]: 10 / 28, plan["both"]: 8 / 28, plan["orphan"]: 5 / 28, None: 5 / 28})
    assert {(u.reason, u.initiative_id) for u in rep.unaligned} == {
        ("initiative_without_goal", plan["orphan"]),
        ("no_initiative", None),
    }
    assert rep.unaligned_total == 2
    capped = alignment.report(session, AlignmentFilters(), unaligned_limit=1)
    assert len(capped.unaligned) == 1 and capped.unaligned_total == 2
    # the company goal is staffed through its sub-goal; the archived goal is not listed
    assert [g.id for g in rep.unstaffed] == [plan["idle"]]


def test_filters_and_units(session: Session, plan: dict[str, int]) -> None:
    red = alignment.report(session, AlignmentFilters(team_id=plan["red"]))
    assert red.total_features == 2 and red.total_effort == 13
    assert {u.reason for u in red.unaligned} == {"no_initiative"}
    mobile = alignment.report(session, AlignmentFilters(product_id=plan["mobile"], unit="person_weeks"))
    assert mobile.total_features == 2 and mobile.total_effort == 2.0  # 10 points at 5 points per person-week
    assert mobile.aligned_share == 0
    # in the mobile view the company goal (no product) and the core goals' work are out of scope
    assert {g.title for g in mobile.unstaffed} == {"Company", "Idle goal"}


def test_page_csv_and_api(viewer_client: Client, plan: dict[str, int]) -> None:
    page = viewer_client.get(f"/roadmap/alignment?team_id={plan['blue']}")
    assert page.status_code == 200
    assert "Planned effort by goal" in page.text and 'class="vega-spec"' in page.text and "Orphan" in page.text
    csv = viewer_client.get("/roadmap/alignment.csv?section=initiatives")
    lines = csv.text.strip().splitlines()
    assert lines[0].lstrip("\ufeff") == "initiative_id,title,features,effort_points,share"
    assert len(lines) == 5
    unaligned = viewer_client.get("/roadmap/alignment.csv?section=unaligned&unit=person_weeks").text
    assert "effort_person_weeks" in unaligned and "initiative_without_goal" in unaligned
    api = viewer_client.get("/api/v1/roadmap/alignment").json()
    assert api["total_effort"] == 28 and len(api["unstaffed"]) == 1
    assert viewer_client.get("/api/v1/roadmap/alignment?unit=hours").status_code == 422
    assert viewer_client.get("/roadmap/alignment.csv?section=nope").status_code == 422


def test_empty_report_says_what_to_do(viewer_client: Client) -> None:
    page = viewer_client.get("/roadmap/alignment")
    assert page.status_code == 200 and "No planned work in this view" in page.text
