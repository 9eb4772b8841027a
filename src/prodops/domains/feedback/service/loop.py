"""Close the loop: when a feature reaches a status that notifies (shipped, or any status an admin marks with
``notify``), everyone who asked for it gets one e-mail.

Who is told: the people whose feedback is linked to the feature (:func:`requesters`), its voters and its
followers — each person once per (feature, status), however many items they sent; the send log
(``LoopNotice``, unique on feature, status and person) makes that hold across retries, re-sends and a status
that is left and entered again. People who unsubscribed from the ``feature_updates`` topic (the signed
one-click link in every such e-mail) are logged as ``unsubscribed`` and not mailed.

How: the features domain emits ``features.feature.status_changed`` after its commit; :func:`_on_status_changed`
enqueues :data:`close_loop_job`, which calls :func:`send_updates` in the worker. Each person's outcome is
committed as soon as it is known, so a crash never re-sends to someone already told.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import PersonOut
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureOut
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, LoopNotice
from prodops.domains.feedback.service.items import requesters
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.errors import NotFound
from prodops.platform.jobs import task
from prodops.platform.notify import email as mail
from prodops.platform.notify import optout

log = logging.getLogger(__name__)

TOPIC = optout.declare_topic("feature_updates", "e-mails about the features you asked for")
TEMPLATE = "feedback_shipped"
EXCERPT = 280
LOOP_CLOSED = events.declare(
    "feedback.loop.closed",
    "People who asked for a feature were told about its new status: feature_id, status and counts per outcome.",
)
OUTCOMES = ("sent", "unsubscribed", "failed", "queued")
OUTCOME_LABELS = {"sent": "Sent", "unsubscribed": "Unsubscribed", "failed": "Failed", "queued": "Queued"}


@dataclass
class LoopResult:
    """What one run did: counts per outcome, and why nothing happened when nothing did."""

    feature_id: int
    status: str
    sent: int = 0
    unsubscribed: int = 0
    failed: int = 0
    already: int = 0
    """People told about this status before (not told again)."""
    skipped: str = ""
    errors: list[str] = field(default_factory=list)


class NoticeOut(BaseModel):
    id: int
    feature_id: int
    status: str
    person_id: int | None
    person_name: str | None = None
    email: str
    outcome: str
    error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class LoopSummary(BaseModel):
    """The send log of a feature and who would be told now."""

    feature_id: int
    status: str
    status_label: str
    notifies: bool
    """Whether entering the current status tells people by itself."""
    audience: int
    """People who asked for, voted for or follow the feature."""
    pending: int
    """Of those, people not yet told about the current status."""
    counts: dict[str, dict[str, int]]
    """status → outcome → count."""
    notices: list[NoticeOut]
    total: int


# --- who is told -----------------------------------------------------------------------------------


def audience(session: Session, feature_id: int) -> dict[int, str]:
    """person id → why they hear about the feature (``asked``, ``voted`` or ``follows``; asking wins)."""
    why: dict[int, str] = {}
    for person_id in features.subscriber_person_ids(session, feature_id):
        why[person_id] = "follows"
    for person_id in features.voter_person_ids(session, feature_id):
        why[person_id] = "voted"
    for person_id in requesters(session, feature_id):
        why[person_id] = "asked"
    return why


def _excerpts(session: Session, feature_id: int, person_ids: list[int]) -> dict[int, str]:
    """Each requester's own words: the highlighted passage (or the text) of their newest linked item."""
    found: dict[int, str] = {}
    for start in range(0, len(person_ids), 500):
        chunk = person_ids[start : start + 500]
        stmt = (
            select(FeedbackItem.person_id, FeedbackLink.highlight, FeedbackItem.text)
            .join(FeedbackLink, FeedbackLink.item_id == FeedbackItem.id)
            .where(FeedbackLink.feature_id == feature_id, FeedbackItem.person_id.in_(chunk))
            .order_by(FeedbackItem.received_at.desc(), FeedbackItem.id.desc())
        )
        for person_id, highlight, text in session.execute(stmt):
            if person_id is not None and person_id not in found:
                words = " ".join((highlight or text).split())
                found[person_id] = words if len(words) <= EXCERPT else words[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"
    return found


def subject(feature: FeatureOut) -> str:
    if feature.status_kind == "shipped":
        return f"Shipped: {feature.title}"
    return f"{feature.status_label}: {feature.title}"


def context(feature: FeatureOut, person: PersonOut, why: str, excerpt: str) -> dict[str, Any]:
    """The e-mail's template values (plain values only)."""
    return {
        "person_name": person.name or "",
        "feature_title": feature.title,
        "product_name": feature.product_name or "",
        "status_label": feature.status_label,
        "status_kind": feature.status_kind,
        "release_note": feature.release_note or "",
        "why": why,
        "excerpt": excerpt,
        "unsubscribe_url": optout.unsubscribe_url(person.email, TOPIC),
    }


# --- sending ---------------------------------------------------------------------------------------


def _claim(session: Session, feature_id: int, status: str, people: dict[int, PersonOut]) -> tuple[list[int], int]:
    """Log a ``queued`` notice for everyone not told yet (failed ones are retried); returns (notice ids, already)."""
    with transaction(session):
        existing = {
            n.person_id: n
            for n in session.scalars(
                select(LoopNotice).where(LoopNotice.feature_id == feature_id, LoopNotice.status == status)
            )
        }
        claimed: list[LoopNotice] = []
        already = 0
        for person_id, person in people.items():
            notice = existing.get(person_id)
            if notice is None:
                notice = LoopNotice(feature_id=feature_id, status=status, person_id=person_id, email=person.email)
                session.add(notice)
            elif notice.outcome in ("sent", "unsubscribed"):
                already += 1
                continue
            notice.outcome, notice.error, notice.email = "queued", "", person.email
            claimed.append(notice)
        session.flush()
        return [n.id for n in claimed], already


def _settle(session: Session, notice_id: int, outcome: str, error: str = "") -> None:
    with transaction(session):
        notice = session.get(LoopNotice, notice_id)
        if notice is None:
            return
        notice.outcome = outcome
        notice.error = error[:500]
        notice.sent_at = utcnow() if outcome == "sent" else None


def send_updates(session: Session, actor: Actor, feature_id: int, status: str | None = None) -> LoopResult:
    """Tell everyone who asked for (voted for, follows) a feature about ``status`` — its current status by
    default — once each. Returns what happened; safe to run again (only the people not told yet are mailed)."""
    feature = features.get_feature(session, feature_id)
    status = status or feature.status
    result = LoopResult(feature_id=feature_id, status=status)
    if feature.merged_into_id is not None:
        result.skipped = f"the feature was merged into feature {feature.merged_into_id}"
        return result
    if feature.status != status:
        result.skipped = f"the feature is no longer {status!r} (now {feature.status!r})"
        return result
    why = audience(session, feature_id)
    people = customers.people_by_id(session, sorted(why))
    try:
        notice_ids, result.already = _claim(session, feature_id, status, people)
    except IntegrityError:  # another run claimed the same people a moment ago: it will tell them
        session.rollback()
        result.skipped = "another run is already telling these people"
        return result
    claimed = dict(
        session.execute(select(LoopNotice.id, LoopNotice.person_id).where(LoopNotice.id.in_(notice_ids))).all()
    )
    excerpts = _excerpts(session, feature_id, [pid for pid, reason in why.items() if reason == "asked"])
    opted = optout.opted_out(session, [p.email for p in people.values()], TOPIC)
    session.rollback()  # end the read snapshot before the slow part (SMTP)
    for notice_id in notice_ids:
        person = people.get(claimed.get(notice_id) or 0)
        if person is None:
            continue
        if person.email.lower() in opted:
            _settle(session, notice_id, "unsubscribed")
            result.unsubscribed += 1
            continue
        try:
            message = mail.build_message(
                person.email,
                subject(feature),
                TEMPLATE,
                context(feature, person, why[person.id], excerpts.get(person.id, "")),
                headers=optout.list_unsubscribe_headers(person.email, TOPIC),
            )
            mail.deliver(message)
        except Exception as exc:  # one bad address or a flaky server must not stop the others
            log.warning("close-the-loop e-mail to %s failed: %s", person.email, exc)
            _settle(session, notice_id, "failed", f"{type(exc).__name__}: {exc}")
            result.failed += 1
            result.errors.append(f"{person.email}: {exc}")
            continue
        _settle(session, notice_id, "sent")
        result.sent += 1
    if result.sent or result.unsubscribed or result.failed:
        with transaction(session):
            counts = {"sent": result.sent, "unsubscribed": result.unsubscribed, "failed": result.failed}
            audit.record(
                session,
                actor,
                entity_type="feature",
                entity_id=feature_id,
                action="close_loop",
                changes={k: [0, v] for k, v in counts.items() if v} | {"status": [None, status]},
                entity_label=feature.title,
            )
            events.emit(session, LOOP_CLOSED, {"feature_id": feature_id, "status": status, **counts})
    return result


@task(retries=2, retry_delay=300)
def close_loop_job(feature_id: int, status: str) -> None:
    """Tell the people who asked for a feature about its new status (queued after the status change commits)."""
    with session_scope() as session:
        try:
            result = send_updates(session, Actor.system("close the loop"), feature_id, status)
        except NotFound:
            return  # the feature was deleted before the job ran
    if result.skipped:
        log.info("close the loop for feature %s (%s) skipped: %s", feature_id, status, result.skipped)
    if result.failed:
        # Huey runs the job again later (retries above); only the people not told yet are tried again.
        raise RuntimeError(f"{result.failed} close-the-loop e-mail(s) failed: {'; '.join(result.errors[:3])}")


@events.subscribe(features.STATUS_CHANGED)
def _on_status_changed(ev: events.Event) -> None:
    if ev.payload.get("notify"):
        close_loop_job(int(ev.payload["feature_id"]), str(ev.payload["to_status"]))


def send_now(feature_id: int) -> None:
    """Queue a run for the feature's current status (the admins' "send now": reaches people not told yet)."""
    with session_scope() as session:
        feature = features.get_feature(session, feature_id)
    close_loop_job(feature.id, feature.status)


# --- reads: the send log ---------------------------------------------------------------------------


def summary(session: Session, feature_id: int, *, limit: int = 100) -> LoopSummary:
    """The feature's send log (newest first) with counts per status and outcome, and who would be told now."""
    feature = features.get_feature(session, feature_id)
    counts: dict[str, dict[str, int]] = {}
    stmt = (
        select(LoopNotice.status, LoopNotice.outcome, func.count())
        .where(LoopNotice.feature_id == feature_id)
        .group_by(LoopNotice.status, LoopNotice.outcome)
    )
    for status, outcome, n in session.execute(stmt):
        counts.setdefault(status, {})[outcome] = n
    total = sum(sum(c.values()) for c in counts.values())
    rows = list(
        session.scalars(
            select(LoopNotice)
            .where(LoopNotice.feature_id == feature_id)
            .order_by(LoopNotice.created_at.desc(), LoopNotice.id.desc())
            .limit(limit)
        )
    )
    names = customers.people_by_id(session, sorted({r.person_id for r in rows if r.person_id is not None}))
    notices = [
        NoticeOut(
            id=r.id,
            feature_id=r.feature_id,
            status=r.status,
            person_id=r.person_id,
            person_name=names[r.person_id].display_name if r.person_id in names else None,
            email=r.email,
            outcome=r.outcome,
            error=r.error,
            created_at=r.created_at,
            sent_at=r.sent_at,
        )
        for r in rows
    ]
    why = audience(session, feature_id)
    told = set(
        session.scalars(
            select(LoopNotice.person_id).where(
                LoopNotice.feature_id == feature_id,
                LoopNotice.status == feature.status,
                LoopNotice.outcome.in_(("sent", "unsubscribed")),
            )
        )
    )
    notifies = any(s.key == feature.status and s.notify for s in features.statuses_for(session, feature.product_id))
    return LoopSummary(
        feature_id=feature_id,
        status=feature.status,
        status_label=feature.status_label,
        notifies=notifies,
        audience=len(why),
        pending=len(set(why) - told),
        counts=counts,
        notices=notices,
        total=total,
    )


def preview(session: Session, feature_id: int) -> tuple[str, str, str, str]:
    """(to, subject, text part, HTML part) of the e-mail as the first person to be told would get it."""
    feature = features.get_feature(session, feature_id)
    why = audience(session, feature_id)
    person_id = next((pid for pid, reason in why.items() if reason == "asked"), next(iter(why), None))
    person = customers.people_by_id(session, [person_id]).get(person_id) if person_id is not None else None
    if person is None:
        now = utcnow()
        person = PersonOut(
            id=0,
            email="alex@example.com",
            name="Alex Example",
            title="",
            account_id=None,
            external_id=None,
            attributes={},
            created_at=now,
            updated_at=now,
        )
    excerpt = _excerpts(session, feature_id, [person.id]).get(person.id, "")
    message = mail.build_message(
        person.email,
        subject(feature),
        TEMPLATE,
        context(feature, person, why.get(person.id, "asked"), excerpt),
        headers=optout.list_unsubscribe_headers(person.email, TOPIC),
    )
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (
        person.email,
        str(message["Subject"]),
        str(text.get_content()) if text is not None else "",
        str(html.get_content()) if html is not None else "",
    )


__all__ = [
    "LOOP_CLOSED",
    "TOPIC",
    "LoopResult",
    "LoopSummary",
    "NoticeOut",
    "audience",
    "close_loop_job",
    "preview",
    "send_now",
    "send_updates",
    "summary",
]
