"""Rules → follow-ups: e-mail to the account owner (real SMTP), a webhook (real HTTP receiver), the outcome on the
account page; verbatims become feedback items."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.surveys import service
from prodops.domains.surveys.models import FollowUp
from prodops.domains.surveys.schemas import FollowUpUpdate, ResponseIn, RuleIn
from prodops.platform.errors import ValidationFailed
from tests.conftest import Client, make_user
from tests.platform.test_email import Mailbox
from tests.platform.test_webhooks import Receiver, subscribe
from tests.surveys.conftest import ACTOR, make_person, make_survey


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_detractor_at_a_large_account_opens_a_follow_up_with_email_and_webhook(
    session: Session,
    smtp: Mailbox,
    receiver: Receiver,
    admin_client: Client,
) -> None:
    owner = make_user("member", email="owner@acme.example")
    survey = make_survey(session)
    big, big_account = make_person(session, "cto@big.example", arr=120_000, owner_id=owner.id)
    small, _ = make_person(session, "dev@small.example", arr=5_000, owner_id=owner.id)
    service.create_rule(session, ACTOR, RuleIn(name="Big detractor", group_name="detractor", min_arr=50_000))
    subscribe(receiver.url(), ["surveys.follow_up.*"])

    # A promoter at the big account and a detractor at the small one open nothing.
    service.record_response(session, ACTOR, survey.id, ResponseIn(answers={"score": 10, "why": "Great"}, person_id=big))
    service.record_response(session, ACTOR, survey.id, ResponseIn(answers={"score": 2}, person_id=small))
    assert list(session.scalars(select(FollowUp))) == []

    rid = service.record_response(
        session, ACTOR, survey.id, ResponseIn(answers={"score": 6, "why_low": "Exports keep failing."}, person_id=big)
    )
    follow_up = session.scalar(select(FollowUp))
    assert follow_up is not None
    assert (follow_up.response_id, follow_up.owner_id, follow_up.account_id, follow_up.score) == (
        rid,
        owner.id,
        big_account,
        6,
    )

    mail = smtp.wait_for(1)[0]
    assert mail.message["To"] == "owner@acme.example"
    assert "Exports keep failing." in mail.part("plain") and f"/surveys/follow-ups/{follow_up.id}" in mail.part("plain")
    assert len(receiver.requests) == 1
    body = receiver.requests[0].json()
    assert body["event"] == "surveys.follow_up.opened"
    assert (
        body["data"]["account"] == "Big"
        and body["data"]["score"] == 6
        and body["data"]["comment"] == "Exports keep failing."
    )

    # The owner records the outcome; done without one is refused.
    try:
        service.update_follow_up(session, ACTOR, follow_up.id, FollowUpUpdate(status="done"))
    except (ValueError, ValidationFailed) as exc:
        assert "what came of it" in str(exc).lower()
    else:
        raise AssertionError("done without an outcome was accepted")
    service.update_follow_up(
        session, ACTOR, follow_up.id, FollowUpUpdate(status="done", outcome="Called the CTO; fix ships next week.")
    )
    assert receiver.requests[-1].json()["event"] == "surveys.follow_up.closed"
    panel = admin_client.get(f"/surveys/accounts/{big_account}/panel")
    assert panel.status_code == 200
    assert "Called the CTO; fix ships next week." in panel.text and "Exports keep failing." in panel.text
    account_page = admin_client.get(f"/customers/accounts/{big_account}")
    assert f"/surveys/accounts/{big_account}/panel" in account_page.text


def test_rule_fallback_owner_and_survey_scope(session: Session, smtp: Mailbox) -> None:
    fallback = make_user("member", email="cs@acme.example")
    nps, other = make_survey(session), make_survey(session, name="Other")
    person, _ = make_person(session, "a@noowner.example", arr=1_000)
    service.create_rule(session, ACTOR, RuleIn(name="Any detractor", survey_id=nps.id, assignee_id=fallback.id))
    service.record_response(session, ACTOR, other.id, ResponseIn(answers={"score": 0}, person_id=person))
    assert session.scalar(select(FollowUp)) is None
    service.record_response(session, ACTOR, nps.id, ResponseIn(answers={"score": 0}, person_id=person))
    follow_up = session.scalar(select(FollowUp))
    assert follow_up is not None and follow_up.owner_id == fallback.id
    assert smtp.wait_for(1)[0].message["To"] == "cs@acme.example"


def test_text_answers_become_feedback_with_their_score(session: Session) -> None:
    survey = make_survey(session)
    person, account = make_person(session, "ann@acme.example")
    service.record_response(
        session,
        ACTOR,
        survey.id,
        ResponseIn(answers={"score": 9, "why": "The reports save me hours."}, person_id=person),
    )
    item = session.scalar(select(FeedbackItem))
    assert item is not None
    assert (item.source, item.text, item.person_id, item.account_id) == (
        "survey",
        "The reports save me hours.",
        person,
        account,
    )
    assert item.meta["score"] == 9 and item.meta["group"] == "promoter" and item.meta["survey_id"] == survey.id
    assert item.title == "Quarterly NPS: NPS 9"


def test_members_cannot_configure_rules(member_client: Client) -> None:
    assert member_client.get("/admin/surveys/rules").status_code == 403
    assert member_client.form("/admin/surveys/rules", {"name": "x"}).status_code == 403


def test_rules_page_is_for_admins(admin_client: Client, session: Session) -> None:
    page = admin_client.get("/admin/surveys/rules")
    assert page.status_code == 200
    bad = admin_client.form("/admin/surveys/rules", {"name": "", "group_name": "detractor", "min_arr": "-5"})
    assert bad.status_code == 422 and "field-error" in bad.text
    assert service.list_rules(session) == []
    ok = admin_client.form(
        "/admin/surveys/rules", {"name": "Big", "group_name": "detractor", "min_arr": "50,000"}, follow_redirects=False
    )
    assert ok.status_code == 303
    session.rollback()
    [rule] = service.list_rules(session)
    assert rule.min_arr == 50_000
