"""Demand: every measure checked against numbers worked out by hand on a small world, through the queries, the
pages and the API (real database)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, Condition, PersonIn, SegmentIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import service
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import DemandFilters
from prodops.domains.feedback.schemas import LinkIn
from prodops.platform.db import get_engine
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn
from tests.conftest import Client, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item

NOW = dt.datetime.now(dt.UTC)


@dataclass
class World:
    mobile: int
    core: int
    accounts: dict[str, int]
    people: dict[str, int]
    features: dict[str, int]
    items: dict[str, int]
    emea: int
    """A saved segment: accounts in EMEA (Big and Small)."""


def _link(session: Session, item: int, feature: int, importance: str, span: tuple[int, int] | None = None) -> None:
    start, end = span if span else (None, None)
    service.link_feature(
        session,
        ACTOR,
        item,
        LinkIn(feature_id=feature, importance=importance, highlight_start=start, highlight_end=end),  # type: ignore[arg-type]
    )


@pytest.fixture
def world(session: Session) -> World:
    """Three accounts (ARR 100k EMEA Enterprise, 30k NA Mid-Market, 5k EMEA SMB), five people (one without an
    account), features Dark mode (mobile), Offline mode (core), SSO (merged into Dark mode) and Widgets (no
    evidence). The expected numbers are worked out in each test's comments."""
    mobile = org.create_product(session, ACTOR, ProductIn(key="mobile", name="Mobile")).id
    core = org.create_product(session, ACTOR, ProductIn(key="core", name="Core")).id
    accounts = {}
    for name, arr, plan, segment, region in (
        ("big", 100_000, "Enterprise", "Enterprise", "EMEA"),
        ("mid", 30_000, "Growth", "Mid-Market", "NA"),
        ("small", 5_000, "Starter", "SMB", "EMEA"),
    ):
        accounts[name] = customers.create_account(
            session,
            ACTOR,
            AccountIn(name=name.title(), domain=f"{name}.example", arr=arr, plan=plan, segment=segment, region=region),
        ).id
    people = {}
    for key, email in (
        ("ann", "ann@big.example"),
        ("bob", "bob@big.example"),
        ("cat", "cat@mid.example"),
        ("dan", "dan@small.example"),
        ("eve", "eve@nowhere.example"),
    ):
        people[key] = customers.create_person(session, ACTOR, PersonIn(email=email, name=key.title())).id
    feats = {
        "dark": features.create_feature(session, ACTOR, FeatureIn(title="Dark mode", product_id=mobile)).id,
        "offline": features.create_feature(session, ACTOR, FeatureIn(title="Offline mode", product_id=core)).id,
        "sso": features.create_feature(session, ACTOR, FeatureIn(title="SSO", product_id=mobile)).id,
        "widgets": features.create_feature(session, ACTOR, FeatureIn(title="Widgets", product_id=mobile)).id,
    }
    recent = NOW - dt.timedelta(days=10)
    items = {}
    for key, person, text, received in (
        ("i1", "ann", "Please add a dark mode. My eyes hurt at night.", NOW - dt.timedelta(days=400)),
        ("i2", "ann", "Dark mode again, please.", recent),
        ("i3", "bob", "Our team wants a dark theme.", recent),
        ("i4", "cat", "Dark mode and single sign-on would help.", recent),
        ("i5", "eve", "dark mode?", recent),
        ("i6", "dan", "We need to work offline on trains.", recent),
        ("i7", "ann", "Offline would be nice.", recent),
        ("i8", "cat", "SSO with Okta is a must.", recent),
    ):
        items[key] = make_item(session, text=text, person_id=people[person], received_at=received).id
    _link(session, items["i1"], feats["dark"], "critical", (0, 22))  # weight 4
    _link(session, items["i2"], feats["dark"], "nice")  # 1
    _link(session, items["i3"], feats["dark"], "important")  # 2
    _link(session, items["i4"], feats["dark"], "nice")  # 1, raised to 2 by the merge below
    _link(session, items["i5"], feats["dark"], "not")  # 0
    _link(session, items["i6"], feats["offline"], "important")  # 2
    _link(session, items["i7"], feats["offline"], "nice")  # 1
    _link(session, items["i8"], feats["sso"], "critical")  # 4, moves to dark mode
    _link(session, items["i4"], feats["sso"], "important")  # the same item on both: one link survives, important
    features.add_vote(session, ACTOR, feats["dark"], people["dan"])  # a new person and account (small)
    features.add_vote(session, ACTOR, feats["dark"], people["bob"])  # bob already asked: no new person
    features.merge_features(session, ACTOR, feats["sso"], feats["dark"])
    emea = customers.create_segment(
        session,
        ACTOR,
        SegmentIn(name="EMEA", filters=[Condition(field="region", op="eq", value="EMEA")]),
    ).id
    session.rollback()
    return World(mobile, core, accounts, people, feats, items, emea)


