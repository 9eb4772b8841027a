"""The read side of the feedback API: the list with the inbox's filters, one item, facets and saved views."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import service
from prodops.domains.feedback.schemas import FeedbackIn, LinkIn
from prodops.domains.feedback.service import views
from prodops.platform.identity.service import actor_for
from tests.conftest import Client, count_statements, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item

API = "/api/v1/feedback"
T0 = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)


def seed(session: Session, n: int = 12) -> list[int]:
    items = [
        FeedbackIn(
            text=f"Feedback number {i}",
            external_id=f"r{i}",
            source=["email", "widget", "app_review"][i % 3],
            status=["new", "triaged", "archived"][i % 3],
            tags=["export"] if i % 4 == 0 else [],
            received_at=T0 - dt.timedelta(hours=i),
        )
        for i in range(n)
    ]
    return service.ingest_many(session, ACTOR, items).ids


def test_list_uses_the_inbox_filters(viewer_client: Client, session: Session) -> None:
    ids = seed(session)
    default = viewer_client.get(API).json()
    # new and triaged by default, newest first
    assert [i["id"] for i in default["items"]] == [ids[i] for i in range(12) if i % 3 != 2]
    assert default["total"] == 8 and default["page"] == 1 and default["next_after"] is None
    everything = viewer_client.get(API, params={"status": "all"}).json()
    assert everything["total"] == 12
    both = viewer_client.get(API, params=[("source", "email"), ("source", "widget"), ("status", "all")]).json()
    assert {i["source"] for i in both["items"]} == {"email", "widget"} and both["total"] == 8
    commas = viewer_client.get(API, params={"source": "email,widget", "status": "all"}).json()
    assert commas["total"] == 8
    tagged = viewer_client.get(API, params={"tag": "EXPORT", "status": "all", "q": "number"}).json()
    assert sorted(i["id"] for i in tagged["items"]) == [ids[0], ids[4], ids[8]]
    item = tagged["items"][0]
    assert {"text", "tags", "links", "status", "received_at", "person_email", "account_arr"} <= set(item)


def test_cursor_paging_over_the_api(viewer_client: Client, session: Session) -> None:
    seed(session, 12)
    got: list[int] = []
    params: dict[str, object] = {"status": "all", "per_page": 5}
    body = viewer_client.get(API, params=params).json()
    while True:
        got += [i["id"] for i in body["items"]]
        if body["next_after"] is None:
            break
        body = viewer_client.get(API, params={**params, "after": body["next_after"]}).json()
    assert len(got) == len(set(got)) == 12
    assert body["offset"] == 10 and body["prev_before"] is not None
    back = viewer_client.get(API, params={**params, "before": body["prev_before"]}).json()
    assert [i["id"] for i in back["items"]] == got[5:10]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("status=bogus", ["query", "status", 0]),
        ("source=fax", ["query", "source", 0]),
        ("sort=title", ["query", "sort"]),
        ("per_page=1000", ["query", "per_page"]),
        ("received_from=soon", ["query", "received_from"]),
        ("colour=red", ["query", "colour"]),
        ("assignee=ann", ["query", "assignee"]),
        ("after=1&before=2", ["query"]),
        ("after=999999", ["body", "after"]),
        ("page=500", ["body", "page"]),
    ],
)
def test_bad_parameters_are_422_naming_them(viewer_client: Client, session: Session, query: str, loc: list) -> None:  # type: ignore[type-arg]
    seed(session, 2)
    response = viewer_client.get(f"{API}?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


def test_one_item_with_links(viewer_client: Client, session: Session) -> None:
    item = make_item(session, text="Charts vanish from PDF exports", tags=["Export"])
    feature = features.create_feature(session, ACTOR, FeatureIn(title="PDF export")).id
    service.link_feature(session, ACTOR, item.id, LinkIn(feature_id=feature, highlight_start=0, highlight_end=6))
    body = viewer_client.get(f"{API}/{item.id}").json()
    assert body["id"] == item.id and body["tags"] == ["export"] and body["status"] == "linked"
    assert body["links"][0] | {"created_at": None} == body["links"][0] | {
        "feature_id": feature,
        "feature_title": "PDF export",
        "highlight": "Charts",
        "highlight_start": 0,
        "highlight_end": 6,
        "importance": "nice",
        "created_at": None,
    }
    missing = viewer_client.get(f"{API}/424242")
    assert missing.status_code == 404 and "not found" in str(missing.json()["detail"])


def test_literal_paths_are_not_taken_for_ids(viewer_client: Client, session: Session) -> None:
    assert viewer_client.get(f"{API}/views").json() == {"items": [], "total": 0}
    assert viewer_client.get(f"{API}/facets").status_code == 200
    assert viewer_client.get(f"{API}/not-a-route").status_code == 404  # neither an id nor a known path


def test_facets_over_the_api(viewer_client: Client, session: Session) -> None:
    seed(session, 12)
    body = viewer_client.get(API + "/facets", params={"source": "email"}).json()
    assert {v["value"]: v["count"] for v in body["status"]} == {"new": 4, "triaged": 0, "linked": 0, "archived": 0}
    assert {v["value"]: v["count"] for v in body["source"] if v["count"]} == {"email": 4, "widget": 4}
    assert body["skipped"] == []


def test_views_list_mine_and_shared(client: Client, session: Session) -> None:
    ann, bob = make_user("member"), make_user("viewer")
    views.create_view(session, actor_for(ann), views.SavedViewIn(name="Ann private", query="source=email"))
    views.create_view(session, actor_for(ann), views.SavedViewIn(name="Team", query="status=all", shared=True))
    token = make_token(bob, scope="read")
    body = client.get(f"{API}/views", headers={"Authorization": f"Bearer {token}"}).json()
    assert [v["name"] for v in body["items"]] == ["Team"] and body["items"][0]["owner_name"] == ann.email
    mine = client.get(f"{API}/views", headers={"Authorization": f"Bearer {make_token(ann, scope='read')}"}).json()
    assert [v["name"] for v in mine["items"]] == ["Ann private", "Team"]
    private_id = mine["items"][0]["id"]
    assert client.get(f"{API}/views/{private_id}", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_assignee_me_is_the_caller(client: Client, session: Session) -> None:
    ann = make_user("member")
    make_item(session, text="Mine", assignee_id=ann.id)
    make_item(session, text="Nobody's")
    body = client.get(API, params={"assignee": "me"}, headers={"Authorization": f"Bearer {make_token(ann, 'read')}"})
    assert [i["text"] for i in body.json()["items"]] == ["Mine"]


def test_anonymous_callers_are_refused(client: Client) -> None:
    for path in (API, f"{API}/1", f"{API}/views", f"{API}/facets"):
        assert client.get(path).status_code == 401


def test_api_statements_do_not_grow_with_the_page(viewer_client: Client, session: Session) -> None:
    seed(session, 30)
    counts = {}
    for per_page in (5, 30):
        viewer_client.get(API, params={"per_page": per_page, "status": "all"})
        with count_statements() as statements:
            assert viewer_client.get(API, params={"per_page": per_page, "status": "all"}).status_code == 200
        counts[per_page] = len(statements)
    assert counts[5] == counts[30] <= 8, counts
