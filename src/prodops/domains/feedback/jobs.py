"""Feedback background jobs: polling the inbound e-mail mailbox over IMAP (off unless `PRODOPS_IMAP_HOST` is set)."""

from __future__ import annotations

import logging
import threading

from huey import crontab

from prodops.domains.feedback.service import channels
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope
from prodops.platform.jobs import periodic

log = logging.getLogger(__name__)

# Polls that overlap (a slow mailbox, a worker with several threads) would only repeat work: capturing a message
# twice updates the same item. The lock saves that work; it is per process, so it can never be left stuck by a crash.
_polling = threading.Lock()


def run_imap_poll() -> channels.PollResult | None:
    """One poll of the configured mailbox; None when IMAP is off or another poll is still running."""
    settings = get_settings()
    if not settings.imap_host:
        return None
    if not _polling.acquire(blocking=False):
        log.info("IMAP poll skipped: the previous poll is still running")
        return None
    try:
        with session_scope() as session:
            return channels.poll_imap(session, settings)
    finally:
        _polling.release()


@periodic(crontab(minute=f"*/{get_settings().imap_interval_minutes}"))
def poll_imap_job() -> None:
    """Every `PRODOPS_IMAP_INTERVAL_MINUTES`: capture the unseen messages of the IMAP mailbox as feedback."""
    try:
        result = run_imap_poll()
    except channels.ImapFailed as exc:
        log.warning("IMAP poll failed: %s", exc.message)
        return
    if result is not None and (result.fetched or result.failed):
        log.info(
            "IMAP poll: %d fetched, %d captured (%d new), %d failed",
            result.fetched,
            result.ingested,
            result.created,
            result.failed,
        )