def _by_title(rows: list[demand.DemandRow]) -> dict[str, demand.DemandRow]:
    return {r.title: r for r in rows}


def test_measures_match_the_hand_computation(session: Session, world: World) -> None:
    rows = _by_title(demand.ranking(session, DemandFilters()).items)
    # Survivors with evidence only: SSO was merged into Dark mode, Widgets has none.
    assert set(rows) == {"Dark mode", "Offline mode"}
    dark = rows["Dark mode"]
    # Items i1 i2 i3 i4 i5 and i8 (moved from SSO); i4 was on both, so it counts once.
    assert dark.items == 6
    # 4 (i1) + 1 (i2) + 2 (i3) + 2 (i4, the higher of nice/important) + 0 (i5) + 4 (i8) = 13; votes add nothing.
    assert dark.score == 13
    assert dark.votes == 2
    # ann, bob, cat, eve from items; dan from his vote; bob's vote is not a second person.
    assert dark.people == 5
    # big (ann, bob), mid (cat), small (dan's vote); eve has no account.
    assert dark.accounts == 3
    # Each account once, however many items and votes: 100,000 + 30,000 + 5,000.
    assert dark.arr == 135_000
    offline = rows["Offline mode"]
    assert (offline.items, offline.score, offline.people, offline.accounts, offline.arr, offline.votes) == (
        2,
        3,
        2,
        2,
        105_000,
        0,
    )
    assert offline.product_name == "Core" and offline.status_label == "Idea"


def test_sorting_by_each_measure(session: Session, world: World) -> None:
    def order(sort: str) -> list[str]:
        return [r.title for r in demand.ranking(session, DemandFilters(sort=sort)).items]

    assert order("-arr") == ["Dark mode", "Offline mode"]
    assert order("arr") == ["Offline mode", "Dark mode"]
    assert order("-score") == ["Dark mode", "Offline mode"]
    assert order("title") == ["Dark mode", "Offline mode"]
    assert order("-title") == ["Offline mode", "Dark mode"]
    page = demand.ranking(session, DemandFilters(sort="-items", per_page=1, page=2))
    assert page.total == 2 and [r.title for r in page.items] == ["Offline mode"] and page.items[0].rank == 2


def test_account_field_filters_keep_only_that_evidence(session: Session, world: World) -> None:
    rows = _by_title(demand.ranking(session, DemandFilters(segment="Enterprise")).items)
    # Only big's evidence: i1 i2 i3 (ann, bob) and bob's vote; dan's vote comes from small.
    dark = rows["Dark mode"]
    assert (dark.items, dark.score, dark.people, dark.accounts, dark.arr, dark.votes) == (3, 7, 2, 1, 100_000, 1)
    offline = rows["Offline mode"]
    assert (offline.items, offline.people, offline.accounts, offline.arr) == (1, 1, 1, 100_000)
    # Plan and region work the same way; no account on the Free plan asked for anything.
    assert _by_title(demand.ranking(session, DemandFilters(region="NA")).items)["Dark mode"].arr == 30_000
    assert demand.ranking(session, DemandFilters(plan="Free")).total == 0


def test_saved_segment_filter(session: Session, world: World) -> None:
    rows = _by_title(demand.ranking(session, DemandFilters(segment_id=world.emea)).items)
    # EMEA = big + small: items i1 i2 i3 (big), votes by dan (small) and bob (big).
    dark = rows["Dark mode"]
    assert (dark.items, dark.score, dark.people, dark.accounts, dark.arr, dark.votes) == (3, 7, 3, 2, 105_000, 2)
    offline = rows["Offline mode"]
    assert (offline.items, offline.accounts, offline.arr) == (2, 2, 105_000)


def test_period_product_and_title_filters(session: Session, world: World) -> None:
    rows = _by_title(demand.ranking(session, DemandFilters(period="365d")).items)
    # i1 was received 400 days ago: 5 items, score 13 - 4 = 9; ann still counts through i2.
    dark = rows["Dark mode"]
    assert (dark.items, dark.score, dark.people, dark.accounts) == (5, 9, 5, 3)
    since = (NOW - dt.timedelta(days=30)).date()
    assert _by_title(demand.ranking(session, DemandFilters(since=since)).items)["Dark mode"].items == 5
    until = (NOW - dt.timedelta(days=300)).date()
    old = demand.ranking(session, DemandFilters(until=until)).items
    assert [(r.title, r.items, r.votes) for r in old] == [("Dark mode", 1, 0)]
    assert [r.title for r in demand.ranking(session, DemandFilters(product_id=world.core)).items] == ["Offline mode"]
    assert [r.title for r in demand.ranking(session, DemandFilters(q="DARK")).items] == ["Dark mode"]


