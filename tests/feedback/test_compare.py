"""Comparing two features: counts per account, ARR, and McNemar's exact test checked by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import service
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import DemandFilters, mcnemar_exact
from prodops.domains.feedback.schemas import LinkIn
from prodops.platform.errors import ValidationFailed
from tests.conftest import Client, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item


def test_mcnemar_exact_against_hand_computation() -> None:
    # Under H0 the A-only count of n discordant accounts is Binomial(n, 1/2); two-sided p = 2 · P(X ≤ min).
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 9) == 2 * (1 + 10) / 2**10 == 0.021484375
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9), "symmetric"
    assert mcnemar_exact(0, 6) == 2 / 64 == 0.03125
    assert mcnemar_exact(0, 5) == 2 / 32 == 0.0625, "five unanimous accounts are not enough for p < 0.05"
    assert mcnemar_exact(2, 8) == 2 * (1 + 10 + 45) / 1024 == 0.109375
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(3, 2) == 1.0
    # 6 vs 9: 2 · (C(15,0) + … + C(15,6)) / 2^15 = 2 · 9,949 / 32,768.
    assert mcnemar_exact(6, 9) == pytest.approx(19_898 / 32_768, abs=1e-15)
    # Large counts stay exact and agree with the chi-square approximation: (|400-300|-1)² / 700 ≈ 14.0.
    large = mcnemar_exact(400, 300)
    approx = math.erfc(math.sqrt((abs(400 - 300) - 1) ** 2 / 700 / 2))
    assert 1e-4 < large < 3e-4 and large == pytest.approx(approx, rel=0.15)


@dataclass
class Population:
    a: int
    b: int
    merged_a: int
    arr: dict[str, float]


def _asker(session: Session, n: int, segment: str, arr: float, asks: str, *, vote: bool = False) -> None:
    account = customers.create_account(
        session, ACTOR, AccountIn(name=f"Co {n}", domain=f"co{n}.example", arr=arr, segment=segment)
    )
    person = customers.create_person(session, ACTOR, PersonIn(email=f"p{n}@co{n}.example"))
    assert person.account_id == account.id
    for feature_id in asks:
        if vote:
            features.add_vote(session, ACTOR, int(feature_id), person.id)
        else:
            item = make_item(session, text=f"request {n}", person_id=person.id)
            service.link_feature(session, ACTOR, item.id, LinkIn(feature_id=int(feature_id)))


@pytest.fixture
def population(session: Session) -> Population:
    """Enterprise: 1 account asks for A only, 9 for B only (one of them by voting), 1 for both, 1 for neither.
    Outside Enterprise: 5 accounts ask for A only."""
    a = features.create_feature(session, ACTOR, FeatureIn(title="Audit log export")).id
    b = features.create_feature(session, ACTOR, FeatureIn(title="SAML single sign-on")).id
    dup = features.create_feature(session, ACTOR, FeatureIn(title="Export the audit log")).id
    arr = {"a_only": 0.0, "b_only": 0.0, "both": 0.0}
    n = 0
    for group, count, asks in (("a_only", 1, [a]), ("b_only", 9, [b]), ("both", 1, [a, b]), ("neither", 1, [])):
        for _ in range(count):
            n += 1
            value = 1_000.0 * n
            _asker(session, n, "Enterprise", value, [str(f) for f in asks], vote=group == "b_only" and n == 3)
            if group in arr:
                arr[group] += value
    for _ in range(5):
        n += 1
        _asker(session, n, "SMB", 500.0, [str(a)])
    features.merge_features(session, ACTOR, dup, a)
    session.rollback()
    return Population(a, b, dup, arr)


def test_comparison_within_a_segment(session: Session, population: Population) -> None:
    result = demand.compare(session, population.a, population.b, DemandFilters(segment="Enterprise"))
    assert result.population == 12 and result.population_label == "accounts in segment Enterprise"
    assert (result.a_only.accounts, result.b_only.accounts, result.both.accounts, result.neither) == (1, 9, 1, 1)
    assert (result.asked_a.accounts, result.asked_b.accounts) == (2, 10)
    # ARR: account n has 1,000 · n; A only is account 1, B only accounts 2-10, both account 11.
    assert result.a_only.arr == population.arr["a_only"] == 1_000
    assert result.b_only.arr == population.arr["b_only"] == sum(1_000 * k for k in range(2, 11))
    assert result.both.arr == 11_000 and result.asked_a.arr == 12_000
    assert result.discordant == 10
    assert result.p_value == 0.021484375
    assert result.significant
    assert result.verdict == "Customers in this population want “SAML single sign-on” more than “Audit log export”."
    assert "9 chose “SAML single sign-on”" in result.explanation and "p = 0.021" in result.explanation
    assert "McNemar" in result.test


def test_all_accounts_cannot_tell_them_apart(session: Session, population: Population) -> None:
    result = demand.compare(session, population.a, population.b)
    # A only: 1 Enterprise + 5 SMB; B only: 9. p = 2 · 9,949 / 32,768 ≈ 0.607.
    assert (result.a_only.accounts, result.b_only.accounts, result.population) == (6, 9, 17)
    assert result.p_value == pytest.approx(19_898 / 32_768)
    assert not result.significant and result.verdict == "The data cannot tell them apart."
    assert "p = 0.607" in result.explanation


def test_too_few_and_no_discordant_accounts(session: Session, population: Population) -> None:
    few = demand.compare(session, population.a, population.b, DemandFilters(segment="SMB"))
    # Five SMB accounts all chose A: unanimous, yet p = 2/32 = 0.0625.
    assert (few.a_only.accounts, few.b_only.accounts, few.p_value) == (5, 0, 0.0625)
    assert not few.significant and few.verdict == "Too few accounts to tell them apart."
    none = demand.compare(session, population.a, population.b, DemandFilters(segment="Mid-Market"))
    assert none.population == 0 and none.discordant == 0 and none.p_value is None
    assert none.verdict == "The data cannot tell them apart."


def test_merged_features_and_bad_input(session: Session, population: Population) -> None:
    merged = demand.compare(session, population.merged_a, population.b, DemandFilters(segment="Enterprise"))
    assert merged.a_id == population.a and merged.a_title == "Audit log export"
    with pytest.raises(ValidationFailed) as same:
        demand.compare(session, population.merged_a, population.a)
    assert same.value.field == "b"
    with pytest.raises(ValidationFailed) as unknown:
        demand.compare(session, 999_999, population.b)
    assert unknown.value.field == "a"


def test_compare_page_and_api(viewer_client: Client, population: Population) -> None:
    page = viewer_client.get(
        "/feedback/compare", params={"a": population.a, "b": population.b, "segment": "Enterprise"}
    )
    assert page.status_code == 200
    assert "want “SAML single sign-on” more than “Audit log export”" in page.text
    assert "McNemar&#39;s exact test" in page.text and "0.0215" in page.text
    assert "12 accounts" in page.text
    same = viewer_client.get("/feedback/compare", params={"a": population.a, "b": population.a})
    assert same.status_code == 422 and "choose two different features" in same.text
    blank = viewer_client.get("/feedback/compare")
    assert blank.status_code == 200 and "Audit log export" in blank.text and "SAML single sign-on" in blank.text
    token = make_token(make_user("viewer"), scope="read")
    headers = {"Authorization": f"Bearer {token}"}
    body = viewer_client.get(
        "/api/v1/feedback/compare",
        params={"a": population.a, "b": population.b, "segment": "Enterprise"},
        headers=headers,
    ).json()
    assert body["p_value"] == 0.021484375 and body["b_only"] == {"accounts": 9, "arr": 54_000}
    missing = viewer_client.get("/api/v1/feedback/compare", params={"a": population.a}, headers=headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "b"]
