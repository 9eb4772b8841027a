"""What every capture channel shares: its errors, reading loosely typed vendor JSON, mapping to ``FeedbackIn`` with
field-level errors, and ingesting so that a re-delivery updates its item and keeps the importance people set."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, EmailStr, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.schemas import MAX_TAGS, FeedbackIn, IngestResult
from prodops.domains.feedback.service import items
from prodops.platform.audit import Actor
from prodops.platform.errors import ServiceError, ValidationFailed

_email_adapter: TypeAdapter[str] = TypeAdapter(EmailStr)


class SignatureRejected(ServiceError):
    """A webhook whose signature is missing, wrong or stale (HTTP 401)."""

    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class ChannelOff(ServiceError):
    """A receiver whose secret is not configured answers as if it did not exist (HTTP 404), with the reason."""

    status_code = 404

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON value that should be an object, or an empty one: vendor payloads leave fields out or null."""
    return value if isinstance(value, dict) else {}


def feedback_in(prefix: str, values: Mapping[str, Any]) -> FeedbackIn:
    """``FeedbackIn`` from a channel's values; a value the schema refuses becomes a field-level 422."""
    try:
        return FeedbackIn.model_validate(values)
    except ValidationError as exc:
        problems = [
            (".".join([prefix, *(str(p) for p in err["loc"])]) if err["loc"] else prefix, str(err["msg"]))
            for err in exc.errors()
        ]
        raise ValidationFailed(problems[0][0], problems[0][1], more=problems[1:]) from exc


def valid_email(value: str | None) -> str | None:
    """The address lower-cased when it is a valid e-mail address, else None."""
    if not value:
        return None
    try:
        return _email_adapter.validate_python(value.strip()).lower()
    except ValidationError:
        return None


def http_url(value: Any) -> str | None:
    """A link to the item in the source tool, when the value is one (a missing scheme means https)."""
    text = scalar(value)
    if not text:
        return None
    if not re.match(r"^https?://", text, re.IGNORECASE):
        text = f"https://{text}"  # Zendesk's {{ticket.link}} renders without a scheme
    return text if re.fullmatch(r"https?://\S{1,1990}", text) else None


def scalar(value: Any) -> str:
    """A JSON value as trimmed text; unrendered ``{{placeholders}}`` (a test delivery) count as empty."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    text = str(value).strip()
    return "" if "{{" in text and "}}" in text else text


def parse_time(value: Any) -> dt.datetime | None:
    """ISO 8601 text or Unix seconds → an aware datetime (None when absent or unreadable)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            return None
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = scalar(value)
    if not text:
        return None
    if text.isdigit():
        return parse_time(int(text))
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def tag_list(value: Any) -> list[str]:
    """Zendesk renders ``{{ticket.tags}}`` as space-separated words; events send a list."""
    words = [scalar(v) for v in value] if isinstance(value, list) else scalar(value).split()
    seen = dict.fromkeys(w.lower()[:60] for w in words if w)
    return list(seen)[:MAX_TAGS]


@dataclass(frozen=True)
class Ignored:
    """A delivery that carries nothing to capture (another event type, no text); answered 200 so it is not retried."""

    event: str
    reason: str


class WebhookResult(BaseModel):
    """What a webhook delivery did: items created and updated, or why it was ignored."""

    event: str
    created: int = 0
    updated: int = 0
    ids: list[int] = Field(default_factory=list)
    ignored: str | None = None
    """The event or topic that was acknowledged without capturing anything."""
    reason: str | None = None


def keep_importance(session: Session, batch: Sequence[FeedbackIn]) -> list[FeedbackIn]:
    """A channel's importance (a ticket's priority) only seeds a new item: once the item has an importance, a
    re-delivery keeps it, so a person's judgement is not overwritten when the ticket is updated. (``ingest`` itself
    keeps status, notes, and every triage field the delivery leaves empty.)"""
    keys = [d.external_id for d in batch if d.external_id and d.importance is not None]
    if not keys:
        return list(batch)
    known = dict(
        session.execute(
            select(FeedbackItem.external_id, FeedbackItem.importance).where(
                FeedbackItem.source == batch[0].source,
                FeedbackItem.external_id.in_(keys),
                FeedbackItem.importance.is_not(None),
            )
        ).all()
    )
    return [d.model_copy(update={"importance": known[d.external_id]}) if d.external_id in known else d for d in batch]


def ingest_batch(session: Session, actor: Actor, batch: Sequence[FeedbackIn]) -> IngestResult:
    """Ingest one delivery's items (all or nothing); safe when the same delivery arrives twice at once."""
    for attempt in (1, 2):
        try:
            return items.ingest_many(session, actor, keep_importance(session, batch))
        except IntegrityError:
            # A concurrent delivery of the same message inserted it first: the second attempt updates it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def parse_json(body: bytes) -> Any:
    """A webhook body as JSON, or a 422 naming the problem."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("body", f"The body is not valid JSON: {exc}") from exc
