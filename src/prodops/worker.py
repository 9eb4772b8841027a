"""Every periodic schedule, in one place. Imported by `prodops serve` (embedded consumer) and `prodops worker`."""

from __future__ import annotations

import datetime as dt

from huey import crontab
from sqlalchemy import delete

from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.identity.models import PasswordResetToken
from prodops.platform.jobs import periodic
from prodops.platform.registry import load_domains

load_domains()

SCHEDULES: dict[str, str] = {}


def schedule(name: str, description: str) -> None:
    SCHEDULES[name] = description


@periodic(crontab(minute="17", hour="3"))
def purge_password_resets() -> None:
    """Delete password-reset links that expired more than a day ago."""
    with session_scope() as session, transaction(session):
        session.execute(
            delete(PasswordResetToken).where(PasswordResetToken.expires_at < utcnow() - dt.timedelta(days=1))
        )


schedule("purge_password_resets", "daily 03:17 UTC: delete expired password-reset links")


@periodic(crontab(minute="*/30"))
def purge_uploads() -> None:
    """Delete import uploads older than a day (abandoned import wizards)."""
    from prodops.platform.tabular import cleanup_uploads

    cleanup_uploads()


schedule("purge_uploads", "every 30 minutes: delete import uploads older than a day")


@periodic(crontab(minute="*/5"))
def requeue_stale_webhooks() -> None:
    """Re-queue pending webhook deliveries whose queued attempt was lost (e.g. a Redis flush)."""
    from prodops.platform.notify import jobs, service

    with session_scope() as session:
        for delivery_id in service.stale_pending(session):
            jobs.enqueue_delivery(delivery_id)


@periodic(crontab(minute="41", hour="4"))
def purge_webhook_deliveries() -> None:
    """Delete finished webhook deliveries older than 30 days."""
    from prodops.platform.notify import service

    with session_scope() as session:
        service.purge_deliveries(session)


schedule("requeue_stale_webhooks", "every 5 minutes: re-queue webhook deliveries overdue by 15 minutes")
schedule("purge_webhook_deliveries", "daily 04:41 UTC: delete finished webhook deliveries older than 30 days")
# Domain schedules live in each domain's jobs.py (imported by load_domains above); listed here so one place names them.
schedule(
    "poll_imap_job",
    "every PRODOPS_IMAP_INTERVAL_MINUTES minutes, off unless PRODOPS_IMAP_HOST is set: capture unseen IMAP mail as feedback",
)
schedule(
    "analyse_stale",
    "every 10 minutes: embed new or changed features, then analyse feedback with no analysis or one by older models",
)
schedule(
    "retrain_type_model",
    "weekly, Sunday 02:23 UTC: retrain the feedback type model when people corrected types since the last retraining",
)
schedule(
    "recluster_themes", "daily 02:47 UTC: re-cluster analysed feedback into themes (renames, merges and splits kept)"
)
schedule(
    "check_emerging_themes",
    "Mondays 07:05 UTC: test last ISO week's themes for significant growth; e-mail admins and emit feedback.theme.emerging",
)
schedule("load_datasets_job", "hourly at :07: copy every registered operational dataset into the analytics warehouse")
schedule(
    "survey_waves",
    "every 5 minutes: e-mail the survey waves that are due, then the reminders that are due (throttle and opt-outs applied)",
)
schedule("snapshot_metric_key_results", "daily 05:20 UTC: store each metric key result's live value as a check-in")
schedule(
    "remind_checkins",
    "daily 08:10 UTC: e-mail owners of key results with no check-in for 7 days (each owner at most once a week)",
)
schedule(
    "goals_health_summary",
    "Mondays 07:35 UTC: e-mail admins the goals on/at/off track and the worst movers (once per ISO week)",
)
