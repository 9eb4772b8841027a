"""Follower e-mail against a real SMTP server: status changes (batched per follower and transaction, no second
e-mail beside close-the-loop), official replies, one-click unsubscribe and unfollow links."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.portal.models import Comment, Follow, Idea, PortalUser
from prodops.domains.portal.service import notifications
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from tests.conftest import Client
from tests.platform.test_email import Mailbox
from tests.portal.conftest import follow_as, make_board, make_idea, make_portal, make_portal_user, vote_as

ACTOR = Actor.system("test")


def _feature(session: Session, idea_id: int) -> int:
    feature_id = session.scalar(select(Idea.feature_id).where(Idea.id == idea_id))
    assert feature_id is not None
    return feature_id


def _to(box: Mailbox) -> list[str]:
    return sorted(r for m in box.received for r in m.rcpt_tos)


def _html(box: Mailbox, to: str) -> str:
    message = next(m for m in box.received if to in m.rcpt_tos).message
    return str(message.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]


def test_followers_of_published_ideas_hear_about_status_changes(session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme <Ideas>")
    board = make_board(session, portal)
    held = make_board(session, portal, slug="held", require_approval=True)
    author = make_portal_user(session, "author@customer.example", "Ann")
    follower = make_portal_user(session, "follower@customer.example")
    voter = make_portal_user(session, "voter@customer.example")
    blocked = make_portal_user(session, "blocked@customer.example")
    idea = make_idea(session, portal, board, author, "Dark <b>mode</b>")
    pending = make_idea(session, portal, held, author, "Waiting for approval")
    follow_as(session, portal, follower, idea)
    follow_as(session, portal, blocked, idea)
    vote_as(session, portal, voter, idea)  # voting alone is not following
    with transaction(session):
        session.get(PortalUser, blocked.id).blocked_at = utcnow()  # type: ignore[union-attr]

    features.set_status(session, ACTOR, _feature(session, idea), "planned")
    features.set_status(session, ACTOR, _feature(session, pending), "planned")
    assert _to(mailbox) == ["author@customer.example", "follower@customer.example"]
    message = mailbox.received[0].message
    assert message["Subject"] == "Acme <Ideas>: “Dark <b>mode</b>” is now planned"
    assert message["List-Unsubscribe"].startswith("<http") and "/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = _html(mailbox, "follower@customer.example")
    assert "Dark &lt;b&gt;mode&lt;/b&gt;" in html and "<b>mode" not in html
    assert "Acme &lt;Ideas&gt;" in html and "Idea → <strong>Planned</strong>" in html
    assert f"/p/{portal.slug}/i/{idea}" in html and f"/p/{portal.slug}/unfollow/" in html
    assert "Stop all e-mail from Acme &lt;Ideas&gt;" in html


def test_one_transaction_one_email_per_follower(session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme")
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    bob = make_portal_user(session, "bob@customer.example")
    first = make_idea(session, portal, board, ada, "First idea")
    second = make_idea(session, portal, board, ada, "Second idea")
    follow_as(session, portal, bob, second)
    with transaction(session):  # one use case moving two features
        features.set_status(session, ACTOR, _feature(session, first), "planned")
        features.set_status(session, ACTOR, _feature(session, second), "in_progress")
        features.set_status(session, ACTOR, _feature(session, second), "planned")
    assert _to(mailbox) == ["ada@customer.example", "bob@customer.example"]
    ada_mail = next(m for m in mailbox.received if m.rcpt_tos == ["ada@customer.example"]).message
    assert ada_mail["Subject"] == "Acme: 2 ideas you follow have a new status"
    html = _html(mailbox, "ada@customer.example")
    assert "First idea" in html and "Second idea" in html
    assert "In progress" not in html  # moved twice in the transaction: from the first status to the last


def test_shipping_is_told_once_by_close_the_loop(session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme")
    board = make_board(session, portal)
    author = make_portal_user(session, "author@customer.example")
    follower = make_portal_user(session, "follower@customer.example")
    idea = make_idea(session, portal, board, author, "Dark mode")
    follow_as(session, portal, follower, idea)
    features.set_status(session, ACTOR, _feature(session, idea), "shipped")
    # The author asked (their idea is feedback linked to the feature): close the loop tells them. The follower
    # gave no feedback, so the portal tells them. Nobody gets two e-mails.
    assert _to(mailbox) == ["author@customer.example", "follower@customer.example"]
    subjects = {m.rcpt_tos[0]: m.message["Subject"] for m in mailbox.received}
    assert subjects["author@customer.example"] == "Shipped: Dark mode"
    assert subjects["follower@customer.example"] == "Acme: “Dark mode” is now shipped"


def test_one_click_unsubscribe_stops_all_portal_email(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme")
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    idea = make_idea(session, portal, board, ada, "Dark mode")
    features.set_status(session, ACTOR, _feature(session, idea), "planned")
    header = mailbox.received[0].message["List-Unsubscribe"]
    path = urlsplit(header.strip("<>")).path
    page = client.get(path)
    assert page.status_code == 200 and "e-mail from this ideas portal" in page.text
    # A mail client's RFC 8058 POST: no cookies, no CSRF token.
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    features.set_status(session, ACTOR, _feature(session, idea), "in_progress")
    assert len(mailbox.received) == 1


def test_unfollow_link_confirms_then_unfollows(client: Client, session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme")
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    idea = make_idea(session, portal, board, ada, "Dark mode")
    token = notifications.unfollow_token("ada@customer.example", idea)
    page = client.get(f"/p/{portal.slug}/unfollow/{token}")
    assert page.status_code == 200 and "Unfollow this idea?" in page.text
    assert session.scalar(select(Follow.id).where(Follow.idea_id == idea)) is not None  # a GET changes nothing
    done = client.post(f"/p/{portal.slug}/unfollow/{token}")
    assert done.status_code == 200 and "You no longer follow this idea" in done.text
    session.rollback()
    assert session.scalar(select(Follow.id).where(Follow.idea_id == idea)) is None
    assert client.post(f"/p/{portal.slug}/unfollow/{token}").status_code == 200  # twice is harmless
    forged = client.post(f"/p/{portal.slug}/unfollow/{token[:-3]}xyz")
    assert forged.status_code == 400
    features.set_status(session, ACTOR, _feature(session, idea), "planned")
    assert mailbox.received == []


def test_official_replies_reach_followers_escaped(session: Session, mailbox: Mailbox) -> None:
    portal = make_portal(session, name="Acme")
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example")
    bob = make_portal_user(session, "bob@customer.example")
    idea = make_idea(session, portal, board, ada, "Dark mode")
    follow_as(session, portal, bob, idea)
    with transaction(session):
        internal = Comment(idea_id=idea, body="Only for staff", internal=True)
        reply = Comment(idea_id=idea, body="**Yes!** Coming soon <script>alert(1)</script>", official=True)
        session.add_all([internal, reply])
        session.flush()
        notifications.official_reply_on_commit(session, internal.id)
        notifications.official_reply_on_commit(session, reply.id)
    assert _to(mailbox) == ["ada@customer.example", "bob@customer.example"]
    html = _html(mailbox, "bob@customer.example")
    assert "<strong>Yes!</strong>" in html and "<script>" not in html and "Only for staff" not in html
    assert mailbox.received[0].message["Subject"] == "Acme: the team replied to “Dark mode”"

    mailbox.received.clear()
    with pytest.raises(RuntimeError), transaction(session):
        rolled = Comment(idea_id=idea, body="never sent", official=True)
        session.add(rolled)
        session.flush()
        notifications.official_reply_on_commit(session, rolled.id)
        raise RuntimeError("the use case failed after the reply")
    assert mailbox.received == []
