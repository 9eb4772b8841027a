"""Inbound e-mail: one raw RFC 822 message read with the standard library's ``email`` package (default policy, so
RFC 2047 headers are decoded) and captured as one feedback item, its Message-ID the external id."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.feedback.queries.items import get_item
from prodops.domains.feedback.schemas import MAX_TEXT, FeedbackIn, FeedbackOut
from prodops.domains.feedback.service.channels.common import feedback_in, ingest_batch, valid_email
from prodops.domains.feedback.service.channels.text import clip, html_to_text, one_line, strip_reply, tidy
from prodops.platform.audit import Actor
from prodops.platform.errors import ServiceError, ValidationFailed

#: Largest raw message the e-mail endpoint accepts (attachments included; only their names and sizes are kept).
MAX_EMAIL_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS_LISTED = 50


class MessageTooLarge(ServiceError):
    """A message over :data:`MAX_EMAIL_BYTES` (HTTP 413)."""

    status_code = 413

    def __init__(self, limit: int = MAX_EMAIL_BYTES) -> None:
        super().__init__(
            "message", f"The message is larger than {limit // (1024 * 1024)} MB; send it without large attachments."
        )


class UnsupportedMediaType(ServiceError):
    """A body that is not a raw message nor a form upload (HTTP 415)."""

    status_code = 415

    def __init__(self, content_type: str) -> None:
        super().__init__(
            None,
            f"Content-Type {content_type!r} is not accepted: send the raw message as message/rfc822 or text/plain, "
            "or upload it as the multipart form field 'message'.",
        )


@dataclass(frozen=True)
class ParsedEmail:
    """What ProdOps reads from one message."""

    sender_email: str | None
    sender_name: str
    subject: str
    text: str
    """The new text: the preferred body (text/plain, else HTML as text) without quoted replies and signature."""
    received_at: dt.datetime | None
    message_id: str | None
    external_id: str
    attachments: list[dict[str, Any]]
    to: list[str]
    in_reply_to: str | None


def _parse_bytes(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: EmailMessage, name: str) -> Any:
    try:
        return message[name]
    except (ValueError, TypeError, IndexError, AttributeError):  # a header too broken to parse
        return None


def _addresses(message: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = _header(message, name)
    if header is None:
        return []
    found: list[tuple[str, str]] = []
    try:
        for addr in getattr(header, "addresses", ()):
            found.append((addr.display_name or "", addr.addr_spec or ""))
    except (ValueError, TypeError, IndexError, AttributeError):
        found = []
    if not found:
        found = [(n, a) for n, a in email.utils.getaddresses([str(header)]) if a]
    return found


def _sender(message: EmailMessage) -> tuple[str | None, str]:
    """The first valid address of From, else Reply-To, else Sender."""
    for name in ("From", "Reply-To", "Sender"):
        for display, addr in _addresses(message, name):
            valid = valid_email(addr)
            if valid:
                return valid, one_line(display)[:200]
    return None, ""


def _content(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body(message: EmailMessage) -> tuple[str, MIMEPart | None]:
    """The message text: text/plain preferred, else HTML converted to text."""
    plain = message.get_body(preferencelist=("plain",))
    if isinstance(plain, MIMEPart):
        text = tidy(_content(plain))
        if text.strip():
            return text, plain
    html = message.get_body(preferencelist=("html",))
    if isinstance(html, MIMEPart):
        text = html_to_text(_content(html))
        if text.strip():
            return text, html
    return "", None


def _attachments(message: EmailMessage, body: MIMEPart | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in message.walk():
        if part is body or part.is_multipart() or part.get_content_maintype() == "multipart":
            continue
        filename = part.get_filename()
        if part.get_content_disposition() != "attachment" and not filename:
            continue
        payload = part.get_payload(decode=True)
        found.append(
            {
                "name": one_line(filename or "(unnamed)")[:200],
                "size": len(payload) if isinstance(payload, bytes) else 0,
                "content_type": part.get_content_type(),
            }
        )
        if len(found) >= MAX_ATTACHMENTS_LISTED:
            break
    return found


def _message_id(value: Any) -> str | None:
    text = one_line(str(value or "")).strip("<> ")
    return text or None


def parse_email(raw: bytes) -> ParsedEmail:
    """Read one raw RFC 822 message (stdlib ``email``, default policy: RFC 2047 headers decoded)."""
    if not raw.strip():
        raise ValidationFailed("message", "The message is empty: send the raw RFC 822 message (headers and body).")
    message = _parse_bytes(raw)
    sender_email, sender_name = _sender(message)
    subject = one_line(str(_header(message, "Subject") or ""))
    full_text, body_part = _body(message)
    text = strip_reply(full_text) or full_text  # a message that is all quote keeps its text rather than nothing
    received_at: dt.datetime | None = None
    date = _header(message, "Date")
    if date is not None:
        try:
            received_at = email.utils.parsedate_to_datetime(str(date))
        except (TypeError, ValueError, IndexError):
            received_at = None
        if received_at is not None and received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=dt.UTC)
    message_id = _message_id(_header(message, "Message-ID"))
    if message_id and len(message_id) <= 190:
        external_id = message_id
    elif message_id:
        external_id = "message-id-sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    else:
        # No Message-ID: the same bytes posted again still map to the same item.
        external_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    return ParsedEmail(
        sender_email=sender_email,
        sender_name=sender_name,
        subject=subject,
        text=text,
        received_at=received_at,
        message_id=message_id,
        external_id=external_id,
        attachments=_attachments(message, body_part),
        to=[a.lower() for _, a in _addresses(message, "To")][:20],
        in_reply_to=_message_id(_header(message, "In-Reply-To")),
    )


def email_feedback(raw: bytes) -> FeedbackIn:
    """A raw message as a feedback item: source ``email``, external id the Message-ID, the sender as the person
    (matched by e-mail, created if new), the subject as title and the Date as the time it was said."""
    parsed = parse_email(raw)
    if parsed.sender_email is None:
        raise ValidationFailed("message", "The message has no valid sender address in From, Reply-To or Sender.")
    text = parsed.text or parsed.subject  # a subject-only message ("Please add dark mode") is still feedback
    if not text:
        raise ValidationFailed("message", "The message has no text: neither a body nor a subject.")
    text, truncated = clip(text, MAX_TEXT)
    meta: dict[str, Any] = {"channel": "email", "message_id": parsed.message_id, "to": parsed.to}
    if parsed.attachments:
        meta["attachments"] = parsed.attachments
    if parsed.in_reply_to:
        meta["in_reply_to"] = parsed.in_reply_to
    if truncated:
        meta["truncated"] = True
    return feedback_in(
        "message",
        {
            "text": text,
            "title": clip(parsed.subject, 300)[0],
            "source": "email",
            "external_id": parsed.external_id,
            "person_email": parsed.sender_email,
            "person_name": parsed.sender_name,
            "received_at": parsed.received_at,
            "meta": meta,
        },
    )


def ingest_email(session: Session, actor: Actor, raw: bytes) -> tuple[FeedbackOut, bool]:
    """Capture one raw e-mail as feedback; returns (item, created). Posting the same message again updates it."""
    result = ingest_batch(session, actor, [email_feedback(raw)])
    return get_item(session, result.ids[0]), result.created == 1
