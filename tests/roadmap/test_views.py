"""Roadmap views: the board and the timeline (lanes by goal and team), re-planning by drag (the HTMX post) and by the
move buttons persisting through the plan service, CSV and PNG exports, and share links that show only their view."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from prodops.domains.roadmap import service
from prodops.domains.roadmap.queries import roadmap as queries
from prodops.domains.roadmap.schemas.goals import GoalIn, InitiativeIn, PlanUpdate
from prodops.domains.roadmap.schemas.roadmap import RoadmapView, ShareIn
from prodops.domains.roadmap.schemas.scoring import ScorecardIn, ScoreValuesIn
from prodops.domains.roadmap.service import scoring, sharing
from tests.conftest import Client
from tests.roadmap.conftest import ACTOR, make_feature, make_product, make_team

JAN = dt.date(2027, 1, 1)


@pytest.fixture
def anonymous(app) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """A browser with nobody signed in (a stakeholder opening a share link)."""
    with Client(app, base_url="http://testserver") as c:
        yield c


@dataclass
class World:
    product: int
    alpha: int
    beta: int
    goal: int
    a_now: int
    a_next: int
    b_now: int
    b_timeline: int


@pytest.fixture
def world(session: Session) -> World:
    """Team Alpha: "Alpha search" (now, goal Grow, effort 3, RICE hand values → score) and "Alpha export" (next).
    Team Beta: "Beta billing" (now, no goal) and "Beta secret audit" (dated Feb–Mar 2027, no bucket)."""
    product = make_product(session, name="Core").id
    alpha = make_team(session, name="Alpha").id
    beta = make_team(session, name="Beta").id
    goal = service.create_goal(session, ACTOR, GoalIn(title="Grow revenue")).id
    initiative = service.create_initiative(session, ACTOR, InitiativeIn(title="Search revamp", goal_ids=[goal])).id
    ids = {}
    for key, title, team, plan in (
        ("a_now", "Alpha search", alpha, {"bucket": "now", "initiative_id": initiative, "effort": 3}),
        ("a_next", "Alpha export", alpha, {"bucket": "next"}),
        ("b_now", "Beta billing", beta, {"bucket": "now"}),
        (
            "b_timeline",
            "Beta secret audit",
            beta,
            {"start_date": dt.date(2027, 2, 3), "end_date": dt.date(2027, 3, 20)},
        ),
    ):
        ids[key] = make_feature(session, title=title, product_id=product).id
        service.update_plan(session, ACTOR, ids[key], PlanUpdate(team_id=team, **plan))
    card = scoring.create_scorecard(session, ACTOR, ScorecardIn(name="RICE", kind="rice"))
    scoring.set_inputs(
        session, ACTOR, card.id, ids["a_now"], ScoreValuesIn(values={"reach": 10, "impact": 2, "confidence": 0.9})
    )
    session.rollback()
    return World(product, alpha, beta, goal, **ids)


def _titles(data: queries.RoadmapData) -> dict[str, dict[str, list[str]]]:
    return {lane.title: {b: [i.title for i in items] for b, items in lane.buckets.items()} for lane in data.lanes}


def test_board_lanes_by_team_and_by_goal(session: Session, world: World) -> None:
    by_team = _titles(queries.roadmap(session, RoadmapView(group="team")))
    assert by_team == {
        "Alpha": {"now": ["Alpha search"], "next": ["Alpha export"], "later": []},
        "Beta": {"now": ["Beta billing"], "next": [], "later": []},
    }
    by_goal = _titles(queries.roadmap(session, RoadmapView(group="goal")))
    assert by_goal["Grow revenue"]["now"] == ["Alpha search"]
    assert by_goal["No goal (unaligned)"]["now"] == ["Beta billing"]


def test_timeline_places_bars_by_month_and_quarter(session: Session, world: World) -> None:
    months = queries.roadmap(session, RoadmapView(layout="timeline", start=JAN, periods=6))
    assert [p.label for p in months.periods][:3] == ["Jan 2027", "Feb 2027", "Mar 2027"]
    (bar,) = [i for lane in months.lanes for i in lane.items]
    assert (bar.title, bar.col_start, bar.col_end) == ("Beta secret audit", 2, 3)
    assert {i.title for i in months.unscheduled} == {"Alpha search", "Alpha export", "Beta billing"}
    quarters = queries.roadmap(session, RoadmapView(layout="timeline", granularity="quarter", start=JAN, periods=4))
    assert quarters.periods[0].label == "Q1 2027"
    (bar,) = [i for lane in quarters.lanes for i in lane.items]
    assert (bar.col_start, bar.col_end) == (1, 1)


def test_drag_to_another_bucket_persists_through_the_plan_service(
    member_client: Client, session: Session, world: World
) -> None:
    answer = member_client.post(
        f"/roadmap/plan/{world.a_next}?group=team",
        data={"bucket": "now", "before_id": str(world.a_now)},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert 'id="roadmap"' in answer.text and "<html" not in answer.text
    plan = service.get_plan(session, world.a_next)
    assert plan is not None and plan.bucket == "now"
    lanes = _titles(queries.roadmap(session, RoadmapView(group="team")))
    assert lanes["Alpha"]["now"] == ["Alpha export", "Alpha search"]  # dropped before "Alpha search"
    # The keyboard's "↓" button sends the card to the end of its column.
    member_client.post(f"/roadmap/plan/{world.a_next}", data={"bucket": "now"}, headers={"HX-Request": "true"})
    session.rollback()  # a new read snapshot
    lanes = _titles(queries.roadmap(session, RoadmapView(group="team")))
    assert lanes["Alpha"]["now"] == ["Alpha search", "Alpha export"]


def test_timeline_shift_moves_both_dates(member_client: Client, session: Session, world: World) -> None:
    answer = member_client.post(
        f"/roadmap/plan/{world.b_timeline}?layout=timeline&start=2027-01-01",
        data={"shift": "1", "granularity": "quarter"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text
    plan = service.get_plan(session, world.b_timeline)
    assert plan is not None and (plan.start_date, plan.end_date) == (dt.date(2027, 5, 3), dt.date(2027, 6, 20))
    refused = member_client.post(f"/roadmap/plan/{world.a_now}", data={"shift": "1"}, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert "no dates to move" in refused.text


def test_viewers_cannot_re_plan(viewer_client: Client, session: Session, world: World) -> None:
    assert viewer_client.get("/roadmap?group=goal").status_code == 200
    assert viewer_client.post(f"/roadmap/plan/{world.a_next}", data={"bucket": "now"}).status_code == 403
    plan = service.get_plan(session, world.a_next)
    assert plan is not None and plan.bucket == "next"


def test_csv_and_png_exports(viewer_client: Client, world: World) -> None:
    answer = viewer_client.get("/roadmap/export.csv?group=team&fields=status,team,score")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["title"], r["lane"], r["bucket"]) for r in rows] == [
        ("Alpha search", "Alpha", "now"),
        ("Alpha export", "Alpha", "next"),
        ("Beta billing", "Beta", "now"),
    ]
    assert float(rows[0]["score"]) == pytest.approx(10 * 2 * 0.9 / 3)
    png = viewer_client.get("/roadmap/export.png?layout=timeline&start=2027-01-01")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    board_png = viewer_client.get("/roadmap/export.png")
    assert board_png.content.startswith(b"\x89PNG")


def test_share_link_for_team_a_shows_nothing_of_team_b_and_no_scores(
    admin_client: Client, anonymous: Client, session: Session, world: World
) -> None:
    answer = admin_client.form(
        "/roadmap/share",
        {
            "name": "Alpha stakeholders",
            "layout": "board",
            "group": "none",
            "team_id": str(world.alpha),
            "fields": ["status", "team"],
        },
    )
    assert answer.status_code == 201, answer.text
    (link,) = sharing.list_links(session)
    path = link.url.removeprefix("http://127.0.0.1:8000")
    assert path.startswith("/r/")
    public = anonymous
    page = public.get(path)
    assert page.status_code == 200
    assert "Alpha search" in page.text and "Alpha export" in page.text
    assert "Beta" not in page.text  # neither team B's features nor its name
    assert "rm-score" not in page.text and "score" not in page.text.lower().replace("scorecard", "")
    assert 'class="sidebar"' not in page.text and "/roadmap/prioritise" not in page.text
    assert 'href="/features/' not in page.text and '" draggable="true"' not in page.text
    shared_csv = public.get(path + "/roadmap.csv").text
    assert "Beta" not in shared_csv and "score" not in shared_csv
    # Revoked: the link stops working.
    assert admin_client.form(f"/roadmap/share/{link.id}/revoke", {}, follow_redirects=False).status_code == 303
    assert public.get(path).status_code == 404
    assert public.get(path + "/roadmap.csv").status_code == 404


def test_share_link_shows_scores_only_when_included(anonymous: Client, session: Session, world: World) -> None:
    with_scores = sharing.create_link(
        session, ACTOR, ShareIn(name="Board", view=RoadmapView(team_id=world.alpha, fields=["score"]))
    )
    public = anonymous
    page = public.get(with_scores.url.removeprefix("http://127.0.0.1:8000"))
    assert "rm-score" in page.text and "6.00" in page.text
    assert public.get("/r/not-a-real-token").status_code == 404


def test_share_admin_is_for_admins(member_client: Client) -> None:
    assert member_client.get("/roadmap/share").status_code == 403
    assert member_client.post("/api/v1/roadmap/shares", json={"name": "x"}).status_code == 403


def test_long_columns_are_capped_on_the_page_not_in_the_export(viewer_client: Client, session: Session) -> None:
    from prodops.domains.roadmap.routes.roadmap import CARD_LIMIT

    for n in range(CARD_LIMIT + 5):
        feature = make_feature(session, title=f"Bulk {n:03d}").id
        service.update_plan(session, ACTOR, feature, PlanUpdate(bucket="later", position=n))
    page = viewer_client.get("/roadmap")
    assert page.text.count('class="rm-card') == CARD_LIMIT
    assert "and 5 more" in page.text
    rows = list(csv.DictReader(io.StringIO(viewer_client.get("/roadmap/export.csv").text)))
    assert len(rows) == CARD_LIMIT + 5