def test_one_feature_breakdown_and_series(session: Session, world: World) -> None:
    data = demand.feature_demand(session, world.features["dark"], interval="month")
    assert data.totals is not None and data.totals.arr == 135_000 and data.totals.items == 6
    by_segment = {r.value: r for r in data.breakdown["segment"]}
    assert set(by_segment) == {"Enterprise", "Mid-Market", "SMB"}
    assert (by_segment["Enterprise"].accounts, by_segment["Enterprise"].people, by_segment["Enterprise"].items) == (
        1,
        2,
        3,
    )
    assert by_segment["Enterprise"].arr == 100_000
    assert (by_segment["SMB"].items, by_segment["SMB"].people, by_segment["SMB"].arr) == (0, 1, 5_000)
    by_region = {r.value: r for r in data.breakdown["region"]}
    assert by_region["EMEA"].arr == 105_000 and by_region["EMEA"].accounts == 2 and by_region["NA"].arr == 30_000
    # Monthly series from the month of i1 (400 days ago) to this month, zeros between.
    assert data.interval == "month"
    assert sum(p.items for p in data.series) == 6 and sum(p.votes for p in data.series) == 2
    assert sum(p.new_accounts for p in data.series) == 3
    first = next(p for p in data.series if p.items)
    assert first.period == (NOW - dt.timedelta(days=400)).date().replace(day=1) and first.new_accounts == 1
    assert len(data.series) >= 13
    # The linked items, newest first, with the highlighted passage of i1.
    assert data.linked_total == 6
    i1 = next(i for i in data.linked if i.id == world.items["i1"])
    assert [lk.highlight for lk in i1.links] == ["Please add a dark mode"]
    # A merged feature answers for its survivor.
    assert demand.feature_demand(session, world.features["sso"]).feature_id == world.features["dark"]
    # Nothing asks for Widgets.
    assert demand.feature_demand(session, world.features["widgets"]).totals is None


def test_weekly_series_with_a_filter(session: Session, world: World) -> None:
    data = demand.feature_demand(session, world.features["dark"], DemandFilters(period="30d"), interval="week")
    assert data.interval == "week" and all(p.period.weekday() == 0 for p in data.series)
    assert sum(p.items for p in data.series) == 5 and 4 <= len(data.series) <= 6


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_ranking_is_two_statements_however_many_features(session: Session, world: World) -> None:
    for n in range(30):
        feature = features.create_feature(session, ACTOR, FeatureIn(title=f"Extra {n}")).id
        _link(session, make_item(session, text=f"extra {n}", person_id=world.people["cat"]).id, feature, "nice")
    session.rollback()
    with _statements() as seen:
        page, top = demand.ranked(session, DemandFilters(per_page=20), top=5)
    assert page.total == 32 and len(page.items) == 20 and len(top) == 5
    # Every measure of every feature, then the labels of the rows shown (plus BEGIN on some drivers).
    assert len([s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]) == 2


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"segment": "Enterprise"},
        {"segment_id": "emea"},
        {"period": "365d"},
        {"product_id": "mobile"},
    ],
)
def test_every_sort_pages_through_the_full_ranking(session: Session, world: World, filters: dict[str, object]) -> None:
    """Paging through the ranking gives the full computation, for every sort; the picker's order agrees."""
    for n in range(12):
        feature = features.create_feature(session, ACTOR, FeatureIn(title=f"Extra {n:02d}", product_id=world.mobile)).id
        for k in range(n % 4):
            person = ["ann", "bob", "cat", "dan", "eve"][(n + k) % 5]
            item = make_item(session, text=f"extra {n} {k}", person_id=world.people[person]).id
            _link(session, item, feature, ["not", "nice", "important", "critical"][(n * k) % 4])
        if n % 3 == 0:
            features.add_vote(session, ACTOR, feature, world.people["dan"])
    session.rollback()
    values = {k: {"emea": world.emea, "mobile": world.mobile}.get(v, v) for k, v in filters.items()}  # type: ignore[call-overload]
    for sort in [f"{d}{k}" for k in demand.SORTS for d in ("", "-")]:
        f = DemandFilters.model_validate({**values, "sort": sort, "per_page": 4})
        full = demand.ranking_rows(session, f)
        seen = []
        for number in range(1, len(full) // 4 + 2):
            seen += demand.ranking(session, f.model_copy(update={"page": number})).items
        assert [r.model_dump(exclude={"product_name", "status_label", "status_kind"}) for r in seen] == [
            r.model_dump(exclude={"product_name", "status_label", "status_kind"}) for r in full
        ], sort
        ordered = [fid for fid, _title, _value in session.execute(demand._order_stmt(session, f))]
        assert ordered == [r.feature_id for r in full], sort


# --- pages and API ----------------------------------------------------------------------------------


def test_ranking_page_csv_and_chart(viewer_client: Client, world: World) -> None:
    page = viewer_client.get("/feedback/demand", params={"sort": "-arr"})
    assert page.status_code == 200
    text = page.text
    assert "What customers want most" in text and "Dark mode" in text and "Offline mode" in text
    assert "$135K" in text and "$105K" in text
    assert 'class="vega-spec"' in text and "Features ranked by arr" in text
    assert text.index("Dark mode") < text.index("Offline mode")
    filtered = viewer_client.get("/feedback/demand", params={"segment": "Enterprise"})
    assert "Segment: Enterprise" in filtered.text and "$100K" in filtered.text
    export = viewer_client.get("/feedback/demand.csv", params={"sort": "-arr"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["title"], r["accounts"], r["people"], r["linked_items"], r["arr"], r["score"]) for r in rows] == [
        ("Dark mode", "3", "5", "6", "135000", "13"),
        ("Offline mode", "2", "2", "2", "105000", "3"),
    ]


def test_ranking_page_empty_state(viewer_client: Client) -> None:
    page = viewer_client.get("/feedback/demand")
    assert page.status_code == 200 and "No demand yet" in page.text and 'href="/feedback"' in page.text


def test_bad_filters_are_refused_naming_the_field(viewer_client: Client, world: World) -> None:
    token = make_token(make_user("viewer"), scope="read")
    headers = {"Authorization": f"Bearer {token}"}
    for params, field in (
        ({"sort": "-price"}, "sort"),
        ({"period": "7y"}, "period"),
        ({"since": "2026-05-01", "until": "2026-01-01"}, "until"),
        ({"product_id": "core"}, "product_id"),
    ):
        response = viewer_client.get("/api/v1/feedback/demand", params=params, headers=headers)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][-1] == field
    unknown = viewer_client.get("/api/v1/feedback/demand", params={"segment_id": 999}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "segment_id"]
    page = viewer_client.get("/feedback/demand", params={"segment_id": 999})
    assert page.status_code == 422 and "there is no saved segment 999" in page.text


