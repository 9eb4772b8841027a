"""Roadmap background jobs: the daily snapshot of metric key results, daily check-in reminders (each owner at most
once a week) and the Monday goals-health summary for admins. Schedules are listed in ``prodops.worker``."""

from __future__ import annotations

import logging

from huey import crontab

from prodops.domains.roadmap.service import checkins, reminders
from prodops.platform.db import session_scope
from prodops.platform.jobs import periodic

log = logging.getLogger(__name__)


def run_metric_snapshot() -> checkins.SnapshotResult:
    with session_scope() as session:
        result = checkins.snapshot_metrics(session)
    log.info("metric key results: %s", result.summary())
    return result


def run_checkin_reminders() -> reminders.ReminderResult:
    with session_scope() as session:
        result = reminders.send_checkin_reminders(session)
    log.info("check-in reminders: %s", result.summary())
    return result


def run_health_summary() -> reminders.HealthSummary:
    with session_scope() as session:
        return reminders.send_health_summary(session)


@periodic(crontab(minute="20", hour="5"))
def snapshot_metric_key_results() -> None:
    """Daily at 05:20 UTC: store each metric key result's live value as a check-in (its history chart)."""
    try:
        run_metric_snapshot()
    except Exception:
        log.exception("metric key result snapshot failed")


@periodic(crontab(minute="10", hour="8"))
def remind_checkins() -> None:
    """Daily at 08:10 UTC: e-mail owners of key results without a check-in for 7 days (each at most weekly)."""
    try:
        run_checkin_reminders()
    except Exception:
        log.exception("check-in reminders failed")


@periodic(crontab(minute="35", hour="7", day_of_week="1"))
def goals_health_summary() -> None:
    """Mondays at 07:35 UTC: the goals-health summary for admins (once per ISO week)."""
    try:
        run_health_summary()
    except Exception:
        log.exception("goals-health summary failed")
