"""Customers pages and JSON API: filters, bad input, permissions, exports and statement counts."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service
from prodops.domains.customers.models import Account, Person, Segment
from prodops.domains.customers.schemas import SegmentIn
from prodops.platform.audit import AuditRecord
from tests.conftest import Client, count_statements, make_token, make_user
from tests.customers.conftest import ACTOR, audit_count, make_account, make_person

API = "/api/v1/customers"


def seed_accounts(session: Session, n: int = 60) -> None:
    owners = [make_user("member").id for _ in range(3)]
    rows = [
        {
            "external_id": f"A{i:03d}",
            "name": f"Account {i:03d}",
            "domain": f"a{i}.example",
            "plan": ["Free", "Starter", "Growth", "Enterprise"][i % 4],
            "arr": float(i * 1000),
            "segment": "SMB" if i < 40 else "Enterprise",
            "region": ["NA", "EMEA"][i % 2],
            "lifecycle_stage": "at_risk" if i % 5 == 0 else "active",
            "owner_id": owners[i % 3],
            "attributes": {"industry": "Fintech" if i % 3 == 0 else "Retail"},
        }
        for i in range(n)
    ]
    service.upsert_accounts(session, ACTOR, rows)
    service.upsert_people(session, ACTOR, [{"email": f"p{i}@a{i % n}.example"} for i in range(n * 2)])


# --- JSON API: lists ------------------------------------------------------------------------


def test_api_list_filters_sort_search_and_pages(viewer_client: Client, session: Session) -> None:
    seed_accounts(session)
    body = viewer_client.get(f"{API}/accounts", params={"per_page": 10}).json()
    assert body["total"] == 60
    assert len(body["items"]) == 10
    assert body["items"][0]["name"] == "Account 000"
    assert body["items"][0]["people_count"] == 2
    assert body["items"][0]["owner_name"]
    body = viewer_client.get(
        f"{API}/accounts", params={"plan": "Growth", "region": "NA", "sort": "-arr", "per_page": 3, "page": 2}
    ).json()
    assert body["total"] == 15
    assert [a["arr"] for a in body["items"]] == [46000.0, 42000.0, 38000.0]
    body = viewer_client.get(f"{API}/accounts", params={"q": "account 05", "stage": "at_risk"}).json()
    assert [a["name"] for a in body["items"]] == ["Account 050", "Account 055"]
    body = viewer_client.get(
        f"{API}/accounts", params={"arr_min": 10000, "arr_max": 12000, "attr": "industry=Fintech"}
    ).json()
    assert [a["name"] for a in body["items"]] == ["Account 012"]
    body = viewer_client.get(f"{API}/people", params={"q": "p1@", "per_page": 5}).json()
    assert body["total"] == 1
    assert body["items"][0]["account_name"] == "Account 001"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "password"}, "sort"),
        ({"per_page": 100000}, "per_page"),
        ({"page": 0}, "page"),
        ({"arr_min": "lots"}, "arr_min"),
        ({"stage": "sleepy"}, "stage"),
        ({"colour": "red"}, "colour"),
        ({"segment_id": 424242}, "segment_id"),
    ],
)
def test_api_list_bad_parameters_name_the_field(viewer_client: Client, params: dict[str, Any], field: str) -> None:
    response = viewer_client.get(f"{API}/accounts", params=params)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"])


# --- JSON API: writes -----------------------------------------------------------------------


def test_api_crud_round_trip(member_client: Client, session: Session) -> None:
    created = member_client.post(
        f"{API}/accounts", json={"name": "Acme", "domain": "acme.example", "arr": 1200, "attributes": {"tier": "gold"}}
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["domain"] == "acme.example"
    patched = member_client.patch(f"{API}/accounts/{account['id']}", json={"plan": "Growth", "arr": 2400})
    assert patched.status_code == 200
    assert patched.json()["plan"] == "Growth"
    rec = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_type == "account", AuditRecord.action == "update")
    ).one()
    assert rec.changes == {"plan": [None, "Growth"], "arr": [1200.0, 2400.0]}
    assert rec.actor_label == member_client.user.email  # type: ignore[union-attr]

    person = member_client.post(f"{API}/people", json={"email": "Ann@Acme.example", "name": "Ann"})
    assert person.status_code == 201
    assert person.json()["account_id"] == account["id"]
    assert member_client.get(f"{API}/people/{person.json()['id']}").json()["account_name"] == "Acme"

    segment = member_client.post(
        f"{API}/segments", json={"name": "Growth", "filters": [{"field": "plan", "op": "eq", "value": "Growth"}]}
    )
    assert segment.status_code == 201
    assert segment.json()["member_count"] == 1
    members = member_client.get(f"{API}/segments/{segment.json()['id']}/members").json()
    assert (members["entity"], members["total"], members["items"][0]["name"]) == ("accounts", 1, "Acme")
    assert (
        member_client.patch(f"{API}/segments/{segment.json()['id']}", json={"name": "Growers"}).json()["name"]
        == "Growers"
    )

    assert member_client.delete(f"{API}/segments/{segment.json()['id']}").status_code == 204
    assert member_client.delete(f"{API}/people/{person.json()['id']}").status_code == 204
    assert member_client.delete(f"{API}/accounts/{account['id']}").status_code == 204
    assert member_client.get(f"{API}/accounts/{account['id']}").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("accounts", {"name": "X", "arr": "lots"}, "arr"),
        ("accounts", {"name": "X", "arr": -1}, "arr"),
        ("accounts", {"name": "X", "colour": "red"}, "colour"),
        ("accounts", {"name": "X", "domain": "not a domain"}, "domain"),
        ("accounts", {"name": "X", "lifecycle_stage": "sleepy"}, "lifecycle_stage"),
        ("accounts", {"name": "X", "attributes": {"a": {"nested": 1}}}, "attributes"),
        ("accounts", {"name": "X", "attributes": {'bad"key': 1}}, "attributes"),
        ("accounts", {"arr": 5}, "name"),
        ("accounts", {"name": "X", "owner_id": 999999}, "owner_id"),
        ("people", {"email": "nope"}, "email"),
        ("people", {"email": "a@b.example", "account_id": 999999}, "account_id"),
        ("segments", {"name": "S", "filters": [{"field": "arr", "op": "gt", "value": "x"}]}, "filters.0.value"),
        ("segments", {"name": "S", "filters": [{"field": "arr", "op": "between", "value": 1}]}, "op"),
        ("segments", {"name": "S", "entity": "robots"}, "entity"),
    ],
)
def test_api_bad_input_is_422_naming_the_field_and_writes_nothing(
    member_client: Client, session: Session, path: str, body: dict[str, Any], field: str
) -> None:
    response = member_client.post(f"{API}/{path}", json=body)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"])
    for model in (Account, Person, Segment):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert audit_count(session, "account") == 0


def test_api_patch_rejects_nulls_and_conflicts(member_client: Client, session: Session) -> None:
    a = make_account(session, domain="one.example")
    b = make_account(session, domain="two.example")
    response = member_client.patch(f"{API}/accounts/{a.id}", json={"name": None})
    assert response.status_code == 422
    assert "name" in str(response.json()["detail"])
    response = member_client.patch(f"{API}/accounts/{b.id}", json={"domain": "one.example"})
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "domain"]
    assert member_client.patch(f"{API}/accounts/999999", json={"plan": "x"}).status_code == 404


def test_malformed_json_is_refused(member_client: Client) -> None:
    response = member_client.post(f"{API}/accounts", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


# --- permissions ----------------------------------------------------------------------------


def test_viewers_read_but_cannot_write(viewer_client: Client, session: Session) -> None:
    account = make_account(session)
    person = make_person(session)
    assert viewer_client.get(f"{API}/accounts/{account.id}").status_code == 200
    assert viewer_client.get(f"/customers/accounts/{account.id}").status_code == 200
    assert viewer_client.post(f"{API}/accounts", json={"name": "X"}).status_code == 403
    assert viewer_client.patch(f"{API}/accounts/{account.id}", json={"plan": "X"}).status_code == 403
    assert viewer_client.delete(f"{API}/accounts/{account.id}").status_code == 403
    assert viewer_client.delete(f"{API}/people/{person.id}").status_code == 403
    assert viewer_client.post(f"{API}/segments", json={"name": "X"}).status_code == 403
    assert viewer_client.form(f"/customers/accounts/{account.id}/delete").status_code == 403
    assert viewer_client.form("/customers/accounts/new", {"name": "X"}).status_code == 403
    assert viewer_client.get("/customers/accounts/new").status_code == 403
    page = viewer_client.get("/customers/accounts").text
    assert "New account" not in page
    assert 'name="ids"' not in page
    assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_anonymous_and_read_tokens(client: Client, session: Session) -> None:
    account = make_account(session)
    assert client.get(f"{API}/accounts").status_code == 401
    assert client.get("/customers/accounts", follow_redirects=False).status_code == 303
    member = make_user("member")
    read = make_token(member, "read")
    write = make_token(member, "write")
    assert client.get(f"{API}/accounts", headers={"Authorization": f"Bearer {read}"}).status_code == 200
    assert (
        client.patch(
            f"{API}/accounts/{account.id}", json={"plan": "X"}, headers={"Authorization": f"Bearer {read}"}
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"{API}/accounts/{account.id}", json={"plan": "X"}, headers={"Authorization": f"Bearer {write}"}
        ).status_code
        == 200
    )


# --- HTML pages -----------------------------------------------------------------------------


def test_pages_render(member_client: Client, session: Session) -> None:
    seed_accounts(session, 12)
    account = session.scalars(select(Account).order_by(Account.id)).first()
    assert account is not None
    person = session.scalars(select(Person).order_by(Person.id)).first()
    assert person is not None
    segment = service.create_segment(
        session,
        ACTOR,
        SegmentIn(name="Fintech", filters=[{"field": "attributes.industry", "op": "eq", "value": "Fintech"}]),
    )  # type: ignore[list-item]
    people_segment = service.create_segment(
        session,
        ACTOR,
        SegmentIn(
            name="At Enterprise", entity="people", filters=[{"field": "account.segment", "op": "eq", "value": "SMB"}]
        ),
    )  # type: ignore[list-item]
    for path in (
        "/customers/accounts",
        "/customers/accounts?plan=Growth&sort=-arr&stage=active",
        f"/customers/accounts?segment_id={segment.id}",
        f"/customers/accounts/{account.id}",
        "/customers/accounts/new",
        f"/customers/accounts/{account.id}/edit",
        "/customers/people",
        f"/customers/people?account_id={account.id}",
        f"/customers/people/{person.id}",
        "/customers/people/new",
        f"/customers/people/{person.id}/edit",
        "/customers/segments",
        f"/customers/segments/{segment.id}",
        f"/customers/segments/{people_segment.id}",
        "/customers/segments/new",
        f"/customers/segments/{segment.id}/edit",
    ):
        response = member_client.get(path)
        assert response.status_code == 200, (path, response.text[:800])
        assert "<h1>" in response.text
    page = member_client.get("/customers/accounts?plan=Growth").text
    assert "Plan: Growth" in page  # the active filter shows as a chip
    assert 'href="/customers/accounts.csv?plan=Growth"' in page
    partial = member_client.get("/customers/accounts?plan=Growth", headers={"HX-Request": "true"}).text
    assert "<html" not in partial
    assert "Account 002" in partial
    chart = member_client.get("/customers/accounts/chart.json?region=EMEA").json()
    assert chart["mark"]["type"] == "bar" if isinstance(chart["mark"], dict) else chart["mark"] == "bar"
    assert {d["segment"] for d in chart["data"]["values"]} == {"SMB"}


def test_empty_list_offers_an_import(member_client: Client) -> None:
    page = member_client.get("/customers/accounts").text
    assert "No accounts yet" in page
    assert 'href="/customers/import?entity=accounts"' in page
    assert "Nobody matches" in member_client.get("/customers/people?q=zzz").text


def test_empty_list_for_a_viewer_offers_no_import(viewer_client: Client) -> None:
    page = viewer_client.get("/customers/accounts").text
    assert "No accounts yet" in page
    assert "/customers/import" not in page


def test_user_text_is_escaped(member_client: Client, session: Session) -> None:
    account = make_account(session, name="<script>alert(1)</script>", attributes={"note": "<b>bold</b>"})
    page = member_client.get(f"/customers/accounts/{account.id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "<b>bold</b>" not in page


def test_form_errors_are_inline_and_keep_values(member_client: Client, session: Session) -> None:
    response = member_client.form(
        "/customers/accounts/new",
        {"name": "Acme", "domain": "not a domain", "arr": "lots", "plan": "Growth", "attributes": "industry = Retail"},
    )
    assert response.status_code == 422
    assert 'id="e-domain"' in response.text
    assert 'id="e-arr"' in response.text
    assert 'value="Growth"' in response.text
    assert "industry = Retail" in response.text
    response = member_client.form("/customers/accounts/new", {"name": "Acme", "attributes": "just words"})
    assert response.status_code == 422
    assert 'id="e-attributes"' in response.text
    assert session.scalar(select(func.count()).select_from(Account)) == 0

    response = member_client.form(
        "/customers/accounts/new",
        {
            "name": "Acme",
            "domain": "acme.example",
            "arr": "12,500",
            "lifecycle_stage": "trial",
            "attributes": "seats = 12\nbeta = true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session.rollback()  # see what the request committed
    account = session.scalars(select(Account)).one()
    assert (account.arr, account.lifecycle_stage, account.attributes) == (12500.0, "trial", {"seats": 12, "beta": True})
    response = member_client.form(
        f"/customers/accounts/{account.id}/edit",
        {
            "name": "Acme Corp",
            "domain": "acme.example",
            "arr": "13000",
            "lifecycle_stage": "active",
            "attributes": "seats = 12\nbeta = true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = member_client.get(response.headers["location"]).text
    assert "Acme Corp" in page
    assert "13000" in page.replace(",", "") or "13K" in page
    assert "name" in page and "Acme → Acme Corp" in page  # history shows before → after

    person = member_client.form(
        "/customers/people/new", {"email": "ann@acme.example", "name": "Ann"}, follow_redirects=False
    )
    assert person.status_code == 303
    session.rollback()
    assert session.scalars(select(Person.account_id)).one() == account.id
    dup = member_client.form("/customers/people/new", {"email": "ann@acme.example"})
    assert dup.status_code == 422
    assert 'id="e-email"' in dup.text

    delete = member_client.form(f"/customers/accounts/{account.id}/delete", follow_redirects=False)
    assert delete.status_code == 303
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Account)) == 0


def test_segment_form(member_client: Client, session: Session) -> None:
    seed_accounts(session, 12)
    bad = member_client.form(
        "/customers/segments/new",
        {
            "name": "Big",
            "entity": "accounts",
            "cond_field": ["arr", "nope"],
            "cond_op": ["gte", "eq"],
            "cond_value": ["lots", "x"],
        },
    )
    assert bad.status_code == 422
    assert 'id="e-cond-0"' in bad.text and 'id="e-cond-1"' in bad.text
    assert 'value="lots"' in bad.text
    good = member_client.form(
        "/customers/segments/new",
        {
            "name": "Big EMEA",
            "entity": "accounts",
            "cond_field": ["arr", "region", "plan", ""],
            "cond_op": ["gte", "eq", "in", "eq"],
            "cond_value": ["5,000", "EMEA", "Growth, Enterprise", ""],
        },
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    session.rollback()
    segment = session.scalars(select(Segment)).one()
    assert segment.filters == [
        {"field": "arr", "op": "gte", "value": 5000},
        {"field": "region", "op": "eq", "value": "EMEA"},
        {"field": "plan", "op": "in", "value": ["Growth", "Enterprise"]},
    ]
    page = member_client.get(good.headers["location"]).text
    assert "Account 007" in page and "Account 003" not in page


def test_bulk_actions(member_client: Client, session: Session) -> None:
    a, b, c = (make_account(session) for _ in range(3))
    response = member_client.form(
        "/customers/accounts/bulk",
        {"ids": [a.id, b.id], "action": "stage", "lifecycle_stage": "at_risk"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    session.rollback()
    stages = dict(session.execute(select(Account.id, Account.lifecycle_stage)).all())  # type: ignore[arg-type]
    assert stages == {a.id: "at_risk", b.id: "at_risk", c.id: "active"}
    member_client.form("/customers/accounts/bulk", {"ids": [c.id], "action": "delete"})
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Account)) == 2


# --- exports --------------------------------------------------------------------------------


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_export_equals_the_filtered_rows(viewer_client: Client, session: Session) -> None:
    seed_accounts(session)
    params = {"plan": "Growth", "region": "NA", "sort": "-arr"}
    api = viewer_client.get(f"{API}/accounts", params={**params, "per_page": 500}).json()
    response = viewer_client.get("/customers/accounts.csv", params={**params, "page": 2, "per_page": 5})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _csv(response.content.decode("utf-8"))
    assert [r["name"] for r in rows] == [a["name"] for a in api["items"]]
    assert len(rows) == api["total"] == 15
    assert rows[0]["arr"] == "58000"
    assert rows[0]["attributes.industry"] in {"Fintech", "Retail"}
    people = _csv(viewer_client.get("/customers/people.csv", params={"q": "p1", "sort": "-email"}).text)
    listed = viewer_client.get(f"{API}/people", params={"q": "p1", "sort": "-email", "per_page": 500}).json()
    assert [p["email"] for p in people] == [p["email"] for p in listed["items"]]
    assert len(people) == listed["total"] == 31  # p1, p10–p19, p100–p119


def test_csv_neutralises_formulas(viewer_client: Client, session: Session) -> None:
    make_account(session, name='=HYPERLINK("http://evil")')
    rows = _csv(viewer_client.get("/customers/accounts.csv").text)
    assert rows[0]["name"].startswith("'=")


# --- statement counts -----------------------------------------------------------------------


def test_list_statements_do_not_grow_with_page_size(member_client: Client, session: Session) -> None:
    seed_accounts(session, 60)
    counts = {}
    for per_page in (10, 50):
        for path in ("/customers/accounts", f"{API}/accounts", "/customers/people", f"{API}/people"):
            member_client.get(path, params={"per_page": per_page})  # warm caches (templates, compiled SQL)
            with count_statements() as statements:
                response = member_client.get(
                    path, params={"per_page": per_page, "sort": "-arr" if "accounts" in path else "account"}
                )
            assert response.status_code == 200
            counts[(path, per_page)] = len(statements)
    for path in ("/customers/accounts", f"{API}/accounts", "/customers/people", f"{API}/people"):
        assert counts[(path, 10)] == counts[(path, 50)], (path, counts)
    assert counts[("/customers/accounts", 50)] <= 6, counts
    # count, page, people per account of the page (counted for the page only so deep pages stay cheap), token
    assert counts[(f"{API}/accounts", 50)] <= 4, counts
    assert counts[("/customers/people", 50)] <= 4, counts
    assert counts[(f"{API}/people", 50)] <= 3, counts


def test_detail_statements_are_bounded(member_client: Client, session: Session) -> None:
    seed_accounts(session, 5)
    account_id = session.scalars(select(Account.id)).first()
    member_client.get(f"/customers/accounts/{account_id}")
    with count_statements() as statements:
        assert member_client.get(f"/customers/accounts/{account_id}").status_code == 200
    assert len(statements) <= 4, statements
