"""The features JSON API: list shape and filters, strict input with field errors, lifecycles, merges and the
redirect of merged features, votes and subscribers, and who may call what."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from prodops.domains.features import service
from tests.conftest import Client, make_token, make_user
from tests.features.conftest import ACTOR, make_feature, make_person, make_product

API = "/api/v1/features"


def test_list_shape_filters_and_sorting(viewer_client: Client, session: Session) -> None:
    web = make_product(session, name="Web")
    a = make_feature(session, title="CSV export", product_id=web.id, area="Reports", tags=["export"])
    b = make_feature(session, title="Dark mode", status="planned", tags=["ui"])
    service.add_vote(session, ACTOR, b.id, make_person(session).id)
    body = viewer_client.get(API).json()
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["total"] == 2
    assert [f["id"] for f in body["items"]] == [b.id, a.id]
    item = body["items"][1]
    assert set(item) == {
        "id",
        "title",
        "description",
        "product_id",
        "product_name",
        "area",
        "owner_id",
        "owner_name",
        "team_id",
        "team_name",
        "tags",
        "status",
        "status_label",
        "status_kind",
        "status_changed_at",
        "release_note",
        "merged_into_id",
        "vote_count",
        "subscriber_count",
        "created_at",
        "updated_at",
    }
    assert (item["product_name"], item["status_label"], item["status_kind"]) == ("Web", "Idea", "idea")
    assert [f["id"] for f in viewer_client.get(API, params={"product_id": web.id}).json()["items"]] == [a.id]
    assert [f["id"] for f in viewer_client.get(API, params={"status": "planned"}).json()["items"]] == [b.id]
    assert [f["id"] for f in viewer_client.get(API, params={"tag": "UI"}).json()["items"]] == [b.id]
    assert [f["id"] for f in viewer_client.get(API, params={"area": "Reports"}).json()["items"]] == [a.id]
    assert [f["id"] for f in viewer_client.get(API, params={"q": "dark"}).json()["items"]] == [b.id]
    assert [f["id"] for f in viewer_client.get(API, params={"sort": "title"}).json()["items"]] == [a.id, b.id]
    paged = viewer_client.get(API, params={"per_page": 1, "page": 2, "sort": "-title"}).json()
    assert (paged["total"], [f["id"] for f in paged["items"]]) == (2, [a.id])
    blank = viewer_client.get(API, params={"product_id": "", "q": ""}).json()
    assert blank["total"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "password"}, "sort"),
        ({"per_page": 100000}, "per_page"),
        ({"page": 0}, "page"),
        ({"product_id": "mobile"}, "product_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_list_bad_parameters_name_the_field(viewer_client: Client, params: dict[str, Any], field: str) -> None:
    response = viewer_client.get(API, params=params)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "colour": "red"}, "colour"),
        ({"title": "ok", "tags": "not a list"}, "tags"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"title": "ok", "product_id": 424242}, "product_id"),
        ({"title": "ok", "owner_id": 424242}, "owner_id"),
        ({"title": "ok", "team_id": 424242}, "team_id"),
        ({"title": "ok", "status": "someday"}, "status"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(member_client: Client, body: dict[str, Any], field: str) -> None:
    response = member_client.post(API, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == ["body", field], detail
    assert member_client.get(API).json()["total"] == 0


def test_crud_status_and_history(member_client: Client, session: Session) -> None:
    created = member_client.post(
        API, json={"title": "Offline mode", "description": "Works *offline*", "tags": ["Sync", "sync"]}
    )
    assert created.status_code == 201, created.text
    feature = created.json()
    assert (feature["status"], feature["tags"]) == ("idea", ["sync"])
    patched = member_client.patch(f"{API}/{feature['id']}", json={"area": "Core", "tags": []})
    assert patched.status_code == 200
    assert (patched.json()["area"], patched.json()["tags"], patched.json()["title"]) == ("Core", [], "Offline mode")
    assert member_client.patch(f"{API}/{feature['id']}", json={"title": None}).status_code == 422
    assert member_client.patch(f"{API}/{feature['id']}", json={"votes": 3}).status_code == 422

    moved = member_client.post(f"{API}/{feature['id']}/status", json={"status": "shipped"})
    assert (moved.status_code, moved.json()["status_label"], moved.json()["status_kind"]) == (200, "Shipped", "shipped")
    bad = member_client.post(f"{API}/{feature['id']}/status", json={"status": "someday"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "status"]

    assert member_client.delete(f"{API}/{feature['id']}").status_code == 204
    assert member_client.get(f"{API}/{feature['id']}").status_code == 404


def test_lifecycle_endpoints(admin_client: Client, session: Session) -> None:
    product = make_product(session)
    default = admin_client.get(f"{API}/statuses").json()
    assert default["source"] == "default"
    assert [s["key"] for s in default["items"]][:2] == ["idea", "under_consideration"]
    saved = admin_client.put(
        f"{API}/statuses",
        params={"product_id": product.id},
        json=[{"label": "New"}, {"key": "done", "label": "Done", "kind": "shipped", "notify": True}],
    )
    assert saved.status_code == 200, saved.text
    assert [(s["key"], s["notify"]) for s in saved.json()["items"]] == [("new", False), ("done", True)]
    assert admin_client.get(f"{API}/statuses", params={"product_id": product.id}).json()["source"] == "product"
    bad = admin_client.put(f"{API}/statuses", params={"product_id": product.id}, json=[{"label": "X", "kind": "soon"}])
    assert bad.status_code == 422
    make_feature(session, product_id=product.id, status="done")
    refused = admin_client.put(f"{API}/statuses", params={"product_id": product.id}, json=[{"label": "New"}])
    assert refused.status_code == 409
    assert "1 feature is “Done”" in refused.json()["detail"][0]["msg"]
    assert admin_client.delete(f"{API}/statuses", params={"product_id": product.id}).status_code == 409


def test_merge_and_the_redirect_of_merged_features(member_client: Client, session: Session) -> None:
    source, target = make_feature(session, title="Dark mode"), make_feature(session, title="Night theme")
    person = make_person(session)
    service.add_vote(session, ACTOR, source.id, person.id)
    assert member_client.post(f"{API}/{source.id}/merge", json={"into": source.id}).status_code == 422
    assert member_client.post(f"{API}/{source.id}/merge", json={"target": target.id}).status_code == 422
    merged = member_client.post(f"{API}/{source.id}/merge", json={"into": target.id})
    assert merged.status_code == 200, merged.text
    assert (merged.json()["id"], merged.json()["vote_count"]) == (target.id, 1)

    redirect = member_client.get(f"{API}/{source.id}", follow_redirects=False)
    assert redirect.status_code == 308
    assert redirect.headers["location"] == f"{API}/{target.id}"
    assert redirect.json()["merged_into_id"] == target.id
    followed = member_client.get(f"{API}/{source.id}")
    assert (followed.status_code, followed.json()["id"]) == (200, target.id)
    conflict = member_client.patch(f"{API}/{source.id}", json={"title": "x"})
    assert conflict.status_code == 409
    listed = member_client.get(API, params={"include_merged": "true", "sort": "title"}).json()
    assert [(f["id"], f["merged_into_id"]) for f in listed["items"]] == [(source.id, target.id), (target.id, None)]


def test_votes_subscribers_and_choices(member_client: Client, session: Session) -> None:
    feature = make_feature(session, title="Dark mode")
    ann = make_person(session, name="Ann")
    vote = member_client.post(f"{API}/{feature.id}/votes", json={"person_id": ann.id})
    assert vote.status_code == 201, vote.text
    assert (vote.json()["person_name"], vote.json()["cast_by_id"]) == ("Ann", member_client.user.id)  # type: ignore[union-attr]
    assert member_client.post(f"{API}/{feature.id}/votes", json={"person_id": ann.id}).status_code == 201
    bad = member_client.post(f"{API}/{feature.id}/votes", json={"person_id": 424242})
    assert (bad.status_code, bad.json()["detail"][0]["loc"]) == (422, ["body", "person_id"])
    votes = member_client.get(f"{API}/{feature.id}/votes").json()
    assert (votes["total"], votes["items"][0]["person_id"]) == (1, ann.id)
    assert member_client.post(f"{API}/{feature.id}/subscribers", json={"person_id": ann.id}).status_code == 201
    assert member_client.get(f"{API}/{feature.id}/subscribers").json()["total"] == 1
    assert member_client.delete(f"{API}/{feature.id}/votes/{ann.id}").status_code == 204
    assert member_client.delete(f"{API}/{feature.id}/subscribers/{ann.id}").status_code == 204
    assert member_client.get(f"{API}/{feature.id}").json()["vote_count"] == 0
    choices = member_client.get(f"{API}/choices", params={"q": "DARK"}).json()
    assert choices == [{"id": feature.id, "title": "Dark mode", "status_label": "Idea"}]


def test_who_may_call_what(client: Client, session: Session) -> None:
    feature = make_feature(session)
    read = make_token(make_user("admin"), scope="read")
    headers = {"Authorization": f"Bearer {read}"}
    assert client.get(API, headers=headers).status_code == 200
    assert client.post(API, json={"title": "x"}, headers=headers).status_code == 403
    viewer = {"Authorization": f"Bearer {make_token(make_user('viewer'), scope='read')}"}
    assert client.get(f"{API}/{feature.id}", headers=viewer).status_code == 200
    assert client.post(API, json={"title": "x"}, headers=viewer).status_code == 403
    assert client.post(f"{API}/{feature.id}/status", json={"status": "planned"}, headers=viewer).status_code == 403
    member = {"Authorization": f"Bearer {make_token(make_user('member'))}"}
    assert client.post(API, json={"title": "x"}, headers=member).status_code == 201
    assert client.put(f"{API}/statuses", json=[{"label": "New"}], headers=member).status_code == 403
    assert client.get(API).status_code == 401


def test_viewer_session_cannot_write(viewer_client: Client, session: Session) -> None:
    feature = make_feature(session)
    assert viewer_client.get(f"{API}/{feature.id}").status_code == 200
    assert viewer_client.post(API, json={"title": "x"}).status_code == 403
    assert viewer_client.patch(f"{API}/{feature.id}", json={"title": "x"}).status_code == 403
    assert viewer_client.post(f"{API}/{feature.id}/merge", json={"into": feature.id}).status_code == 403
    assert viewer_client.put(f"{API}/statuses", json=[{"label": "New"}]).status_code == 403
