"""Close the loop against a real SMTP server (aiosmtpd): who is e-mailed, once, and what the e-mail says."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn, StatusIn
from prodops.domains.feedback import service
from prodops.domains.feedback.models import LoopNotice
from prodops.domains.feedback.schemas import LinkIn
from prodops.domains.feedback.service import loop
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope
from prodops.platform.notify import optout
from tests.conftest import Client
from tests.feedback.conftest import ACTOR, make_item
from tests.platform.test_email import Mailbox, _free_port

RELEASE_NOTE = "**Dark mode** follows your system setting.\n\n<script>alert('x')</script>\n\n- Turn it on in Settings"


@dataclass
class Story:
    feature: int
    people: dict[str, int]


@pytest.fixture
def story(session: Session) -> Story:
    """Dark mode: Ann asked three times, Bob once, Opal once (she unsubscribed), Val voted, Sue follows it."""
    customers.create_account(session, ACTOR, AccountIn(name="Big", domain="big.example", arr=50_000))
    feature = features.create_feature(
        session, ACTOR, FeatureIn(title="Dark mode", release_note=RELEASE_NOTE, description="Easier on the eyes.")
    ).id
    people = {
        key: customers.create_person(session, ACTOR, PersonIn(email=f"{key}@big.example", name=key.title())).id
        for key in ("ann", "bob", "opal", "val", "sue")
    }
    texts = {
        "ann": ["Dark mode please.", "Still waiting for a dark theme.", "Night shifts are hard: I need dark mode!"],
        "bob": ["A dark theme would be lovely."],
        "opal": ["dark mode"],
    }
    for key, items in texts.items():
        for n, text in enumerate(items):
            item = make_item(session, text=text, person_id=people[key], external_id=f"{key}-{n}", source="email")
            service.link_feature(session, ACTOR, item.id, LinkIn(feature_id=feature))
    features.add_vote(session, ACTOR, feature, people["val"])
    features.subscribe(session, ACTOR, feature, people["sue"])
    optout.opt_out(session, "OPAL@big.example", loop.TOPIC)
    session.rollback()
    return Story(feature, people)


def _notices(feature_id: int) -> list[tuple[str, str, str]]:
    with session_scope() as s:
        rows = s.scalars(select(LoopNotice).where(LoopNotice.feature_id == feature_id)).all()
        return sorted((n.email, n.status, n.outcome) for n in rows)


def _settled(box: Mailbox, count: int) -> list[str]:
    box.wait_for(count) if count else None
    time.sleep(0.3)  # anything extra would have arrived by now
    return sorted(r.rcpt_tos[0] for r in box.received)


def test_shipping_emails_each_person_once_and_skips_the_unsubscribed(
    session: Session, smtp: Mailbox, story: Story
) -> None:
    features.set_status(session, ACTOR, story.feature, "shipped")
    assert _settled(smtp, 4) == ["ann@big.example", "bob@big.example", "sue@big.example", "val@big.example"]
    assert _notices(story.feature) == [
        ("ann@big.example", "shipped", "sent"),
        ("bob@big.example", "shipped", "sent"),
        ("opal@big.example", "shipped", "unsubscribed"),
        ("sue@big.example", "shipped", "sent"),
        ("val@big.example", "shipped", "sent"),
    ]
    ann = next(r for r in smtp.received if r.rcpt_tos == ["ann@big.example"])
    msg = ann.message
    assert msg["Subject"] == "Shipped: Dark mode"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip("<>")
    assert optout.read_token(url.rsplit("/", 1)[1]) == ("ann@big.example", loop.TOPIC)
    text, html = ann.part("plain"), ann.part("html")
    # Her own words (her newest item), the feature, its new status and the release note.
    assert "Night shifts are hard: I need dark mode!" in text and "has shipped" in text
    assert "**Dark mode** follows your system setting." in text and url in text
    assert "<strong>Dark mode</strong> follows your system setting." in html
    assert "<script>" not in html, "the release note is sanitised"
    assert f'href="{url}"' in html.replace("&amp;", "&")
    val = next(r for r in smtp.received if r.rcpt_tos == ["val@big.example"])
    assert "You voted for it." in val.part("plain")
    sue = next(r for r in smtp.received if r.rcpt_tos == ["sue@big.example"])
    assert "You follow it." in sue.part("plain")


def test_the_same_status_again_does_not_resend(session: Session, smtp: Mailbox, story: Story) -> None:
    features.set_status(session, ACTOR, story.feature, "shipped")
    _settled(smtp, 4)
    features.set_status(session, ACTOR, story.feature, "planned")  # does not notify
    features.set_status(session, ACTOR, story.feature, "shipped")
    assert len(_settled(smtp, 4)) == 4
    result = loop.send_updates(session, ACTOR, story.feature)
    assert (result.sent, result.already) == (0, 5)
    assert len(_notices(story.feature)) == 5


def test_a_status_that_does_not_notify_sends_nothing(session: Session, smtp: Mailbox, story: Story) -> None:
    features.set_status(session, ACTOR, story.feature, "planned")
    assert _settled(smtp, 0) == [] and _notices(story.feature) == []


def test_failures_are_logged_and_retried_by_send_now(
    session: Session, smtp: Mailbox, story: Story, monkeypatch: pytest.MonkeyPatch, admin_client: Client
) -> None:
    settings = get_settings()
    port = settings.smtp_port
    monkeypatch.setattr(settings, "smtp_port", _free_port())  # nothing listens there
    features.set_status(session, ACTOR, story.feature, "shipped")
    outcomes = {email: outcome for email, _status, outcome in _notices(story.feature)}
    assert outcomes == {
        "ann@big.example": "failed",
        "bob@big.example": "failed",
        "opal@big.example": "unsubscribed",
        "sue@big.example": "failed",
        "val@big.example": "failed",
    }
    with session_scope() as s:
        errors = s.scalars(select(LoopNotice.error).where(LoopNotice.outcome == "failed")).all()
    assert all("Connection" in e or "refused" in e.lower() for e in errors), errors
    monkeypatch.setattr(settings, "smtp_port", port)
    panel = admin_client.get(f"/feedback/features/{story.feature}/loop", headers={"HX-Request": "true"})
    assert "<strong>4</strong> have not been told" in panel.text and "Failed" in panel.text
    sent = admin_client.form(f"/feedback/features/{story.feature}/loop/send", headers={"HX-Request": "true"})
    assert sent.status_code == 200 and "Telling 4 people" in sent.text
    assert _settled(smtp, 4) == ["ann@big.example", "bob@big.example", "sue@big.example", "val@big.example"]
    assert {o for _e, _s, o in _notices(story.feature)} == {"sent", "unsubscribed"}
    again = admin_client.form(f"/feedback/features/{story.feature}/loop/send", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/features/{story.feature}"
    assert len(_settled(smtp, 4)) == 4, "nobody is told twice"


def test_one_click_unsubscribe_stops_the_next_update(
    session: Session, smtp: Mailbox, story: Story, client: Client
) -> None:
    features.set_status(session, ACTOR, story.feature, "shipped")
    _settled(smtp, 4)
    bob = next(r for r in smtp.received if r.rcpt_tos == ["bob@big.example"])
    url = bob.message["List-Unsubscribe"].strip("<>")
    path = "/" + url.split("/", 3)[3]
    response = client.post(path, content="List-Unsubscribe=One-Click")
    assert response.status_code == 200
    # Another notifying status: Bob is not e-mailed again.
    features.set_statuses(
        session,
        ACTOR,
        None,
        [
            StatusIn(key="idea", label="Idea", kind="idea"),
            StatusIn(key="beta", label="In beta", kind="active", notify=True),
            StatusIn(key="shipped", label="Shipped", kind="shipped", notify=True),
        ],
    )
    features.set_status(session, ACTOR, story.feature, "beta")
    received = _settled(smtp, 7)
    assert received.count("bob@big.example") == 1 and received.count("ann@big.example") == 2
    beta = [r for r in smtp.received if r.message["Subject"] == "In beta: Dark mode"]
    assert len(beta) == 3 and "it is now in beta" in beta[0].part("plain")
    assert ("bob@big.example", "beta", "unsubscribed") in _notices(story.feature)


def test_panel_preview_and_access(session: Session, smtp: Mailbox, story: Story, viewer_client: Client) -> None:
    features.set_status(session, ACTOR, story.feature, "shipped")
    _settled(smtp, 4)
    panel = viewer_client.get(f"/feedback/features/{story.feature}/loop", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert (
        "ann@big.example" in panel.text and "Unsubscribed" in panel.text and "all of them have been told" in panel.text
    )
    assert "/loop/send" not in panel.text and "/loop/preview" not in panel.text, "viewers read the log only"
    assert viewer_client.get(f"/feedback/features/{story.feature}/loop/preview").status_code == 403
    assert viewer_client.form(f"/feedback/features/{story.feature}/loop/send").status_code == 403


def test_send_now_is_refused_for_a_status_that_does_not_notify(
    session: Session, smtp: Mailbox, story: Story, admin_client: Client
) -> None:
    panel = admin_client.get(f"/feedback/features/{story.feature}/loop", headers={"HX-Request": "true"})
    assert "does not send e-mails" in panel.text and "/loop/send" not in panel.text
    refused = admin_client.form(f"/feedback/features/{story.feature}/loop/send")
    assert refused.status_code == 409 and "does not tell people by itself" in refused.text
    assert _settled(smtp, 0) == [] and _notices(story.feature) == []


def test_admin_preview_shows_the_email(session: Session, story: Story, admin_client: Client) -> None:
    page = admin_client.get(f"/feedback/features/{story.feature}/loop/preview")
    assert page.status_code == 200
    assert "Idea: Dark mode" in page.text and "ann@big.example" in page.text
    assert "srcdoc=" in page.text and "&lt;strong&gt;Dark mode&lt;/strong&gt;" in page.text
    summary = loop.summary(session, story.feature)
    assert (summary.audience, summary.pending, summary.total, summary.notifies) == (5, 5, 0, False)
