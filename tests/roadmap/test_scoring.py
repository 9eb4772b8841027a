"""Scorecards and the ranked list: RICE and WSJF computed by hand, evidence inputs against seeded feedback and votes,
hand values that win, the ranking moving after an edit (service, page and API), and the scorecard admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.domains.features import service as features
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import LinkIn
from prodops.domains.roadmap.queries.ranking import ranking
from prodops.domains.roadmap.schemas.goals import PlanUpdate
from prodops.domains.roadmap.schemas.scoring import RankingFilters, ScorecardIn, ScoreValuesIn
from prodops.domains.roadmap.service import plans, scoring
from prodops.platform.errors import ValidationFailed
from tests.conftest import Client
from tests.feedback.conftest import make_item
from tests.roadmap.conftest import ACTOR, make_feature, make_product


@dataclass
class World:
    product: int
    dark: int
    offline: int
    widgets: int
    rice: int


@pytest.fixture
def world(session: Session) -> World:
    """Accounts Big (ARR 100k) and Small (ARR 5k). Dark mode: feedback from ann@big and bob@big and a vote from
    dan@small → 2 accounts asking, ARR 105k, 2 items, 1 vote. Offline: one item from dan@small → 1 account, ARR 5k.
    Widgets: nothing. Efforts from the plans: dark 4, offline 1, widgets none."""
    product = make_product(session, name="Mobile").id
    for name, arr in (("big", 100_000), ("small", 5_000)):
        customers.create_account(session, ACTOR, AccountIn(name=name.title(), domain=f"{name}.example", arr=arr))
    people = {
        key: customers.create_person(session, ACTOR, PersonIn(email=f"{key}@{dom}.example", name=key)).id
        for key, dom in (("ann", "big"), ("bob", "big"), ("dan", "small"))
    }
    dark = make_feature(session, title="Dark mode", product_id=product).id
    offline = make_feature(session, title="Offline mode", product_id=product).id
    widgets = make_feature(session, title="Widgets", product_id=product).id
    for person, feature in (("ann", dark), ("bob", dark), ("dan", offline)):
        item = make_item(session, person_id=people[person]).id
        feedback.link_feature(session, ACTOR, item, LinkIn(feature_id=feature, importance="important"))
    features.add_vote(session, ACTOR, dark, people["dan"])
    plans.update_plan(session, ACTOR, dark, PlanUpdate(effort=4))
    plans.update_plan(session, ACTOR, offline, PlanUpdate(effort=1))
    rice = scoring.create_scorecard(session, ACTOR, ScorecardIn(name="RICE", product_id=product, kind="rice")).id
    session.rollback()
    return World(product, dark, offline, widgets, rice)


def test_demand_facts_count_accounts_arr_items_and_votes(session: Session, world: World) -> None:
    facts = feedback.demand_facts(session, [world.dark, world.offline, world.widgets])
    assert (facts[world.dark].accounts, facts[world.dark].arr) == (2, 105_000)
    assert (facts[world.dark].items, facts[world.dark].votes) == (2, 1)
    assert (facts[world.offline].accounts, facts[world.offline].arr, facts[world.offline].items) == (1, 5_000, 1)
    assert world.widgets not in facts  # no evidence at all


def test_rice_is_filled_from_evidence_and_the_plan(session: Session, world: World) -> None:
    found = ranking(session, RankingFilters(product_id=world.product))
    assert found is not None
    rows = {r.title: r for r in found.items}
    # Defaults impact 1, confidence 0.8. Dark: 2 * 1 * 0.8 / 4 = 0.4. Offline: 1 * 1 * 0.8 / 1 = 0.8.
    assert rows["Offline mode"].score == pytest.approx(0.8)
    assert rows["Dark mode"].score == pytest.approx(0.4)
    assert [r.title for r in found.items] == ["Offline mode", "Dark mode", "Widgets"]
    assert (rows["Offline mode"].rank, rows["Dark mode"].rank, rows["Widgets"].rank) == (1, 2, None)
    assert rows["Widgets"].score is None  # no effort yet: the score waits
    origins = {v.key: v.origin for v in rows["Dark mode"].inputs}
    assert origins == {"reach": "evidence", "impact": "default", "confidence": "default", "effort": "evidence"}
    assert {v.key: v.origin for v in rows["Widgets"].inputs}["effort"] == "missing"
    assert found.scored == 2 and found.total == 3


def test_hand_values_win_over_evidence_and_move_the_ranking(session: Session, world: World) -> None:
    before, after, values = scoring.set_inputs(
        session, ACTOR, world.rice, world.dark, ScoreValuesIn(values={"impact": 3, "confidence": 1, "reach": 5})
    )
    # 5 (by hand, not the 2 accounts) * 3 * 1 / 4 = 3.75
    assert before == pytest.approx(0.4)
    assert after == pytest.approx(3.75)
    assert {v.key: v.origin for v in values}["reach"] == "hand"
    found = ranking(session, RankingFilters(product_id=world.product), locate=world.dark)
    assert found is not None
    assert [r.title for r in found.items][:2] == ["Dark mode", "Offline mode"]
    assert found.located_rank == 1
    # Clearing a hand value goes back to the evidence: 2 * 3 * 1 / 4 = 1.5.
    _, after, values = scoring.set_inputs(session, ACTOR, world.rice, world.dark, ScoreValuesIn(values={"reach": None}))
    assert after == pytest.approx(1.5)
    assert {v.key: v.origin for v in values}["reach"] == "evidence"


def test_unknown_inputs_are_refused_and_nothing_changes(session: Session, world: World) -> None:
    with pytest.raises(ValidationFailed) as caught:
        scoring.set_inputs(session, ACTOR, world.rice, world.dark, ScoreValuesIn(values={"impact": 2, "reech": 1}))
    assert caught.value.field == "values.reech"
    card = scoring.get_scorecard(session, world.rice)
    assert scoring.feature_score(session, card, world.dark)[0] == pytest.approx(0.4)


def test_wsjf_and_value_effort_by_hand(session: Session, world: World) -> None:
    wsjf = scoring.create_scorecard(session, ACTOR, ScorecardIn(name="WSJF", kind="wsjf"))
    scoring.set_inputs(
        session,
        ACTOR,
        wsjf.id,
        world.dark,
        ScoreValuesIn(values={"business_value": 8, "time_criticality": 5, "risk_reduction": 3}),
    )
    assert scoring.feature_score(session, wsjf, world.dark)[0] == pytest.approx((8 + 5 + 3) / 4)
    assert scoring.feature_score(session, wsjf, world.offline)[0] is None  # no business value yet
    value = scoring.create_scorecard(session, ACTOR, ScorecardIn(name="Value", kind="value_effort"))
    assert scoring.feature_score(session, value, world.dark)[0] == pytest.approx(105_000 / 4)


def test_custom_formula_errors_name_the_position(session: Session, world: World) -> None:
    data = ScorecardIn.model_validate(
        {
            "name": "Custom",
            "kind": "custom",
            "formula": "2 * reach + votes / (effort",
            "inputs": [
                {"key": "reach", "source": "reach_accounts"},
                {"key": "votes", "source": "votes"},
                {"key": "effort", "source": "effort"},
            ],
        }
    )
    with pytest.raises(ValidationFailed) as caught:
        scoring.create_scorecard(session, ACTOR, data)
    assert caught.value.field == "formula"
    assert "position 28" in caught.value.message
    assert len(scoring.list_scorecards(session)) == 1
    data.formula = "2 * reach + votes / max(effort, 1)"
    card = scoring.create_scorecard(session, ACTOR, data)
    assert scoring.feature_score(session, card, world.dark)[0] == pytest.approx(2 * 2 + 1 / 4)


def test_ranked_page_edits_inline_and_shows_the_move(member_client: Client, world: World) -> None:
    page = member_client.get(f"/roadmap/prioritise?product_id={world.product}")
    assert page.status_code == 200
    assert page.text.index("Offline mode") < page.text.index("Dark mode")
    answer = member_client.post(
        f"/roadmap/prioritise/{world.rice}/features/{world.dark}?product_id={world.product}",
        data={"reach": "5", "impact": "3", "confidence": "1", "effort": "", "was_rank": "2"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert 'id="ranking"' in answer.text and "<html" not in answer.text
    assert "rank #2 → <strong>#1</strong> (up 1)" in answer.text
    assert answer.text.index("Dark mode") < answer.text.index("Offline mode")
    bad = member_client.post(
        f"/roadmap/prioritise/{world.rice}/features/{world.dark}",
        data={"impact": "lots"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422
    assert "Impact (0.25–3): enter a number" in bad.text


def test_viewers_read_but_cannot_edit(viewer_client: Client, world: World) -> None:
    assert viewer_client.get("/roadmap/prioritise").status_code == 200
    refused = viewer_client.post(f"/roadmap/prioritise/{world.rice}/features/{world.dark}", data={"impact": "2"})
    assert refused.status_code == 403
    api = viewer_client.put(
        f"/api/v1/roadmap/scorecards/{world.rice}/scores/{world.dark}", json={"values": {"impact": 2}}
    )
    assert api.status_code == 403


def test_api_ranking_and_scores(member_client: Client, world: World) -> None:
    ranked = member_client.get(f"/api/v1/roadmap/ranking?product_id={world.product}").json()
    assert [r["title"] for r in ranked["items"]] == ["Offline mode", "Dark mode", "Widgets"]
    changed = member_client.put(
        f"/api/v1/roadmap/scorecards/{world.rice}/scores/{world.widgets}", json={"values": {"effort": 0.1}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["score"] == pytest.approx(0.0)  # reach 0: nobody asked
    bad = member_client.put(
        f"/api/v1/roadmap/scorecards/{world.rice}/scores/{world.dark}", json={"values": {"nope": 1}}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "values.nope"]


def test_scorecard_admin_form_shows_the_formula_position(admin_client: Client, world: World) -> None:
    form = {
        "name": "Mine",
        "kind": "custom",
        "formula": "reach * * 2",
        "inputs-0-key": "reach",
        "inputs-0-source": "reach_accounts",
        "active": "on",
    }
    answer = admin_client.form("/admin/roadmap/scorecards", form)
    assert answer.status_code == 422
    assert "at position 9" in answer.text
    assert 'value="reach * * 2"' in answer.text  # the entered values are kept
    check = admin_client.form("/admin/roadmap/scorecards/check", form)
    assert "at position 9" in check.text
    form["formula"] = "reach * 2"
    saved = admin_client.form("/admin/roadmap/scorecards", form, follow_redirects=False)
    assert saved.status_code == 303
    assert admin_client.get(saved.headers["location"]).status_code == 200


def test_members_cannot_configure_scorecards(member_client: Client, world: World) -> None:
    assert member_client.get("/admin/roadmap/scorecards").status_code == 403
    refused = member_client.post("/api/v1/roadmap/scorecards", json={"name": "X", "kind": "rice"})
    assert refused.status_code == 403
