"""Intercom webhooks: the signature check and a conversation notification as one item per customer message."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.feedback.schemas import MAX_TEXT, FeedbackIn
from prodops.domains.feedback.service.channels.common import (
    Ignored,
    SignatureRejected,
    WebhookResult,
    as_dict,
    feedback_in,
    http_url,
    ingest_batch,
    parse_time,
    scalar,
    valid_email,
)
from prodops.domains.feedback.service.channels.text import clip, html_to_text, one_line, strip_reply
from prodops.platform.audit import Actor
from prodops.platform.errors import ValidationFailed

INTERCOM_ACTOR = Actor.system("intercom webhook")
#: Intercom topics that carry a customer's message; every other topic is acknowledged and ignored.
INTERCOM_TOPICS = ("conversation.user.created", "conversation.user.replied")
#: Intercom author types that are the customer (admins and bots are the company's own side).
INTERCOM_CUSTOMERS = frozenset({"user", "lead", "contact"})


def intercom_signature(secret: str, body: bytes) -> str:
    """Intercom's ``X-Hub-Signature``: ``sha1=`` + hex HMAC-SHA1 of the raw body with the app's client secret."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify_intercom(secret: str, body: bytes, signature: str | None) -> None:
    if not signature:
        raise SignatureRejected("The X-Hub-Signature header is required.")
    expected = intercom_signature(secret, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureRejected("The Intercom webhook signature does not match the body and client secret.")


@dataclass(frozen=True)
class _Conversation:
    """What every item of one Intercom conversation shares."""

    id: str
    subject: str
    url: str | None
    created_at: dt.datetime | None
    contact: dict[str, Any]
    known: dict[str, tuple[str, str]]
    """Author id → (e-mail, name), from every author in the notification that shows an e-mail."""

    def person(self, author: dict[str, Any]) -> tuple[str | None, str]:
        # Reply parts often carry the author's id without the e-mail: reuse the one the same author shows elsewhere.
        same = self.known.get(scalar(author.get("id")), (None, ""))
        contact = self.contact
        address = valid_email(scalar(author.get("email"))) or same[0] or valid_email(scalar(contact.get("email")))
        name = scalar(author.get("name")) or same[1] or scalar(contact.get("name"))
        return address, name[:200]

    def message(
        self, external_id: str, body: Any, author: dict[str, Any], at: dt.datetime | None, extra: dict[str, Any]
    ) -> FeedbackIn | None:
        text = html_to_text(scalar(body))
        text, truncated = clip(strip_reply(text) or text, MAX_TEXT)
        if not text:
            return None
        address, name = self.person(author)
        meta = {"channel": "intercom", "conversation_id": self.id, "author_type": scalar(author.get("type")), **extra}
        if scalar(self.contact.get("id")):
            meta["contact_id"] = scalar(self.contact.get("id"))
        if truncated:
            meta["truncated"] = True
        return feedback_in(
            "data.item",
            {
                "text": text,
                "title": clip(self.subject, 300)[0],
                "source": "support_ticket",
                "external_id": external_id[:200],
                "source_url": self.url,
                "person_email": address,
                "person_name": name if address else "",
                "received_at": at or self.created_at,
                "meta": meta,
            },
        )


def _conversation(item: dict[str, Any], parts: list[dict[str, Any]]) -> _Conversation:
    conversation_id = scalar(item.get("id"))
    if not conversation_id:
        raise ValidationFailed("data.item.id", "The conversation id is missing.")
    source = as_dict(item.get("source"))
    contacts = as_dict(item.get("contacts")).get("contacts")
    known: dict[str, tuple[str, str]] = {}
    for someone in [as_dict(source.get("author")), *(as_dict(p.get("author")) for p in parts)]:
        address = valid_email(scalar(someone.get("email")))
        if address and scalar(someone.get("id")):
            known.setdefault(scalar(someone.get("id")), (address, scalar(someone.get("name"))))
    return _Conversation(
        id=conversation_id,
        subject=one_line(html_to_text(scalar(source.get("subject")))),
        url=http_url(as_dict(item.get("links")).get("conversation_web")),
        created_at=parse_time(item.get("created_at")),
        contact=as_dict(contacts[0]) if isinstance(contacts, list) and contacts else {},
        known=known,
    )


def intercom_feedback(payload: Any) -> list[FeedbackIn] | Ignored:
    """The customer messages of an Intercom conversation notification, one item each: the opening message
    (``intercom:<conversation id>``) and every reply by the customer (``intercom:<conversation id>:<part id>``).
    Admin and bot messages and notes are not feedback and are skipped; topics other than :data:`INTERCOM_TOPICS`
    (``ping`` included) are ignored."""
    if not isinstance(payload, dict):
        raise ValidationFailed("body", "Expected a JSON object.")
    topic = scalar(payload.get("topic"))
    if not topic:
        raise ValidationFailed("topic", "The notification has no topic.")
    if topic not in INTERCOM_TOPICS:
        return Ignored(topic, "ping" if topic == "ping" else "not a customer message topic")
    item = as_dict(as_dict(payload.get("data")).get("item"))
    listed = as_dict(item.get("conversation_parts")).get("conversation_parts")
    parts = [as_dict(p) for p in listed] if isinstance(listed, list) else []
    conversation = _conversation(item, parts)
    found: list[FeedbackIn | None] = []
    source = as_dict(item.get("source"))
    author = as_dict(source.get("author"))
    if scalar(author.get("type")) in INTERCOM_CUSTOMERS:
        found.append(
            conversation.message(f"intercom:{conversation.id}", source.get("body"), author, conversation.created_at, {})
        )
    for part in parts:
        part_author = as_dict(part.get("author"))
        part_id = scalar(part.get("id"))
        if part_id and scalar(part_author.get("type")) in INTERCOM_CUSTOMERS and part.get("part_type") != "note":
            found.append(
                conversation.message(
                    f"intercom:{conversation.id}:{part_id}",
                    part.get("body"),
                    part_author,
                    parse_time(part.get("created_at")),
                    {"part_id": part_id},
                )
            )
    messages = [m for m in found if m is not None]
    return messages or Ignored(topic, "no customer message with text in the notification")


def ingest_intercom(session: Session, payload: Any) -> WebhookResult:
    """Capture the customer messages of an Intercom conversation notification (see :func:`intercom_feedback`)."""
    mapped = intercom_feedback(payload)
    if isinstance(mapped, Ignored):
        return WebhookResult(event=mapped.event, ignored=mapped.event, reason=mapped.reason)
    result = ingest_batch(session, INTERCOM_ACTOR, mapped)
    return WebhookResult(event=str(payload["topic"]), created=result.created, updated=result.updated, ids=result.ids)
