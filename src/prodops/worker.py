"""Every periodic schedule, in one place. Imported by `prodops serve` (embedded consumer) and `prodops worker`."""

from __future__ import annotations

import datetime as dt

from huey import crontab
from sqlalchemy import delete

from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.identity.models import PasswordResetToken
from prodops.platform.jobs import huey
from prodops.platform.registry import load_domains

load_domains()

SCHEDULES: dict[str, str] = {}


def schedule(name: str, description: str) -> None:
    SCHEDULES[name] = description


@huey.periodic_task(crontab(minute="17", hour="3"))
def purge_password_resets() -> None:
    """Delete password-reset links that expired more than a day ago."""
    with session_scope() as session, transaction(session):
        session.execute(delete(PasswordResetToken).where(PasswordResetToken.expires_at < utcnow() - dt.timedelta(days=1)))


schedule("purge_password_resets", "daily 03:17 UTC: delete expired password-reset links")
