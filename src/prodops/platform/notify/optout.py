"""One-click unsubscribe: signed links per (address, topic), the opt-out list, and the check senders make.

A sender that mails people about a *topic* (e.g. ``feature_updates``) checks :func:`opted_out` first and puts
:func:`list_unsubscribe_headers` on the message. Mail clients then offer an "Unsubscribe" button that POSTs to
the link without opening it (RFC 8058 one-click); people who click the link in the e-mail get a confirmation page.
The link is signed with ``PRODOPS_SECRET_KEY`` (itsdangerous, a salt of its own), so it cannot be forged or
pointed at another address, and it needs no database row until it is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodops.platform import audit
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction
from prodops.platform.notify.models import EmailOptOut

_SALT = "prodops.notify.unsubscribe"
_CHUNK = 500

#: Topics people can unsubscribe from, with the words the confirmation page uses.
TOPICS: dict[str, str] = {}
#: Families of topics made at run time (``portal:12:updates``), by prefix, with the words the page uses.
TOPIC_PREFIXES: dict[str, str] = {}


def declare_topic(topic: str, description: str) -> str:
    """Declare a topic (at most 60 characters) and what it sends, e.g. ``"updates on features you asked for"``."""
    if not topic or len(topic) > 60:
        raise ValueError("a topic is 1-60 characters")
    TOPICS[topic] = description
    return topic


def declare_topic_prefix(prefix: str, description: str) -> str:
    """Declare a family of topics named at run time, e.g. ``portal:`` for ``portal:<id>:updates`` (one per
    portal), and what they send. Each topic of the family stays at most 60 characters."""
    if not prefix or len(prefix) > 40:
        raise ValueError("a topic prefix is 1-40 characters")
    TOPIC_PREFIXES[prefix] = description
    return prefix


def describe(topic: str) -> str:
    """What a topic sends, in words for the unsubscribe page (the topic itself when nobody declared it)."""
    if topic in TOPICS:
        return TOPICS[topic]
    for prefix, description in sorted(TOPIC_PREFIXES.items(), key=lambda p: -len(p[0])):
        if topic.startswith(prefix):
            return description
    return topic


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=_SALT)


def _normalise(email: str) -> str:
    return email.strip().lower()


def make_token(email: str, topic: str) -> str:
    """The signed token naming one address and one topic."""
    return _serializer().dumps({"e": _normalise(email), "t": topic})


def read_token(token: str) -> tuple[str, str] | None:
    """``(email, topic)`` of a genuine token; None for a tampered, truncated or foreign one."""
    try:
        data: Any = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), str) or not isinstance(data.get("t"), str):
        return None
    return data["e"], data["t"]


def unsubscribe_url(email: str, topic: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/unsubscribe/{make_token(email, topic)}"


def list_unsubscribe_headers(email: str, topic: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers that give mail clients a one-click unsubscribe button."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(email, topic)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def is_opted_out(session: Session, email: str, topic: str) -> bool:
    stmt = select(EmailOptOut.id).where(EmailOptOut.email == _normalise(email), EmailOptOut.topic == topic)
    return session.scalar(stmt) is not None


def opted_out(session: Session, emails: Iterable[str], topic: str) -> set[str]:
    """The addresses (lower-case) among ``emails`` that unsubscribed from ``topic``."""
    wanted = sorted({_normalise(e) for e in emails})
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = select(EmailOptOut.email).where(EmailOptOut.topic == topic, EmailOptOut.email.in_(chunk))
        found.update(session.scalars(stmt))
    return found


def opt_out(session: Session, email: str, topic: str, *, actor: Actor | None = None) -> bool:
    """Record that ``email`` wants no more ``topic`` e-mails; True when it is new (clicking twice is harmless)."""
    address = _normalise(email)
    if is_opted_out(session, address, topic):
        return False
    try:
        with transaction(session):
            row = EmailOptOut(email=address, topic=topic)
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor or Actor.system("unsubscribe link"),
                entity_type="email_opt_out",
                entity_id=row.id,
                action="unsubscribe",
                changes={"topic": [None, topic]},
                entity_label=f"{address} from {topic}",
            )
    except IntegrityError:  # a second click raced the first one: already unsubscribed
        return False
    return True


def count(session: Session, topic: str | None = None) -> int:
    stmt = select(func.count()).select_from(EmailOptOut)
    if topic is not None:
        stmt = stmt.where(EmailOptOut.topic == topic)
    return session.scalar(stmt) or 0
