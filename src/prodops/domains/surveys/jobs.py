"""Surveys background jobs: sending a wave when it is due, and the periodic sweep that sends due waves and
reminders (listed in ``prodops.worker``)."""

from __future__ import annotations

import logging

from huey import crontab

from prodops.domains.surveys.service import distribution
from prodops.platform.db import session_scope
from prodops.platform.jobs import periodic, task

log = logging.getLogger(__name__)


@task(retries=2, retry_delay=300)
def send_wave_job(wave_id: int) -> None:
    """Send one wave (a no-op when it is not due or already claimed by another run)."""
    with session_scope() as session:
        result = distribution.send_wave(session, wave_id)
    if not result.skipped:
        log.info(
            "survey wave %s: %d sent, %d throttled, %d unsubscribed, %d failed",
            wave_id,
            result.sent,
            result.throttled,
            result.unsubscribed,
            result.failed,
        )


def run_due() -> tuple[int, int]:
    """Send every due wave, then the due reminders. Returns (waves sent, reminders sent)."""
    waves = 0
    with session_scope() as session:
        due = distribution.due_waves(session)
    for wave_id in due:
        with session_scope() as session:
            if not distribution.send_wave(session, wave_id).skipped:
                waves += 1
    with session_scope() as session:
        reminders = distribution.send_reminders(session)
    return waves, reminders.sent


@periodic(crontab(minute="*/5"))
def survey_waves() -> None:
    """Every 5 minutes: send the survey waves that are due, and the reminders that are due."""
    waves, reminders = run_due()
    if waves or reminders:
        log.info("surveys: %d waves sent, %d reminders sent", waves, reminders)
