"""Zendesk and Intercom webhook receivers: real HMAC signatures computed here, payloads shaped like the vendors'
documented ones, over HTTP."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback import service
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.schemas import FeedbackUpdate
from prodops.platform.audit import AuditRecord
from prodops.platform.config import get_settings
from tests.conftest import Client
from tests.customers.conftest import make_account, make_person
from tests.feedback.conftest import ACTOR

ZENDESK = "/api/v1/feedback/webhooks/zendesk"
INTERCOM = "/api/v1/feedback/webhooks/intercom"
ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
INTERCOM_SECRET = "5d1c7a3e9b2f4a8c0e6d"

# The body documented in the README for a Zendesk trigger, as Zendesk renders it.
ZENDESK_TICKET: dict[str, Any] = {
    "ticket": {
        "id": "35436",
        "subject": "Bulk edit for ticket tags",
        "description": (
            "----------------------------------------------\n\n"
            "Ana Lopez, Jan 7, 2025, 09:14\n\n"
            "We tag 200 tickets a day by hand. A bulk edit would save our team hours every week."
        ),
        "url": "acme-support.zendesk.com/agent/tickets/35436",
        "requester": {"email": "Ana.Lopez@acme.com", "name": "Ana Lopez"},
        "organization": "Acme",
        "tags": "bulk_edit feature_request",
        "created_at": "2025-01-07T09:14Z",
        "priority": "Urgent",
    }
}

# A Zendesk event webhook (ticket events), as in Zendesk's event-type reference.
ZENDESK_EVENT: dict[str, Any] = {
    "account_id": 12514403,
    "detail": {
        "actor_id": "8447388090494",
        "assignee_id": None,
        "brand_id": "8447346621310",
        "created_at": "2025-01-08T10:11:12Z",
        "custom_status": "8447388085630",
        "description": "The invoice PDF has no VAT number; our auditors need it on every invoice.",
        "external_id": None,
        "form_id": "8646151517822",
        "group_id": None,
        "id": "5158",
        "is_public": True,
        "organization_id": None,
        "priority": "HIGH",
        "requester_id": "8447388090494",
        "status": "OPEN",
        "subject": "VAT number on invoices",
        "submitter_id": "8447388090494",
        "tags": ["billing", "invoices"],
        "type": "QUESTION",
        "updated_at": "2025-01-08T10:11:12Z",
        "via": {"channel": "web_service"},
    },
    "event": {"meta": {"sequence": {"id": "cbe4028c-7239-495d-b020-f22348516046", "position": 1}}},
    "id": "cbe4028c-7239-495d-b020-f22348516046",
    "subject": "zen:ticket:5158",
    "time": "2025-01-08T10:11:12.000000Z",
    "type": "zen:event-type:ticket.created",
    "zendesk_event_version": "2022-11-06",
}

# An Intercom notification for a conversation a user started (webhook model "notification_event").
INTERCOM_CREATED: dict[str, Any] = {
    "type": "notification_event",
    "app_id": "ecahpwf5",
    "data": {
        "type": "notification_event_data",
        "item": {
            "type": "conversation",
            "id": "147",
            "created_at": 1736330400,
            "updated_at": 1736330400,
            "source": {
                "type": "conversation",
                "id": "403918330",
                "delivered_as": "customer_initiated",
                "subject": "",
                "body": "<p>Hi! Can we get <b>Slack alerts</b> when a goal is at risk?</p><p>Thanks &amp; cheers</p>",
                "author": {
                    "type": "user",
                    "id": "5310d8e8598c9a0b24000002",
                    "name": "Chris Doe",
                    "email": "chris@initech.example.com",
                },
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": "5310d8e8598c9a0b24000002", "external_id": "70"}],
            },
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0},
            "links": {"conversation_web": "https://app.intercom.com/a/apps/ecahpwf5/conversations/147"},
            "open": True,
            "state": "open",
        },
    },
    "links": {},
    "id": "notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3",
    "topic": "conversation.user.created",
    "delivery_status": "pending",
    "delivery_attempts": 1,
    "delivered_at": 0,
    "first_sent_at": 1736330401,
    "created_at": 1736330401,
    "self": None,
}


def intercom_replied() -> dict[str, Any]:
    payload = copy.deepcopy(INTERCOM_CREATED)
    payload["topic"] = "conversation.user.replied"
    payload["id"] = "notif_2f0c5b9e-1d1f-4e43-9a8d-6b0b1f7c2a11"
    payload["data"]["item"]["conversation_parts"] = {
        "type": "conversation_part.list",
        "conversation_parts": [
            {
                "type": "conversation_part",
                "id": "2981",
                "part_type": "comment",
                "body": "<p>Thanks for looking into it.</p>",
                "created_at": 1736334000,
                "author": {"type": "admin", "id": "814860", "name": "Sam (Support)", "email": "sam@prodops.example"},
            },
            {
                "type": "conversation_part",
                "id": "2982",
                "part_type": "comment",
                "body": "<p>Also: a weekly <i>digest</i> of at-risk goals would help our leads.</p>",
                "created_at": 1736337600,
                "author": {"type": "user", "id": "5310d8e8598c9a0b24000002", "name": "Chris Doe", "email": None},
            },
        ],
        "total_count": 2,
    }
    return payload


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "zendesk_webhook_secret", SecretStr(ZENDESK_SECRET))
    monkeypatch.setattr(settings, "intercom_client_secret", SecretStr(INTERCOM_SECRET))


def zendesk_headers(body: bytes, *, at: dt.datetime | None = None, secret: str = ZENDESK_SECRET) -> dict[str, str]:
    timestamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Zendesk Webhook",
        "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
        "X-Zendesk-Webhook-Signature": signature.decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


def send_zendesk(client: Client, payload: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return client.post(ZENDESK, content=body, headers=zendesk_headers(body, **kwargs))


def send_intercom(client: Client, payload: Any, secret: str = INTERCOM_SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    signature = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return client.post(
        INTERCOM,
        content=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "intercom-parrot-service-sidekiq/1.0",
            "X-Hub-Signature": signature,
        },
    )


def count(session: Session) -> int:
    session.rollback()  # end any read snapshot opened before the request wrote
    return int(session.scalar(select(func.count()).select_from(FeedbackItem)) or 0)


# --- Zendesk -----------------------------------------------------------------------------------------


def test_zendesk_receiver_is_off_until_its_secret_is_set(client: Client, session: Session) -> None:
    response = send_zendesk(client, ZENDESK_TICKET)
    assert response.status_code == 404
    assert "Zendesk webhooks are not enabled" in response.json()["detail"]
    assert count(session) == 0


def test_a_signed_zendesk_ticket_becomes_a_support_ticket_item(client: Client, session: Session, secrets: None) -> None:
    acme = make_account(session, name="Acme", domain="acme.com")
    ana = make_person(session, email="ana.lopez@acme.com", name="Ana Lopez")
    response = send_zendesk(client, ZENDESK_TICKET)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["event"] == "ticket" and result["created"] == 1 and result["ignored"] is None
    session.rollback()
    item_row = session.get(FeedbackItem, result["ids"][0])
    assert item_row is not None
    assert item_row.source == "support_ticket" and item_row.external_id == "zendesk:35436"
    assert item_row.title == "Bulk edit for ticket tags"
    assert item_row.text == "We tag 200 tickets a day by hand. A bulk edit would save our team hours every week."
    assert item_row.importance == "critical"  # Urgent
    assert item_row.person_id == ana.id and item_row.account_id == acme.id
    assert item_row.source_url == "https://acme-support.zendesk.com/agent/tickets/35436"
    assert sorted(item_row.tags) == ["bulk_edit", "feature_request"]
    assert item_row.received_at == dt.datetime(2025, 1, 7, 9, 14, tzinfo=dt.UTC)
    assert item_row.meta["organization"] == "Acme" and item_row.meta["ticket_id"] == "35436"
    audit = session.scalars(select(AuditRecord).where(AuditRecord.entity_type == "feedback")).one()
    assert audit.actor_label == "zendesk webhook" and audit.actor_id is None


def test_zendesk_redelivery_updates_the_item_and_keeps_triage(client: Client, session: Session, secrets: None) -> None:
    first = send_zendesk(client, ZENDESK_TICKET).json()
    item_id = first["ids"][0]
    service.update_item(
        session, ACTOR, item_id, FeedbackUpdate(importance="nice", area="tagging", status="triaged", notes="seen")
    )
    changed = copy.deepcopy(ZENDESK_TICKET)
    changed["ticket"]["subject"] = "Bulk edit for tags and macros"
    assert changed["ticket"]["priority"] == "Urgent"  # still urgent: the person's "nice" must stay all the same
    again = send_zendesk(client, changed)
    assert again.status_code == 200, again.text
    assert again.json()["ids"] == [item_id] and again.json()["created"] == 0 and again.json()["updated"] == 1
    assert count(session) == 1
    row = session.get(FeedbackItem, item_id)
    assert row is not None
    assert row.title == "Bulk edit for tags and macros"
    assert (row.importance, row.area, row.status, row.notes) == ("nice", "tagging", "triaged", "seen")
    same = send_zendesk(client, changed)  # exactly the same delivery again: nothing changes
    assert same.json()["updated"] == 0 and same.json()["ids"] == [item_id]


def test_a_zendesk_ticket_event_is_captured_too(client: Client, session: Session, secrets: None) -> None:
    response = send_zendesk(client, ZENDESK_EVENT)
    assert response.status_code == 200, response.text
    assert response.json()["event"] == "zen:event-type:ticket.created"
    session.rollback()
    row = session.get(FeedbackItem, response.json()["ids"][0])
    assert row is not None
    assert row.external_id == "zendesk:5158" and row.title == "VAT number on invoices"
    assert row.text == "The invoice PDF has no VAT number; our auditors need it on every invoice."
    assert row.importance == "important"  # HIGH
    assert sorted(row.tags) == ["billing", "invoices"]
    assert row.person_id is None and row.meta["requester_id"] == "8447388090494"


def test_zendesk_events_without_ticket_text_are_acknowledged_and_ignored(
    client: Client, session: Session, secrets: None
) -> None:
    user_event = {**ZENDESK_EVENT, "type": "zen:event-type:user.created", "detail": {"id": "42"}}
    ignored = send_zendesk(client, user_event)
    assert ignored.status_code == 200 and ignored.json()["ignored"] == "zen:event-type:user.created"
    bare = copy.deepcopy(ZENDESK_EVENT)
    bare["detail"] = {"id": "35436", "status": "Open", "via": {"channel": "web"}}
    no_text = send_zendesk(client, bare)
    assert no_text.status_code == 200 and no_text.json()["ignored"] == "zen:event-type:ticket.created"
    assert count(session) == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("wrong secret", "does not match"),
        ("tampered body", "does not match"),
        ("stale", "more than 5 minutes"),
        ("future", "more than 5 minutes"),
        ("no signature", "headers are required"),
        ("bad timestamp", "ISO 8601"),
    ],
)
def test_zendesk_deliveries_without_a_valid_signature_get_401(
    client: Client, session: Session, secrets: None, change: str, words: str
) -> None:
    body = json.dumps(ZENDESK_TICKET).encode()
    headers = zendesk_headers(body)
    now = dt.datetime.now(dt.UTC)
    if change == "wrong secret":
        headers = zendesk_headers(body, secret="another-secret")
    elif change == "tampered body":
        body = body.replace(b"35436", b"35437")
    elif change == "stale":
        headers = zendesk_headers(body, at=now - dt.timedelta(minutes=6))
    elif change == "future":
        headers = zendesk_headers(body, at=now + dt.timedelta(minutes=6))
    elif change == "no signature":
        del headers["X-Zendesk-Webhook-Signature"]
    elif change == "bad timestamp":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = "yesterday"
    response = client.post(ZENDESK, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert words in response.json()["detail"]
    assert count(session) == 0


def test_a_timestamp_within_five_minutes_is_accepted(client: Client, secrets: None) -> None:
    response = send_zendesk(client, ZENDESK_TICKET, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"ticket": {"subject": "No id"}}, ["body", "ticket.id"]),
        ({"ticket": {"id": "{{ticket.id}}", "subject": "Unrendered test delivery"}}, ["body", "ticket.id"]),
        ({"ticket": {"id": "9"}}, ["body", "ticket.description"]),
        ({"something": "else"}, ["body", "ticket"]),
        ([1, 2], ["body", "body"]),
    ],
)
def test_zendesk_payloads_we_cannot_read_get_422(
    client: Client, session: Session, secrets: None, payload: Any, loc: list[str]
) -> None:
    response = send_zendesk(client, payload)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert count(session) == 0


def test_a_body_that_is_not_json_gets_422(client: Client, secrets: None) -> None:
    body = b"ticket=1"
    response = client.post(ZENDESK, content=body, headers=zendesk_headers(body))
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"][0]["msg"]


# --- Intercom ----------------------------------------------------------------------------------------


def test_intercom_receiver_is_off_until_its_secret_is_set(client: Client, session: Session) -> None:
    response = send_intercom(client, INTERCOM_CREATED)
    assert response.status_code == 404
    assert "Intercom webhooks are not enabled" in response.json()["detail"]
    assert count(session) == 0


def test_intercom_ping_and_other_topics_are_answered_200(client: Client, session: Session, secrets: None) -> None:
    ping = {
        "type": "notification_event",
        "app_id": "ecahpwf5",
        "data": {
            "type": "notification_event_data",
            "item": {"type": "ping", "message": "something something interzen"},
        },
        "links": {},
        "id": None,
        "topic": "ping",
        "delivery_status": None,
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": 1736330401,
        "created_at": 1736330401,
        "self": None,
    }
    answered = send_intercom(client, ping)
    assert answered.status_code == 200 and answered.json()["ignored"] == "ping"
    for topic in ("conversation.admin.replied", "conversation.admin.closed", "contact.created"):
        other = send_intercom(client, {**INTERCOM_CREATED, "topic": topic})
        assert other.status_code == 200
        assert other.json()["ignored"] == topic
    assert count(session) == 0


def test_a_conversation_a_user_started_becomes_an_item(client: Client, session: Session, secrets: None) -> None:
    initech = make_account(session, name="Initech", domain="initech.example.com")
    response = send_intercom(client, INTERCOM_CREATED)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1 and response.json()["event"] == "conversation.user.created"
    session.rollback()
    row = session.get(FeedbackItem, response.json()["ids"][0])
    assert row is not None
    assert row.source == "support_ticket" and row.external_id == "intercom:147"
    assert row.text == "Hi! Can we get Slack alerts when a goal is at risk?\n\nThanks & cheers"
    assert row.source_url == "https://app.intercom.com/a/apps/ecahpwf5/conversations/147"
    assert row.received_at == dt.datetime.fromtimestamp(1736330400, tz=dt.UTC)
    assert row.account_id == initech.id and row.meta["author_type"] == "user"
    audit = session.scalars(select(AuditRecord).where(AuditRecord.entity_type == "feedback")).one()
    assert audit.actor_label == "intercom webhook"


def test_each_customer_reply_is_its_own_item_and_redelivery_never_duplicates(
    client: Client, session: Session, secrets: None
) -> None:
    send_intercom(client, INTERCOM_CREATED)
    replied = send_intercom(client, intercom_replied())
    assert replied.status_code == 200, replied.text
    assert replied.json()["created"] == 1  # the user's reply; the admin's part is not feedback
    assert count(session) == 2
    reply = session.scalars(select(FeedbackItem).where(FeedbackItem.external_id == "intercom:147:2982")).one()
    assert reply.text == "Also: a weekly digest of at-risk goals would help our leads."
    assert reply.received_at == dt.datetime.fromtimestamp(1736337600, tz=dt.UTC)
    opening = session.scalars(select(FeedbackItem).where(FeedbackItem.external_id == "intercom:147")).one()
    assert reply.person_id == opening.person_id is not None  # the same customer, found by the opening's e-mail
    again = send_intercom(client, intercom_replied())
    assert again.status_code == 200 and again.json()["created"] == 0
    assert count(session) == 2


@pytest.mark.parametrize("signature", [None, "sha1=0000", "sha256=abc", "not-a-signature"])
def test_intercom_deliveries_without_a_valid_signature_get_401(
    client: Client, session: Session, secrets: None, signature: str | None
) -> None:
    body = json.dumps(INTERCOM_CREATED).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    response = client.post(INTERCOM, content=body, headers=headers)
    assert response.status_code == 401
    wrong_secret = send_intercom(client, INTERCOM_CREATED, secret="not-the-client-secret")
    assert wrong_secret.status_code == 401 and "does not match" in wrong_secret.json()["detail"]
    assert count(session) == 0


def test_an_intercom_conversation_without_an_id_gets_422(client: Client, session: Session, secrets: None) -> None:
    payload = copy.deepcopy(INTERCOM_CREATED)
    del payload["data"]["item"]["id"]
    response = send_intercom(client, payload)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "data.item.id"]
    assert count(session) == 0
