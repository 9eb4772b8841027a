"""The ingestion endpoints over HTTP: every path, every place a write key can be, gzip, limits, refusals,
clock-skew correction and idempotency."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from typing import Any

import pytest

from prodops.domains.analytics.service import pipeline
from tests.analytics.conftest import make_source, rows

pytestmark = pytest.mark.usefixtures("clean_warehouse")

SEGMENT_CALLS = ["track", "identify", "group", "page", "screen", "alias"]


def _count() -> int:
    return int(rows("SELECT count(*) FROM events")[0][0])


def _segment_message(call: str, n: int = 0) -> dict[str, Any]:
    base: dict[str, Any] = {"userId": f"user-{n}", "messageId": f"{call}-{n}", "timestamp": "2026-03-01T10:00:00Z"}
    extra: dict[str, Any] = {
        "track": {"event": "Project Created", "properties": {"plan": "pro"}},
        "identify": {"anonymousId": f"anon-{n}", "traits": {"email": f"p{n}@example.com"}},
        "group": {"groupId": "acme", "traits": {"name": "Acme"}},
        "page": {"name": "Pricing", "properties": {"url": "https://example.com/pricing"}},
        "screen": {"name": "Home"},
        "alias": {"previousId": f"anon-{n}"},
    }[call]
    return {**base, **extra}


@pytest.mark.parametrize("call", SEGMENT_CALLS)
def test_each_segment_endpoint_stores_its_message(client: Any, call: str) -> None:
    src = make_source()
    response = client.post(f"/v1/{call}", json={**_segment_message(call), "writeKey": src.write_key})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    expected = {
        "track": "Project Created",
        "identify": "$identify",
        "group": "$groupidentify",
        "page": "$pageview",
        "screen": "$screen",
        "alias": "$create_alias",
    }[call]
    assert rows("SELECT uuid, event, distinct_id, source_id FROM events") == [(f"{call}-0", expected, "user-0", src.id)]


def test_batch_with_every_type_in_one_request(client: Any) -> None:
    src = make_source()
    batch = [{**_segment_message(call, i), "type": call} for i, call in enumerate(SEGMENT_CALLS)]
    response = client.post("/v1/batch", json={"batch": batch, "writeKey": src.write_key})
    assert response.status_code == 200, response.text
    got = rows("SELECT uuid, event FROM events ORDER BY uuid")
    assert got == sorted(
        [
            ("track-0", "Project Created"),
            ("identify-1", "$identify"),
            ("group-2", "$groupidentify"),
            ("page-3", "$pageview"),
            ("screen-4", "$screen"),
            ("alias-5", "$create_alias"),
        ]
    )
    props = json.loads(rows("SELECT properties FROM events WHERE uuid = 'page-3'")[0][0])
    assert props == {"url": "https://example.com/pricing", "$page_name": "Pricing"}


def _batch(key: str | None = None, n: int = 3, prefix: str = "m") -> dict[str, Any]:
    body: dict[str, Any] = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Clicked", "messageId": f"{prefix}{i}", "properties": {"i": i}}
            for i in range(n)
        ]
    }
    if key is not None:
        body["writeKey"] = key
    return body


def test_write_key_in_body_basic_auth_or_bearer(client: Any) -> None:
    src = make_source()
    assert client.post("/v1/batch", json=_batch(src.write_key, prefix="body")).status_code == 200
    basic = base64.b64encode(f"{src.write_key}:".encode()).decode()
    assert (
        client.post("/v1/batch", json=_batch(prefix="basic"), headers={"Authorization": f"Basic {basic}"}).status_code
        == 200
    )
    bearer = {"Authorization": f"Bearer {src.write_key}"}
    assert client.post("/v1/batch", json=_batch(prefix="bearer"), headers=bearer).status_code == 200
    assert _count() == 9


def test_unknown_missing_disabled_and_wrong_kind_keys_are_refused_with_401(client: Any) -> None:
    src = make_source()
    off = make_source("Old app", enabled=False)
    ph = make_source("PostHog only", kind="posthog")
    cases = [
        (_batch("wk_not-a-real-key"), "invalid_write_key"),
        (_batch(), "missing_write_key"),
        (_batch(off.write_key), "source_disabled"),
        (_batch(ph.write_key), "wrong_endpoint"),
    ]
    for body, code in cases:
        response = client.post("/v1/batch", json=body)
        assert response.status_code == 401, (code, response.text)
        assert response.json()["code"] == code
        assert response.json()["message"]
    bad_basic = client.post("/v1/batch", json=_batch(), headers={"Authorization": "Basic %%%"})
    assert bad_basic.status_code == 401
    assert client.post("/v1/batch", json=_batch(src.write_key)).status_code == 200
    assert _count() == 3


def test_posthog_endpoints_and_key_locations(client: Any) -> None:
    src = make_source()
    key = src.write_key
    event = {"event": "$pageview", "distinct_id": "d1", "properties": {"$current_url": "/a"}}
    assert client.post("/batch/", json={"api_key": key, "batch": [{**event, "uuid": "b1"}]}).json() == {"status": 1}
    assert client.post("/capture/", json={"api_key": key, **event, "uuid": "c1"}).status_code == 200
    assert client.post("/e/", json={"token": key, **event, "uuid": "e1"}).status_code == 200
    # posthog-js: a list of events with the token inside each event's properties
    listed = [{**event, "uuid": "v1", "properties": {**event["properties"], "token": key}}]
    assert client.post("/i/v0/e/", json=listed).status_code == 200
    assert client.post("/e", json={"api_key": key, **event, "uuid": "e2"}).status_code == 200  # no trailing slash
    got = rows("SELECT uuid, event, distinct_id, properties FROM events ORDER BY uuid")
    assert [r[0] for r in got] == ["b1", "c1", "e1", "e2", "v1"]
    assert all(json.loads(r[3]) == {"$current_url": "/a"} for r in got)  # the key is not kept as a property
    assert client.post("/batch/", json={"api_key": "wk_nope", "batch": [event]}).status_code == 401
    seg_only = make_source("Segment only", kind="segment")
    assert (
        client.post("/batch/", json={"api_key": seg_only.write_key, "batch": [event]}).json()["code"]
        == "wrong_endpoint"
    )
    assert client.post("/decide/?v=3", json={"token": key}).json()["featureFlags"] == {}


def test_gzip_by_content_encoding_and_by_posthog_query_parameter(client: Any) -> None:
    src = make_source()
    body = gzip.compress(json.dumps(_batch(src.write_key, prefix="gz")).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert client.post("/v1/batch", content=body, headers=headers).status_code == 200
    ph = gzip.compress(
        json.dumps({"api_key": src.write_key, "batch": [{"event": "x", "distinct_id": "d", "uuid": "pg"}]}).encode()
    )
    assert (
        client.post("/batch/?compression=gzip-js", content=ph, headers={"Content-Type": "text/plain"}).status_code
        == 200
    )
    assert _count() == 4
    broken = client.post("/v1/batch", content=b"\x1f\x8bnot gzip at all", headers=headers)
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_gzip"
    other = client.post("/v1/batch", content=b"{}", headers={"Content-Encoding": "br"})
    assert other.status_code == 400 and other.json()["code"] == "unsupported_encoding"


def test_limits_32kb_per_event_and_500kb_per_batch_refuse_the_whole_request(client: Any) -> None:
    src = make_source()
    big = _batch(src.write_key, n=3)
    big["batch"][1]["properties"]["blob"] = "x" * (33 * 1024)
    response = client.post("/v1/batch", json=big)
    assert response.status_code == 400
    assert response.json()["code"] == "event_too_large"
    assert "batch[1]" in response.json()["message"]
    # Just under the limit is fine
    ok = _batch(src.write_key, n=1, prefix="ok")
    ok["batch"][0]["properties"]["blob"] = "x" * (31 * 1024)
    assert client.post("/v1/batch", json=ok).status_code == 200
    # Non-ASCII text counts in bytes, not characters
    wide = _batch(src.write_key, n=1, prefix="wide")
    wide["batch"][0]["properties"]["blob"] = "é" * (17 * 1024)
    assert (
        client.post("/v1/batch", content=json.dumps(wide, ensure_ascii=False).encode()).json()["code"]
        == "event_too_large"
    )
    many = _batch(src.write_key, n=40, prefix="many")
    for m in many["batch"]:
        m["properties"]["blob"] = "y" * (14 * 1024)
    response = client.post("/v1/batch", json=many)
    assert response.status_code == 400 and response.json()["code"] == "batch_too_large"
    gz = client.post(
        "/v1/batch", content=gzip.compress(json.dumps(many).encode()), headers={"Content-Encoding": "gzip"}
    )
    assert gz.status_code == 400 and gz.json()["code"] == "batch_too_large"  # the limit applies after inflating
    single = {"userId": "u", "event": "E", "writeKey": src.write_key, "properties": {"blob": "z" * (33 * 1024)}}
    assert client.post("/v1/track", json=single).json()["code"] == "event_too_large"
    assert rows("SELECT uuid FROM events") == [("ok0",)]


def test_invalid_messages_refuse_the_whole_request_and_say_where(client: Any) -> None:
    src = make_source()
    cases = [
        (b"{not json", "invalid_json", None),
        ({"writeKey": src.write_key, "batch": "nope"}, "invalid_body", None),
        ({"writeKey": src.write_key, "batch": [{"type": "track", "event": "E", "messageId": "a"}]}, "missing_id", "batch[0]"),
        ({"writeKey": src.write_key, "batch": [{"type": "bogus", "userId": "u"}]}, "invalid_event", "batch[0].type"),
        ({"writeKey": src.write_key, "batch": [{"type": "track", "userId": "u", "event": "ok", "messageId": "x"},
                                               {"type": "track", "userId": "u"}]}, "invalid_event", "batch[1].event"),
        ({"writeKey": src.write_key, "batch": [{"type": "track", "userId": "u", "event": "E", "timestamp": "yesterday"}]},
         "invalid_timestamp", "batch[0].timestamp"),
        ({"writeKey": src.write_key, "batch": [{"type": "alias", "userId": "u"}]}, "invalid_event", "previousId"),
        ({"writeKey": src.write_key, "batch": []}, "empty_batch", None),
    ]  # fmt: skip
    for body, code, where in cases:
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = client.post("/v1/batch", **kwargs)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["code"] == code, response.text
        if where:
            assert where in response.json()["message"]
    ph = client.post("/batch/", json={"api_key": src.write_key, "batch": [{"event": "E"}]})
    assert ph.status_code == 400 and "distinct_id" in ph.json()["message"]
    assert _count() == 0


def test_clock_skew_is_corrected_from_sent_at(client: Any) -> None:
    src = make_source()
    # The client's clock is two hours fast: it says it sent at 12:00 an event that happened at 11:59:30.
    body = {
        "writeKey": src.write_key,
        "sentAt": "2026-03-01T12:00:00Z",
        "batch": [
            {"type": "track", "userId": "u", "event": "E", "messageId": "s1", "timestamp": "2026-03-01T11:59:30Z"}
        ],
    }
    assert client.post("/v1/batch", json=body).status_code == 200
    ph = {
        "api_key": src.write_key,
        "sent_at": "2026-03-01T12:00:00+00:00",
        "batch": [{"event": "E", "distinct_id": "u", "uuid": "s2", "timestamp": "2026-03-01T11:59:00+00:00"}],
    }
    assert client.post("/batch/", json=ph).status_code == 200
    no_sent = {"writeKey": src.write_key, "batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "s3",
                                                     "timestamp": "2026-03-01T11:00:00+01:00"}]}  # fmt: skip
    assert client.post("/v1/batch", json=no_sent).status_code == 200
    got = {u: (ts, rec) for u, ts, rec in rows("SELECT uuid, timestamp, received_at FROM events")}
    ts, received = got["s1"]
    assert abs((received - ts) - dt.timedelta(seconds=30)) < dt.timedelta(milliseconds=1)
    ts, received = got["s2"]
    assert abs((received - ts) - dt.timedelta(seconds=60)) < dt.timedelta(milliseconds=1)
    # No sentAt: the timestamp is taken as sent, converted to UTC.
    assert got["s3"][0] == dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC).replace(tzinfo=None)


def test_resending_the_same_ids_never_double_counts_even_after_a_restart(client: Any) -> None:
    src = make_source()
    body = _batch(src.write_key, n=5, prefix="dup")
    for _ in range(2):
        assert client.post("/v1/batch", json=body).status_code == 200
    assert _count() == 5
    ph = {"api_key": src.write_key, "batch": [{"event": "E", "distinct_id": "d", "uuid": "ph-1"}] * 2}
    assert client.post("/batch/", json=ph).status_code == 200
    assert _count() == 6
    # Events without an id get one derived from their content: the same event resent is still one event.
    anon = {
        "writeKey": src.write_key,
        "batch": [{"type": "track", "userId": "u", "event": "No id", "timestamp": "2026-03-01T10:00:00Z"}],
    }
    assert client.post("/v1/batch", json=anon).status_code == 200
    assert client.post("/v1/batch", json=anon).status_code == 200
    assert _count() == 7
    pipeline.stop_pipeline()  # the next request starts a new pipeline, which reloads the recent ids
    assert client.post("/v1/batch", json=body).status_code == 200
    assert client.post("/v1/batch", json=_batch(src.write_key, n=6, prefix="dup")).status_code == 200
    assert _count() == 8
    assert pipeline.get_pipeline().duplicates == 5 + 5


def test_source_counters_follow_the_traffic(client: Any, admin_client: Any) -> None:
    src = make_source()
    client.post("/v1/batch", json=_batch(src.write_key, n=4))
    client.post("/v1/track", json={"userId": "u", "event": "E", "writeKey": src.write_key})
    pipeline.flush()
    got = admin_client.get(f"/api/v1/analytics/sources/{src.id}").json()
    assert (got["events_received"], got["requests_received"]) == (5, 2)
    assert got["last_event_at"] is not None


def test_browser_clients_cross_origin_and_posthog_js_form_bodies(client: Any) -> None:
    src = make_source()
    preflight = client.options(
        "/v1/batch", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert client.options("/e/").status_code == 204
    ok = client.post("/v1/batch", json=_batch(src.write_key, n=1, prefix="cors"))
    assert ok.headers["access-control-allow-origin"] == "*"
    refused = client.post("/v1/batch", json=_batch("wk_nope"))
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
    # posthog-js without compression posts a form whose data field is the base64 of the JSON
    payload = json.dumps(
        [{"event": "$pageview", "distinct_id": "d", "uuid": "form-1", "properties": {"token": src.write_key}}]
    )
    form = {"data": base64.b64encode(payload.encode()).decode()}
    assert client.post("/e/", data=form).status_code == 200
    packed = base64.b64encode(gzip.compress(payload.replace("form-1", "form-2").encode())).decode()
    assert client.post("/e/?compression=base64", data={"data": packed}).status_code == 200
    assert client.post("/e/", data={"nothing": "here"}).json()["code"] == "invalid_body"
    assert rows("SELECT uuid FROM events ORDER BY uuid") == [("cors0",), ("form-1",), ("form-2",)]


def test_a_closed_log_answers_503_so_clients_retry(client: Any) -> None:
    src = make_source()
    assert client.post("/v1/batch", json=_batch(src.write_key, n=1, prefix="before")).status_code == 200
    pipe = pipeline.get_pipeline()
    assert pipe.wal is not None
    pipe.wal.close()  # as during shutdown
    response = client.post("/v1/batch", json=_batch(src.write_key, n=1, prefix="after"))
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable" and response.headers["retry-after"] == "30"
    assert rows("SELECT uuid FROM events") == [("before0",)]
