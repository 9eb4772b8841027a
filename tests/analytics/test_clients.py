"""The three real tracking clients, unchanged, against a real server on a loopback port: segment-analytics-python,
rudder-sdk-python (gzip on, its default) and posthog. Each sends track/identify/group/page/alias through its normal
API and flushes; the warehouse must hold exactly those rows, linked to the customers domain."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx
import pytest

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from tests.analytics.conftest import make_source, rows

ACTOR = Actor.system("test")


@pytest.fixture
def acme() -> tuple[int, int]:
    with session_scope() as s:
        account = customers.create_account(
            s, ACTOR, AccountIn(name="Acme", domain="acme.com", plan="pro", arr=40_000, external_id="acme")
        )
        person = customers.create_person(s, ACTOR, PersonIn(email="ada@acme.com", name="Ada", account_id=account.id))
    return account.id, person.id


def _events() -> list[tuple[Any, ...]]:
    return rows("SELECT event, distinct_id, account_id, properties FROM events ORDER BY timestamp, event")


def _check_segment_shape(acme: tuple[int, int], source_id: int) -> None:
    account_id, person_id = acme
    got = [(e, d, a) for e, d, a, _ in _events()]
    assert got == [
        ("$pageview", "anon-1", None),
        ("$identify", "user-ada", account_id),
        ("$groupidentify", "user-ada", account_id),
        ("Project Created", "user-ada", account_id),
        ("$create_alias", "user-ada", account_id),
    ]
    assert rows("SELECT DISTINCT source_id FROM events") == [(source_id,)]
    props = {e: json.loads(p) for e, _, _, p in _events()}
    assert props["Project Created"]["template"] == "blank"
    assert props["$pageview"]["$page_name"] == "Pricing"
    persons = rows("SELECT external_id, email, customer_person_id, account_id FROM persons")
    assert persons == [("user-ada", "ada@acme.com", person_id, account_id)]
    assert rows("SELECT distinct_id FROM person_distinct_ids ORDER BY 1") == [("anon-1",), ("old-ada",), ("user-ada",)]


def _drive_segment_like(client: Any) -> None:
    t0 = 1_767_000_000.0
    import datetime as dt

    at = [dt.datetime.fromtimestamp(t0 + i, dt.UTC) for i in range(5)]
    client.page(
        anonymous_id="anon-1", name="Pricing", properties={"url": "https://acme.example/pricing"}, timestamp=at[0]
    )
    client.identify("user-ada", {"email": "ada@acme.com", "name": "Ada"}, anonymous_id="anon-1", timestamp=at[1])
    client.group("user-ada", "acme", {"name": "Acme"}, timestamp=at[2])
    client.track("user-ada", "Project Created", {"template": "blank"}, timestamp=at[3])
    client.alias("old-ada", "user-ada", timestamp=at[4])
    client.flush()


@pytest.mark.usefixtures("clean_warehouse")
def test_segment_analytics_python(live_server: str, acme: tuple[int, int]) -> None:
    from segment.analytics import Client

    src = make_source("Segment client", kind="segment")
    errors: list[Any] = []
    client = Client(src.write_key, host=live_server, on_error=lambda e, batch: errors.append(e), max_retries=0)
    _drive_segment_like(client)
    client.shutdown()
    assert errors == []
    _check_segment_shape(acme, src.id)


@pytest.mark.usefixtures("clean_warehouse")
def test_rudder_sdk_python_with_gzip(live_server: str, acme: tuple[int, int]) -> None:
    from rudderstack.analytics.client import Client

    src = make_source("Rudder client")
    errors: list[Any] = []
    client = Client(
        src.write_key, host=live_server, gzip=True, on_error=lambda e, batch: errors.append(e), max_retries=0
    )
    assert client.gzip is True
    _drive_segment_like(client)
    client.shutdown()
    assert errors == []
    _check_segment_shape(acme, src.id)


@pytest.mark.usefixtures("clean_warehouse")
def test_rudder_reads_our_error_bodies(live_server: str) -> None:
    from rudderstack.analytics.client import Client

    errors: list[Any] = []
    client = Client("wk_unknown-key", host=live_server, on_error=lambda e, batch: errors.append(e), max_retries=0)
    client.track("u", "E")
    client.flush()
    client.shutdown()
    assert len(errors) == 1
    assert (errors[0].status, errors[0].code) == (401, "invalid_write_key")


@pytest.mark.usefixtures("clean_warehouse")
def test_posthog(live_server: str, acme: tuple[int, int]) -> None:
    from posthog import Posthog

    account_id, person_id = acme
    src = make_source("PostHog client", kind="posthog")
    errors: list[Any] = []
    ph = Posthog(
        src.write_key, host=live_server, on_error=lambda e, batch: errors.append(e), max_retries=0, sync_mode=False
    )
    import datetime as dt

    at = [dt.datetime.fromtimestamp(1_767_000_000 + i, dt.UTC) for i in range(6)]
    ph.capture("$pageview", distinct_id="anon-2", properties={"$current_url": "https://acme.example/"}, timestamp=at[0])
    ph.alias("anon-2", "user-ada", timestamp=at[1])  # posthog's alias: previous id, then the id it joins
    ph.set(distinct_id="user-ada", properties={"email": "ada@acme.com"}, timestamp=at[2])
    ph.group_identify("company", "acme", {"name": "Acme"}, distinct_id="user-ada", timestamp=at[3])
    ph.capture("Project Created", distinct_id="user-ada", properties={"template": "blank"}, timestamp=at[4])
    ph.capture("Report Viewed", distinct_id="user-ada", groups={"company": "acme"}, timestamp=at[5])
    ph.flush()
    ph.shutdown()
    assert errors == []
    got = [(e, d, a) for e, d, a, _ in _events()]
    assert got == [
        ("$pageview", "anon-2", None),
        ("$create_alias", "anon-2", None),
        ("$set", "user-ada", account_id),
        ("$groupidentify", "user-ada", account_id),
        ("Project Created", "user-ada", account_id),
        ("Report Viewed", "user-ada", account_id),
    ]
    assert rows("SELECT external_id, email, customer_person_id, account_id FROM persons") == [
        (None, "ada@acme.com", person_id, account_id)
    ]
    assert rows("SELECT count(DISTINCT person_id) FROM person_distinct_ids") == [(1,)]
    assert (
        json.loads(rows("SELECT properties FROM events WHERE event = 'Project Created'")[0][0])["template"] == "blank"
    )


@pytest.mark.usefixtures("clean_warehouse")
def test_keep_alive_requests_do_not_stall(live_server: str) -> None:
    """Batching clients reuse one connection; without TCP_NODELAY each answer would wait ~40 ms for a delayed ACK."""
    src = make_source()
    body = {"writeKey": src.write_key, "batch": [{"type": "track", "userId": "u", "event": "E"}]}
    timings = []
    with httpx.Client(base_url=live_server) as http:
        for i in range(30):
            body["batch"][0]["messageId"] = f"k{i}"
            start = time.perf_counter()
            assert http.post("/v1/batch", json=body).status_code == 200
            timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.02, timings
