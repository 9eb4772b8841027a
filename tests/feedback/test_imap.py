"""The IMAP poll against a real IMAP server on a local socket (tests/feedback/imap_server.py), with the standard
library's imaplib as the client, exactly as in production."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from prodops.domains.feedback import jobs
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.service import channels
from prodops.domains.feedback.service.channels import mail as mail_channel
from prodops.platform.audit import AuditRecord
from prodops.platform.config import get_settings
from prodops.platform.jobs import huey
from tests.customers.conftest import make_account, make_person
from tests.feedback.imap_server import ImapServer

USER = "feedback@prodops.example.com"
PASSWORD = "imap app password"  # a space and quotes must survive imaplib's quoting
SEEN = "\\Seen"
FLAGGED = "\\Flagged"


def mail(sender: str | None, subject: str, body: str, message_id: str, *, html: bool = False) -> bytes:
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = USER
    msg["Subject"] = subject
    msg["Date"] = "Fri, 10 Jan 2025 08:30:00 +0000"
    msg["Message-ID"] = message_id
    if html:
        msg.set_content(body, subtype="html")
    else:
        msg.set_content(body)
    return msg.as_bytes()


GOOD = mail("Ana Lopez <ana.lopez@acme.com>", "Exports", "Exports should keep the filters.", "<m1@acme.com>")
HTML = mail(
    "Bob Stone <bob@globex.example.com>",
    "Calendar",
    "<p>Please add an <b>iCal feed</b> for releases.</p>",
    "<m2@globex.example.com>",
    html=True,
)
OLD = mail("Old <old@acme.com>", "Read already", "This one was read by a person.", "<m0@acme.com>")
NO_SENDER = mail(None, "Mystery", "Nobody sent this.", "<m3@nowhere.example.com>")


@pytest.fixture
def imap(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImapServer]:
    with ImapServer(USER, PASSWORD) as server:
        settings = get_settings()
        values: dict[str, Any] = {
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_user": USER,
            "imap_password": SecretStr(PASSWORD),
            "imap_mailbox": "INBOX",
            "imap_ssl": False,
        }
        for name, value in values.items():
            monkeypatch.setattr(settings, name, value)
        yield server


def items(session: Session) -> list[FeedbackItem]:
    session.rollback()
    return list(session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))


def test_unseen_messages_are_captured_and_marked_seen(imap: ImapServer, session: Session) -> None:
    acme = make_account(session, name="Acme", domain="acme.com")
    ana = make_person(session, email="ana.lopez@acme.com", name="Ana Lopez")
    old = imap.add(OLD, SEEN)
    good = imap.add(GOOD)
    html = imap.add(HTML)
    result = channels.poll_imap(session)
    assert (result.fetched, result.ingested, result.created, result.failed) == (2, 2, 2, 0)
    assert imap.flags(good) == {SEEN} and imap.flags(html) == {SEEN}
    assert imap.flags(old) == {SEEN}
    captured = items(session)
    assert [i.external_id for i in captured] == ["m1@acme.com", "m2@globex.example.com"]
    assert captured[0].person_id == ana.id and captured[0].account_id == acme.id
    assert captured[0].received_at == dt.datetime(2025, 1, 10, 8, 30, tzinfo=dt.UTC)
    assert captured[1].text == "Please add an iCal feed for releases." and captured[1].source == "email"
    labels = set(session.scalars(select(AuditRecord.actor_label).where(AuditRecord.entity_type == "feedback")))
    assert labels == {"imap"}
    # Bodies are read with BODY.PEEK[], so only the explicit STORE after the commit marks a message read.
    fetches = [c for c in imap.commands if "FETCH" in c]
    assert fetches and all("BODY.PEEK[]" in c for c in fetches)
    assert channels.poll_imap(session).fetched == 0  # nothing unseen is left


def test_a_message_that_cannot_be_captured_is_flagged_and_the_rest_go_on(imap: ImapServer, session: Session) -> None:
    bad = imap.add(NO_SENDER)
    good = imap.add(GOOD)
    result = channels.poll_imap(session)
    assert (result.fetched, result.ingested, result.failed) == (2, 1, 1)
    assert "no valid sender" in result.errors[0] and "flagged" in result.errors[0]
    assert imap.flags(bad) == {SEEN, FLAGGED}  # left in the mailbox for a person, never fetched again
    assert imap.flags(good) == {SEEN}
    assert [i.external_id for i in items(session)] == ["m1@acme.com"]
    assert channels.poll_imap(session).fetched == 0


def test_a_failure_while_saving_leaves_the_message_unseen_for_the_next_poll(
    imap: ImapServer, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database failing is injected (it cannot be made to fail on demand otherwise); IMAP is real."""
    failing = imap.add(HTML)
    good = imap.add(GOOD)
    real = mail_channel.ingest_email

    def database_down_for_globex(session: Session, actor: Any, raw: bytes) -> Any:
        if b"globex" in raw:
            raise OperationalError("INSERT INTO feedback_items ...", {}, Exception("server closed the connection"))
        return real(session, actor, raw)

    monkeypatch.setattr(mail_channel, "ingest_email", database_down_for_globex)
    result = channels.poll_imap(session)
    assert (result.fetched, result.ingested, result.failed) == (2, 1, 1)
    assert "left unseen" in result.errors[0]
    assert imap.flags(failing) == set() and imap.flags(good) == {SEEN}
    monkeypatch.setattr(mail_channel, "ingest_email", real)
    retry = channels.poll_imap(session)
    assert (retry.fetched, retry.ingested, retry.created) == (1, 1, 1)
    assert imap.flags(failing) == {SEEN}
    assert len(items(session)) == 2


