"""Capture channels: inbound e-mail (a raw RFC 822 message posted to the API, or an IMAP mailbox polled by a job)
and the Zendesk and Intercom webhook receivers.

Parsing and mapping are pure functions (:func:`email_feedback`, :func:`zendesk_feedback`,
:func:`intercom_feedback`, :func:`html_to_text`, :func:`strip_reply`, the signature checks); the use cases
(:func:`ingest_email`, :func:`ingest_zendesk`, :func:`ingest_intercom`, :func:`poll_imap`) write through
:func:`~prodops.domains.feedback.service.items.ingest_many`. Every channel derives a stable external id (the
Message-ID, ``zendesk:<ticket id>``, ``intercom:<conversation id>[:<part id>]``), so a message or event delivered
twice updates its item and never duplicates it, and a re-delivery keeps the triage people did. No channel keeps
state of its own (no tables).
"""

from prodops.domains.feedback.service.channels.common import (
    ChannelOff,
    Ignored,
    SignatureRejected,
    WebhookResult,
    parse_json,
)
from prodops.domains.feedback.service.channels.imap import IMAP_ACTOR, IMAP_BATCH, ImapFailed, PollResult, poll_imap
from prodops.domains.feedback.service.channels.intercom import (
    INTERCOM_ACTOR,
    INTERCOM_TOPICS,
    ingest_intercom,
    intercom_feedback,
    intercom_signature,
    verify_intercom,
)
from prodops.domains.feedback.service.channels.mail import (
    MAX_EMAIL_BYTES,
    MessageTooLarge,
    ParsedEmail,
    UnsupportedMediaType,
    email_feedback,
    ingest_email,
    parse_email,
)
from prodops.domains.feedback.service.channels.text import html_to_text, strip_reply
from prodops.domains.feedback.service.channels.zendesk import (
    ZENDESK_ACTOR,
    ZENDESK_TOLERANCE,
    ingest_zendesk,
    verify_zendesk,
    zendesk_feedback,
    zendesk_signature,
)

__all__ = [
    "IMAP_ACTOR",
    "IMAP_BATCH",
    "INTERCOM_ACTOR",
    "INTERCOM_TOPICS",
    "MAX_EMAIL_BYTES",
    "ZENDESK_ACTOR",
    "ZENDESK_TOLERANCE",
    "ChannelOff",
    "Ignored",
    "ImapFailed",
    "MessageTooLarge",
    "ParsedEmail",
    "PollResult",
    "SignatureRejected",
    "UnsupportedMediaType",
    "WebhookResult",
    "email_feedback",
    "html_to_text",
    "ingest_email",
    "ingest_intercom",
    "ingest_zendesk",
    "intercom_feedback",
    "intercom_signature",
    "parse_email",
    "parse_json",
    "poll_imap",
    "strip_reply",
    "verify_intercom",
    "verify_zendesk",
    "zendesk_feedback",
    "zendesk_signature",
]
