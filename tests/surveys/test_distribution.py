"""Distribution against a real SMTP server: waves, personal single-use links, partial answers, reminders, the throttle
and opt-outs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import SegmentIn
from prodops.domains.surveys import service
from prodops.domains.surveys.models import Invitation, Response, Wave
from prodops.domains.surveys.schemas import WaveIn
from prodops.domains.surveys.service import distribution, responses
from prodops.platform.db import utcnow
from prodops.platform.errors import Conflict, ValidationFailed
from prodops.platform.notify import optout
from tests.conftest import Client
from tests.platform.test_email import Mailbox
from tests.surveys.conftest import ACTOR, make_person, make_survey

LINK = re.compile(r"http://[^\s\"<>]+/survey/i/(i_[A-Za-z0-9_-]+)")


def _token(box: Mailbox, index: int = 0) -> str:
    text = box.received[index].part("plain")
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def test_wave_sends_personal_links_and_a_link_answers_once(session: Session, smtp: Mailbox, client: Client) -> None:
    survey = make_survey(session, languages=["en", "de"])
    make_person(session, "ann@acme.example")
    wave = service.create_wave(
        session, ACTOR, survey.id, WaveIn(name="Q1", emails=["ann@acme.example", "bob@beta.example"])
    )
    # Due now: sent right after the commit (jobs run inline in tests).
    box = smtp.wait_for(2)
    assert sorted(m.message["To"] for m in box) == ["ann@acme.example", "bob@beta.example"]
    message = box[0].message
    assert message["List-Unsubscribe"] and "One-Click" in message["List-Unsubscribe-Post"]
    assert "How likely are you to recommend us" in box[0].part("plain")
    stored = service.get_wave(session, wave.id)
    assert (stored.status, stored.invited, stored.completed) == ("sent", 2, 0)
    # bob was not a customer yet: he became a person
    assert customers.person_by_email(session, "bob@beta.example") is not None

    token = _token(smtp)
    page = client.get(f"/survey/i/{token}")
    assert page.status_code == 200 and "How likely are you to recommend us" in page.text
    assert "Quarterly NPS" in page.text or "ProdOps" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = client.post(
        f"/survey/i/{token}", data={"csrf_token": csrf, "question": "score", "answer": "11"}, follow_redirects=False
    )
    assert bad.status_code == 422 and "from 0 to 10" in bad.text
    first = client.post(
        f"/survey/i/{token}", data={"csrf_token": csrf, "question": "score", "answer": "3"}, follow_redirects=False
    )
    assert first.status_code == 303
    # Partial: the score is kept before the "why" page is answered.
    session.rollback()  # a fresh read: the page wrote through its own session
    invitation = session.scalar(select(Invitation).where(Invitation.email == message["To"]))
    assert invitation is not None and invitation.opened_at is not None
    response = session.scalar(select(Response).where(Response.invitation_id == invitation.id))
    assert response is not None and response.score == 3 and response.completed_at is None
    assert response.next_key == "why_low"  # the detractor branch
    follow = client.get(f"/survey/i/{token}")
    assert "What disappointed you most" in follow.text
    done = client.post(
        f"/survey/i/{token}",
        data={"csrf_token": csrf, "question": "why_low", "answer": "Too slow."},
        follow_redirects=False,
    )
    assert done.status_code == 303
    thanks = client.get(f"/survey/i/{token}")
    assert "Thank you" in thanks.text and "<textarea" not in thanks.text
    # Single use: answering again records nothing.
    again = client.post(
        f"/survey/i/{token}", data={"csrf_token": csrf, "question": "score", "answer": "10"}, follow_redirects=False
    )
    assert again.status_code == 200 and "Thank you" in again.text
    session.rollback()
    assert session.scalar(select(Response.score).where(Response.invitation_id == invitation.id)) == 3
    assert len(list(session.scalars(select(Response)))) == 1
    assert service.get_wave(session, wave.id).completed == 1


def test_unknown_link_is_404(client: Client) -> None:
    assert client.get("/survey/i/i_forged-token").status_code == 404
    assert client.get("/survey/p/nope").status_code == 404


def test_scheduled_wave_waits_for_its_time_and_is_sent_once(session: Session, smtp: Mailbox) -> None:
    survey = make_survey(session)
    later = utcnow() + dt.timedelta(days=2)
    wave = service.create_wave(
        session, ACTOR, survey.id, WaveIn(name="Later", emails=["a@x.example"], scheduled_at=later)
    )
    assert distribution.due_waves(session) == []
    assert service.send_wave(session, wave.id).skipped
    result = service.send_wave(session, wave.id, now=later + dt.timedelta(minutes=1))
    assert result.sent == 1
    again = service.send_wave(session, wave.id, now=later + dt.timedelta(minutes=2))
    assert again.skipped and again.sent == 0
    assert len(smtp.wait_for(1)) == 1


def test_throttle_across_surveys_and_per_survey_override(session: Session, smtp: Mailbox) -> None:
    first, second = make_survey(session, name="NPS"), make_survey(session, name="CSAT", kind="csat")
    service.create_wave(session, ACTOR, first.id, WaveIn(name="w1", emails=["a@x.example", "b@x.example"]))
    smtp.wait_for(2)
    # a and b were asked minutes ago: the default 90-day throttle skips them in another survey.
    wave = service.create_wave(session, ACTOR, second.id, WaveIn(name="w2", emails=["a@x.example", "c@x.example"]))
    smtp.wait_for(3)
    out = service.get_wave(session, wave.id)
    assert (out.invited, out.throttled) == (1, 1)
    throttled = session.scalar(
        select(Invitation).where(Invitation.wave_id == wave.id, Invitation.status == "throttled")
    )
    assert throttled is not None and throttled.email == "a@x.example" and "90 days" in throttled.error
    # A survey with its own 0-day throttle asks anyway.
    third = make_survey(session, name="Onboarding", throttle_days=0)
    w3 = service.create_wave(session, ACTOR, third.id, WaveIn(name="w3", emails=["a@x.example"]))
    smtp.wait_for(4)
    assert service.get_wave(session, w3.id).invited == 1


def test_answering_in_any_channel_counts_for_the_throttle(session: Session, smtp: Mailbox) -> None:
    survey = make_survey(session)
    pid, _ = make_person(session, "ann@acme.example")
    service.record_response(session, ACTOR, survey.id, responses.ResponseIn(answers={"score": 9}, person_id=pid))
    wave = service.create_wave(
        session, ACTOR, make_survey(session, name="Other").id, WaveIn(name="w", emails=["ann@acme.example"])
    )
    assert service.get_wave(session, wave.id).throttled == 1
    assert smtp.received == []


def test_unsubscribed_people_are_skipped(session: Session, smtp: Mailbox) -> None:
    optout.opt_out(session, "gone@x.example", service.TOPIC)
    survey = make_survey(session)
    wave = service.create_wave(session, ACTOR, survey.id, WaveIn(name="w", emails=["gone@x.example", "here@x.example"]))
    smtp.wait_for(1)
    out = service.get_wave(session, wave.id)
    assert (out.invited, out.unsubscribed) == (1, 1)
    assert [m.message["To"] for m in smtp.received] == ["here@x.example"]


def test_segment_audience(session: Session, smtp: Mailbox) -> None:
    make_person(session, "big@big.example", arr=90_000)
    make_person(session, "small@small.example", arr=1_000)
    segment = customers.create_segment(
        session,
        ACTOR,
        SegmentIn(name="Large", entity="accounts", filters=[{"field": "arr", "op": "gte", "value": 50_000}]),
    )
    survey = make_survey(session)
    wave = service.create_wave(session, ACTOR, survey.id, WaveIn(name="Large accounts", segment_id=segment.id))
    smtp.wait_for(1)
    assert [m.message["To"] for m in smtp.received] == ["big@big.example"]
    assert service.get_wave(session, wave.id).segment_name == "Large"


def test_reminders_after_n_days_up_to_the_maximum(session: Session, smtp: Mailbox) -> None:
    survey = make_survey(session)
    wave = service.create_wave(
        session,
        ACTOR,
        survey.id,
        WaveIn(name="w", emails=["a@x.example", "b@x.example"], reminder_after_days=3, max_reminders=1),
    )
    smtp.wait_for(2)
    # b answers; only a is reminded, once, and only after three days.
    b = session.scalar(select(Invitation).where(Invitation.email == "b@x.example"))
    assert b is not None
    responses.answer_page(session, survey.id, "score", "10", invitation_id=b.id, channel="email")
    responses.answer_page(session, survey.id, "why", "", invitation_id=b.id, channel="email")
    now = utcnow()
    assert service.send_reminders(session, now=now + dt.timedelta(days=2)).sent == 0
    assert service.send_reminders(session, now=now + dt.timedelta(days=3, minutes=1)).sent == 1
    assert service.send_reminders(session, now=now + dt.timedelta(days=9)).sent == 0
    box = smtp.wait_for(3)
    assert box[2].message["To"] == "a@x.example" and box[2].message["Subject"].startswith("Reminder:")
    # The reminder repeats the same personal link.
    first_a = next(m for m in box[:2] if m.message["To"] == "a@x.example")
    assert LINK.search(first_a.part("plain")).group(1) == LINK.search(box[2].part("plain")).group(1)  # type: ignore[union-attr]
    assert service.get_wave(session, wave.id).reminders == 1


def test_wave_input_is_checked_and_nothing_is_written(session: Session) -> None:
    survey = make_survey(session)
    with pytest.raises(ValueError, match="choose a segment or list"):
        WaveIn(name="w")
    with pytest.raises(ValidationFailed) as exc:
        service.create_wave(session, ACTOR, survey.id, WaveIn(name="w", segment_id=999))
    assert exc.value.field == "segment_id"
    with pytest.raises(ValidationFailed):
        service.create_wave(session, ACTOR, survey.id, WaveIn(name="w", emails=["a@x.example"], language="fr"))
    closed = make_survey(session, name="Old", status="closed")
    with pytest.raises(Conflict):
        service.create_wave(session, ACTOR, closed.id, WaveIn(name="w", emails=["a@x.example"]))
    assert list(session.scalars(select(Wave))) == []
