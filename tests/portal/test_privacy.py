"""A portal user's data: the export holds exactly their data; deleting the account anonymises it without
changing any count, signs them out, removes follows and pending links, and is audited without the address."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.portal.models import Comment, Follow, Idea, PortalToken, PortalUser, Vote
from prodops.domains.portal.service import access, ideas, identity, privacy
from prodops.platform.audit import AuditRecord
from prodops.platform.db import transaction, utcnow
from tests.conftest import Client
from tests.portal.conftest import (
    follow_as,
    make_board,
    make_idea,
    make_portal,
    make_portal_user,
    portal_sign_in,
    vote_as,
)


def _comment(session: Session, portal, user: PortalUser, idea_id: int, body: str) -> int:  # type: ignore[no-untyped-def]
    ctx = access.context_for(session, portal, session.get(PortalUser, user.id))
    return ideas.add_comment(session, ctx, idea_id, ideas.CommentDraft(body=body)).id


def _counts(session: Session) -> dict[str, object]:
    session.rollback()
    return {
        "ideas": sorted(session.execute(select(Idea.id, Idea.vote_count, Idea.comment_count)).all()),
        "votes": session.scalar(select(func.count()).select_from(Vote)),
        "comments": session.scalar(select(func.count()).select_from(Comment)),
        "feedback": session.scalar(select(func.count()).select_from(FeedbackItem)),
    }


def test_export_holds_exactly_the_users_data(client: Client, session: Session) -> None:
    portal = make_portal(session, name="Acme Ideas")
    board = make_board(session, portal, name="Product")
    ada = make_portal_user(session, "ada@customer.example", "Ada")
    bob = make_portal_user(session, "bob@customer.example", "Bob")
    adas = make_idea(session, portal, board, ada, "Ada's idea", "Her words")
    bobs = make_idea(session, portal, board, bob, "Bob's idea", "His words")
    vote_as(session, portal, ada, bobs)
    vote_as(session, portal, bob, adas)
    _comment(session, portal, ada, bobs, "Ada comments")
    _comment(session, portal, bob, adas, "Bob comments")
    with transaction(session):
        session.add(Comment(idea_id=adas, body="Staff note about Ada", internal=True))

    data = privacy.export_data(session, ada.id)
    assert data["profile"]["email"] == "ada@customer.example" and data["profile"]["name"] == "Ada"
    assert [i["title"] for i in data["ideas"]] == ["Ada's idea"] and data["ideas"][0]["body"] == "Her words"
    assert [c["body"] for c in data["comments"]] == ["Ada comments"]
    assert [v["idea_title"] for v in data["votes"]] == ["Bob's idea"]
    assert sorted(f["idea_title"] for f in data["follows"]) == ["Ada's idea", "Bob's idea"]
    text = json.dumps(data)
    for other in ("bob@customer.example", "His words", "Bob comments", "Staff note"):
        assert other not in text

    portal_sign_in(client, portal, ada)
    response = client.get(f"/p/{portal.slug}/account/export.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{portal.slug}-my-data.json"'
    assert response.json()["ideas"][0]["title"] == "Ada's idea"
    page = client.get(f"/p/{portal.slug}/account")
    assert page.status_code == 200 and "ada@customer.example" in page.text and "Download my data" in page.text


def test_signed_out_visitors_get_the_sign_in_form(client: Client, session: Session) -> None:
    portal = make_portal(session)
    page = client.get(f"/p/{portal.slug}/account")
    assert 'name="email"' in page.text and "Download my data" not in page.text
    assert client.get(f"/p/{portal.slug}/account/export.json").status_code == 401


def test_delete_anonymises_keeps_counts_and_signs_out(client: Client, session: Session) -> None:
    portal = make_portal(session, name="Acme Ideas")
    board = make_board(session, portal)
    ada = make_portal_user(session, "ada@customer.example", "Ada Lovelace")
    bob = make_portal_user(session, "bob@customer.example", "Bob")
    adas = make_idea(session, portal, board, ada, "Ada's idea")
    bobs = make_idea(session, portal, board, bob, "Bob's idea")
    vote_as(session, portal, ada, bobs)
    vote_as(session, portal, bob, adas)
    _comment(session, portal, ada, bobs, "Ada's comment stays")
    follow_as(session, portal, ada, bobs)
    with transaction(session):
        session.add(
            PortalToken(
                token_hash="x" * 64,
                portal_id=portal.id,
                email="ada@customer.example",
                expires_at=utcnow() + dt.timedelta(hours=1),
            )
        )
    person_id, old_cookie = ada.person_id, identity.encode_session(ada.id, ada.session_epoch)
    before = _counts(session)
    ada_items = session.scalar(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.person_id == person_id)
    )
    assert ada_items  # her idea, vote and comment became feedback naming her

    portal_sign_in(client, portal, ada)
    refused = client.form(f"/p/{portal.slug}/account/delete", {"confirm": "yes"})
    assert refused.status_code == 422 and 'id="e-confirm"' in refused.text
    assert _counts(session) == before
    session.rollback()
    assert session.get(PortalUser, ada.id).email == "ada@customer.example"  # type: ignore[union-attr]

    done = client.form(f"/p/{portal.slug}/account/delete", {"confirm": "delete"}, follow_redirects=False)
    assert done.status_code == 303
    assert _counts(session) == before  # votes, comments and feedback all still count
    user = session.get(PortalUser, ada.id)
    assert user is not None and user.email is None and user.name == "" and user.person_id is None
    assert user.deleted_at is not None
    assert session.scalar(select(func.count()).select_from(Follow).where(Follow.user_id == ada.id)) == 0
    assert session.scalar(select(func.count()).select_from(PortalToken)) == 0
    assert session.scalar(select(func.count()).select_from(Vote).where(Vote.user_id == ada.id)) == 1
    named = select(func.count()).select_from(FeedbackItem).where(FeedbackItem.person_id == person_id)
    assert session.scalar(named) == 0
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "delete_account"))
    assert record is not None and "ada@customer.example" not in json.dumps(record.changes) + record.actor_label
    assert record.changes["portal_user_id"] == [None, ada.id]

    # The old cookie no longer signs anyone in (session epoch bumped), even when replayed.
    client.cookies.set(identity.COOKIE, old_cookie)
    assert "Download my data" not in client.get(f"/p/{portal.slug}/account").text
    idea_page = client.get(f"/p/{portal.slug}/i/{bobs}").text
    assert "comment stays" in idea_page and "Ada Lovelace" not in idea_page
