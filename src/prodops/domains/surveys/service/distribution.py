"""Distribution by e-mail: waves of personal links, sent when due by the periodic job, with reminders and a throttle.

- A **wave** names its audience (a saved customer segment, or a list of addresses: unknown ones become people),
  when to send, and its reminders (after N days, at most M).
- **Throttle**: nobody is asked more than once per N days across all surveys — `PRODOPS_SURVEY_THROTTLE_DAYS`, or the
  survey's own ``throttle_days``. Someone invited by e-mail, or who answered in any channel, within that window is
  skipped (their invitation is kept as ``throttled`` so the wave's page says why). People who unsubscribed from
  survey e-mails are skipped as ``unsubscribed``.
- **Sending** claims the wave first (``scheduled`` → ``sending`` in one UPDATE), so two workers never send it twice;
  invitations are written before any e-mail goes out, each e-mail is settled (``sent``/``failed``) as it goes.
- **Personal links** are single-use: one response per link; once complete it shows "thank you" only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.surveys.models import Invitation, Response, Survey, Wave
from prodops.domains.surveys.schemas import WaveIn, WaveOut
from prodops.domains.surveys.service._shared import (
    ENTITY,
    TOPIC,
    WAVE_SENT,
    get_survey,
    new_nonce,
    survey_row,
    token_for,
    token_hash,
)
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.notify import email as mail
from prodops.platform.notify import optout

log = logging.getLogger(__name__)
TEMPLATE = "surveys_invitation"
_CHUNK = 500


@dataclass
class SendResult:
    wave_id: int
    invited: int = 0
    sent: int = 0
    throttled: int = 0
    unsubscribed: int = 0
    failed: int = 0
    skipped: str = ""
    errors: list[str] = field(default_factory=list)


# --- waves ----------------------------------------------------------------------------------------------------------


def _segment_name(session: Session, segment_id: int) -> str:
    for segment in customers.list_segments(session):
        if segment.id == segment_id:
            return segment.name
    raise ValidationFailed("segment_id", f"there is no segment {segment_id}")


def create_wave(session: Session, actor: Actor, survey_id: int, data: WaveIn) -> WaveOut:
    """Schedule a wave; when it is due now, it is sent right after commit (otherwise by the periodic job)."""
    with transaction(session):
        survey = survey_row(session, survey_id)
        if survey.status == "closed":
            raise Conflict(None, "The survey is closed: re-open it before sending a wave.")
        if data.segment_id is not None:
            _segment_name(session, data.segment_id)
        if data.language is not None and data.language not in survey.languages:
            raise ValidationFailed("language", f"the survey is not written in {data.language!r}")
        wave = Wave(
            survey_id=survey.id,
            name=data.name,
            segment_id=data.segment_id,
            emails=list(data.emails),
            language=data.language,
            scheduled_at=data.scheduled_at or utcnow(),
            reminder_after_days=data.reminder_after_days,
            max_reminders=data.max_reminders,
            created_by_id=actor.user_id,
        )
        session.add(wave)
        if survey.status == "draft":
            survey.status = "active"  # scheduling a wave publishes the survey
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=survey.id,
            action="wave",
            changes={"wave": [None, wave.name], "scheduled_at": [None, audit.plain(wave.scheduled_at)]},
            entity_label=survey.name,
        )
        wave_id = wave.id
        if wave.scheduled_at <= utcnow():
            from prodops.domains.surveys.jobs import send_wave_job

            def send() -> None:
                send_wave_job(wave_id)

            events.on_commit(session, send)
    return get_wave(session, wave_id)


def cancel_wave(session: Session, actor: Actor, wave_id: int) -> WaveOut:
    with transaction(session):
        wave = session.get(Wave, wave_id)
        if wave is None:
            raise NotFound("wave", wave_id)
        if wave.status != "scheduled":
            raise Conflict(None, f"The wave is {wave.status}: only a scheduled wave can be cancelled.")
        wave.status = "cancelled"
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=wave.survey_id,
            action="wave_cancelled",
            changes={"wave": [wave.name, None]},
            entity_label=wave.name,
        )
    return get_wave(session, wave_id)


def _counts(session: Session, wave_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {w: {} for w in wave_ids}
    if not wave_ids:
        return found
    rows = session.execute(
        select(
            Invitation.wave_id,
            Invitation.status,
            func.count(),
            func.count(Invitation.opened_at),
            func.count(Invitation.completed_at),
            func.coalesce(func.sum(Invitation.reminders_sent), 0),
        )
        .where(Invitation.wave_id.in_(wave_ids))
        .group_by(Invitation.wave_id, Invitation.status)
    )
    for wave_id, status, n, opened, completed, reminders in rows:
        c = found[wave_id]
        c[status] = c.get(status, 0) + n
        c["opened"] = c.get("opened", 0) + opened
        c["completed"] = c.get("completed", 0) + completed
        c["reminders"] = c.get("reminders", 0) + int(reminders)
    return found


def waves_out(session: Session, waves: Sequence[Wave]) -> list[WaveOut]:
    counts = _counts(session, [w.id for w in waves])
    names = {s.id: s.name for s in customers.list_segments(session)} if any(w.segment_id for w in waves) else {}
    result = []
    for wave in waves:
        c = counts.get(wave.id, {})
        out = WaveOut.model_validate(wave)
        out.segment_name = names.get(wave.segment_id or 0)
        out.audience_size = sum(
            v for k, v in c.items() if k in ("sent", "queued", "throttled", "unsubscribed", "failed")
        )
        if not out.audience_size and wave.emails:
            out.audience_size = len(wave.emails)
        out.invited = c.get("sent", 0)
        out.throttled = c.get("throttled", 0)
        out.unsubscribed = c.get("unsubscribed", 0)
        out.failed = c.get("failed", 0)
        out.opened = c.get("opened", 0)
        out.completed = c.get("completed", 0)
        out.reminders = c.get("reminders", 0)
        result.append(out)
    return result


def get_wave(session: Session, wave_id: int) -> WaveOut:
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFound("wave", wave_id)
    return waves_out(session, [wave])[0]


def list_waves(session: Session, survey_id: int) -> list[WaveOut]:
    waves = list(
        session.scalars(select(Wave).where(Wave.survey_id == survey_id).order_by(Wave.scheduled_at.desc(), Wave.id))
    )
    return waves_out(session, waves)


# --- sending ----------------------------------------------------------------------------------------------------------


def throttle_days(survey: Survey) -> int:
    return survey.throttle_days if survey.throttle_days is not None else get_settings().survey_throttle_days


def recently_asked(
    session: Session, person_ids: Sequence[int], since: dt.datetime, *, exclude_wave: int | None = None
) -> set[int]:
    """People invited by e-mail or who answered a survey (any channel) since ``since``."""
    found: set[int] = set()
    for start in range(0, len(person_ids), _CHUNK):
        chunk = list(person_ids[start : start + _CHUNK])
        invited = select(Invitation.person_id).where(
            Invitation.person_id.in_(chunk), Invitation.sent_at >= since, Invitation.status == "sent"
        )
        if exclude_wave is not None:
            invited = invited.where(Invitation.wave_id != exclude_wave)
        answered = select(Response.person_id).where(Response.person_id.in_(chunk), Response.started_at >= since)
        found.update(pid for pid in session.scalars(invited) if pid is not None)
        found.update(pid for pid in session.scalars(answered) if pid is not None)
    return found


def _audience(session: Session, actor: Actor, wave: Wave) -> dict[str, int]:
    """E-mail → person id of the wave's audience (addresses not known yet become people)."""
    if wave.segment_id is not None:
        ids = list(session.scalars(customers.segment_person_ids(session, wave.segment_id)))
        people = customers.people_by_id(session, ids)
        return {p.email.lower(): p.id for p in people.values()}
    found = customers.ensure_people(session, actor, {e.lower(): "" for e in wave.emails})
    return {email: pid for email, (pid, _) in found.items()}


