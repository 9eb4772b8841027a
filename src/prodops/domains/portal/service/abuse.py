"""Spam and flood checks for portal forms: a honeypot field, a minimum fill time (a signed render timestamp), and
rate limits per client address and per person (the kernel's sliding-window :class:`RateLimiter`, shared by every
process when Redis is configured).

Allowances (``LIMITS``: name → (count, window in seconds)) are per address (``*_ip``) and per portal user or
e-mail address (``*_person``); exceeding one answers HTTP 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from itsdangerous import BadSignature, Signer

from prodops.platform.config import get_settings
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.ratelimit import RateLimiter

#: The hidden field people never see and bots fill in.
HONEYPOT_FIELD = "website"
#: The signed time the form was shown.
STAMP_FIELD = "form_started"
#: Forms sent back faster than this were not filled in by a person.
MIN_FILL_SECONDS = 3
#: A form older than this must be reloaded (its stamp is refused).
MAX_FORM_AGE_SECONDS = 2 * 86400

LIMITS: dict[str, tuple[int, int]] = {
    "signin_ip": (20, 900),
    "signin_person": (5, 900),
    "submit_ip": (30, 3600),
    "submit_person": (10, 3600),
    "comment_ip": (60, 3600),
    "comment_person": (30, 3600),
    "vote_ip": (1200, 60),
    "vote_person": (60, 60),
    "similar_ip": (120, 60),
}

limiter = RateLimiter("portal")


class RateLimited(ServiceError):
    """Too many attempts; ``retry_after`` is in whole seconds."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        wait = (
            f"{retry_after} second{'s' if retry_after != 1 else ''}"
            if retry_after < 120
            else (f"{math.ceil(retry_after / 60)} minutes")
        )
        super().__init__(None, f"That is a lot in a short time. Please wait {wait} and try again.")
        self.retry_after = retry_after


def check_rate(action: str, *, ip: str | None, person: str | int | None) -> None:
    """Count one ``action`` (``signin``, ``submit``, ``comment``, ``vote``, ``similar``) for the address and the
    person; RateLimited when either has used up its allowance."""
    for scope, who in (("ip", ip), ("person", person)):
        name = f"{action}_{scope}"
        if who is None or who == "" or name not in LIMITS:
            continue
        count, window = LIMITS[name]
        key = f"{name}:{who}"
        if not limiter.hit(key, count, window):
            raise RateLimited(limiter.retry_after(key, window))


def _signer() -> Signer:
    return Signer(get_settings().secret_key, salt="prodops.portal.form-started")


def form_stamp(at: float | None = None) -> str:
    """The signed time a form is shown (put it in the hidden ``form_started`` field)."""
    return _signer().sign(str(int(at if at is not None else time.time()))).decode()


def check_form(stamp: str | None, honeypot: str | None) -> None:
    """Refuse a form whose honeypot is filled in, whose stamp is missing or forged, or that came back faster than
    a person fills it in."""
    if honeypot:
        raise ValidationFailed(None, "This looked like an automated submission, so it was not saved.")
    try:
        started = int(_signer().unsign(stamp or "").decode())
    except (BadSignature, ValueError):
        raise ValidationFailed(None, "The form has expired. Reload the page and send it again.") from None
    age = time.time() - started
    if age < MIN_FILL_SECONDS:
        raise ValidationFailed(None, "That was very quick. Please check your text for a moment and then send it again.")
    if age > MAX_FORM_AGE_SECONDS:
        raise ValidationFailed(None, "The form has expired. Reload the page and send it again.")
