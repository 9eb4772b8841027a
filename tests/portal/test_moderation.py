"""Moderation: the approval queue (one click and in bulk, all or nothing), staff edits and deletions with audit,
and blocking a person (signed out everywhere at once). Real database, real HTTP, the portal's own cookie."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.portal.models import Board, Comment, Idea, Portal, PortalUser
from prodops.platform.audit import AuditRecord
from tests.conftest import Client
from tests.portal.conftest import portal_sign_in
from tests.portal.staffing import comment, customer, make_idea, vote


def _reload(session: Session) -> None:
    session.rollback()
    session.expire_all()


def _state(session: Session, model: type, row_id: int) -> str:
    _reload(session)
    return str(session.scalar(select(model.state).where(model.id == row_id)))  # type: ignore[attr-defined]


def _portal_items(session: Session) -> set[str]:
    _reload(session)
    return {i or "" for i in session.scalars(select(FeedbackItem.external_id).where(FeedbackItem.source == "portal"))}


def test_pending_posts_wait_in_the_queue_and_are_approved_with_one_click(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    ann = customer(session, "Ann", "big.example")
    idea = make_idea(session, board, "Dark mode", author=ann, state="pending")
    live = make_idea(session, board, "Offline mode")
    held = comment(session, live, ann, "Me too, badly", state="pending")
    assert _portal_items(session) == {f"idea:{live.id}"}  # nothing held back is demand yet

    page = member_client.get("/portal/queue")
    assert "Dark mode" in page.text and "Me too, badly" in page.text

    response = member_client.form("/portal/queue", {"action": "approve", "ideas": idea.id}, follow_redirects=False)
    assert response.status_code == 303
    assert _state(session, Idea, idea.id) == "published"
    assert f"idea:{idea.id}" in _portal_items(session)

    member_client.form("/portal/queue", {"action": "approve", "comments": held.id})
    assert _state(session, Comment, held.id) == "published"
    assert session.scalar(select(Idea.comment_count).where(Idea.id == live.id)) == 1
    assert f"comment:{held.id}" in _portal_items(session)
    actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.entity_type.like("portal_%"))))
    assert actions.count("approve") == 2
    assert "Nothing waiting" in member_client.get("/portal/queue").text


def test_bulk_decisions_are_all_or_nothing(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    a = make_idea(session, board, "A", state="pending")
    b = make_idea(session, board, "B", state="pending")
    c = make_idea(session, board, "C")  # already published: someone else decided
    response = member_client.form("/portal/queue", {"action": "reject", "ideas": [a.id, b.id, c.id]})
    assert "no longer waiting" in response.text
    assert (_state(session, Idea, a.id), _state(session, Idea, b.id)) == ("pending", "pending")

    member_client.form("/portal/queue", {"action": "reject", "ideas": [a.id, b.id]})
    assert (_state(session, Idea, a.id), _state(session, Idea, b.id)) == ("rejected", "rejected")
    # Rejected ideas never reach the portal or the demand ranking.
    assert _portal_items(session) == {f"idea:{c.id}"}


def test_the_api_refuses_an_empty_or_unknown_batch(member_client: Client, session: Session, board: Board) -> None:
    bad = member_client.post(
        "/api/v1/portal/moderation", json={"action": "approve"}, headers={"X-CSRF-Token": member_client.csrf}
    )
    assert bad.status_code == 422
    bad = member_client.post(
        "/api/v1/portal/moderation",
        json={"action": "approve", "ideas": [424242]},
        headers={"X-CSRF-Token": member_client.csrf},
    )
    assert bad.status_code == 422 and "424242" in bad.text
    bad = member_client.post(
        "/api/v1/portal/moderation",
        json={"action": "shrug", "ideas": [1]},
        headers={"X-CSRF-Token": member_client.csrf},
    )
    assert bad.status_code == 422


def test_staff_edit_and_delete_any_idea_with_audit(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    ann = customer(session, "Ann", "big.example")
    idea = make_idea(session, board, "Drak mode", author=ann)
    vote(session, idea, customer(session, "Bob", "big.example"))
    page = member_client.get(f"/portal/ideas/{idea.id}/edit")
    assert page.status_code == 200
    bad = member_client.form(f"/portal/ideas/{idea.id}/edit", {"title": "", "body": "x"})
    assert bad.status_code == 422 and 'id="e-title"' in bad.text
    member_client.form(f"/portal/ideas/{idea.id}/edit", {"title": "Dark mode", "body": "Fixed the typo <b>x</b>"})
    _reload(session)
    row = session.get(Idea, idea.id)
    assert row is not None and row.title == "Dark mode"
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "staff_edit"))
    assert record is not None and record.changes["title"] == ["Drak mode", "Dark mode"]
    assert member_client.user is not None and record.actor_id == member_client.user.id
    # The feedback item follows the edit; the body is escaped on the staff page.
    item = session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"idea:{idea.id}"))
    assert item is not None and item.title == "Dark mode"
    assert "<b>x</b>" not in member_client.get(f"/portal/ideas/{idea.id}").text

    member_client.form(f"/portal/ideas/{idea.id}/delete", {"reason": "spam"})
    assert _state(session, Idea, idea.id) == "deleted"
    assert _portal_items(session) == set()  # the idea and its vote left the demand ranking
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "staff_delete"))
    assert record is not None and record.changes["reason"] == [None, "spam"]


def test_staff_delete_and_edit_comments(member_client: Client, session: Session, portal: Portal, board: Board) -> None:
    ann = customer(session, "Ann", "big.example")
    idea = make_idea(session, board)
    first = comment(session, idea, ann, "I need this")
    comment(session, idea, ann, "Really")
    member_client.form(f"/portal/comments/{first.id}/edit", {"body": "I need this (edited by staff)"})
    _reload(session)
    row = session.get(Comment, first.id)
    assert row is not None and row.body == "I need this (edited by staff)" and row.edited_at is not None
    member_client.form(f"/portal/comments/{first.id}/delete", {"reason": "rude"})
    assert _state(session, Comment, first.id) == "deleted"
    assert session.scalar(select(Idea.comment_count).where(Idea.id == idea.id)) == 1
    assert f"comment:{first.id}" not in _portal_items(session)
    # Deleting twice is refused without changing the counter again.
    member_client.form(f"/portal/comments/{first.id}/delete")
    _reload(session)
    assert session.scalar(select(Idea.comment_count).where(Idea.id == idea.id)) == 1


def test_blocking_signs_the_person_out_everywhere_and_rejects_their_pending_posts(
    member_client: Client, session: Session, portal: Portal, board: Board, app: object
) -> None:
    from fastapi.testclient import TestClient

    spammer = customer(session, "Spam", "spam.example")
    epoch = spammer.session_epoch
    pending = make_idea(session, board, "Buy cheap watches", author=spammer, state="pending")
    live = make_idea(session, board, "Dark mode", author=spammer)
    with TestClient(app) as their_browser:  # type: ignore[arg-type]
        portal_sign_in(their_browser, portal, spammer)  # type: ignore[arg-type]
        assert "Sign out" in their_browser.get(f"/p/{portal.slug}").text

        refused = member_client.form(f"/portal/users/{spammer.id}/block", {"reason": ""})
        assert "say why" in refused.text
        response = member_client.form(
            f"/portal/users/{spammer.id}/block", {"reason": "Posts adverts", "next": f"/portal/ideas/{live.id}"}
        )
        assert response.status_code == 200
        _reload(session)
        user = session.get(PortalUser, spammer.id)
        assert user is not None and user.blocked_at is not None and user.blocked_reason == "Posts adverts"
        assert user.session_epoch == epoch + 1
        assert _state(session, Idea, pending.id) == "rejected"
        assert _state(session, Idea, live.id) == "published"  # published posts stay until deleted one by one
        # Their existing cookie no longer signs them in.
        assert "Sign out" not in their_browser.get(f"/p/{portal.slug}").text
    record = session.scalar(select(AuditRecord).where(AuditRecord.action == "block"))
    assert record is not None and record.changes["reason"] == [None, "Posts adverts"]

    member_client.form(f"/portal/users/{spammer.id}/unblock")
    _reload(session)
    assert session.scalar(select(PortalUser.blocked_at).where(PortalUser.id == spammer.id)) is None
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "unblock")) == 1
