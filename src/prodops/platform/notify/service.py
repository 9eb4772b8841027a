"""Webhook use cases: the only place that writes subscriptions and deliveries.

Subscriptions are created, changed, enabled, disabled, re-keyed and deleted here, each change
audited (URLs redacted, secrets only as fingerprints). After an event commits, :func:`fan_out`
turns it into one delivery per matching active subscription; :func:`attempt_delivery` makes one
HTTP attempt and books the result, scheduling the next attempt with exponential back-off.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.notify import queries, webhooks
from prodops.platform.notify.models import WebhookDelivery, WebhookSubscription
from prodops.platform.notify.schemas import DeliveryOut, WebhookIn, WebhookOut, WebhookPatch, WebhookWithSecret

AUDITED_FIELDS = ("name", "url", "event_types", "payload_format", "is_active")
ENTITY = "webhook"
RESPONSE_EXCERPT_BYTES = 500


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _audit_view(sub: WebhookSubscription) -> dict[str, Any]:
    """The audited fields, with the URL redacted and the secret reduced to a fingerprint."""
    view = audit.snapshot(sub, AUDITED_FIELDS)
    view["url"] = webhooks.redact_url(sub.url)
    view["event_types"] = list(sub.event_types)
    view["secret"] = webhooks.fingerprint(sub.secret)
    return view


def _enqueue(session: Session, delivery_id: int) -> None:
    from prodops.platform.notify import jobs

    events.on_commit(session, lambda: jobs.enqueue_delivery(delivery_id))


# --- subscriptions --------------------------------------------------------------------------------


def create_subscription(session: Session, actor: Actor, data: WebhookIn) -> WebhookWithSecret:
    with transaction(session):
        sub = WebhookSubscription(
            name=data.name,
            url=data.url,
            secret=new_secret(),
            event_types=list(data.event_types),
            payload_format=data.payload_format,
            is_active=data.is_active,
        )
        session.add(sub)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=sub.id,
            action="create",
            changes=audit.diff({}, _audit_view(sub)),
            entity_label=sub.name,
        )
        return queries.webhook_with_secret(sub)


def update_subscription(session: Session, actor: Actor, subscription_id: int, data: WebhookPatch) -> WebhookOut:
    with transaction(session):
        sub = queries.get_subscription_row(session, subscription_id)
        before = _audit_view(sub)
        for key, value in data.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(sub, key, list(value) if key == "event_types" else value)
        changes = audit.diff(before, _audit_view(sub))
        if changes:
            action = "update"
            if set(changes) == {"is_active"}:
                action = "enable" if sub.is_active else "disable"
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=sub.id,
                action=action,
                changes=changes,
                entity_label=sub.name,
            )
        session.flush()
        return queries.webhook_out(sub)


def set_active(session: Session, actor: Actor, subscription_id: int, active: bool) -> WebhookOut:
    """Enable or disable a subscription. A disabled one gets no new deliveries and its retries stop."""
    return update_subscription(session, actor, subscription_id, WebhookPatch(is_active=active))


def rotate_secret(session: Session, actor: Actor, subscription_id: int) -> WebhookWithSecret:
    """Replace the signing secret; deliveries are signed with the new one from now on."""
    with transaction(session):
        sub = queries.get_subscription_row(session, subscription_id)
        old = webhooks.fingerprint(sub.secret)
        sub.secret = new_secret()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=sub.id,
            action="rotate_secret",
            changes={"secret": [old, webhooks.fingerprint(sub.secret)]},
            entity_label=sub.name,
        )
        session.flush()
        return queries.webhook_with_secret(sub)


def delete_subscription(session: Session, actor: Actor, subscription_id: int) -> None:
    """Delete a subscription and its delivery log; queued retries find nothing and stop."""
    with transaction(session):
        sub = queries.get_subscription_row(session, subscription_id)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=sub.id,
            action="delete",
            changes=audit.diff(_audit_view(sub), {}),
            entity_label=sub.name,
        )
        session.delete(sub)


def _require_active(sub: WebhookSubscription) -> None:
    if not sub.is_active:
        raise ValidationFailed("is_active", "this webhook is disabled; enable it before sending to it")


def send_test(session: Session, actor: Actor, subscription_id: int) -> DeliveryOut:
    """Queue a ``webhooks.test`` delivery to one subscription, whatever events it subscribes to."""
    with transaction(session):
        sub = queries.get_subscription_row(session, subscription_id)
        _require_active(sub)
        data = {
            "webhook_id": sub.id,
            "webhook_name": sub.name,
            "sent_by": actor.label,
            "message": "Hello from ProdOps!",
        }
        row = WebhookDelivery(
            subscription_id=sub.id,
            event=webhooks.TEST_EVENT,
            payload=webhooks.envelope(webhooks.TEST_EVENT, utcnow().isoformat(), data),
            status="pending",
            attempts=0,
        )
        session.add(row)
        session.flush()
        audit.record(session, actor, entity_type=ENTITY, entity_id=sub.id, action="test", entity_label=sub.name)
        _enqueue(session, row.id)
        return DeliveryOut.model_validate(row)


def redeliver(session: Session, actor: Actor, subscription_id: int, delivery_id: int) -> DeliveryOut:
    """Send a delivery's payload again as a new delivery with fresh attempts (the old one stays in the log)."""
    with transaction(session):
        sub = queries.get_subscription_row(session, subscription_id)
        original = session.get(WebhookDelivery, delivery_id)
        if original is None or original.subscription_id != sub.id:
            raise NotFound("webhook delivery", delivery_id)
        _require_active(sub)
        row = WebhookDelivery(
            subscription_id=sub.id,
            event=original.event,
            payload=dict(original.payload),
            status="pending",
            attempts=0,
            redelivery_of_id=original.id,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=sub.id,
            action="redeliver",
            changes={"delivery": [original.id, row.id]},
            entity_label=sub.name,
        )
        _enqueue(session, row.id)
        return DeliveryOut.model_validate(row)


