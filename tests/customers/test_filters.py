"""The segment filter language: validation with field-level errors, and the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service
from prodops.domains.customers.models import Account, Person
from prodops.domains.customers.schemas import AccountUpdate, Condition, FilterInvalid, SegmentIn, validate_conditions
from prodops.platform.errors import ValidationFailed
from tests.conftest import make_user
from tests.customers.conftest import ACTOR, make_account, make_person


def ids(session: Session, conditions: list[Any]) -> set[int]:
    return set(session.scalars(service.account_ids_matching(conditions)))


def names(session: Session, conditions: list[Any]) -> set[str]:
    stmt = select(Account.name).where(Account.id.in_(service.account_ids_matching(conditions)))
    return set(session.scalars(stmt))


@pytest.fixture
def accounts(session: Session) -> dict[str, int]:
    owner = make_user("member")
    rows = [
        {
            "name": "Alpha",
            "domain": "alpha.example",
            "plan": "Growth",
            "arr": 12_000,
            "segment": "SMB",
            "region": "EMEA",
            "lifecycle_stage": "active",
            "owner_id": owner.id,
            "attributes": {"industry": "Fintech", "seats": 40, "beta": True},
        },
        {
            "name": "Beta",
            "domain": "beta.example",
            "plan": "Enterprise",
            "arr": 250_000,
            "segment": "Enterprise",
            "region": "NA",
            "lifecycle_stage": "at_risk",
            "attributes": {"industry": "Retail", "seats": "120", "beta": False},
        },
        {
            "name": "Gamma 100%_off",
            "domain": None,
            "plan": None,
            "arr": 0,
            "segment": None,
            "region": "APAC",
            "lifecycle_stage": "trial",
            "attributes": {"industry": "", "seats": "many"},
        },
        {
            "name": "Delta",
            "domain": "delta.example",
            "plan": "Starter",
            "arr": 60_000,
            "segment": "Mid-Market",
            "region": "EMEA",
            "lifecycle_stage": "churned",
            "attributes": {"seats": 7.5},
        },
    ]
    return {r["name"]: make_account(session, external_id=None, **r).id for r in rows}


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "loc", "words"),
    [
        ({"field": "colour", "op": "eq", "value": "red"}, "filters.0.field", "unknown field 'colour'"),
        ({"field": "plan", "op": "like", "value": "x"}, "filters.0.op", "unknown operator 'like'"),
        ({"field": "arr", "op": "gt", "value": "lots"}, "filters.0.value", "arr is a number"),
        ({"field": "arr", "op": "contains", "value": "1"}, "filters.0.op", "arr does not support contains"),
        ({"field": "plan", "op": "eq", "value": 3}, "filters.0.value", "plan is text"),
        ({"field": "plan", "op": "in", "value": []}, "filters.0.value", "non-empty list"),
        ({"field": "plan", "op": "in", "value": "Growth"}, "filters.0.value", "non-empty list"),
        ({"field": "plan", "op": "eq", "value": ["Growth"]}, "filters.0.value", "single value"),
        ({"field": "plan", "op": "is_set", "value": "x"}, "filters.0.value", "takes no value"),
        ({"field": "lifecycle_stage", "op": "eq", "value": "happy"}, "filters.0.value", "unknown lifecycle stage"),
        ({"field": "owner_id", "op": "eq", "value": "me"}, "filters.0.value", "whole number"),
        ({"field": "created_at", "op": "gt", "value": "last tuesday"}, "filters.0.value", "is a date"),
        ({"field": "attributes.seats", "op": "gt", "value": "10"}, "filters.0.value", "compares numbers"),
        ({"field": 'attributes.bad"key', "op": "eq", "value": "x"}, "filters.0.field", "unknown field"),
        ({"field": "plan", "op": "eq", "value": "x", "extra": 1}, "filters.0.extra", "unknown key"),
        ({"field": "account.plan", "op": "eq", "value": "x"}, "filters.0.field", "unknown field"),
    ],
)
def test_invalid_conditions_name_the_field(condition: dict[str, Any], loc: str, words: str) -> None:
    with pytest.raises(FilterInvalid) as err:
        validate_conditions("accounts", [condition])
    assert err.value.problems[0][0] == loc
    assert words in err.value.problems[0][1]
    assert err.value.status_code == 422


def test_every_problem_is_listed() -> None:
    with pytest.raises(FilterInvalid) as err:
        validate_conditions(
            "accounts",
            [
                {"field": "plan", "op": "eq", "value": "Growth"},
                {"field": "nope", "op": "eq", "value": 1},
                {"field": "arr", "op": "gte", "value": "x"},
            ],
        )
    assert [loc for loc, _ in err.value.problems] == ["filters.1.field", "filters.2.value"]
    detail = err.value.as_detail()
    assert detail[0]["loc"] == ["body", "filters.1.field"]


def test_people_fields_include_their_account() -> None:
    checked = validate_conditions(
        "people",
        [
            {"field": "account.arr", "op": "gte", "value": 1000},
            {"field": "account.attributes.industry", "op": "eq", "value": "Fintech"},
            {"field": "title", "op": "contains", "value": "VP"},
            {"field": "email", "op": "is_set", "value": ""},
        ],
    )
    assert checked[3].value is None
    with pytest.raises(FilterInvalid):
        validate_conditions("people", [{"field": "arr", "op": "gte", "value": 1}])


# --- evaluation -----------------------------------------------------------------------------


def test_text_operators(session: Session, accounts: dict[str, int]) -> None:
    assert names(session, [{"field": "plan", "op": "eq", "value": "Growth"}]) == {"Alpha"}
    # "is not" keeps accounts with no plan at all.
    assert names(session, [{"field": "plan", "op": "ne", "value": "Growth"}]) == {"Beta", "Gamma 100%_off", "Delta"}
    assert names(session, [{"field": "plan", "op": "in", "value": ["Growth", "Starter"]}]) == {"Alpha", "Delta"}
    assert names(session, [{"field": "plan", "op": "not_in", "value": ["Growth", "Starter"]}]) == {
        "Beta",
        "Gamma 100%_off",
    }
    assert names(session, [{"field": "plan", "op": "is_empty"}]) == {"Gamma 100%_off"}
    assert names(session, [{"field": "domain", "op": "is_set"}]) == {"Alpha", "Beta", "Delta"}
    assert names(session, [{"field": "name", "op": "contains", "value": "ALPH"}]) == {"Alpha"}
    # LIKE wildcards in the value are literal characters.
    assert names(session, [{"field": "name", "op": "contains", "value": "100%_"}]) == {"Gamma 100%_off"}
    assert names(session, [{"field": "name", "op": "contains", "value": "%"}]) == {"Gamma 100%_off"}


def test_number_stage_owner_and_date_operators(session: Session, accounts: dict[str, int]) -> None:
    assert names(session, [{"field": "arr", "op": "gte", "value": 60_000}]) == {"Beta", "Delta"}
    assert names(session, [{"field": "arr", "op": "lt", "value": 12_000}]) == {"Gamma 100%_off"}
    assert names(session, [{"field": "arr", "op": "eq", "value": 12_000.0}]) == {"Alpha"}
    assert names(session, [{"field": "lifecycle_stage", "op": "in", "value": ["at_risk", "churned"]}]) == {
        "Beta",
        "Delta",
    }
    assert names(session, [{"field": "owner_id", "op": "is_set"}]) == {"Alpha"}
    assert names(session, [{"field": "owner_id", "op": "is_empty"}]) == {"Beta", "Gamma 100%_off", "Delta"}
    assert len(ids(session, [{"field": "created_at", "op": "gte", "value": "-1d"}])) == 4
    assert ids(session, [{"field": "created_at", "op": "lt", "value": "2000-01-01"}]) == set()
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert len(ids(session, [{"field": "created_at", "op": "lt", "value": tomorrow}])) == 4


def test_conditions_combine_with_and(session: Session, accounts: dict[str, int]) -> None:
    assert names(
        session, [{"field": "region", "op": "eq", "value": "EMEA"}, {"field": "arr", "op": "gt", "value": 20_000}]
    ) == {"Delta"}
    assert len(ids(session, [])) == 4


def test_attribute_operators(session: Session, accounts: dict[str, int]) -> None:
    assert names(session, [{"field": "attributes.industry", "op": "eq", "value": "Fintech"}]) == {"Alpha"}
    # Numbers compare as numbers, whether stored as JSON numbers or as numeric text ("120"); "many" is no number.
    assert names(session, [{"field": "attributes.seats", "op": "gt", "value": 30}]) == {"Alpha", "Beta"}
    assert names(session, [{"field": "attributes.seats", "op": "lte", "value": 7.5}]) == {"Delta"}
    assert names(session, [{"field": "attributes.seats", "op": "eq", "value": 120}]) == {"Beta"}
    # Text equality sees the text form of numbers too.
    assert names(session, [{"field": "attributes.seats", "op": "eq", "value": "40"}]) == {"Alpha"}
    assert names(session, [{"field": "attributes.seats", "op": "in", "value": ["many", 40]}]) == {
        "Alpha",
        "Gamma 100%_off",
    }
    assert names(session, [{"field": "attributes.beta", "op": "eq", "value": True}]) == {"Alpha"}
    assert names(session, [{"field": "attributes.beta", "op": "eq", "value": False}]) == {"Beta"}
    # Missing and empty values: "is not" includes them, "is set" does not.
    assert names(session, [{"field": "attributes.industry", "op": "ne", "value": "Fintech"}]) == {
        "Beta",
        "Gamma 100%_off",
        "Delta",
    }
    assert names(session, [{"field": "attributes.industry", "op": "is_set"}]) == {"Alpha", "Beta"}
    assert names(session, [{"field": "attributes.industry", "op": "is_empty"}]) == {"Gamma 100%_off", "Delta"}
    assert names(session, [{"field": "attributes.industry", "op": "contains", "value": "tai"}]) == {"Beta"}
    assert names(session, [{"field": "attributes.no such key", "op": "is_set"}]) == set()


def test_people_segment_conditions_reach_the_account(session: Session, accounts: dict[str, int]) -> None:
    ceo = make_person(session, email="ceo@beta.example", title="CEO", attributes={"role": "admin"})
    make_person(session, email="dev@beta.example", title="Developer")
    cto = make_person(session, email="cto@alpha.example", title="CTO")
    make_person(session, email="loner@gmail.example", title="CEO")
    assert ceo.account_id == accounts["Beta"]  # joined by e-mail domain

    def people(conditions: list[Any]) -> set[str]:
        return set(session.scalars(select(Person.email).where(service.person_filter(conditions))))

    assert people(
        [
            {"field": "title", "op": "in", "value": ["CEO", "CTO"]},
            {"field": "account.segment", "op": "eq", "value": "Enterprise"},
        ]
    ) == {"ceo@beta.example"}
    assert people([{"field": "account.attributes.industry", "op": "eq", "value": "Fintech"}]) == {"cto@alpha.example"}
    assert people([{"field": "account_id", "op": "is_empty"}]) == {"loner@gmail.example"}
    assert people([{"field": "attributes.role", "op": "eq", "value": "admin"}]) == {"ceo@beta.example"}

    segment = service.create_segment(
        session,
        ACTOR,
        SegmentIn(
            name="Execs",
            entity="people",
            filters=[
                Condition(field="title", op="in", value=["CEO", "CTO"]),
                Condition(field="account.arr", op="gt", value=0),
            ],
        ),
    )
    assert segment.member_count == 2
    assert set(session.scalars(service.segment_account_ids(session, segment.id))) == {
        accounts["Beta"],
        accounts["Alpha"],
    }
    assert set(session.scalars(service.segment_person_ids(session, segment.id))) == {ceo.id, cto.id}


def test_segment_members_follow_the_data(session: Session, accounts: dict[str, int]) -> None:
    segment = service.create_segment(
        session,
        ACTOR,
        SegmentIn(
            name="Big at risk",
            filters=[
                Condition(field="lifecycle_stage", op="eq", value="at_risk"),
                Condition(field="arr", op="gte", value=50_000),
            ],
        ),
    )
    assert set(session.scalars(service.segment_account_ids(session, segment.id))) == {accounts["Beta"]}
    service.update_account(session, ACTOR, accounts["Delta"], AccountUpdate(lifecycle_stage="at_risk"))
    assert set(session.scalars(service.segment_account_ids(session, segment.id))) == {
        accounts["Beta"],
        accounts["Delta"],
    }
    assert service.segment_detail(session, segment.id).member_count == 2


def test_bad_segment_is_refused_with_every_field(session: Session) -> None:
    with pytest.raises(FilterInvalid) as err:
        service.create_segment(
            session,
            ACTOR,
            SegmentIn(
                name="Broken",
                filters=[Condition(field="arr", op="contains", value="1"), Condition(field="x", op="eq", value="1")],
            ),
        )
    assert [loc for loc, _ in err.value.problems] == ["filters.0.op", "filters.1.field"]
    assert service.list_segments(session) == []
    with pytest.raises(ValidationFailed):
        service.account_filter([{"field": "arr", "op": "gt", "value": None}])


# --- the SQL agrees with a plain-Python reading of the same rules ------------------------------

PLANS = ["Free", "Starter", "Growth", None]
SEATS = [None, 0, 5, 12.5, "7", "lots", ""]


def _python_match(account: dict[str, Any], cond: dict[str, Any]) -> bool:
    field, op, value = cond["field"], cond["op"], cond.get("value")
    if field.startswith("attributes."):
        raw = account["attributes"].get(field.removeprefix("attributes."))
        text = None if raw is None else ("true" if raw is True else "false" if raw is False else str(raw))
        try:
            number = float(raw) if raw is not None and not isinstance(raw, bool) and str(raw).strip() else None
        except ValueError:
            number = None
        if op in ("gt", "gte", "lt", "lte"):
            return (
                number is not None
                and {"gt": number > value, "gte": number >= value, "lt": number < value, "lte": number <= value}[op]
            )
        if op in ("eq", "ne"):
            hit = (number == float(value)) if isinstance(value, int | float) else text == value
            hit = hit and raw is not None
            return hit if op == "eq" else not hit
        if op == "is_set":
            return bool(text)
        return not text
    current = account[field]
    if op == "eq":
        return current == value
    if op == "ne":
        return current != value
    if op == "in":
        return current in value
    if op == "not_in":
        return current not in value
    if op == "is_set":
        return current not in (None, "")
    if op == "is_empty":
        return current in (None, "")
    return {"gt": current > value, "gte": current >= value, "lt": current < value, "lte": current <= value}[op]


conditions = st.one_of(
    st.fixed_dictionaries(
        {"field": st.just("plan"), "op": st.sampled_from(["eq", "ne"]), "value": st.sampled_from(PLANS[:3])}
    ),
    st.fixed_dictionaries(
        {
            "field": st.just("plan"),
            "op": st.sampled_from(["in", "not_in"]),
            "value": st.lists(st.sampled_from(PLANS[:3]), min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries({"field": st.just("plan"), "op": st.sampled_from(["is_set", "is_empty"])}),
    st.fixed_dictionaries(
        {
            "field": st.just("arr"),
            "op": st.sampled_from(["gt", "gte", "lt", "lte"]),
            "value": st.sampled_from([0, 100, 250.5, 1000]),
        }
    ),
    st.fixed_dictionaries(
        {
            "field": st.just("attributes.seats"),
            "op": st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
            "value": st.sampled_from([0, 5, 7, 12.5]),
        }
    ),
    st.fixed_dictionaries(
        {
            "field": st.just("attributes.seats"),
            "op": st.sampled_from(["eq", "ne"]),
            "value": st.sampled_from(["7", "lots"]),
        }
    ),
    st.fixed_dictionaries({"field": st.just("attributes.seats"), "op": st.sampled_from(["is_set", "is_empty"])}),
)


@pytest.fixture
def grid(session: Session) -> list[dict[str, Any]]:
    rows = []
    for i, (plan, seats) in enumerate((p, s) for p in PLANS for s in SEATS):
        attributes = {} if seats is None else {"seats": seats}
        arr = float((i * 37) % 1200)
        rows.append({"external_id": f"g{i}", "name": f"G{i}", "plan": plan, "arr": arr, "attributes": attributes})
    service.upsert_accounts(session, ACTOR, rows)
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.lists(conditions, min_size=1, max_size=3))
def test_sql_agrees_with_the_rules(session: Session, grid: list[dict[str, Any]], chosen: list[dict[str, Any]]) -> None:
    expected = {r["name"] for r in grid if all(_python_match(r, c) for c in chosen)}
    assert names(session, chosen) == expected
