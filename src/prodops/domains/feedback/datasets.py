"""Feedback tables exposed to the analytics warehouse, so dashboards can chart them next to usage.

``feedback`` — one row per feedback item (no text: counts and attributes only).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackItem
from prodops.platform import registry


@registry.dataset("feedback")
def feedback_volume(session: Session) -> Select[*tuple[Any, ...]]:
    """Feedback items with when they arrived, where from, their status, importance, area, type and sentiment."""
    return (
        select(
            FeedbackItem.id.label("id"),
            FeedbackItem.received_at.label("received_at"),
            FeedbackItem.source.label("source"),
            FeedbackItem.status.label("status"),
            FeedbackItem.importance.label("importance"),
            FeedbackItem.area.label("area"),
            FeedbackItem.account_id.label("account_id"),
            FeedbackItem.product_id.label("product_id"),
            FeedbackInsight.kind.label("type"),
            FeedbackInsight.sentiment.label("sentiment"),
        )
        .outerjoin(FeedbackInsight, FeedbackInsight.item_id == FeedbackItem.id)
        .order_by(FeedbackItem.id)
    )