def _claim(session: Session, wave_id: int, now: dt.datetime) -> bool:
    with transaction(session):
        result = session.execute(
            update(Wave)
            .where(Wave.id == wave_id, Wave.status == "scheduled", Wave.scheduled_at <= now)
            .values(status="sending")
        )
        claimed = cast(CursorResult[Any], result).rowcount
    return bool(claimed)


def _invite(session: Session, actor: Actor, wave_id: int, now: dt.datetime, result: SendResult) -> None:
    """Write the wave's invitations: queued, or throttled / unsubscribed with the reason."""
    with transaction(session):
        wave = session.get(Wave, wave_id)
        assert wave is not None
        survey = survey_row(session, wave.survey_id)
        audience = _audience(session, actor, wave)
        days = throttle_days(survey)
        recent = recently_asked(session, list(audience.values()), now - dt.timedelta(days=days)) if days else set()
        opted = optout.opted_out(session, list(audience), TOPIC)
        already = set(session.scalars(select(Invitation.email).where(Invitation.wave_id == wave.id)))
        rows = []
        for email, person_id in sorted(audience.items()):
            if email in already:
                continue
            status = "queued"
            if email in opted:
                status = "unsubscribed"
            elif person_id in recent:
                status = "throttled"
            nonce = new_nonce()
            rows.append(
                {
                    "wave_id": wave.id,
                    "survey_id": survey.id,
                    "person_id": person_id,
                    "email": email,
                    "nonce": nonce,
                    "token_hash": token_hash(token_for(nonce)),
                    "status": status,
                    "error": f"asked in the last {days} days" if status == "throttled" else "",
                    "created_at": now,
                }
            )
        for start in range(0, len(rows), _CHUNK):
            session.execute(insert(Invitation), rows[start : start + _CHUNK])
        result.throttled = sum(1 for r in rows if r["status"] == "throttled")
        result.unsubscribed = sum(1 for r in rows if r["status"] == "unsubscribed")
        result.invited = len(rows)


