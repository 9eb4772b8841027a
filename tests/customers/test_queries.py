"""Customer reads: list filters, search, sort, pagination, facets and exports."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from prodops.domains.customers import queries, service
from prodops.domains.customers.schemas import AccountFilters, PersonFilters, SegmentIn
from prodops.platform.errors import ValidationFailed
from tests.conftest import make_user
from tests.customers.conftest import ACTOR, make_account, make_person


@pytest.fixture
def book(session: Session) -> dict[str, int]:
    owner = make_user("member", email="olivia@corp.example")
    rows = [
        ("Acme", "acme.example", "Growth", 12_000, "SMB", "EMEA", "active", owner.id, {"industry": "Retail"}),
        (
            "Globex",
            "globex.example",
            "Enterprise",
            900_000,
            "Enterprise",
            "NA",
            "at_risk",
            None,
            {"industry": "Fintech"},
        ),
        ("Initech", "initech.example", "Starter", 3_000, "SMB", "NA", "trial", owner.id, {}),
        ("Umbrella", None, "Enterprise", 150_000, "Enterprise", "EMEA", "expansion", None, {"industry": "Fintech"}),
        ("acme labs", "acmelabs.example", "Free", 0, "SMB", "APAC", "churned", None, {}),
    ]
    ids = {}
    for name, domain, plan, arr, segment, region, stage, owner_id, attrs in rows:
        ids[name] = make_account(
            session,
            name=name,
            domain=domain,
            plan=plan,
            arr=arr,
            segment=segment,
            region=region,
            lifecycle_stage=stage,
            owner_id=owner_id,
            attributes=attrs,
            external_id=f"X-{name.upper()}",
        ).id
    make_person(session, email="a@acme.example")
    make_person(session, email="b@acme.example")
    make_person(session, email="c@globex.example", name="Cy")
    return ids


def names(page: object) -> list[str]:
    return [a.name for a in page.items]  # type: ignore[attr-defined]


def test_filters_search_and_counts(session: Session, book: dict[str, int]) -> None:
    page = queries.list_accounts(session, AccountFilters())
    assert page.total == 5
    assert names(page) == ["Acme", "Globex", "Initech", "Umbrella", "acme labs"]
    by_name = {a.name: a for a in page.items}
    assert by_name["Acme"].people_count == 2
    assert by_name["Acme"].owner_name == "olivia@corp.example"
    assert by_name["Umbrella"].people_count == 0
    assert names(queries.list_accounts(session, AccountFilters(q="ACME"))) == ["Acme", "acme labs"]
    assert names(queries.list_accounts(session, AccountFilters(q="x-glob"))) == [
        "Globex"
    ]  # external id, case-insensitive
    assert names(queries.list_accounts(session, AccountFilters(plan="Enterprise", region="EMEA"))) == ["Umbrella"]
    assert names(queries.list_accounts(session, AccountFilters(stage="at_risk"))) == ["Globex"]
    assert names(queries.list_accounts(session, AccountFilters(owner_id=by_name["Acme"].owner_id))) == [
        "Acme",
        "Initech",
    ]
    assert names(queries.list_accounts(session, AccountFilters(arr_min=3_000, arr_max=150_000))) == [
        "Acme",
        "Initech",
        "Umbrella",
    ]
    assert names(queries.list_accounts(session, AccountFilters(attr="industry=Fintech"))) == ["Globex", "Umbrella"]
    assert names(queries.list_accounts(session, AccountFilters(attr="industry"))) == ["Acme", "Globex", "Umbrella"]
    with pytest.raises(ValidationFailed) as err:
        queries.list_accounts(session, AccountFilters(attr='bad"key=1'))
    assert err.value.field == "attr"


def test_saved_segment_as_a_filter(session: Session, book: dict[str, int]) -> None:
    seg = service.create_segment(
        session, ACTOR, SegmentIn(name="Big", filters=[{"field": "arr", "op": "gte", "value": 100_000}])
    )  # type: ignore[list-item]
    assert names(queries.list_accounts(session, AccountFilters(segment_id=seg.id))) == ["Globex", "Umbrella"]
    assert names(queries.list_accounts(session, AccountFilters(segment_id=seg.id, region="NA"))) == ["Globex"]
    people_seg = service.create_segment(session, ACTOR, SegmentIn(name="Ppl", entity="people"))
    with pytest.raises(ValidationFailed) as err:
        queries.list_accounts(session, AccountFilters(segment_id=people_seg.id))
    assert err.value.field == "segment_id"
    with pytest.raises(ValidationFailed):
        queries.list_accounts(session, AccountFilters(segment_id=999))
    counts = {s.name: s.member_count for s in service.list_segments(session)}
    assert counts == {"Big": 2, "Ppl": 3}


def test_sorting_and_pages(session: Session, book: dict[str, int]) -> None:
    assert names(queries.list_accounts(session, AccountFilters(sort="-arr"))) == [
        "Globex",
        "Umbrella",
        "Acme",
        "Initech",
        "acme labs",
    ]
    assert names(queries.list_accounts(session, AccountFilters(sort="people")))[-1] == "Acme"
    # Accounts without an owner sort last either way.
    assert names(queries.list_accounts(session, AccountFilters(sort="owner")))[:2] == ["Acme", "Initech"]
    assert set(names(queries.list_accounts(session, AccountFilters(sort="-owner")))[:2]) == {"Acme", "Initech"}
    first = queries.list_accounts(session, AccountFilters(sort="-arr", per_page=2))
    second = queries.list_accounts(session, AccountFilters(sort="-arr", per_page=2, page=2))
    last = queries.list_accounts(session, AccountFilters(sort="-arr", per_page=2, page=3))
    assert (first.total, first.pages, names(first), names(second), names(last)) == (
        5,
        3,
        ["Globex", "Umbrella"],
        ["Acme", "Initech"],
        ["acme labs"],
    )
    assert queries.list_accounts(session, AccountFilters(page=9)).items == []
    with pytest.raises(ValidationFailed) as err:
        queries.list_accounts(session, AccountFilters(sort="password"))
    assert err.value.field == "sort"


def test_people_list(session: Session, book: dict[str, int]) -> None:
    page = queries.list_people(session, PersonFilters(account_id=book["Acme"]))
    assert page.total == 2
    assert {p.account_name for p in page.items} == {"Acme"}
    assert [p.email for p in queries.list_people(session, PersonFilters(q="CY")).items] == ["c@globex.example"]
    assert [p.email for p in queries.list_people(session, PersonFilters(sort="-account")).items][-1] in {
        "a@acme.example",
        "b@acme.example",
    }


def test_facets(session: Session, book: dict[str, int]) -> None:
    facets = queries.account_facets(session)
    assert facets["plan"][0] == ("Enterprise", 2)
    assert dict(facets["segment"]) == {"SMB": 3, "Enterprise": 2}
    assert dict(facets["lifecycle_stage"])["trial"] == 1


def test_export_is_exactly_the_filtered_rows(session: Session, book: dict[str, int]) -> None:
    filters = AccountFilters(plan="Enterprise", sort="-arr", per_page=1)
    headers, rows = queries.account_export(session, filters)
    assert headers[:4] == ["id", "external_id", "name", "domain"]
    assert headers[-1] == "attributes.industry"
    assert [r[2] for r in rows] == ["Globex", "Umbrella"]  # every page, in the list's order
    assert rows[0][headers.index("arr")] == 900_000.0
    assert rows[0][headers.index("attributes.industry")] == "Fintech"
    headers, rows = queries.person_export(session, PersonFilters(account_id=book["Acme"]))
    assert {r[headers.index("account_name")] for r in rows} == {"Acme"}
    assert len(rows) == 2
