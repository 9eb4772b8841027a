"""The write side of the feedback API: capture one item or a batch (all or nothing), change, delete, link, bulk
changes, and who may call it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.platform.audit import AuditRecord
from tests.conftest import Client, login, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item

API = "/api/v1/feedback"


def _count(session: Session, model: type = FeedbackItem) -> int:
    session.rollback()  # a fresh snapshot: the server wrote in its own session
    return session.scalar(select(func.count()).select_from(model)) or 0


def _write(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.request(method, url, json=body, headers={"X-CSRF-Token": client.csrf})


def _locs(response: Any) -> list[list[Any]]:
    return [d["loc"] for d in response.json()["detail"]]


def test_post_creates_then_updates_by_source_and_external_id(member_client: Client, session: Session) -> None:
    customers.create_account(session, ACTOR, AccountIn(name="Acme", domain="acme.com"))
    body = {
        "text": "Exporting to PDF loses the charts.",
        "source": "support_ticket",
        "external_id": "T-1042",
        "person_email": "Ann@Acme.com",
        "tags": ["Export", "pdf"],
        "importance": "important",
    }
    created = _write(member_client, "POST", API, body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["source"] == "support_ticket" and item["tags"] == ["export", "pdf"] and item["status"] == "new"
    assert item["person_email"] == "ann@acme.com" and item["account_name"] == "Acme"
    triaged = _write(member_client, "PATCH", f"{API}/{item['id']}", {"status": "triaged"})
    assert triaged.status_code == 200 and triaged.json()["status"] == "triaged"

    again = _write(
        member_client, "POST", API, {**body, "text": "Exporting to PDF loses every chart.", "tags": ["charts"]}
    )
    assert again.status_code == 200, again.text
    updated = again.json()
    assert updated["id"] == item["id"] and updated["text"] == "Exporting to PDF loses every chart."
    assert updated["status"] == "triaged"  # re-sending never undoes triage
    assert updated["tags"] == ["charts", "export", "pdf"] and updated["importance"] == "important"
    assert _count(session) == 1
    other_source = _write(member_client, "POST", API, {**body, "source": "email"})
    assert other_source.status_code == 201 and other_source.json()["id"] != item["id"]


def test_post_refuses_bad_input_field_by_field(member_client: Client, session: Session) -> None:
    missing = _write(member_client, "POST", API, {"title": "no text"})
    assert missing.status_code == 422 and ["body", "text"] in _locs(missing)
    bad = _write(member_client, "POST", API, {"text": "x", "source": "fax", "importance": "huge", "colour": "red"})
    assert bad.status_code == 422
    assert {("body", "source"), ("body", "importance"), ("body", "colour")} <= {tuple(loc) for loc in _locs(bad)}
    unknown = _write(member_client, "POST", API, {"text": "x", "product_id": 999})
    assert unknown.status_code == 422 and _locs(unknown) == [["body", "product_id"]]
    domain = _write(member_client, "POST", API, {"text": "x", "account_domain": "nowhere.org"})
    assert domain.status_code == 422 and _locs(domain) == [["body", "account_domain"]]
    assert "no account has the domain" in domain.json()["detail"][0]["msg"]
    assert _count(session) == 0


def test_bulk_is_all_or_nothing_and_lists_every_bad_item(member_client: Client, session: Session) -> None:
    items = [
        {"text": "fine"},
        {"title": "no text"},
        {"text": "bad importance", "importance": "huge"},
        {"text": "fine too", "external_id": "E-1"},
    ]
    refused = _write(member_client, "POST", f"{API}/bulk", {"items": items})
    assert refused.status_code == 422
    assert ["body", "items", 1, "text"] in _locs(refused) and ["body", "items", 2, "importance"] in _locs(refused)
    # Problems only the database knows are listed for every item too, in the same shape.
    database = [
        {"text": "unknown domain", "account_domain": "nowhere.org"},
        {"text": "ok", "external_id": "E-1", "source": "survey"},
        {"text": "unknown product", "product_id": 404},
        {"text": "same key again", "external_id": "E-1", "source": "survey"},
        {"text": "unknown person", "person_id": 12345},
    ]
    refused = _write(member_client, "POST", f"{API}/bulk", {"items": database})
    assert refused.status_code == 422, refused.text
    assert _locs(refused) == [
        ["body", "items", 0, "account_domain"],
        ["body", "items", 2, "product_id"],
        ["body", "items", 3, "external_id"],
        ["body", "items", 4, "person_id"],
    ]
    assert "also item 1" in refused.json()["detail"][2]["msg"]
    assert _count(session) == 0
    audited = select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "feedback")
    assert session.scalar(audited) == 0


def test_bulk_creates_and_updates_in_input_order(member_client: Client, session: Session) -> None:
    existing = make_item(session, text="Old", source="survey", external_id="S-2")
    items = [
        {"text": "First", "source": "survey", "external_id": "S-1"},
        {"text": "Second, corrected", "source": "survey", "external_id": "S-2"},
        {"text": "Third"},
    ]
    done = _write(member_client, "POST", f"{API}/bulk", {"items": items})
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["created"], result["updated"]) == (2, 1) and result["ids"][1] == existing.id
    session.rollback()
    texts = dict(session.execute(select(FeedbackItem.id, FeedbackItem.text)).all())
    assert [texts[i] for i in result["ids"]] == ["First", "Second, corrected", "Third"]
    same = _write(member_client, "POST", f"{API}/bulk", {"items": items[:2]})
    assert (same.json()["created"], same.json()["updated"]) == (0, 0)


def test_bulk_takes_at_most_1000_items(member_client: Client, session: Session) -> None:
    too_many = _write(member_client, "POST", f"{API}/bulk", {"items": [{"text": f"n{n}"} for n in range(1001)]})
    assert too_many.status_code == 422 and _locs(too_many) == [["body", "items"]]
    empty = _write(member_client, "POST", f"{API}/bulk", {"items": []})
    assert empty.status_code == 422
    full = _write(member_client, "POST", f"{API}/bulk", {"items": [{"text": f"n{n}"} for n in range(1000)]})
    assert full.status_code == 200 and full.json()["created"] == 1000
    assert _count(session) == 1000


def test_patch_and_delete(member_client: Client, session: Session) -> None:
    item = make_item(session, text="Change me", tags=["a"])
    changed = _write(
        member_client, "PATCH", f"{API}/{item.id}", {"tags": "b, c", "importance": "critical", "area": "Sync"}
    )
    assert changed.status_code == 200
    assert changed.json()["tags"] == ["b", "c"] and changed.json()["importance"] == "critical"
    assert changed.json()["text"] == "Change me"  # only the fields sent change
    cleared = _write(member_client, "PATCH", f"{API}/{item.id}", {"importance": None})
    assert cleared.json()["importance"] is None and cleared.json()["area"] == "Sync"
    bad = _write(member_client, "PATCH", f"{API}/{item.id}", {"status": "done", "text": None})
    assert bad.status_code == 422 and {("body", "status"), ("body", "text")} == {tuple(x) for x in _locs(bad)}
    assert _write(member_client, "PATCH", f"{API}/999999", {"area": "x"}).status_code == 404
    assert _write(member_client, "DELETE", f"{API}/{item.id}").status_code == 204
    assert member_client.get(f"{API}/{item.id}").status_code == 404
    assert _write(member_client, "DELETE", f"{API}/{item.id}").status_code == 404


def test_link_and_unlink(member_client: Client, session: Session) -> None:
    item = make_item(session, text="Please add dark mode to the editor")
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Dark mode"))
    link = _write(
        member_client,
        "POST",
        f"{API}/{item.id}/links",
        {"feature_id": feature.id, "importance": "critical", "highlight_start": 11, "highlight_end": 20},
    )
    assert link.status_code == 201, link.text
    assert link.json()["highlight"] == "dark mode" and link.json()["feature_title"] == "Dark mode"
    assert member_client.get(f"{API}/{item.id}").json()["status"] == "linked"
    assert _write(member_client, "POST", f"{API}/{item.id}/links", {"feature_id": 999}).status_code == 422
    bad_range = _write(
        member_client, "POST", f"{API}/{item.id}/links", {"feature_id": feature.id, "highlight_start": 5}
    )
    assert bad_range.status_code == 422
    assert _write(member_client, "POST", f"{API}/999999/links", {"feature_id": feature.id}).status_code == 404
    gone = _write(member_client, "DELETE", f"{API}/links/{link.json()['id']}")
    assert gone.status_code == 204 and _count(session, FeedbackLink) == 0
    assert member_client.get(f"{API}/{item.id}").json()["status"] == "triaged"
    assert _write(member_client, "DELETE", f"{API}/links/{link.json()['id']}").status_code == 404


def test_bulk_change(member_client: Client, session: Session) -> None:
    a = make_item(session, text="a")
    b = make_item(session, text="b", status="archived")
    c = make_item(session, text="c")
    done = _write(
        member_client, "POST", f"{API}/bulk-change", {"ids": [a.id, b.id], "status": "archived", "add_tags": "old"}
    )
    assert done.status_code == 200 and done.json() == {"changed": 2}
    session.rollback()
    statuses = dict(session.execute(select(FeedbackItem.id, FeedbackItem.status)).all())
    assert statuses == {a.id: "archived", b.id: "archived", c.id: "new"}
    unknown = _write(member_client, "POST", f"{API}/bulk-change", {"ids": [a.id, 424242], "status": "new"})
    assert unknown.status_code == 422 and "424242" in unknown.json()["detail"][0]["msg"]
    session.rollback()
    assert session.scalar(select(FeedbackItem.status).where(FeedbackItem.id == a.id)) == "archived"


def test_read_routes_still_answer_next_to_the_writes(viewer_client: Client, session: Session) -> None:
    item = make_item(session, text="Readable")
    assert viewer_client.get(f"{API}/{item.id}").json()["text"] == "Readable"
    assert viewer_client.get(API).json()["total"] == 1
    assert viewer_client.get(f"{API}/views").status_code == 200
    assert viewer_client.get(f"{API}/facets").status_code == 200
    assert viewer_client.get(f"{API}/bulk").status_code == 405  # a write path, not an item id


# --- who may write --------------------------------------------------------------------------------

WRITES: list[tuple[str, str, Any]] = [
    ("POST", API, {"text": "x"}),
    ("POST", f"{API}/bulk", {"items": [{"text": "x"}]}),
    ("POST", f"{API}/bulk-change", {"ids": [1], "status": "archived"}),
    ("PATCH", f"{API}/{{id}}", {"area": "x"}),
    ("DELETE", f"{API}/{{id}}", None),
    ("POST", f"{API}/{{id}}/links", {"feature_id": 1}),
    ("DELETE", f"{API}/links/1", None),
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_viewers_and_read_tokens_cannot_write(
    client: Client, session: Session, method: str, url: str, body: Any
) -> None:
    item = make_item(session, text="Keep me")
    url = url.replace("{id}", str(item.id))
    assert client.request(method, url, json=body).status_code == 401
    read = make_token(make_user("admin"), scope="read")
    assert client.request(method, url, json=body, headers={"Authorization": f"Bearer {read}"}).status_code == 403
    viewer = login(client, make_user("viewer"))
    assert _write(viewer, method, url, body).status_code == 403
    assert _count(session) == 1
    session.rollback()
    assert session.scalar(select(FeedbackItem.text)) == "Keep me" and session.scalar(select(FeedbackItem.area)) is None


def test_a_write_token_writes_without_a_csrf_token(client: Client, session: Session) -> None:
    token = make_token(make_user("member"), scope="write")
    done = client.post(API, json={"text": "From a script"}, headers={"Authorization": f"Bearer {token}"})
    assert done.status_code == 201 and done.json()["source"] == "api"
    member = login(client, make_user("member"))
    no_csrf = member.post(API, json={"text": "From a page"}, headers={"X-CSRF-Token": "forged"})
    assert no_csrf.status_code == 403
    assert _count(session) == 1
