"""E-mail over SMTP with HTML and plain-text parts rendered from templates."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from prodops.platform.config import get_settings
from prodops.platform.jobs import huey
from prodops.platform.web import WEB_DIR

_env = Environment(
    loader=FileSystemLoader(str(WEB_DIR / "templates" / "emails")),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


def build_message(to: str, subject: str, template: str, context: dict[str, Any]) -> EmailMessage:
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="prodops")
    ctx = {"subject": subject, "base_url": settings.base_url, **context}
    msg.set_content(_env.get_template(f"{template}.txt").render(ctx))
    msg.add_alternative(_env.get_template(f"{template}.html").render(ctx), subtype="html")
    return msg


def deliver(msg: EmailMessage) -> None:
    settings = get_settings()
    if settings.smtp_tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(msg)


@huey.task(retries=3, retry_delay=60)
def send_email_job(to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Render and send one e-mail; retried if the SMTP server is unreachable."""
    deliver(build_message(to, subject, template, context))