def test_a_message_fetched_again_updates_its_item(imap: ImapServer, session: Session) -> None:
    good = imap.add(GOOD)
    channels.poll_imap(session)
    good.flags.clear()  # someone marks it unread in their mail client
    again = channels.poll_imap(session)
    assert (again.fetched, again.ingested, again.created) == (1, 1, 0)
    assert len(items(session)) == 1


def test_a_poll_reads_at_most_limit_messages(imap: ImapServer, session: Session) -> None:
    first, second = imap.add(GOOD), imap.add(HTML)
    assert channels.poll_imap(session, limit=1).fetched == 1
    assert imap.flags(first) == {SEEN} and imap.flags(second) == set()
    assert channels.poll_imap(session, limit=1).fetched == 1
    assert imap.flags(second) == {SEEN}


def test_bad_credentials_a_missing_mailbox_or_no_server_raise_a_clear_error(
    imap: ImapServer, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap.add(GOOD)
    settings = get_settings()
    monkeypatch.setattr(settings, "imap_password", SecretStr("wrong password"))
    with pytest.raises(channels.ImapFailed) as denied:
        channels.poll_imap(session)
    assert "Could not sign in" in denied.value.message and "AUTHENTICATIONFAILED" in denied.value.message
    assert "wrong password" not in denied.value.message
    monkeypatch.setattr(settings, "imap_password", SecretStr(PASSWORD))
    monkeypatch.setattr(settings, "imap_mailbox", "Feedback")
    with pytest.raises(channels.ImapFailed, match="cannot be opened"):
        channels.poll_imap(session)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setattr(settings, "imap_port", closed_port)
    with pytest.raises(channels.ImapFailed, match="Could not sign in"):
        channels.poll_imap(session)
    assert items(session) == []


def test_the_periodic_job_polls_the_configured_mailbox(imap: ImapServer, session: Session) -> None:
    periodic = [type(task) for task in huey._registry.periodic_tasks]
    assert jobs.poll_imap_job.task_class in periodic  # type: ignore[attr-defined]
    good = imap.add(GOOD)
    jobs.poll_imap_job()  # jobs run inline in the tests
    assert imap.flags(good) == {SEEN}
    assert len(items(session)) == 1


def test_the_job_does_nothing_without_an_imap_host(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "imap_host", "")
    assert jobs.run_imap_poll() is None
    jobs.poll_imap_job()
    with pytest.raises(channels.ImapFailed, match="IMAP polling is off"):
        channels.poll_imap(session)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 0