def link_url(nonce: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/survey/i/{token_for(nonce)}"


def _message(survey_name: str, question: str, invitation: Invitation, language: str, *, reminder: bool) -> object:
    subject = (
        f"{'Reminder: ' if reminder else ''}{get_settings().workspace_name}: {survey_name} — a one-minute question"
    )
    return mail.build_message(
        invitation.email,
        subject,
        TEMPLATE,
        {
            "survey": survey_name,
            "workspace": get_settings().workspace_name,
            "question": question,
            "url": link_url(invitation.nonce),
            "reminder": reminder,
            "language": language,
            "scores": list(range(11)) if question else [],
            "unsubscribe_url": optout.unsubscribe_url(invitation.email, TOPIC),
        },
        headers=optout.list_unsubscribe_headers(invitation.email, TOPIC),
    )


def _settle(session: Session, invitation_id: int, status: str, now: dt.datetime, error: str = "") -> None:
    with transaction(session):
        invitation = session.get(Invitation, invitation_id)
        if invitation is None:
            return
        invitation.status = status
        invitation.error = error[:500]
        if status == "sent":
            invitation.sent_at = now


def _deliver(
    session: Session, invitation_ids: Sequence[int], *, reminder: bool, now: dt.datetime, result: SendResult
) -> None:
    """E-mail each invitation (SMTP outside any transaction), recording the outcome one by one."""
    for invitation_id in invitation_ids:
        invitation = session.get(Invitation, invitation_id)
        if invitation is None:
            continue
        wave = session.get(Wave, invitation.wave_id)
        survey = get_survey(session, invitation.survey_id)
        language = (wave.language if wave else None) or survey.language
        main = survey.main_question
        question = main.text_in(language) if main is not None and main.qtype == "nps" else ""
        try:
            message = _message(survey.name, question, invitation, language, reminder=reminder)
            session.rollback()  # no read snapshot held open while talking to the SMTP server
            mail.deliver(message)  # type: ignore[arg-type]
        except Exception as exc:  # one bad address or a flaky server must not stop the others
            log.warning("survey e-mail to %s failed: %s", invitation.email, exc)
            result.failed += 1
            result.errors.append(f"{invitation.email}: {exc}")
            if not reminder:
                _settle(session, invitation_id, "failed", now, f"{type(exc).__name__}: {exc}")
            continue
        result.sent += 1
        if reminder:
            with transaction(session):
                row = session.get(Invitation, invitation_id)
                if row is not None:
                    row.reminders_sent += 1
                    row.last_reminded_at = now
        else:
            _settle(session, invitation_id, "sent", now)


def send_wave(session: Session, wave_id: int, *, now: dt.datetime | None = None) -> SendResult:
    """Send a due wave once: claim it, write its invitations, e-mail them. Safe to call twice (the second call finds
    the wave claimed and does nothing)."""
    now = now or utcnow()
    result = SendResult(wave_id=wave_id)
    if not _claim(session, wave_id, now):
        result.skipped = "the wave is not due, or another run is sending it"
        return result
    actor = Actor.system("survey wave")
    _invite(session, actor, wave_id, now, result)
    queued = list(
        session.scalars(
            select(Invitation.id)
            .where(Invitation.wave_id == wave_id, Invitation.status == "queued")
            .order_by(Invitation.id)
        )
    )
    session.rollback()
    _deliver(session, queued, reminder=False, now=now, result=result)
    with transaction(session):
        wave = session.get(Wave, wave_id)
        assert wave is not None
        wave.status = "sent"
        wave.sent_at = now
        counts = {
            "sent": result.sent,
            "throttled": result.throttled,
            "unsubscribed": result.unsubscribed,
            "failed": result.failed,
        }
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=wave.survey_id,
            action="wave_sent",
            changes={k: [0, v] for k, v in counts.items() if v} | {"wave": [None, wave.name]},
            entity_label=wave.name,
        )
        events.emit(session, WAVE_SENT, {"wave_id": wave.id, "survey_id": wave.survey_id, **counts})
    return result


