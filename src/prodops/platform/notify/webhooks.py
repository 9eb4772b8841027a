"""The webhook wire format: request bodies (ProdOps JSON or Slack-compatible), headers and signatures.

Every delivery is an HTTP ``POST`` with a JSON body and these headers:

``Content-Type: application/json``, ``User-Agent: ProdOps-Webhooks/1``,
``X-ProdOps-Event`` (the event name, e.g. ``org.team.created``),
``X-ProdOps-Delivery`` (the delivery id; retries of one delivery repeat it, a manual redelivery
gets a new one), ``X-ProdOps-Timestamp`` (Unix seconds when this attempt was signed) and
``X-ProdOps-Signature: sha256=<hex>``.

The ``json`` format sends ``{"id": <delivery id>, "event": ..., "occurred_at": <ISO 8601 UTC>,
"data": {...}}``; the ``slack`` format sends ``{"text": ..., "blocks": [...]}``, which a Slack (or
Mattermost, Rocket.Chat, Discord ``/slack``) incoming-webhook URL accepts as is.

Verifying a delivery (receivers should do all three steps):

1. Compute ``HMAC-SHA256(key=secret, message=f"{timestamp}.{raw_body}")`` over the *raw* request
   body bytes, exactly as received (do not re-serialise the parsed JSON), and compare its hex digest
   with the part of ``X-ProdOps-Signature`` after ``sha256=`` in constant time.
2. Refuse the request when ``X-ProdOps-Timestamp`` is more than five minutes away from your clock:
   the timestamp is signed, so an old request replayed later fails this check.
3. Within that window, remember the ``X-ProdOps-Delivery`` ids you have processed and ignore
   repeats: a retry after a timeout may arrive although you already handled the first attempt.

In Python::

    import hashlib, hmac, time

    def verify(secret: str, body: bytes, timestamp: str, signature: str, tolerance: int = 300) -> bool:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest("sha256=" + expected, signature)

:func:`verify` below is that function.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from prodops.platform import events

PayloadFormat = Literal["json", "slack"]
USER_AGENT = "ProdOps-Webhooks/1"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300

TEST_EVENT = events.declare("webhooks.test", "A test event sent from a webhook's page to check the receiver.")


def envelope(event: str, occurred_at: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What a delivery stores: the event, when it happened and its data (the id is added when sent)."""
    return {"event": event, "occurred_at": occurred_at, "data": dict(data)}


def json_body(delivery_id: int, stored: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "event": stored.get("event"),
        "occurred_at": stored.get("occurred_at"),
        "data": stored.get("data", {}),
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(event: str, data: Mapping[str, Any], limit: int = 300) -> str:
    """A one-line description of an event for people: its catalogue description and its main facts."""
    description = events.catalogue().get(event, "").rstrip(".") or event
    facts = ", ".join(f"{key}: {_short(value)}" for key, value in data.items() if value not in (None, "", [], {}))
    line = f"{description} ({event})" + (f" — {facts}" if facts else "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def slack_body(delivery_id: int, stored: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """A Slack-compatible message: ``text`` is the notification fallback, ``blocks`` the layout."""
    event = str(stored.get("event", ""))
    data: Mapping[str, Any] = stored.get("data") or {}
    line = summary(event, data)
    description = events.catalogue().get(event, "").rstrip(".") or event
    facts = [
        f"*{_slack_escape(str(k))}:* {_slack_escape(_short(v))}" for k, v in data.items() if v not in (None, "", [], {})
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(description)}*"}},
    ]
    if facts:
        # Slack allows at most ten fields in a section.
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts[:10]]})
    context = f"`{_slack_escape(event)}` · delivery {delivery_id} · {_slack_escape(str(stored.get('occurred_at', '')))}"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"<{base_url}|ProdOps> · {context}"}],
        }
    )
    return {"text": f"ProdOps: {line}", "blocks": blocks}


def body_for(delivery_id: int, stored: Mapping[str, Any], payload_format: str, base_url: str) -> dict[str, Any]:
    if payload_format == "slack":
        return slack_body(delivery_id, stored, base_url)
    return json_body(delivery_id, stored)


def encode(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-ProdOps-Signature`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance`` seconds."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def headers(event: str, delivery_id: int, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ProdOps-Event": event,
        "X-ProdOps-Delivery": str(delivery_id),
        "X-ProdOps-Timestamp": str(timestamp),
        "X-ProdOps-Signature": signature,
    }


def fingerprint(secret: str) -> str:
    """A short, non-reversible label of a secret: lets people tell secrets apart without seeing them."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact_url(url: str) -> str:
    """The URL with credentials hidden, for the audit log.

    Chat webhook URLs carry their credential in the path (Slack: ``/services/T…/B…/<token>``) or
    the query, so user info and query values are dropped and long path segments are shortened.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    if parts.username or parts.password:
        netloc = "…@" + netloc
    segments = [seg if len(seg) < 20 else seg[:4] + "…" for seg in parts.path.split("/")]
    query = urlencode([(key, "…") for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="…")
    return urlunsplit((parts.scheme, netloc, "/".join(segments), query, ""))
