"""Customers use cases: audited writes, events after commit, and idempotent bulk upserts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service
from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import (
    AccountIn,
    AccountUpdate,
    PersonIn,
    PersonUpdate,
    RowsRejected,
    SegmentIn,
    SegmentUpdate,
    UpsertResult,
)
from prodops.platform import events
from prodops.platform.audit import AuditRecord
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from tests.conftest import make_user
from tests.customers.conftest import ACTOR, audit_count, make_account, make_person


@pytest.fixture
def received() -> Iterator[list[events.Event]]:
    seen: list[events.Event] = []

    def handler(ev: events.Event) -> None:
        seen.append(ev)

    events.subscribe("customers.*")(handler)
    yield seen
    events._subscribers["customers.*"].remove(handler)


def test_create_update_delete_account_is_audited(session: Session, received: list[events.Event]) -> None:
    owner = make_user("member")
    account = service.create_account(
        session,
        ACTOR,
        AccountIn(
            name="Acme",
            domain="https://www.Acme.example/about",
            arr=1200,
            plan="Starter",
            owner_id=owner.id,
            attributes={"industry": "Retail"},
        ),
    )
    assert account.domain == "acme.example"
    assert account.owner_name == owner.email
    updated = service.update_account(
        session,
        ACTOR,
        account.id,
        AccountUpdate(arr=50_000, plan="Growth", attributes={"industry": "Fintech", "seats": 12}),
    )
    assert updated.arr == 50_000

    records = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_type == "account").order_by(AuditRecord.id)
    ).all()
    assert [r.action for r in records] == ["create", "update"]
    assert records[0].changes["name"] == [None, "Acme"]
    assert records[1].changes == {
        "arr": [1200.0, 50000.0],
        "plan": ["Starter", "Growth"],
        "attributes.industry": ["Retail", "Fintech"],
        "attributes.seats": [None, 12],
    }
    assert records[1].actor_label == "test"
    assert [e.name for e in received] == ["customers.account.created", "customers.account.updated"]
    assert received[1].payload["changes"]["plan"] == ["Starter", "Growth"]

    # An update that changes nothing records nothing.
    service.update_account(session, ACTOR, account.id, AccountUpdate(plan="Growth"))
    assert audit_count(session, "account") == 2

    service.delete_account(session, ACTOR, account.id)
    assert audit_count(session, "account") == 3
    with pytest.raises(NotFound):
        service.get_account(session, account.id)
    assert received[-1].name == "customers.account.deleted"


def test_unique_fields_conflict(session: Session) -> None:
    make_account(session, domain="one.example", external_id="crm-1")
    with pytest.raises(Conflict) as err:
        service.create_account(session, ACTOR, AccountIn(name="Other", domain="ONE.example"))
    assert err.value.field == "domain"
    with pytest.raises(Conflict) as err:
        service.create_account(session, ACTOR, AccountIn(name="Other", external_id="crm-1"))
    assert err.value.field == "external_id"
    second = make_account(session, domain="two.example")
    with pytest.raises(Conflict):
        service.update_account(session, ACTOR, second.id, AccountUpdate(domain="one.example"))
    with pytest.raises(ValidationFailed) as err:
        service.create_account(session, ACTOR, AccountIn(name="Owned", owner_id=999_999))
    assert err.value.field == "owner_id"
    assert session.scalar(select(func.count()).select_from(Account)) == 2


def test_rolled_back_write_sends_no_event(session: Session, received: list[events.Event]) -> None:
    make_account(session, domain="taken.example")
    received.clear()
    with pytest.raises(Conflict):
        service.create_account(session, ACTOR, AccountIn(name="Dup", domain="taken.example"))
    assert received == []


def test_people_join_the_account_of_their_domain(session: Session) -> None:
    acme = make_account(session, domain="acme.example")
    ann = make_person(session, email="Ann@ACME.example", name="Ann")
    assert ann.email == "ann@acme.example"
    assert ann.account_id == acme.id
    assert ann.account_name == acme.name
    loner = service.create_person(session, ACTOR, PersonIn(email="bob@acme.example", account_id=None))
    assert loner.account_id is None  # an explicit "no account" is respected
    with pytest.raises(Conflict):
        service.create_person(session, ACTOR, PersonIn(email="ann@acme.example"))
    same = service.ensure_person(session, ACTOR, "ANN@acme.example")
    assert same.id == ann.id
    new = service.ensure_person(session, ACTOR, "cara@acme.example", "Cara")
    assert new.account_id == acme.id
    moved = service.update_person(session, ACTOR, ann.id, PersonUpdate(account_id=None, title="CTO"))
    assert moved.account_id is None
    rec = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_type == "person", AuditRecord.action == "update")
    ).one()
    assert rec.changes == {"account_id": [acme.id, None], "title": ["Engineer", "CTO"]}


def test_deleting_an_account_keeps_its_people(session: Session) -> None:
    acme = make_account(session, domain="acme.example")
    ann = make_person(session, email="ann@acme.example")
    service.delete_account(session, ACTOR, acme.id)
    assert service.get_person(session, ann.id).account_id is None
    rec = session.scalars(select(AuditRecord).where(AuditRecord.action == "delete")).one()
    assert rec.changes["people_detached"] == [1, 0]


def test_segment_lifecycle(session: Session) -> None:
    make_account(session, plan="Growth", arr=100)
    segment = service.create_segment(
        session, ACTOR, SegmentIn(name="Growth", filters=[{"field": "plan", "op": "eq", "value": "Growth"}])
    )  # type: ignore[list-item]
    assert segment.member_count == 1
    with pytest.raises(Conflict):
        service.create_segment(session, ACTOR, SegmentIn(name="Growth"))
    changed = service.update_segment(
        session, ACTOR, segment.id, SegmentUpdate(filters=[{"field": "arr", "op": "gt", "value": 1000}])
    )  # type: ignore[list-item]
    assert changed.member_count == 0
    rec = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_type == "segment", AuditRecord.action == "update")
    ).one()
    assert rec.changes["filters"][0] == [{"field": "plan", "op": "eq", "value": "Growth"}]
    # Switching a segment to people re-checks its conditions against people's fields.
    with pytest.raises(ValidationFailed):
        service.update_segment(session, ACTOR, segment.id, SegmentUpdate(entity="people"))
    service.delete_segment(session, ACTOR, segment.id)
    assert service.list_segments(session) == []


# --- bulk upserts ---------------------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {
        "external_id": "crm-1",
        "name": "Acme",
        "domain": "acme.example",
        "plan": "Growth",
        "arr": 12000,
        "attributes": {"industry": "Retail"},
    },
    {
        "external_id": "crm-2",
        "name": "Globex",
        "domain": "globex.example",
        "plan": "Enterprise",
        "arr": 250000.5,
        "lifecycle_stage": "at_risk",
    },
    {"name": "Initech", "domain": "initech.example", "region": "EMEA"},
    {"name": "Hooli"},
]


def test_upsert_twice_changes_nothing_the_second_time(session: Session, received: list[events.Event]) -> None:
    first = service.upsert_accounts(session, ACTOR, ROWS)
    assert first == UpsertResult(created=4, updated=0, unchanged=0)
    # One event for the whole batch (webhooks get one delivery, not one per row), listing the new ids.
    assert [e.name for e in received] == ["customers.import.completed"]
    assert received[0].payload["entity"] == "accounts"
    assert len(received[0].payload["created_ids"]) == 4
    audits = audit_count(session)
    received.clear()
    again = service.upsert_accounts(session, ACTOR, [dict(r) for r in ROWS])
    assert again == UpsertResult(created=0, updated=0, unchanged=4)
    assert audit_count(session) == audits
    assert received == []
    assert session.scalar(select(func.count()).select_from(Account)) == 4


def test_upsert_updates_only_given_fields_and_merges_attributes(session: Session) -> None:
    service.upsert_accounts(session, ACTOR, ROWS)
    result = service.upsert_accounts(
        session,
        ACTOR,
        [
            {"external_id": "crm-1", "arr": 15000, "attributes": {"seats": 30}},  # matched by external id
            {"domain": "initech.example", "plan": "Starter"},  # matched by domain
            {"name": "Hooli", "attributes": {"industry": "Search"}},  # matched by name (no key at all)
            {"external_id": "crm-2", "attributes": {"nothing": None}},  # removing an absent key changes nothing
        ],
    )
    assert result == UpsertResult(created=0, updated=3, unchanged=1)
    acme = session.scalars(select(Account).where(Account.external_id == "crm-1")).one()
    session.refresh(acme)
    assert (acme.arr, acme.plan, acme.attributes) == (15000.0, "Growth", {"industry": "Retail", "seats": 30})
    rec = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_id == str(acme.id), AuditRecord.action == "update")
    ).one()
    assert rec.changes == {"arr": [12000.0, 15000.0], "attributes.seats": [None, 30]}
    # A domain row can adopt an external id; an empty attribute value removes the key.
    service.upsert_accounts(
        session, ACTOR, [{"domain": "initech.example", "external_id": "crm-3", "attributes": {"x": 1}}]
    )
    service.upsert_accounts(session, ACTOR, [{"external_id": "crm-3", "attributes": {"x": ""}}])
    initech = session.scalars(select(Account).where(Account.domain == "initech.example")).one()
    session.refresh(initech)
    assert (initech.external_id, initech.attributes) == ("crm-3", {})


def test_upsert_refuses_the_whole_file_when_one_row_is_bad(session: Session) -> None:
    owner = make_user("member", email="owner@corp.example")
    service.upsert_accounts(session, ACTOR, ROWS[:2])
    before = audit_count(session)
    rows = [
        {"external_id": "new-1", "name": "Fine", "owner_email": "OWNER@corp.example"},
        {"external_id": "new-2", "arr": -5, "name": "Negative"},
        {"external_id": "new-3"},  # a new account needs a name
        {"external_id": "new-4", "name": "Clash", "domain": "acme.example"},  # acme.example is crm-1's
        {"external_id": "new-1", "name": "Twice"},  # same key as row 1
        {"external_id": "new-6", "name": "Ghost owner", "owner_email": "nobody@corp.example"},
        {"external_id": "new-7", "name": "Typo", "colour": "red"},
    ]
    with pytest.raises(RowsRejected) as err:
        service.upsert_accounts(session, ACTOR, rows, row_numbers=range(2, 9))
    problems = {(p.row, p.field) for p in err.value.rows}
    assert problems == {(3, "arr"), (4, "name"), (5, "domain"), (6, None), (7, "owner_email"), (8, "colour")}
    assert session.scalar(select(func.count()).select_from(Account)) == 2
    assert audit_count(session) == before
    assert err.value.as_detail()[0]["loc"] == ["rows", 3, "arr"]
    ok = service.upsert_accounts(session, ACTOR, rows[:1])
    assert ok.created == 1
    assert session.scalars(select(Account.owner_id).where(Account.external_id == "new-1")).one() == owner.id


def test_dry_run_reports_without_writing(session: Session) -> None:
    result = service.upsert_accounts(session, ACTOR, ROWS, dry_run=True)
    assert result.created == 4
    assert session.scalar(select(func.count()).select_from(Account)) == 0
    assert audit_count(session) == 0


def test_upsert_people_is_idempotent_and_links_accounts(session: Session) -> None:
    service.upsert_accounts(session, ACTOR, ROWS)
    rows: list[dict[str, Any]] = [
        {"email": "ann@acme.example", "name": "Ann", "title": "CTO"},  # account from the e-mail domain
        {"email": "BOB@elsewhere.example", "name": "Bob", "account_external_id": "crm-2"},
        {
            "email": "cy@home.example",
            "external_id": "p-3",
            "account_domain": "initech.example",
            "attributes": {"role": "admin"},
        },
        {"email": "dee@nowhere.example"},
    ]
    assert service.upsert_people(session, ACTOR, rows) == UpsertResult(created=4)
    audits = audit_count(session)
    assert service.upsert_people(session, ACTOR, rows) == UpsertResult(unchanged=4)
    assert audit_count(session) == audits
    people = {p.email: p for p in session.scalars(select(Person))}
    accounts = {a.external_id or a.domain: a.id for a in session.scalars(select(Account))}
    assert people["ann@acme.example"].account_id == accounts["crm-1"]
    assert people["bob@elsewhere.example"].account_id == accounts["crm-2"]
    assert people["cy@home.example"].account_id == accounts["initech.example"]
    assert people["dee@nowhere.example"].account_id is None
    # By external id, the e-mail can change.
    assert service.upsert_people(
        session, ACTOR, [{"external_id": "p-3", "email": "cy@initech.example"}]
    ) == UpsertResult(updated=1)
    with pytest.raises(RowsRejected) as err:
        service.upsert_people(
            session,
            ACTOR,
            [
                {"email": "not-an-email"},
                {"email": "x@y.example", "account_external_id": "missing"},
                {"external_id": "p-404"},
                {"external_id": "p-3", "email": "ann@acme.example"},
            ],
        )
    assert {(p.row, p.field) for p in err.value.rows} == {
        (1, "email"),
        (2, "account_external_id"),
        (3, "email"),
        (4, "email"),
    }
