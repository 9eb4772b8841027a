"""The IMAP mailbox poll: unseen messages captured one by one through the e-mail path, marked read after commit."""

from __future__ import annotations

import imaplib
import logging
import ssl
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from prodops.domains.feedback.service.channels import mail
from prodops.platform.audit import Actor
from prodops.platform.config import Settings, get_settings
from prodops.platform.errors import ServiceError, ValidationFailed

log = logging.getLogger(__name__)

IMAP_ACTOR = Actor.system("imap")
#: Messages one poll ingests at most; the rest wait for the next poll.
IMAP_BATCH = 200
IMAP_TIMEOUT_SECONDS = 30.0


class ImapFailed(ServiceError):
    """The mailbox could not be reached, signed in to or opened; nothing was fetched."""

    status_code = 502

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


@dataclass
class PollResult:
    """What one IMAP poll did.

    ``fetched``: unseen messages read; ``ingested``: captured (created or updated) and marked read; ``created``:
    of those, new items; ``failed``: not captured (``errors`` says why, one line each).
    """

    fetched: int = 0
    ingested: int = 0
    created: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_connect(settings: Settings) -> imaplib.IMAP4:
    host, port = settings.imap_host, settings.imap_port
    conn: imaplib.IMAP4
    if settings.imap_ssl:
        conn = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=IMAP_TIMEOUT_SECONDS)
    else:
        conn = imaplib.IMAP4(host, port, timeout=IMAP_TIMEOUT_SECONDS)
        if "STARTTLS" in conn.capabilities:
            conn.starttls(ssl.create_default_context())
    try:
        conn.login(settings.imap_user, settings.imap_password.get_secret_value())
    except imaplib.IMAP4.error:
        _logout(conn)
        raise
    return conn


def _logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (OSError, imaplib.IMAP4.error):
        log.debug("IMAP logout failed", exc_info=True)


def _fetch(conn: imaplib.IMAP4, uid: str) -> bytes:
    # BODY.PEEK[] leaves \Seen alone (RFC822 and BODY[] would set it before the item is saved).
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        raise RuntimeError(f"FETCH answered {typ}")
    for part in data:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    raise RuntimeError("the message is gone from the mailbox")


def _flag(conn: imaplib.IMAP4, uid: str, flags: str) -> bool:
    """Add flags; a refusal is logged, not raised (the message is then simply seen again at the next poll, and
    capturing it again updates the same item)."""
    try:
        typ, _ = conn.uid("STORE", uid, "+FLAGS.SILENT", flags)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error:
        typ = "BAD"
    if typ != "OK":
        log.warning("IMAP server refused to set %s on message %s", flags, uid)
    return typ == "OK"


def _poll_one(session: Session, conn: imaplib.IMAP4, uid: str, result: PollResult) -> None:
    """Fetch, capture and mark one message; its failure is counted in ``result``, never raised (but a broken
    connection is: the poll cannot go on)."""
    result.fetched += 1
    try:
        raw = _fetch(conn, uid)
    except (imaplib.IMAP4.abort, OSError):
        raise
    except (imaplib.IMAP4.error, RuntimeError) as exc:
        result.failed += 1
        result.errors.append(f"message {uid}: cannot be fetched: {exc} (left unseen)")
        log.warning("IMAP message %s cannot be fetched: %s", uid, exc)
        return
    try:
        _, created = mail.ingest_email(session, IMAP_ACTOR, raw)
    except ValidationFailed as exc:
        result.failed += 1
        result.errors.append(f"message {uid}: {exc.message} (flagged and marked read)")
        log.warning("IMAP message %s cannot be captured: %s", uid, exc.message)
        _flag(conn, uid, r"(\Seen \Flagged)")
        return
    except Exception as exc:  # any other failure: keep the message unseen and go on with the next
        result.failed += 1
        result.errors.append(f"message {uid}: {type(exc).__name__}: {exc} (left unseen)")
        log.exception("IMAP message %s failed; it stays unseen for the next poll", uid)
        return
    _flag(conn, uid, r"(\Seen)")
    result.ingested += 1
    result.created += int(created)


def poll_imap(session: Session, settings: Settings | None = None, *, limit: int = IMAP_BATCH) -> PollResult:
    """Capture the unseen messages of the configured IMAP mailbox as feedback (``PRODOPS_IMAP_*`` settings).

    Each message goes through the same path as ``POST /api/v1/feedback/email`` (:func:`ingest_email`, audited as
    the ``imap`` actor) and is marked ``\\Seen`` only after its item is committed, so a crash never loses one.
    A message that can never be captured (no sender, no text) is marked ``\\Seen`` and ``\\Flagged`` — left in the
    mailbox for a person to look at, and not fetched again; any other failure (e.g. the database is down) leaves
    it unseen, to be tried at the next poll. One bad message never stops the others. At most ``limit`` messages
    are read per call; the rest wait for the next one.

    Raises :class:`ImapFailed` when IMAP is not configured or the server cannot be reached, signed in to or the
    mailbox opened (nothing is fetched then).
    """
    settings = settings or get_settings()
    if not settings.imap_host:
        raise ImapFailed("IMAP polling is off: set PRODOPS_IMAP_HOST (and the other PRODOPS_IMAP_* settings).")
    where = f"{settings.imap_user or '(no user)'}@{settings.imap_host}:{settings.imap_port}"
    try:
        conn = _imap_connect(settings)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise ImapFailed(f"Could not sign in to the IMAP server {where}: {exc}") from exc
    result = PollResult()
    try:
        typ, _ = conn.select(_quoted(settings.imap_mailbox))
        if typ != "OK":
            raise ImapFailed(f"The mailbox {settings.imap_mailbox!r} on {where} cannot be opened.")
        typ, data = conn.uid("SEARCH", "UNSEEN")
        if typ != "OK":
            raise ImapFailed(f"Searching {settings.imap_mailbox!r} on {where} failed ({typ}).")
        uids = data[0].split() if data and isinstance(data[0], bytes) else []
        for uid in uids[:limit]:
            _poll_one(session, conn, uid.decode(), result)
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise ImapFailed(f"The connection to {where} broke: {exc}") from exc
    finally:
        _logout(conn)
    return result
