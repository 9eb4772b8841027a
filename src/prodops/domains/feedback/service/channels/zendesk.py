"""Zendesk webhooks: the signature check and a ticket (the documented trigger body or a ticket event) as one item."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
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
    tag_list,
    valid_email,
)
from prodops.domains.feedback.service.channels.text import clip, strip_reply, tidy
from prodops.platform.audit import Actor
from prodops.platform.errors import ValidationFailed

ZENDESK_ACTOR = Actor.system("zendesk webhook")
#: A signature timestamp further than this from now is refused (replayed or badly delayed delivery).
ZENDESK_TOLERANCE = dt.timedelta(minutes=5)
#: Zendesk ticket priority → feedback importance (normal and low priorities set none).
ZENDESK_IMPORTANCE = {"urgent": "critical", "high": "important"}


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(signing secret, timestamp + raw body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_zendesk(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, *, now: dt.datetime | None = None
) -> None:
    """Refuse (401) a delivery without a valid signature, or signed more than five minutes from now."""
    if not signature or not timestamp:
        raise SignatureRejected(
            "The X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp headers are required."
        )
    signed_at = parse_time(timestamp)
    if signed_at is None:
        raise SignatureRejected("X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time.")
    if abs((now or dt.datetime.now(dt.UTC)) - signed_at) > ZENDESK_TOLERANCE:
        raise SignatureRejected("The signature timestamp is more than 5 minutes from now; the delivery is refused.")
    expected = zendesk_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureRejected("The Zendesk webhook signature does not match the body and signing secret.")


def _zendesk_description(text: str) -> str:
    """``{{ticket.description}}`` opens with a rule and an "author, date" line before the first comment."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and re.fullmatch(r"-{10,}", lines[0].strip()):
        rest = lines[1:]
        while rest and not rest[0].strip():
            rest = rest[1:]
        if len(rest) > 1 and not rest[1].strip():
            rest = rest[2:]  # the "Name, date" line and the blank line after it
        lines = rest
    return tidy("\n".join(lines))


def zendesk_feedback(payload: Any) -> FeedbackIn | Ignored:
    """A Zendesk delivery as a feedback item: the documented trigger body (``{"ticket": {...}}``) or a Zendesk event
    (``type: "zen:event-type:ticket.*"`` with a ``detail`` ticket). Source ``support_ticket``, external id
    ``zendesk:<ticket id>``; priority urgent → critical, high → important."""
    if not isinstance(payload, dict):
        raise ValidationFailed("body", "Expected a JSON object.")
    if isinstance(payload.get("ticket"), dict):
        ticket: dict[str, Any] = payload["ticket"]
        prefix = "ticket"
        event = "ticket"
        requester = as_dict(ticket.get("requester"))
        person_email = valid_email(scalar(requester.get("email")))
        person_name = scalar(requester.get("name"))[:200]
        extra = {"organization": scalar(ticket.get("organization")) or None}
        subject = scalar(ticket.get("subject") or ticket.get("title"))
    elif isinstance(payload.get("type"), str) and "detail" in payload:
        event = payload["type"]
        if not event.startswith("zen:event-type:ticket."):
            return Ignored(event, "not a ticket event")
        if not isinstance(payload["detail"], dict):
            raise ValidationFailed("detail", "Expected the ticket as an object.")
        ticket = payload["detail"]
        prefix = "detail"
        person_email, person_name = None, ""
        extra = {"requester_id": scalar(ticket.get("requester_id")) or None, "event": event}
        subject = scalar(ticket.get("subject"))
    else:
        raise ValidationFailed(
            "ticket",
            'Expected the documented body {"ticket": {"id": …, "subject": …, "description": …}} or a Zendesk '
            'ticket event with "type" and "detail".',
        )
    ticket_id = scalar(ticket.get("id"))
    if not ticket_id:
        raise ValidationFailed(f"{prefix}.id", "The ticket id is missing.")
    description = _zendesk_description(scalar(ticket.get("description")))
    text = strip_reply(description) or description or subject
    if not text:
        if prefix == "detail":
            return Ignored(event, "the event carries no ticket text")
        raise ValidationFailed(f"{prefix}.description", "The ticket has neither a description nor a subject.")
    text, truncated = clip(text, MAX_TEXT)
    priority = scalar(ticket.get("priority")).lower()
    meta: dict[str, Any] = {"channel": "zendesk", "ticket_id": ticket_id, "priority": priority or None}
    meta.update({k: v for k, v in extra.items() if v})
    if person_name and not person_email:
        meta["requester_name"] = person_name
    if truncated:
        meta["truncated"] = True
    return feedback_in(
        prefix,
        {
            "text": text,
            "title": clip(subject, 300)[0],
            "source": "support_ticket",
            "external_id": f"zendesk:{ticket_id}"[:200],
            "source_url": http_url(ticket.get("url") or ticket.get("link")),
            "person_email": person_email,
            "person_name": person_name if person_email else "",
            "tags": tag_list(ticket.get("tags")),
            "importance": ZENDESK_IMPORTANCE.get(priority),
            "received_at": parse_time(ticket.get("created_at")),
            "meta": meta,
        },
    )


def ingest_zendesk(session: Session, payload: Any) -> WebhookResult:
    """Capture a Zendesk ticket delivered by a trigger's or event webhook (see :func:`zendesk_feedback`)."""
    mapped = zendesk_feedback(payload)
    if isinstance(mapped, Ignored):
        return WebhookResult(event=mapped.event, ignored=mapped.event, reason=mapped.reason)
    result = ingest_batch(session, ZENDESK_ACTOR, [mapped])
    event = payload.get("type") if isinstance(payload.get("type"), str) else "ticket"
    return WebhookResult(event=str(event), created=result.created, updated=result.updated, ids=result.ids)
