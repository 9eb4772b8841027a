"""Background jobs of outgoing notifications: sending e-mail, fanning events out to webhooks, delivering them.

Importing this module subscribes the webhook fan-out to every domain event.
"""

from __future__ import annotations

import logging
from typing import Any

from prodops.platform import events
from prodops.platform.db import session_scope
from prodops.platform.jobs import task
from prodops.platform.notify import email, queries, service

log = logging.getLogger(__name__)


@task(retries=3, retry_delay=60)
def send_email_job(
    to: str, subject: str, template: str, context: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Render and send one e-mail (with extra ``headers``, if any); retried if the SMTP server is unreachable."""
    email.deliver(email.build_message(to, subject, template, context, headers=headers))


@task()
def fan_out_job(event: str, occurred_at: str, data: dict[str, Any]) -> None:
    """Create the deliveries of one committed event (one per matching active subscription)."""
    with session_scope() as session:
        service.fan_out(session, event, occurred_at, data)


@task()
def deliver_webhook_job(delivery_id: int) -> None:
    """One attempt of one delivery. Failures schedule the next attempt themselves (not Huey retries)."""
    with session_scope() as session:
        service.attempt_delivery(session, delivery_id)


def enqueue_delivery(delivery_id: int, delay: float = 0) -> None:
    if delay > 0:
        deliver_webhook_job.schedule(args=(delivery_id,), delay=delay)
    else:
        deliver_webhook_job(delivery_id)


@events.subscribe("*")
def _on_event(ev: events.Event) -> None:
    # Runs after the event's transaction committed. Skip the queue round-trip when nobody listens.
    with session_scope() as session:
        if not queries.has_active_subscriptions(session):
            return
    fan_out_job(ev.name, ev.occurred_at, ev.payload)