# --- fan-out and delivery -------------------------------------------------------------------------


def matches(patterns: list[Any], event: str) -> bool:
    return any(fnmatch.fnmatchcase(event, str(p)) for p in patterns)


def fan_out(session: Session, event: str, occurred_at: str, data: Mapping[str, Any]) -> list[int]:
    """Record one pending delivery per active subscription whose event types match; queue them after commit."""
    # Payloads are stored as JSON: anything a subscriber emitted that JSON cannot hold becomes text.
    plain = json.loads(json.dumps(dict(data), default=str))
    with transaction(session):
        targets = [s for s in queries.active_subscriptions(session) if matches(s.event_types, event)]
        rows = [
            WebhookDelivery(
                subscription_id=s.id,
                event=event,
                payload=webhooks.envelope(event, occurred_at, plain),
                status="pending",
                attempts=0,
            )
            for s in targets
        ]
        session.add_all(rows)
        session.flush()
        for row in rows:
            _enqueue(session, row.id)
        return [r.id for r in rows]


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
    started = time.perf_counter()
    code: int | None = None
    error: str | None = None
    try:
        # Redirects are not followed: the signed request goes to the configured address only.
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            code = response.status_code
            if not 200 <= code < 300:
                excerpt = b""
                for chunk in response.iter_bytes():  # read only the start of a possibly huge body
                    excerpt += chunk
                    if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                        break
                text = excerpt[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace").strip()
                error = f"HTTP {code} {response.reason_phrase}".rstrip() + (f": {text}" if text else "")
    except Exception as exc:  # any failure to send is a failed attempt, never a crashed job
        detail = str(exc)
        error = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return AttemptResult(code, error[:2000] if error else None, round((time.perf_counter() - started) * 1000))


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2×base, 4×base…"""
    return float(get_settings().webhook_retry_base_seconds * 2 ** (attempts - 1))


def attempt_delivery(session: Session, delivery_id: int) -> DeliveryOut | None:
    """Make one HTTP attempt of a pending delivery and record its outcome.

    No database transaction is open while the request is in flight. Returns None when there is
    nothing to do (the delivery is gone or already finished).
    """
    settings = get_settings()
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.status != "pending":
        session.rollback()
        return None
    sub = row.subscription
    if not sub.is_active:
        with transaction(session):
            row = session.get(WebhookDelivery, delivery_id)
            if row is not None and row.status == "pending":
                row.status = "failed"
                row.last_error = "Not sent: the webhook is disabled."
                row.next_attempt_at = None
            return DeliveryOut.model_validate(row) if row is not None else None
    payload = webhooks.body_for(row.id, row.payload, sub.payload_format, settings.base_url)
    url, secret, event = sub.url, sub.secret, row.event
    session.rollback()  # end the read snapshot before waiting on the network

    body = webhooks.encode(payload)
    timestamp = int(time.time())
    headers = webhooks.headers(event, delivery_id, timestamp, webhooks.sign(secret, timestamp, body))
    result = _post(url, body, headers, settings.webhook_timeout_seconds)

    with transaction(session):
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:  # deleted with its subscription meanwhile
            return None
        now = utcnow()
        row.attempts += 1
        row.last_status_code = result.status_code
        row.last_error = result.error
        row.last_duration_ms = result.duration_ms
        if result.ok:
            row.status = "succeeded"
            row.delivered_at = now
            row.next_attempt_at = None
        elif row.attempts >= settings.webhook_max_attempts:
            row.status = "failed"
            row.next_attempt_at = None
        else:
            delay = retry_delay(row.attempts)
            row.next_attempt_at = now + dt.timedelta(seconds=delay)
            from prodops.platform.notify import jobs

            events.on_commit(session, lambda: jobs.enqueue_delivery(delivery_id, delay))
        return DeliveryOut.model_validate(row)


def stale_pending(session: Session, grace: dt.timedelta = dt.timedelta(minutes=15)) -> list[int]:
    """Pending deliveries whose queued attempt is overdue by ``grace`` (its job was lost, e.g. a queue flush)."""
    cutoff = utcnow() - grace
    overdue = (WebhookDelivery.next_attempt_at < cutoff) | (
        WebhookDelivery.next_attempt_at.is_(None) & (WebhookDelivery.created_at < cutoff)
    )
    stmt = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending", overdue).limit(1000)
    return list(session.scalars(stmt))


def purge_deliveries(session: Session, older_than: dt.timedelta = dt.timedelta(days=30)) -> int:
    """Delete finished deliveries older than ``older_than`` (the log keeps a month)."""
    with transaction(session):
        result = session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status != "pending", WebhookDelivery.created_at < utcnow() - older_than
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
