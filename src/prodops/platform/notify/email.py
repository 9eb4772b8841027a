"""E-mail over SMTP with HTML and plain-text parts rendered from templates.

Each e-mail is a pair of templates ``<name>.txt`` and ``<name>.html``, extending ``_layout.txt`` and
``_layout.html``, under ``web/templates/emails/`` or a domain's ``templates/emails/`` (the platform's
win on a name clash). The ``markdown`` filter renders user Markdown sanitised. Services never talk to the SMTP
server: they call :func:`send_email_on_commit` inside their transaction, and a background job sends
the message once the transaction has committed (nothing is sent for a rollback).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from prodops.platform import events
from prodops.platform.config import get_settings
from prodops.platform.web import _template_dirs, render_markdown

_env = Environment(
    # The platform's e-mails, then each installed domain's templates/emails/ directory.
    loader=ChoiceLoader([FileSystemLoader(str(d / "emails")) for d in _template_dirs() if (d / "emails").is_dir()]),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    # A missing variable is a bug to see in the logs, not a blank in a sent e-mail.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["markdown"] = render_markdown


def build_message(
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred by mail clients.

    ``headers`` adds header fields, e.g. ``List-Unsubscribe`` (see :mod:`prodops.platform.notify.optout`)."""
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="prodops")
    # RFC 3834: tells auto-responders (out-of-office replies) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        msg[name] = value
    ctx = {"subject": subject, "base_url": settings.base_url.rstrip("/"), **context}
    msg.set_content(_env.get_template(f"{template}.txt").render(ctx))
    msg.add_alternative(_env.get_template(f"{template}.html").render(ctx), subtype="html")
    return msg


def deliver(msg: EmailMessage) -> None:
    """Hand one message to the configured SMTP server."""
    settings = get_settings()
    if settings.smtp_tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
            context=ssl.create_default_context(),
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(msg)


def send_email(
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Queue one e-mail now. ``context`` must hold plain values: it travels through the job queue.

    ``headers`` adds header fields (e.g. :func:`prodops.platform.notify.optout.list_unsubscribe_headers`)."""
    from prodops.platform.notify.jobs import send_email_job

    if headers:
        send_email_job(to, subject, template, dict(context), dict(headers))
    else:
        send_email_job(to, subject, template, dict(context))


def send_email_on_commit(
    session: Session,
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Queue one e-mail once the caller's transaction commits (services use this)."""
    plain = dict(context)
    extra = dict(headers or {})
    events.on_commit(session, lambda: send_email(to, subject, template, plain, headers=extra))