def test_api_ranking_and_one_feature(client: Client, world: World) -> None:
    token = make_token(make_user("viewer"), scope="read")
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/feedback/demand", params={"segment_id": world.emea}, headers=headers).json()
    assert body["total"] == 2 and body["measure"] == "accounts" and body["sort"] == "-accounts"
    first = body["items"][0]
    assert (first["title"], first["accounts"], first["arr"], first["people"]) == ("Dark mode", 2, 105_000, 3)
    one = client.get(f"/api/v1/feedback/demand/{world.features['sso']}", params={"items": 2}, headers=headers).json()
    assert one["feature_id"] == world.features["dark"] and one["totals"]["score"] == 13
    assert len(one["linked"]) == 2 and one["linked_total"] == 6
    assert {r["value"] for r in one["breakdown"]["plan"]} == {"Enterprise", "Growth", "Starter"}
    missing = client.get("/api/v1/feedback/demand/999999", headers=headers)
    assert missing.status_code == 404


def test_evidence_panel_marks_the_highlight_and_escapes_text(
    member_client: Client, session: Session, world: World
) -> None:
    hostile = make_item(session, text="<script>alert(1)</script> dark please", person_id=world.people["bob"]).id
    _link(session, hostile, world.features["dark"], "nice", (26, 37))
    session.rollback()
    panel = member_client.get(f"/feedback/features/{world.features['dark']}/evidence", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert "<html" not in panel.text, "HTMX gets the fragment only"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>dark please</mark>" in panel.text
    assert "<script>alert(1)" not in panel.text
    assert "<mark>Please add a dark mode</mark>" in panel.text
    assert "$135K" in panel.text and 'class="vega-spec"' in panel.text
    whole = member_client.get(f"/feedback/features/{world.features['dark']}/evidence")
    assert whole.status_code == 200 and "<html" in whole.text and "Evidence for" in whole.text
    empty = member_client.get(
        f"/feedback/features/{world.features['widgets']}/evidence", headers={"HX-Request": "true"}
    )
    assert "No linked feedback or votes" in empty.text


def test_feature_page_lists_the_panels(viewer_client: Client, world: World) -> None:
    page = viewer_client.get(f"/features/{world.features['dark']}")
    assert page.status_code == 200
    assert f'hx-get="/feedback/features/{world.features["dark"]}/evidence"' in page.text
    assert f'hx-get="/feedback/features/{world.features["dark"]}/loop"' in page.text
