"""Identity: identify/alias merge persons (flat overrides), identify links customers people by e-mail or external id,
group links accounts by external id or domain, the accounts mirror follows the customers domain, and insights can
break events down by plan."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from prodops.domains.analytics.service import pipeline
from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, AccountUpdate, PersonIn, PersonUpdate
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from tests.analytics.conftest import make_source, rows

pytestmark = pytest.mark.usefixtures("clean_warehouse")
ACTOR = Actor.system("test")

# The person of an event after merges, as every insight computes it.
PERSON_OF_EVENT = """
    SELECT e.uuid, COALESCE(o.new_person_id, e.person_id) AS person
    FROM events e LEFT JOIN person_overrides o ON o.old_person_id = e.person_id ORDER BY e.uuid
"""


_ids = itertools.count()


def _send(client: Any, key: str, *messages: dict[str, Any]) -> None:
    batch = [{"messageId": f"m-{next(_ids)}", **m} for m in messages]
    response = client.post("/v1/batch", json={"writeKey": key, "batch": batch})
    assert response.status_code == 200, response.text


def _people() -> tuple[int, int, int, int]:
    with session_scope() as s:
        acme = customers.create_account(s, ACTOR, AccountIn(name="Acme", domain="acme.com", plan="enterprise", arr=120_000,
                                                            segment="Enterprise", region="EMEA", external_id="acct-acme"))  # fmt: skip
        beta = customers.create_account(s, ACTOR, AccountIn(name="Beta", domain="beta.io", plan="starter", arr=8_000, segment="SMB", region="NA"))  # fmt: skip
        ada = customers.create_person(s, ACTOR, PersonIn(email="ada@acme.com", name="Ada", account_id=acme.id))
        bob = customers.create_person(s, ACTOR, PersonIn(email="bob@beta.io", name="Bob", account_id=beta.id, external_id="crm-bob"))  # fmt: skip
    return acme.id, beta.id, ada.id, bob.id


def test_anonymous_then_identify_merges_into_one_person(client: Any) -> None:
    key = make_source().write_key
    _send(client, key, {"type": "page", "anonymousId": "anon-1", "name": "Pricing"})
    _send(client, key, {"type": "track", "userId": "user-1", "event": "Signed Up"})
    pipeline.flush()
    assert len({p for _, p in rows(PERSON_OF_EVENT)}) == 2  # two persons until we know they are one
    _send(
        client, key, {"type": "identify", "userId": "user-1", "anonymousId": "anon-1", "traits": {"email": "u1@x.org"}}
    )
    people = {p for _, p in rows(PERSON_OF_EVENT)}
    assert len(people) == 1
    assert rows("SELECT count(*) FROM persons") == [(1,)]  # the merged-away person row is gone
    assert rows("SELECT external_id, email FROM persons") == [("user-1", "u1@x.org")]
    assert rows("SELECT distinct_id FROM person_distinct_ids ORDER BY 1") == [("anon-1",), ("user-1",)]
    # Later events of the anonymous id land on the same person directly.
    _send(client, key, {"type": "track", "anonymousId": "anon-1", "event": "Clicked"})
    assert len({p for _, p in rows(PERSON_OF_EVENT)}) == 1


def test_alias_merges_and_overrides_stay_flat(client: Any) -> None:
    key = make_source().write_key
    for d in ("a", "b", "c"):
        _send(client, key, {"type": "track", "anonymousId": d, "event": "Seen"})
    pipeline.flush()
    _send(client, key, {"type": "alias", "userId": "b", "previousId": "a"})  # a → b
    _send(client, key, {"type": "alias", "userId": "c", "previousId": "b"})  # b (and a) → c
    overrides = dict(rows("SELECT old_person_id, new_person_id FROM person_overrides"))
    assert len(overrides) == 2 and len(set(overrides.values())) == 1  # both point straight at c's person
    assert len({p for _, p in rows(PERSON_OF_EVENT)}) == 1


def test_identify_does_not_fuse_two_identified_users(client: Any) -> None:
    key = make_source().write_key
    _send(client, key, {"type": "identify", "userId": "alice", "anonymousId": "laptop"})
    _send(client, key, {"type": "identify", "userId": "bob", "anonymousId": "laptop"})  # a shared device
    pipeline.flush()
    assert rows("SELECT count(*) FROM persons") == [(2,)]
    assert rows("SELECT count(*) FROM person_overrides") == [(0,)]


def test_identify_links_customers_people_and_a_breakdown_by_plan_works(client: Any) -> None:
    acme, beta, ada, bob = _people()
    key = make_source().write_key
    # Ada identifies by e-mail; Bob by his CRM id; Carol is unknown to the customers domain.
    _send(client, key, {"type": "identify", "userId": "u-ada", "traits": {"email": "Ada@Acme.com", "name": "Ada L"}})
    _send(client, key, {"type": "identify", "userId": "crm-bob"})
    _send(client, key, {"type": "identify", "userId": "u-carol", "traits": {"email": "carol@nowhere.net"}})
    for user, n in (("u-ada", 3), ("crm-bob", 2), ("u-carol", 1)):
        for i in range(n):
            _send(client, key, {"type": "track", "userId": user, "event": "Report Viewed", "properties": {"i": i}})
    got = rows("SELECT external_id, customer_person_id, account_id FROM persons ORDER BY external_id")
    assert got == [("crm-bob", bob, beta), ("u-ada", ada, acme), ("u-carol", None, None)]
    by_plan = rows("""
        SELECT coalesce(a.plan, '(none)') AS plan, a.arr_band, count(*) FROM events e
        LEFT JOIN accounts a ON a.account_id = e.account_id
        WHERE e.event = 'Report Viewed' GROUP BY ALL ORDER BY plan
    """)
    assert by_plan == [("(none)", None, 1), ("enterprise", "50k-250k", 3), ("starter", "<10k", 2)]
    # Analytics never creates operational people.
    with session_scope() as s:
        assert customers.person_by_email(s, "carol@nowhere.net") is None


def test_group_links_the_person_to_an_account_by_external_id_or_domain(client: Any) -> None:
    acme, beta, _, _ = _people()
    key = make_source().write_key
    _send(client, key, {"type": "track", "userId": "x", "event": "Before"})
    _send(client, key, {"type": "group", "userId": "x", "groupId": "acct-acme", "traits": {"name": "Acme"}})
    _send(client, key, {"type": "track", "userId": "x", "event": "After"})
    _send(client, key, {"type": "group", "userId": "y", "groupId": "beta.io"})
    _send(client, key, {"type": "track", "userId": "y", "event": "After"})
    _send(client, key, {"type": "track", "userId": "z", "event": "Ctx", "context": {"groupId": "acct-acme"}})
    got = rows(
        "SELECT distinct_id, event, account_id FROM events WHERE event NOT LIKE '$%' ORDER BY distinct_id, event"
    )
    assert got == [("x", "After", acme), ("x", "Before", None), ("y", "After", beta), ("z", "Ctx", acme)]
    ph = client.post("/batch/", json={"api_key": key, "batch": [
        {"event": "$groupidentify", "distinct_id": "p", "uuid": "g1", "properties": {"$group_type": "company", "$group_key": "acme.com"}},
        {"event": "Used", "distinct_id": "p", "uuid": "g2"},
        {"event": "Grouped", "distinct_id": "q", "uuid": "g3", "properties": {"$groups": {"company": "beta.io"}}},
    ]})  # fmt: skip
    assert ph.status_code == 200
    assert rows("SELECT uuid, account_id FROM events WHERE uuid LIKE 'g%' ORDER BY uuid") == [
        ("g1", acme),
        ("g2", acme),
        ("g3", beta),
    ]


def test_posthog_identify_alias_and_set(client: Any) -> None:
    _, _, ada, _ = _people()
    key = make_source().write_key
    batch = [
        {"event": "$pageview", "distinct_id": "anon-x", "uuid": "1"},
        {"event": "$identify", "distinct_id": "ada-id", "uuid": "2", "properties": {"$anon_distinct_id": "anon-x"},
         "$set": {"email": "ada@acme.com"}},
        {"event": "$create_alias", "distinct_id": "ada-id", "uuid": "3", "properties": {"alias": "ada-other"}},
        {"event": "$set", "distinct_id": "ada-other", "uuid": "4", "properties": {"$set": {"role": "cto"}}},
    ]  # fmt: skip
    assert client.post("/batch/", json={"api_key": key, "batch": batch}).status_code == 200
    assert len({p for _, p in rows(PERSON_OF_EVENT)}) == 1
    ((cpid, props),) = rows("SELECT customer_person_id, properties FROM persons")
    assert cpid == ada
    assert json.loads(props)["role"] == "cto"


def test_customers_changes_reach_the_warehouse(client: Any) -> None:
    acme, beta, ada, _ = _people()
    key = make_source().write_key
    _send(client, key, {"type": "identify", "userId": "u-ada", "traits": {"email": "ada@acme.com"}})
    assert rows("SELECT account_id FROM persons") == [(acme,)]
    assert rows("SELECT account_id, plan, arr_band, segment, region FROM accounts ORDER BY 1") == [
        (acme, "enterprise", "50k-250k", "Enterprise", "EMEA"),
        (beta, "starter", "<10k", "SMB", "NA"),
    ]
    with session_scope() as s:
        customers.update_account(s, ACTOR, beta, AccountUpdate(plan="growth", arr=300_000, attributes={"tier": "gold"}))
        customers.update_person(s, ACTOR, ada, PersonUpdate(account_id=beta))
    assert rows("SELECT account_id FROM persons") == [(beta,)]  # re-linked after the customers event
    ((plan, band, props),) = rows(
        "SELECT plan, arr_band, properties FROM accounts WHERE account_id = $id", {"id": beta}
    )
    assert (plan, band, json.loads(props)["tier"]) == ("growth", "250k+", "gold")


def test_sync_on_demand(admin_client: Any) -> None:
    _people()
    response = admin_client.post("/api/v1/analytics/sync", headers={"X-CSRF-Token": admin_client.csrf})
    assert response.status_code == 200
    assert response.json()["accounts"] == 2
    assert rows("SELECT count(*) FROM accounts") == [(2,)]
