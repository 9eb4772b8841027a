"""Emerging themes: the weekly (and on-demand) check that notifies the admins, by e-mail and with the
``feedback.theme.emerging`` event (so webhooks fire), when a theme grows significantly against its baseline. The
statistics (which test, and why) are in ``queries/themes.py``; a theme is notified at most once per ISO week."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackTheme
from prodops.domains.feedback.queries.themes import EmergingReport, emerging_report, sample_items
from prodops.domains.feedback.service.themes.events import THEME_EMERGING
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction
from prodops.platform.identity.models import User
from prodops.platform.notify.email import send_email_on_commit

EMAIL_TEMPLATE = "feedback_theme_emerging"
EXCERPTS = 3


def _excerpt(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_emerging(
    session: Session, week: str | None = None, *, now: dt.datetime | None = None, actor: Actor | None = None
) -> EmergingReport:
    """Test every theme for this ISO week (or ``week``, e.g. ``2026-W07``) and notify the admins of each emerging
    theme not yet notified for that week. Returns the report with the ids notified now."""
    actor = actor or Actor.system("themes")
    report = emerging_report(session, week, now=now)
    emerging = {r.theme_id: r for r in report.rows if r.emerging}
    if not emerging:
        return report
    base = get_settings().base_url.rstrip("/")
    with transaction(session):
        admins = list(
            session.scalars(
                select(User.email).where(User.role == "admin", User.is_active.is_(True)).order_by(User.email)
            )
        )
        for theme in session.scalars(
            select(FeedbackTheme).where(FeedbackTheme.id.in_(sorted(emerging))).order_by(FeedbackTheme.id)
        ):
            if theme.alerted_week == report.week or theme.merged_into_id is not None:
                continue
            row = emerging[theme.id]
            before = theme.alerted_week
            theme.alerted_week = report.week
            url = f"{base}/feedback/themes/{theme.id}"
            payload = {
                "theme_id": theme.id,
                "label": row.label,
                "week": report.week,
                "count": row.count,
                "total": report.total,
                "share": round(row.share, 4),
                "baseline_share": round(row.baseline_share, 4),
                "lift": round(row.lift, 2) if row.lift is not None else None,
                "p_value": row.p_value,
                "q_value": row.q_value,
                "url": url,
            }
            excerpts = [_excerpt(item.text) for item in sample_items(session, theme.id, EXCERPTS)]
            context = {
                **payload,
                "baseline_weeks": report.baseline_weeks,
                "baseline_count": row.baseline_count,
                "test": report.test,
                "excerpts": excerpts,
                "key_phrases": [str(p) for p in theme.key_phrases or []][:5],
            }
            subject = f"Emerging theme: {row.label} ({row.count} this week)"
            for email in admins:
                send_email_on_commit(session, email, subject, EMAIL_TEMPLATE, context)
            audit.record(
                session,
                actor,
                entity_type="feedback_theme",
                entity_id=theme.id,
                action="emerging",
                changes={"alerted_week": [before, report.week]},
                entity_label=row.label,
            )
            events.emit(session, THEME_EMERGING, payload)
            report.notified.append(theme.id)
    return report
