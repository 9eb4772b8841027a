"""E-mail against a real SMTP server (aiosmtpd) started by the test: message parts and the password-reset flow."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope, transaction
from prodops.platform.identity import service as identity
from prodops.platform.identity.models import PasswordResetToken
from prodops.platform.identity.schemas import UserUpdate
from prodops.platform.notify import email
from tests.conftest import PASSWORD, Client, login, make_user

LINK = re.compile(r"https?://\S+/password/reset/[A-Za-z0-9_-]+")
NEW_PASSWORD = "a-brand-new-passphrase"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self._arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
        assert len(self.received) >= count, f"expected {count} message(s), got {len(self.received)}"
        return self.received


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    for name, value in {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_username": "",
        "mail_from": "ProdOps <prodops@example.com>",
    }.items():
        monkeypatch.setattr(settings, name, value)
    try:
        yield box
    finally:
        controller.stop()


def test_message_arrives_with_text_and_html_parts(mailbox: Mailbox) -> None:
    context: dict[str, Any] = {
        "name": "Ada <Lovelace>",
        "link": "http://127.0.0.1:8000/password/reset/abc?x=1&y=2",
        "minutes": 60,
    }
    email.send_email("ada@example.com", "Reset your ProdOps password", "password_reset", context)
    (got,) = mailbox.wait_for(1)

    assert got.rcpt_tos == ["ada@example.com"]
    assert got.mail_from == "prodops@example.com"
    msg = got.message
    assert msg["Subject"] == "Reset your ProdOps password"
    assert msg["From"] == "ProdOps <prodops@example.com>" and msg["To"] == "ada@example.com"
    assert msg["Message-ID"] and msg["Date"] and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]

    text, html = got.part("plain"), got.part("html")
    assert "Hello Ada <Lovelace>," in text and context["link"] in text
    assert "expires in 60 minutes" in text and "Sent by ProdOps at http://127.0.0.1:8000" in text
    assert "<" not in text.replace("<Lovelace>", "")
    # The HTML part escapes what it is given.
    assert "Hello Ada &lt;Lovelace&gt;," in html and "<Lovelace>" not in html
    assert 'href="http://127.0.0.1:8000/password/reset/abc?x=1&amp;y=2"' in html
    assert html.lstrip().startswith("<!doctype html>") and "<title>Reset your ProdOps password</title>" in html


def test_missing_template_values_fail_instead_of_sending_blanks(mailbox: Mailbox) -> None:
    with pytest.raises(Exception, match="link"):
        email.build_message("ada@example.com", "Reset", "password_reset", {"name": "Ada", "minutes": 5})


def test_email_queued_in_a_transaction_is_sent_only_after_commit(mailbox: Mailbox) -> None:
    context = {"name": "Ada", "link": "http://x/password/reset/t", "minutes": 5}
    with pytest.raises(RuntimeError), session_scope() as s, transaction(s):
        email.send_email_on_commit(s, "rolled-back@example.com", "Nope", "password_reset", context)
        raise RuntimeError("abort")
    with session_scope() as s, transaction(s):
        email.send_email_on_commit(s, "committed@example.com", "Yes", "password_reset", context)
        assert mailbox.received == [], "nothing is sent while the transaction is open"
    (got,) = mailbox.wait_for(1)
    assert got.rcpt_tos == ["committed@example.com"]
    time.sleep(0.1)
    assert len(mailbox.received) == 1


def _forgot(client: Client, address: str) -> Any:
    client.refresh_csrf()
    response = client.form("/password/forgot", {"email": address})
    assert response.status_code == 200, response.text
    return response


def _sign_in(client: Client, address: str, password: str) -> int:
    client.refresh_csrf()
    return int(client.form("/login", {"email": address, "password": password}, follow_redirects=False).status_code)


def test_password_reset_by_emailed_single_use_link(client: Client, mailbox: Mailbox) -> None:
    user = make_user("member", email="forgetful@example.com")

    sent_page = _forgot(client, "Forgetful@Example.com ")
    assert "a reset link is on its way" in sent_page.text
    (mail,) = mailbox.wait_for(1)
    assert mail.rcpt_tos == ["forgetful@example.com"]
    assert mail.message["Subject"] == "Reset your ProdOps password"
    link = LINK.search(mail.part("plain"))
    assert link is not None
    assert f'href="{link.group(0)}"' in mail.part("html")
    path = urlsplit(link.group(0)).path

    form = client.get(path)
    assert form.status_code == 200 and 'name="password"' in form.text
    too_short = client.form(path, {"password": "short"})
    assert too_short.status_code == 422 and "at least 10 characters" in too_short.text
    done = client.form(path, {"password": NEW_PASSWORD}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"

    assert _sign_in(client, user.email, PASSWORD) == 401, "the old password no longer works"
    assert _sign_in(client, user.email, NEW_PASSWORD) == 303, "the new password works"

    # The link works once.
    again = client.get(path)
    assert again.status_code == 400 and "invalid, expired or already used" in again.text
    client.refresh_csrf()
    reuse = client.form(path, {"password": "yet-another-password"})
    assert reuse.status_code == 422 and "invalid, expired or already used" in reuse.text
    assert _sign_in(client, user.email, "yet-another-password") == 401


def test_expired_reset_link_is_refused(client: Client, mailbox: Mailbox) -> None:
    user = make_user("member", email="late@example.com")
    _forgot(client, user.email)
    (mail,) = mailbox.wait_for(1)
    link = LINK.search(mail.part("plain"))
    assert link is not None
    path = urlsplit(link.group(0)).path
    with session_scope() as s, transaction(s):
        s.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert client.get(path).status_code == 400
    client.refresh_csrf()
    response = client.form(path, {"password": NEW_PASSWORD})
    assert response.status_code == 422 and "invalid, expired or already used" in response.text
    assert _sign_in(client, user.email, PASSWORD) == 303, "the password did not change"


def test_unknown_or_inactive_address_sends_nothing_and_looks_the_same(client: Client, mailbox: Mailbox) -> None:
    known = make_user("member", email="known@example.com")
    inactive = make_user("member", email="gone@example.com")
    with session_scope() as s:
        identity.update_user(s, Actor.system("test"), inactive.id, UserUpdate(is_active=False))

    known_page = _forgot(client, known.email)
    mailbox.wait_for(1)
    unknown_page = _forgot(client, "nobody@example.com")
    inactive_page = _forgot(client, inactive.email)
    time.sleep(0.2)  # a message to the unknown address would have arrived by now
    assert [r.rcpt_tos for r in mailbox.received] == [["known@example.com"]]
    assert unknown_page.text == known_page.text == inactive_page.text


def test_login_page_links_to_password_reset(client: Client) -> None:
    login_page = client.get("/login")
    assert "/password/forgot" in login_page.text


def test_signed_in_user_can_also_reset(client: Client, mailbox: Mailbox) -> None:
    user = make_user("viewer", email="viewer-reset@example.com")
    login(client, user)
    _forgot(client, user.email)
    assert mailbox.wait_for(1)[0].rcpt_tos == [user.email]
