"""Spam and flood checks: honeypot, minimum fill time, rate limits per address and per person (429 with
Retry-After), blocked users, and the approval queue (pending posts visible only to their author)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.portal.models import Board, Comment, Idea, Portal, PortalToken, PortalUser, Vote
from prodops.domains.portal.service import abuse
from prodops.platform.db import transaction, utcnow
from tests.conftest import Client
from tests.portal.conftest import csrf_of, make_board, make_idea, make_portal_user, portal_sign_in, stamp


def _ideas(session: Session) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(Idea)) or 0)


def test_honeypot_refuses_and_saves_nothing(
    portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    response = portal_client.form(
        url, {"title": "Cheap pills", "website": "http://spam.example", "form_started": stamp()}
    )
    assert response.status_code == 422 and "automated" in response.text
    assert _ideas(session) == 0


def test_minimum_fill_time_and_forged_stamps(
    portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    fast = portal_client.form(url, {"title": "Quick idea", "form_started": abuse.form_stamp()})
    assert fast.status_code == 422 and "That was very quick" in fast.text
    assert 'value="Quick idea"' in fast.text  # kept for the second try
    forged = portal_client.form(url, {"title": "Quick idea", "form_started": "1700000000.forged"})
    assert forged.status_code == 422 and "expired" in forged.text
    missing = portal_client.form(url, {"title": "Quick idea"})
    assert missing.status_code == 422
    idea = make_idea(session, portal, board, make_portal_user(session), "Existing")
    comment = portal_client.form(
        f"/p/{portal.slug}/i/{idea}/comments", {"body": "fast", "form_started": abuse.form_stamp()}
    )
    assert comment.status_code == 422 and "That was very quick" in comment.text
    assert _ideas(session) == 1 and session.scalar(select(func.count()).select_from(Comment)) == 0
    assert (
        portal_client.form(url, {"title": "Quick idea", "form_started": stamp(4)}, follow_redirects=False).status_code
        == 303
    )


def test_submissions_are_limited_per_person(
    portal_client: Client, session: Session, portal: Portal, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(abuse.LIMITS, "submit_person", (2, 3600))
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    for n in range(2):
        ok = portal_client.form(url, {"title": f"Idea {n} here", "form_started": stamp()}, follow_redirects=False)
        assert ok.status_code == 303
    limited = portal_client.form(url, {"title": "One too many", "form_started": stamp()})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 3000
    assert "Please wait" in limited.text and 'value="One too many"' in limited.text
    assert _ideas(session) == 2


def test_votes_are_limited_per_address_across_people(
    client: Client, session: Session, portal: Portal, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(abuse.LIMITS, "vote_ip", (3, 60))
    idea = make_idea(session, portal, board, make_portal_user(session), "Popular")
    statuses = []
    for _ in range(4):
        c = Client(client.app, base_url="http://testserver")
        portal_sign_in(c, portal, make_portal_user(session))
        statuses.append(c.form(f"/p/{portal.slug}/i/{idea}/vote", headers={"HX-Request": "true"}))
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[-1].headers["Retry-After"].isdigit()
    session.rollback()
    assert session.get(Idea, idea).vote_count == 3  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(Vote)) == 3


def test_comments_are_limited_per_person(
    portal_client: Client, session: Session, portal: Portal, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(abuse.LIMITS, "comment_person", (1, 3600))
    idea = make_idea(session, portal, board, make_portal_user(session), "Chatty")
    url = f"/p/{portal.slug}/i/{idea}/comments"
    assert portal_client.form(url, {"body": "one", "form_started": stamp()}, follow_redirects=False).status_code == 303
    limited = portal_client.form(url, {"body": "two", "form_started": stamp()})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Comment)) == 1


def test_sign_in_links_are_limited_per_address_and_per_person(
    client: Client, session: Session, portal: Portal, mailbox: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(abuse.LIMITS, "signin_person", (2, 900))
    monkeypatch.setitem(abuse.LIMITS, "signin_ip", (4, 900))  # every attempt counts
    client.csrf = csrf_of(client.get(f"/p/{portal.slug}/signin").text)
    url = f"/p/{portal.slug}/signin"
    codes = [client.form(url, {"email": "ada@customer.example"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.form(url, {"email": "bob@customer.example"}).status_code == 200
    limited = client.form(url, {"email": "cy@customer.example"})
    assert limited.status_code == 429 and limited.headers["Retry-After"].isdigit()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PortalToken)) == 3


def test_blocked_user_cannot_take_part(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    idea = make_idea(session, portal, board, make_portal_user(session), "Something")
    with transaction(session):
        # Blocked without signing out (epoch unchanged): the service refuses on its own.
        session.execute(update(PortalUser).where(PortalUser.id == portal_user.id).values(blocked_at=utcnow()))
    from prodops.domains.portal.service import access, ideas
    from prodops.platform.errors import PermissionDenied

    ctx = access.context_for(session, portal, session.get(PortalUser, portal_user.id))
    with pytest.raises(PermissionDenied):
        ideas.vote(session, ctx, idea)
    with pytest.raises(PermissionDenied):
        ideas.submit_idea(session, ctx, ideas.IdeaDraft(board.id, "Blocked idea"))
    response = portal_client.form(f"/p/{portal.slug}/i/{idea}/vote", follow_redirects=False)
    assert response.status_code == 303 and "/signin" in response.headers["location"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_approval_queue_shows_pending_posts_only_to_their_author(
    client: Client, session: Session, portal: Portal
) -> None:
    board = make_board(session, portal, require_approval=True, name="Moderated")
    author, other = make_portal_user(session, name="Ada"), make_portal_user(session, name="Bob")
    mine = portal_sign_in(client, portal, author)
    created = mine.form(
        f"/p/{portal.slug}/b/{board.slug}/new",
        {"title": "Waiting idea", "form_started": stamp()},
        follow_redirects=False,
    )
    assert created.status_code == 303
    session.rollback()
    idea = session.scalar(select(Idea))
    assert idea is not None and idea.state == "pending"
    assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 0  # not demand until approved
    own_page = mine.get(f"/p/{portal.slug}/i/{idea.id}")
    assert own_page.status_code == 200 and "Waiting for review" in own_page.text
    board_page = mine.get(f"/p/{portal.slug}/b/{board.slug}")
    assert "Waiting for review (only you see these)" in board_page.text and "0 ideas" in board_page.text

    theirs = portal_sign_in(Client(client.app, base_url="http://testserver"), portal, other)
    assert theirs.get(f"/p/{portal.slug}/i/{idea.id}").status_code == 404
    assert "Waiting idea" not in theirs.get(f"/p/{portal.slug}/b/{board.slug}").text
    assert theirs.form(f"/p/{portal.slug}/i/{idea.id}/vote").status_code == 404
    anonymous = Client(client.app, base_url="http://testserver")
    assert anonymous.get(f"/p/{portal.slug}/i/{idea.id}").status_code == 404

    with transaction(session):  # staff approve (moderation's job); then comments wait too
        session.execute(update(Idea).values(state="published"))
    posted = theirs.form(
        f"/p/{portal.slug}/i/{idea.id}/comments",
        {"body": "Held comment", "form_started": stamp()},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert "Held comment" in theirs.get(f"/p/{portal.slug}/i/{idea.id}").text
    assert "Held comment" not in mine.get(f"/p/{portal.slug}/i/{idea.id}").text
    session.rollback()
    assert session.get(Idea, idea.id).comment_count == 0  # type: ignore[union-attr]