def due_waves(session: Session, now: dt.datetime | None = None) -> list[int]:
    now = now or utcnow()
    stmt = select(Wave.id).where(Wave.status == "scheduled", Wave.scheduled_at <= now).order_by(Wave.scheduled_at)
    return list(session.scalars(stmt))


def send_reminders(session: Session, *, now: dt.datetime | None = None) -> SendResult:
    """Remind everyone whose invitation is unanswered ``reminder_after_days`` after the last e-mail, up to the wave's
    ``max_reminders``; a closed survey reminds nobody."""
    now = now or utcnow()
    result = SendResult(wave_id=0)
    last = func.coalesce(Invitation.last_reminded_at, Invitation.sent_at)
    candidates = session.execute(
        select(Invitation.id, last, Wave.reminder_after_days)
        .join(Wave, Wave.id == Invitation.wave_id)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(
            Invitation.status == "sent",
            Invitation.completed_at.is_(None),
            Wave.reminder_after_days > 0,
            Invitation.reminders_sent < Wave.max_reminders,
            Survey.status == "active",
        )
        .order_by(Invitation.id)
    ).all()
    due = [iid for iid, at, days in candidates if at is not None and at <= now - dt.timedelta(days=days)]
    session.rollback()
    _deliver(session, due, reminder=True, now=now, result=result)
    return result


def unanswered(session: Session, wave_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.wave_id == wave_id, Invitation.status == "sent", Invitation.completed_at.is_(None))
        )
        or 0
    )


def invitations(session: Session, wave_id: int, *, limit: int = 200) -> list[Invitation]:
    return list(
        session.scalars(select(Invitation).where(Invitation.wave_id == wave_id).order_by(Invitation.email).limit(limit))
    )
