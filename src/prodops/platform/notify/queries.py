"""Webhook reads: subscriptions with their latest delivery, and the delivery log. Never commits."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.platform.errors import NotFound
from prodops.platform.listing import Page, paginate
from prodops.platform.notify import webhooks
from prodops.platform.notify.models import WebhookDelivery, WebhookSubscription
from prodops.platform.notify.schemas import DeliveryFilters, DeliveryOut, DeliverySummary, WebhookOut, WebhookWithSecret


def webhook_out(sub: WebhookSubscription, last: WebhookDelivery | None = None) -> WebhookOut:
    return WebhookOut(
        id=sub.id,
        name=sub.name,
        url=sub.url,
        event_types=[str(e) for e in sub.event_types],
        payload_format="slack" if sub.payload_format == "slack" else "json",
        is_active=sub.is_active,
        secret_fingerprint=webhooks.fingerprint(sub.secret),
        created_at=sub.created_at,
        updated_at=sub.updated_at,
        last_delivery=DeliverySummary.model_validate(last) if last is not None else None,
    )


def webhook_with_secret(sub: WebhookSubscription, last: WebhookDelivery | None = None) -> WebhookWithSecret:
    return WebhookWithSecret(**webhook_out(sub, last).model_dump(), secret=sub.secret)


def _latest_deliveries(session: Session, subscription_ids: list[int]) -> dict[int, WebhookDelivery]:
    """The newest delivery of each subscription, in two statements whatever the number of webhooks."""
    if not subscription_ids:
        return {}
    newest = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == WebhookSubscription.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(1)
        .correlate(WebhookSubscription)
        .scalar_subquery()
    )
    ids = [
        i for i in session.scalars(select(newest).where(WebhookSubscription.id.in_(subscription_ids))) if i is not None
    ]
    if not ids:
        return {}
    return {d.subscription_id: d for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))}


def list_subscriptions(session: Session) -> list[WebhookOut]:
    subs = list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name, WebhookSubscription.id)))
    latest = _latest_deliveries(session, [s.id for s in subs])
    return [webhook_out(s, latest.get(s.id)) for s in subs]


def get_subscription_row(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound("webhook", subscription_id)
    return sub


def get_subscription(session: Session, subscription_id: int) -> WebhookWithSecret:
    """One subscription with its secret (administrators configure receivers with it)."""
    sub = get_subscription_row(session, subscription_id)
    return webhook_with_secret(sub, _latest_deliveries(session, [sub.id]).get(sub.id))


def list_deliveries(session: Session, subscription_id: int, filters: DeliveryFilters) -> Page[DeliveryOut]:
    get_subscription_row(session, subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if filters.status:
        stmt = stmt.where(WebhookDelivery.status == filters.status)
    if filters.event:
        stmt = stmt.where(WebhookDelivery.event == filters.event)
    stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    page = paginate(session, stmt, filters.page, filters.per_page)
    return Page(
        items=[DeliveryOut.model_validate(d) for d in page.items],
        total=page.total,
        number=page.number,
        per_page=page.per_page,
    )


def get_delivery(session: Session, subscription_id: int, delivery_id: int) -> DeliveryOut:
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound("webhook delivery", delivery_id)
    return DeliveryOut.model_validate(row)


def delivery_counts(session: Session, subscription_id: int) -> dict[str, int]:
    """How many deliveries of a subscription are in each status (for the filter chips)."""
    rows = session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id == subscription_id)
        .group_by(WebhookDelivery.status)
    )
    return {str(status): int(count) for status, count in rows}


def has_active_subscriptions(session: Session) -> bool:
    return (
        session.scalar(select(WebhookSubscription.id).where(WebhookSubscription.is_active.is_(True)).limit(1))
        is not None
    )


def active_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.is_active.is_(True))))
