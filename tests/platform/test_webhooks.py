"""Outgoing webhooks against a real HTTP receiver: fan-out after commit, signatures, formats, retries, UI and API."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.platform import events
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope, transaction
from prodops.platform.errors import ValidationFailed
from prodops.platform.jobs import huey
from prodops.platform.notify import jobs, service, webhooks
from prodops.platform.notify.models import WebhookDelivery, WebhookSubscription
from prodops.platform.notify.schemas import WebhookIn, WebhookWithSecret
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn
from tests.conftest import Client, login, make_token, make_user

SYSTEM = Actor.system("test")


# --- a real receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, self.headers, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                text = b"ok" if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return sorted(r.path for r in self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(autouse=True)
def _empty_job_schedule() -> Iterator[None]:
    # Inline (immediate) Huey keeps scheduled retries in memory; start every test with none.
    huey.flush()
    yield
    huey.flush()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subscribe(
    url: str, event_types: list[str], *, fmt: str = "json", active: bool = True, name: str = "hook"
) -> WebhookWithSecret:
    with session_scope() as s:
        return service.create_subscription(
            s,
            SYSTEM,
            WebhookIn(name=name, url=url, event_types=event_types, payload_format=fmt, is_active=active),
        )


def create_product(key: str = "mobile", name: str = "Mobile app") -> None:
    with session_scope() as s:
        org.create_product(s, SYSTEM, ProductIn(key=key, name=name))


def deliveries(session: Session, subscription_id: int | None = None) -> list[WebhookDelivery]:
    session.rollback()  # a fresh snapshot: the jobs wrote in their own sessions
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    return list(session.scalars(stmt))


def send_test(subscription_id: int) -> int:
    with session_scope() as s:
        return int(service.send_test(s, SYSTEM, subscription_id).id)


# --- fan-out --------------------------------------------------------------------------------------


def test_events_fan_out_to_matching_active_subscriptions_only_after_commit(
    receiver: Receiver, session: Session
) -> None:
    exact = subscribe(receiver.url("/exact"), ["org.product.created"])
    prefix = subscribe(receiver.url("/prefix"), ["org.*"])
    subscribe(receiver.url("/other"), ["identity.*"])
    subscribe(receiver.url("/inactive"), ["*"], active=False)
    subscribe(receiver.url("/team"), ["org.team.created"])

    with session_scope() as s, transaction(s):
        org.create_product(s, SYSTEM, ProductIn(key="mobile", name="Mobile app"))
        assert receiver.requests == [], "nothing may be sent before the transaction commits"
    assert receiver.paths() == ["/exact", "/prefix"]

    rows = deliveries(session)
    assert {r.subscription_id for r in rows} == {exact.id, prefix.id}
    for row in rows:
        assert (row.event, row.status, row.attempts, row.last_status_code) == (
            "org.product.created",
            "succeeded",
            1,
            200,
        )
        assert row.delivered_at is not None and row.next_attempt_at is None and row.last_duration_ms is not None
        assert row.payload["data"]["key"] == "mobile"
    for req in receiver.requests:
        assert req.headers["X-ProdOps-Event"] == "org.product.created"
        assert req.json()["data"] == {"id": rows[0].payload["data"]["id"], "key": "mobile", "name": "Mobile app"}


def test_nothing_is_sent_for_a_rolled_back_transaction(receiver: Receiver, session: Session) -> None:
    subscribe(receiver.url(), ["*"])
    with pytest.raises(RuntimeError), session_scope() as s, transaction(s):
        org.create_product(s, SYSTEM, ProductIn(key="ghost", name="Ghost"))
        raise RuntimeError("abort the use case")
    assert receiver.requests == []
    assert deliveries(session) == []


def test_events_without_any_subscription_create_nothing(receiver: Receiver, session: Session) -> None:
    create_product()
    assert deliveries(session) == [] and receiver.requests == []


# --- the wire format ------------------------------------------------------------------------------


def test_json_body_headers_and_signature(receiver: Receiver, session: Session) -> None:
    hook = subscribe(receiver.url(), ["org.product.created"])
    before = int(time.time())
    create_product()
    (req,) = receiver.requests
    (row,) = deliveries(session)

    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"] == "ProdOps-Webhooks/1"
    assert req.headers["X-ProdOps-Event"] == "org.product.created"
    assert req.headers["X-ProdOps-Delivery"] == str(row.id)
    timestamp = req.headers["X-ProdOps-Timestamp"]
    assert before <= int(timestamp) <= int(time.time())

    body = req.json()
    assert set(body) == {"id", "event", "occurred_at", "data"}
    assert body["id"] == row.id and body["event"] == "org.product.created"
    assert dt.datetime.fromisoformat(body["occurred_at"]).tzinfo is not None
    assert body["data"]["name"] == "Mobile app"

    # What a receiver does, written out independently of the sender's code.
    expected = hmac.new(hook.secret.encode(), timestamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-ProdOps-Signature"] == f"sha256={expected}"
    assert webhooks.verify(hook.secret, req.body, timestamp, req.headers["X-ProdOps-Signature"])
    assert not webhooks.verify("another-secret", req.body, timestamp, req.headers["X-ProdOps-Signature"])
    assert not webhooks.verify(hook.secret, req.body + b" ", timestamp, req.headers["X-ProdOps-Signature"])
    # A replay outside the five-minute window fails although the signature is genuine.
    assert not webhooks.verify(
        hook.secret, req.body, timestamp, req.headers["X-ProdOps-Signature"], now=int(timestamp) + 301
    )


def test_slack_format_is_a_readable_message(receiver: Receiver) -> None:
    hook = subscribe(receiver.url("/slack"), ["org.*"], fmt="slack")
    create_product(name="Mobile <beta> & co")
    (req,) = receiver.requests
    body = req.json()
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("ProdOps: A product line was created (org.product.created)")
    assert "Mobile <beta> & co" in body["text"] and "\n" not in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "mrkdwn", "text": "*A product line was created*"}
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*name:* Mobile &lt;beta&gt; &amp; co" in fields  # Slack's control characters escaped
    assert all(f["type"] == "mrkdwn" for f in body["blocks"][1]["fields"])
    assert "org.product.created" in body["blocks"][2]["elements"][0]["text"]
    # Slack ignores the signature, but it is there for proxies that check it.
    assert webhooks.verify(
        hook.secret, req.body, req.headers["X-ProdOps-Timestamp"], req.headers["X-ProdOps-Signature"]
    )


# --- retries --------------------------------------------------------------------------------------


def test_failed_attempts_are_retried_with_exponential_back_off(
    receiver: Receiver, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_retry_base_seconds", 10.0)
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 4)
    receiver.statuses = [500, 503, 500]  # then 200
    hook = subscribe(receiver.url(), ["org.product.created"])

    create_product()
    (row,) = deliveries(session, hook.id)
    expected_delays = [10, 20, 40]
    for attempt, delay in enumerate(expected_delays, start=1):
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.last_status_code in (500, 503)
        assert row.last_error is not None and row.last_error.startswith(f"HTTP {row.last_status_code}")
        assert "receiver says no" in row.last_error
        assert row.next_attempt_at is not None
        waited = (row.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
        assert delay - 3 < waited <= delay, (attempt, waited)
        # The retry really is queued in Huey for that time (inline Huey keeps it in its schedule).
        (scheduled,) = [t for t in huey.scheduled() if t.args == (row.id,)]
        assert scheduled.name.endswith("deliver_webhook_job")
        huey.flush()
        # Time passes: run the retry the queue would have run.
        jobs.deliver_webhook_job.call_local(row.id)
        (row,) = deliveries(session, hook.id)

    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("succeeded", 4, 200, None)
    assert row.next_attempt_at is None and row.delivered_at is not None
    assert len(receiver.requests) == 4
    assert {r.headers["X-ProdOps-Delivery"] for r in receiver.requests} == {str(row.id)}
    assert len({r.json()["id"] for r in receiver.requests}) == 1
    # A finished delivery is not sent again by a stray job.
    jobs.deliver_webhook_job.call_local(row.id)
    assert len(receiver.requests) == 4


def test_retries_run_until_success_when_the_delay_is_zero(receiver: Receiver, session: Session) -> None:
    assert get_settings().webhook_retry_base_seconds == 0
    receiver.statuses = [500]
    hook = subscribe(receiver.url(), ["*"])
    delivery_id = send_test(hook.id)
    (row,) = deliveries(session)
    assert (row.id, row.status, row.attempts, row.last_status_code) == (delivery_id, "succeeded", 2, 200)


def test_delivery_fails_after_max_attempts(
    receiver: Receiver, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 3)
    receiver.statuses = [500] * 10
    hook = subscribe(receiver.url(), ["org.product.created"])
    create_product()
    (row,) = deliveries(session, hook.id)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 3, 500)
    assert row.next_attempt_at is None and row.delivered_at is None
    assert len(receiver.requests) == 3
    assert huey.scheduled() == []


def test_network_errors_count_as_failed_attempts(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 2)
    hook = subscribe(f"http://127.0.0.1:{_free_port()}/nobody-listens", ["*"])
    send_test(hook.id)
    (row,) = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 2, None)
    assert row.last_error is not None and "ConnectError" in row.last_error


def test_redirects_are_not_followed(session: Session, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 1)
    receiver.statuses = [302]
    hook = subscribe(receiver.url(), ["*"])
    send_test(hook.id)
    (row,) = deliveries(session)
    assert (row.status, row.last_status_code) == ("failed", 302)
    assert len(receiver.requests) == 1


def test_redeliver_creates_a_fresh_delivery(
    receiver: Receiver, admin_client: Client, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 1)
    receiver.statuses = [500]
    hook = subscribe(receiver.url(), ["org.product.created"])
    create_product()
    (failed,) = deliveries(session)
    assert failed.status == "failed"

    response = admin_client.post(
        f"/api/v1/webhooks/{hook.id}/deliveries/{failed.id}/redeliver", headers={"X-CSRF-Token": admin_client.csrf}
    )
    assert response.status_code == 202, response.text
    fresh_id = response.json()["id"]
    old, fresh = deliveries(session)
    assert (old.id, old.status, old.attempts) == (failed.id, "failed", 1)
    assert (fresh.id, fresh.status, fresh.attempts, fresh.redelivery_of_id) == (fresh_id, "succeeded", 1, failed.id)
    first, second = (r.json() for r in receiver.requests)
    assert (first["id"], second["id"]) == (failed.id, fresh_id)
    assert first["data"] == second["data"] and first["occurred_at"] == second["occurred_at"]

    # The same from the delivery log's button.
    response = admin_client.form(f"/admin/webhooks/{hook.id}/deliveries/{fresh_id}/redeliver", follow_redirects=False)
    assert response.status_code == 303
    assert len(deliveries(session)) == 3 and len(receiver.requests) == 3
    # Another webhook's delivery id is not found under this webhook.
    other = subscribe(receiver.url(), ["*"], name="other")
    response = admin_client.post(
        f"/api/v1/webhooks/{other.id}/deliveries/{failed.id}/redeliver", headers={"X-CSRF-Token": admin_client.csrf}
    )
    assert response.status_code == 404


def test_disabled_subscriptions_receive_nothing(
    receiver: Receiver, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_retry_base_seconds", 60.0)
    receiver.statuses = [500]
    hook = subscribe(receiver.url(), ["org.*"])
    create_product()
    (row,) = deliveries(session)
    assert (row.status, row.attempts) == ("pending", 1)

    with session_scope() as s:
        service.set_active(s, SYSTEM, hook.id, False)
    create_product(key="web", name="Web app")
    assert len(deliveries(session)) == 1, "no new delivery for a disabled webhook"
    # The retry that was waiting finds the webhook disabled and gives up without sending.
    jobs.deliver_webhook_job.call_local(row.id)
    (row,) = deliveries(session)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Not sent: the webhook is disabled.")
    assert len(receiver.requests) == 1
    with session_scope() as s, pytest.raises(ValidationFailed):
        service.send_test(s, SYSTEM, hook.id)


# --- the JSON API ---------------------------------------------------------------------------------


SLACK_URL = "https://hooks.slack.com/services/T0000001/B0000001/abcdefghijklmnopqrstuvwx"


def test_api_manages_subscriptions_and_keeps_secrets_out_of_the_audit_log(
    client: Client, receiver: Receiver, session: Session
) -> None:
    auth = {"Authorization": f"Bearer {make_token(make_user('admin'))}"}
    created = client.post(
        "/api/v1/webhooks",
        json={
            "name": "Slack #product",
            "url": SLACK_URL,
            "event_types": ["org.*", "identity.user.created"],
            "payload_format": "slack",
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    secret = hook["secret"]
    assert len(secret) >= 43 and hook["secret_fingerprint"] == webhooks.fingerprint(secret)
    assert hook["is_active"] is True and hook["last_delivery"] is None

    listed = client.get("/api/v1/webhooks", headers=auth).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == hook["id"]
    assert "secret" not in listed["items"][0]
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=auth).json()["secret"] == secret

    patched = client.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json={"url": receiver.url(), "payload_format": "json", "is_active": False},
        headers=auth,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["url"], patched.json()["payload_format"], patched.json()["is_active"]) == (
        receiver.url(),
        "json",
        False,
    )
    assert client.patch(f"/api/v1/webhooks/{hook['id']}", json={"is_active": True}, headers=auth).status_code == 200

    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=auth).json()
    assert rotated["secret"] != secret

    tested = client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=auth)
    assert tested.status_code == 202 and tested.json()["event"] == "webhooks.test"
    (req,) = receiver.requests
    assert req.json()["event"] == "webhooks.test" and req.json()["data"]["webhook_id"] == hook["id"]
    assert webhooks.verify(
        rotated["secret"], req.body, req.headers["X-ProdOps-Timestamp"], req.headers["X-ProdOps-Signature"]
    )
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json()
    assert log["total"] == 1 and log["items"][0]["status"] == "succeeded" and log["items"][0]["attempts"] == 1
    assert client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=failed", headers=auth).json()["total"] == 0
    one = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{log['items'][0]['id']}", headers=auth).json()
    assert one["payload"]["event"] == "webhooks.test"

    types = client.get("/api/v1/webhooks/event-types", headers=auth).json()
    assert {"name": "webhooks.test", "description": events.catalogue()["webhooks.test"]} in types["items"]

    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=auth).status_code == 404
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0

    records = list(
        session.scalars(select(AuditRecord).where(AuditRecord.entity_type == "webhook").order_by(AuditRecord.id))
    )
    assert [r.action for r in records] == ["create", "update", "enable", "rotate_secret", "test", "delete"]
    dumped = json.dumps([r.changes for r in records])
    assert secret not in dumped and rotated["secret"] not in dumped
    assert "abcdefghijklmnopqrstuvwx" not in dumped, "the token inside a Slack URL is a credential too"
    assert records[0].changes["url"] == [None, "https://hooks.slack.com/services/T0000001/B0000001/abcd…"]
    assert records[0].changes["secret"] == [None, webhooks.fingerprint(secret)]
    assert records[3].changes == {"secret": [webhooks.fingerprint(secret), webhooks.fingerprint(rotated["secret"])]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "ftp://example.com/hook", "event_types": ["*"]}, "url"),
        ({"name": "x", "url": "https:///no-host", "event_types": ["*"]}, "url"),
        ({"name": "x", "url": "not a url", "event_types": ["*"]}, "url"),
        ({"name": "x", "url": "https://example.com", "event_types": ["no.such.event"]}, "event_types"),
        ({"name": "x", "url": "https://example.com", "event_types": ["nothing.*"]}, "event_types"),
        ({"name": "x", "url": "https://example.com", "event_types": ["org.product.created; DROP"]}, "event_types"),
        ({"name": "x", "url": "https://example.com", "event_types": []}, "event_types"),
        ({"name": "x", "url": "https://example.com", "event_types": "org.*"}, "event_types"),
        ({"name": "x", "url": "https://example.com", "event_types": ["*"], "payload_format": "xml"}, "payload_format"),
        ({"name": "", "url": "https://example.com", "event_types": ["*"]}, "name"),
        ({"name": "x", "url": "https://example.com", "event_types": ["*"], "secret": "mine"}, "secret"),
        ({"url": "https://example.com", "event_types": ["*"]}, "name"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_written(
    admin_client: Client, session: Session, body: dict[str, Any], field: str
) -> None:
    response = admin_client.post("/api/v1/webhooks", json=body, headers={"X-CSRF-Token": admin_client.csrf})
    assert response.status_code == 422, response.text
    assert field in {str(part) for e in response.json()["detail"] for part in e["loc"]}, response.json()
    assert session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
    assert (
        session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.entity_type == "webhook")) == 0
    )


def test_bad_patch_is_refused_and_changes_nothing(admin_client: Client, session: Session) -> None:
    hook = subscribe("https://example.com/a", ["org.*"])
    headers = {"X-CSRF-Token": admin_client.csrf}
    for body, field in (
        ({"url": "javascript:alert(1)"}, "url"),
        ({"event_types": ["nope"]}, "event_types"),
        ({"colour": "red"}, "colour"),
    ):
        response = admin_client.patch(f"/api/v1/webhooks/{hook.id}", json=body, headers=headers)
        assert response.status_code == 422 and field in json.dumps(response.json()["detail"])
    row = session.get(WebhookSubscription, hook.id)
    assert row is not None and (row.url, row.event_types) == ("https://example.com/a", ["org.*"])
    assert admin_client.patch("/api/v1/webhooks/999", json={"name": "x"}, headers=headers).status_code == 404


# --- pages ----------------------------------------------------------------------------------------


def test_admin_manages_webhooks_in_the_ui(admin_client: Client, receiver: Receiver, session: Session) -> None:
    page = admin_client.get("/admin/webhooks")
    assert page.status_code == 200 and "No webhooks yet" in page.text
    assert 'value="org.product.created"' in page.text and 'value="org.*"' in page.text and 'value="*"' in page.text
    assert 'href="/admin/webhooks"' in page.text  # the navigation entry

    created = admin_client.form(
        "/admin/webhooks",
        {
            "name": "Product feed",
            "url": receiver.url(),
            "payload_format": "json",
            "event_types": ["org.product.created", "org.team.*"],
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    detail_url = created.headers["location"]
    hook = session.scalars(select(WebhookSubscription)).one()
    assert detail_url == f"/admin/webhooks/{hook.id}" and hook.event_types == ["org.product.created", "org.team.*"]

    detail = admin_client.get(detail_url)
    assert detail.status_code == 200
    assert hook.secret in detail.text and "No deliveries yet" in detail.text
    assert "Webhook Product feed created" in detail.text  # the flash message

    assert admin_client.form(f"{detail_url}/test", follow_redirects=False).status_code == 303
    create_product()
    (test_row, event_row) = deliveries(session)
    detail = admin_client.get(detail_url)
    assert f'href="{detail_url}/deliveries/{test_row.id}"' in detail.text and "webhooks.test" in detail.text
    assert "org.product.created" in detail.text and "✓ succeeded" in detail.text
    assert detail.text.count("Redeliver</button>") == 2

    failed_only = admin_client.get(f"{detail_url}?status=failed")
    assert "No failed deliveries" in failed_only.text
    fragment = admin_client.get(f"{detail_url}?status=succeeded&per_page=1&page=2", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="deliveries"' in fragment.text
    assert f"/deliveries/{test_row.id}" in fragment.text and f"/deliveries/{event_row.id}" not in fragment.text
    assert "2–2 of <strong>2</strong>" in fragment.text

    payload = admin_client.get(f"{detail_url}/deliveries/{event_row.id}")
    assert (
        payload.status_code == 200 and "&#34;Mobile app&#34;" in payload.text and "X-ProdOps-Signature" in payload.text
    )
    assert admin_client.get(f"{detail_url}/deliveries/99999").status_code == 404

    listing = admin_client.get("/admin/webhooks")
    assert "Product feed" in listing.text and "✓ succeeded" in listing.text and "HTTP 200" in listing.text

    # Each action redirects back to the page, which confirms it (as a browser follows the redirect).
    old_secret = hook.secret
    rotated = admin_client.form(f"{detail_url}/secret")
    assert rotated.status_code == 200 and "A new signing secret was generated" in rotated.text
    session.rollback()
    assert hook.secret != old_secret and hook.secret in rotated.text

    edited = admin_client.form(
        detail_url, {"name": "Renamed", "url": receiver.url("/v2"), "payload_format": "slack", "event_types": ["*"]}
    )
    assert edited.status_code == 200 and "Webhook settings saved." in edited.text
    session.rollback()
    assert (hook.name, hook.url, hook.payload_format, hook.event_types) == (
        "Renamed",
        receiver.url("/v2"),
        "slack",
        ["*"],
    )

    disabled = admin_client.form(f"{detail_url}/active", {"active": "false"})
    assert "Webhook Renamed disabled." in disabled.text
    session.rollback()
    assert hook.is_active is False
    refused = admin_client.form(f"{detail_url}/test")
    assert "enable it before sending" in refused.text
    assert len(deliveries(session)) == 2
    enabled = admin_client.form(f"{detail_url}/active", {"active": "true"})
    assert "Webhook Renamed enabled." in enabled.text

    history = admin_client.get(detail_url).text
    for action in ("create", "test", "rotate_secret", "update", "disable", "enable"):
        assert f"<strong>{action}</strong>" in history

    deleted = admin_client.form(f"{detail_url}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/webhooks"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_form_errors_are_shown_inline_with_the_values_kept(admin_client: Client, session: Session) -> None:
    response = admin_client.form(
        "/admin/webhooks",
        {"name": "My hook", "url": "ftp://example.com/in", "payload_format": "json", "other_patterns": "nothing.*"},
    )
    assert response.status_code == 422
    assert re.search(r'id="e-url"[^>]*>[^<]*http:// or https://', response.text)
    assert re.search(r'id="e-event_types"[^>]*>[^<]*matches no known event', response.text)
    assert 'value="My hook"' in response.text and 'value="ftp://example.com/in"' in response.text
    assert 'value="nothing.*"' in response.text
    assert session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0

    response = admin_client.form(
        "/admin/webhooks",
        {"name": "My hook", "url": "https://example.com/in", "event_types": ["org.*"]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    session.rollback()
    hook = session.scalars(select(WebhookSubscription)).one()
    response = admin_client.form(
        f"/admin/webhooks/{hook.id}", {"name": "", "url": "https://example.com/in", "payload_format": "json"}
    )
    assert response.status_code == 422
    assert 'id="e-name"' in response.text and 'id="e-event_types"' in response.text
    session.rollback()
    assert (hook.name, hook.event_types) == ("My hook", ["org.*"])


def _webhook_routes(app: Any) -> list[tuple[str, str]]:
    from prodops.web import route_access

    return sorted(
        (method, path)
        for (method, path), level in route_access(app).items()
        if method != "HEAD" and (path.startswith("/admin/webhooks") or path.startswith("/api/v1/webhooks"))
    )


def test_every_webhook_route_is_for_admins_only(app: Any) -> None:
    from prodops.web import route_access

    routes = _webhook_routes(app)
    assert len(routes) >= 20
    assert {route_access(app)[r] for r in routes} == {"admin"}


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_are_refused_everywhere(app: Any, client: Client, receiver: Receiver, role: str) -> None:
    hook = subscribe(receiver.url(), ["org.*"])
    delivery_id = send_test(hook.id)
    user = make_user(role)
    login(client, user)
    token = make_token(user, scope="read" if role == "viewer" else "write")
    for method, path in _webhook_routes(app):
        concrete = path.replace("{webhook_id}", str(hook.id)).replace("{delivery_id}", str(delivery_id))
        by_session = client.request(method, concrete, headers={"X-CSRF-Token": client.csrf}, follow_redirects=False)
        assert by_session.status_code == 403, (role, method, path, by_session.status_code)
        by_token = client.request(
            method, concrete, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        )
        assert by_token.status_code == 403, (role, method, path, by_token.status_code)
    with session_scope() as s:
        assert s.get(WebhookSubscription, hook.id) is not None
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    assert len(receiver.requests) == 1


def test_lost_pending_deliveries_are_requeued_and_old_ones_purged(receiver: Receiver, session: Session) -> None:
    import datetime as dt

    from prodops.platform.db import transaction, utcnow
    from prodops.worker import purge_webhook_deliveries, requeue_stale_webhooks

    hook = subscribe(receiver.url(), ["org.product.created"])
    receiver.statuses = [500] * 10
    with session_scope() as s, transaction(s):
        s.add(
            WebhookDelivery(
                subscription_id=hook.id,
                event="org.product.created",
                payload={"id": 1},
                created_at=utcnow() - dt.timedelta(hours=1),
            )
        )
    (lost,) = deliveries(session, hook.id)
    assert lost.status == "pending" and lost.attempts == 0
    receiver.statuses = [200]
    requeue_stale_webhooks.call_local()
    (row,) = deliveries(session, hook.id)
    assert (row.status, row.attempts) == ("succeeded", 1)

    with session_scope() as s, transaction(s):
        s.get(WebhookDelivery, row.id).created_at = utcnow() - dt.timedelta(days=31)  # type: ignore[union-attr]
    purge_webhook_deliveries.call_local()
    assert deliveries(session, hook.id) == []
