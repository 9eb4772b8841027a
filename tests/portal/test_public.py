"""The customer-facing portal through HTTP: boards, the board page (sort, filter, search, pages), idea pages,
submitting, voting, comments and follows, with counters, demand filing and audit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, PortalUser, Vote
from prodops.domains.portal.service import access, ideas
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.db import transaction, utcnow
from tests.conftest import Client, count_statements
from tests.portal.conftest import make_board, make_portal_user, stamp


def _ctx(session: Session, portal: Portal, user: PortalUser | None) -> access.PortalContext:
    return access.context_for(session, portal, session.get(PortalUser, user.id) if user else None)


def _idea(session: Session, portal: Portal, board: Board, user: PortalUser, title: str, body: str = "") -> Idea:
    return ideas.submit_idea(session, _ctx(session, portal, user), ideas.IdeaDraft(board.id, title, body))


def test_submit_creates_feature_idea_follow_feedback_and_audit(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    form = portal_client.get(url)
    assert form.status_code == 200 and 'name="form_started"' in form.text and 'name="website"' in form.text
    response = portal_client.form(
        url,
        {
            "title": "Dark mode for the dashboard",
            "body": "Please **soon** <script>x()</script>",
            "form_started": stamp(),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session.rollback()
    idea = session.scalar(select(Idea))
    assert idea is not None and response.headers["location"] == f"/p/{portal.slug}/i/{idea.id}"
    assert idea.author_id == portal_user.id and idea.state == "published" and idea.vote_count == 0
    feature = features.get_feature(session, idea.feature_id)
    assert feature.title == "Dark mode for the dashboard" and feature.status_kind == "idea"
    assert session.scalar(select(func.count()).select_from(Follow)) == 1
    item = session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"idea:{idea.id}"))
    assert item is not None and item.source == "portal"
    record = session.scalar(select(AuditRecord).where(AuditRecord.entity_type == "portal_idea"))
    assert record is not None and record.actor_id is None and record.actor_label == f"portal: {portal_user.email}"
    assert record.changes["portal_user_id"] == [None, portal_user.id]

    page = portal_client.get(f"/p/{portal.slug}/i/{idea.id}")
    assert page.status_code == 200
    assert "<strong>soon</strong>" in page.text and "<script>x()" not in page.text
    assert "Idea" in page.text and "Following" in page.text


def test_submit_errors_keep_values_and_change_nothing(
    portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    url = f"/p/{portal.slug}/b/{board.slug}/new"
    response = portal_client.form(url, {"title": "ab", "body": "x" * 10_001, "form_started": stamp()})
    assert response.status_code == 422
    session.rollback()
    assert "at least 4 characters" in response.text and "under 10,000 characters" in response.text
    assert 'value="ab"' in response.text
    assert session.scalar(select(func.count()).select_from(Idea)) == 0
    assert features.list_features(session).total == 0


def test_vote_unvote_counts_once_and_files_demand(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    author = make_portal_user(session)
    idea = _idea(session, portal, board, author, "Export to CSV")
    url = f"/p/{portal.slug}/i/{idea.id}/vote"
    for _ in range(2):  # voting twice is one vote
        response = portal_client.form(url, headers={"HX-Request": "true"})
        assert response.status_code == 200 and "Voted" in response.text and ">1<" in response.text
    session.rollback()
    assert session.get(Idea, idea.id).vote_count == 1  # type: ignore[union-attr]
    vote = session.scalar(select(Vote))
    assert vote is not None and vote.user_id == portal_user.id
    vote_id = vote.id
    assert session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"vote:{vote_id}")) is not None

    response = portal_client.form(f"/p/{portal.slug}/i/{idea.id}/unvote", headers={"HX-Request": "true"})
    assert response.status_code == 200 and ">0<" in response.text and "Vote" in response.text
    session.rollback()
    assert session.get(Idea, idea.id).vote_count == 0  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(Vote)) == 0
    assert session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"vote:{vote_id}")) is None


def test_signed_out_visitors_are_sent_to_sign_in(
    anon_portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    idea = _idea(session, portal, board, make_portal_user(session), "Slack alerts")
    response = anon_portal_client.form(f"/p/{portal.slug}/i/{idea.id}/vote", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(f"/p/{portal.slug}/signin")
    htmx = anon_portal_client.form(f"/p/{portal.slug}/i/{idea.id}/vote", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith(f"/p/{portal.slug}/signin")
    new = anon_portal_client.get(f"/p/{portal.slug}/b/{board.slug}/new", follow_redirects=False)
    assert new.status_code == 303
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_form_posts_need_the_csrf_token(portal_client: Client, session: Session, portal: Portal, board: Board) -> None:
    idea = _idea(session, portal, board, make_portal_user(session), "Slack alerts")
    response = portal_client.post(f"/p/{portal.slug}/i/{idea.id}/vote", data={})
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_threaded_comments_official_marked_internal_never_shown(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    idea = _idea(session, portal, board, make_portal_user(session), "Gantt view")
    url = f"/p/{portal.slug}/i/{idea.id}/comments"
    first = portal_client.form(url, {"body": "We need this _badly_", "form_started": stamp()}, follow_redirects=False)
    assert first.status_code == 303
    session.rollback()
    top = session.scalar(select(Comment))
    assert top is not None
    reply = portal_client.form(url, {"body": "Me too", "parent_id": top.id, "form_started": stamp()})
    assert reply.status_code == 200
    with transaction(session):
        session.add(Comment(idea_id=idea.id, staff_author_id=None, body="Secret internal note", internal=True))
        session.add(Comment(idea_id=idea.id, parent_id=top.id, body="Planned for Q3", official=True))
    page = portal_client.get(f"/p/{portal.slug}/i/{idea.id}")
    assert "<em>badly</em>" in page.text and "Me too" in page.text and "Planned for Q3" in page.text
    assert "Official answer" in page.text
    assert "Secret internal note" not in page.text
    session.rollback()
    assert session.get(Idea, idea.id).comment_count == 2  # type: ignore[union-attr]
    keys = set(session.scalars(select(FeedbackItem.external_id)))
    assert f"comment:{top.id}" in keys


def test_edit_and_delete_own_comment_with_audit(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    idea = _idea(session, portal, board, make_portal_user(session), "Gantt view")
    comment = ideas.add_comment(session, _ctx(session, portal, portal_user), idea.id, ideas.CommentDraft("Frist"))
    response = portal_client.form(f"/p/{portal.slug}/c/{comment.id}/edit", {"body": "First"}, follow_redirects=False)
    assert response.status_code == 303
    bad = portal_client.form(f"/p/{portal.slug}/c/{comment.id}/edit", {"body": "  "})
    assert bad.status_code == 422 and "Write a comment first" in bad.text
    session.rollback()
    assert session.get(Comment, comment.id).body == "First"  # type: ignore[union-attr]
    deleted = portal_client.form(f"/p/{portal.slug}/c/{comment.id}/delete", follow_redirects=False)
    assert deleted.status_code == 303
    session.rollback()
    assert session.get(Comment, comment.id).state == "deleted"  # type: ignore[union-attr]
    assert session.get(Idea, idea.id).comment_count == 0  # type: ignore[union-attr]
    actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "portal_comment")))
    assert actions.count("update") == 1 and actions.count("delete") == 1


def test_someone_elses_comment_or_idea_cannot_be_changed(
    portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    other = make_portal_user(session)
    idea = _idea(session, portal, board, other, "Not mine")
    comment = ideas.add_comment(session, _ctx(session, portal, other), idea.id, ideas.CommentDraft("Theirs"))
    assert portal_client.form(f"/p/{portal.slug}/c/{comment.id}/delete").status_code == 403
    assert portal_client.form(f"/p/{portal.slug}/i/{idea.id}/delete").status_code == 403
    assert portal_client.form(f"/p/{portal.slug}/i/{idea.id}/edit", {"title": "Mine now"}).status_code == 403
    session.rollback()
    assert session.get(Comment, comment.id).state == "published"  # type: ignore[union-attr]
    assert session.get(Idea, idea.id).title == "Not mine"  # type: ignore[union-attr]


def test_own_idea_edit_window_and_delete_rules(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    idea = _idea(session, portal, board, portal_user, "Typo in titel")
    assert (
        portal_client.form(
            f"/p/{portal.slug}/i/{idea.id}/edit", {"title": "Typo in title"}, follow_redirects=False
        ).status_code
        == 303
    )
    other = make_portal_user(session)
    ideas.vote(session, _ctx(session, portal, other), idea.id)
    refused = portal_client.form(f"/p/{portal.slug}/i/{idea.id}/delete")
    assert refused.status_code == 409 and "Others have voted" in refused.text
    with transaction(session):
        session.execute(update(Idea).values(created_at=utcnow() - dt.timedelta(days=2)))
    late = portal_client.form(f"/p/{portal.slug}/i/{idea.id}/edit", {"title": "Another title"})
    assert late.status_code == 409
    session.rollback()
    assert session.get(Idea, idea.id).title == "Typo in title"  # type: ignore[union-attr]
    mine = _idea(session, portal, board, portal_user, "Nobody cares")
    assert portal_client.form(f"/p/{portal.slug}/i/{mine.id}/delete", follow_redirects=False).status_code == 303
    session.rollback()
    assert session.get(Idea, mine.id).state == "deleted"  # type: ignore[union-attr]
    assert portal_client.get(f"/p/{portal.slug}/i/{mine.id}").status_code == 404


def test_follow_and_unfollow(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    idea = _idea(session, portal, board, make_portal_user(session), "Webhooks")
    on = portal_client.form(f"/p/{portal.slug}/i/{idea.id}/follow", headers={"HX-Request": "true"})
    assert on.status_code == 200 and "Following" in on.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Follow).where(Follow.user_id == portal_user.id)) == 1
    off = portal_client.form(f"/p/{portal.slug}/i/{idea.id}/unfollow", headers={"HX-Request": "true"})
    assert off.status_code == 200 and "Follow" in off.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Follow).where(Follow.user_id == portal_user.id)) == 0


def test_board_sorts_filters_searches_and_pages(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    author = make_portal_user(session)
    made = [
        _idea(session, portal, board, author, f"Idea number {n}", "about reports" if n % 2 else "") for n in range(25)
    ]
    with transaction(session):
        for n, idea in enumerate(made):
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(vote_count=n * 3 % 7, created_at=utcnow() - dt.timedelta(days=n, minutes=1))
            )
    planned = features.statuses_for(session, None)[2]
    features.set_status(session, Actor.system("test"), made[3].feature_id, planned.key)
    base = f"/p/{portal.slug}/b/{board.slug}"
    page1 = portal_client.get(base)
    assert page1.status_code == 200 and "25 ideas" in page1.text and "Page 1 of 2" in page1.text
    titles = [line for line in page1.text.split("\n") if 'href="/p/' in line and "/i/" in line and "<h3>" in line]
    expected = sorted(range(25), key=lambda n: (-(n * 3 % 7), -made[n].id))[:20]
    assert [f"Idea number {n}<" in t for n, t in zip(expected, titles, strict=True)] == [True] * 20
    newest = portal_client.get(base, params={"sort": "newest"})
    assert newest.text.index("Idea number 0<") < newest.text.index("Idea number 1<")
    assert portal_client.get(base, params={"sort": "trending"}).status_code == 200
    assert portal_client.get(base, params={"sort": "bogus"}).status_code == 422
    search = portal_client.get(base, params={"q": "reports"}, headers={"HX-Request": "true"})
    assert "12 ideas" in search.text and "<html" not in search.text
    status = portal_client.get(base, params={"status": planned.key})
    assert "1 idea<" in status.text and "Idea number 3<" in status.text
    page2 = portal_client.get(base, params={"page": 2})
    assert "Page 2 of 2" in page2.text


def test_board_page_statement_count_does_not_grow(
    portal_client: Client, session: Session, portal: Portal, board: Board, portal_user: PortalUser
) -> None:
    author = make_portal_user(session)
    for n in range(3):
        idea = _idea(session, portal, board, author, f"Small {n}")
        ideas.vote(session, _ctx(session, portal, portal_user), idea.id)
    url = f"/p/{portal.slug}/b/{board.slug}"
    with count_statements() as few:
        assert portal_client.get(url).status_code == 200
    for n in range(30):
        idea = _idea(session, portal, board, author, f"More {n}")
        ideas.vote(session, _ctx(session, portal, portal_user), idea.id)
    with count_statements() as many:
        assert portal_client.get(url).status_code == 200
    assert len(many) == len(few) <= 14, many


def test_similar_ideas_while_typing(portal_client: Client, session: Session, portal: Portal, board: Board) -> None:
    author = make_portal_user(session)
    _idea(session, portal, board, author, "Export reports to PDF")
    _idea(session, portal, board, author, "Dark mode")
    hidden_board = make_board(session, portal, segment_id=None, archived=True)
    _idea(session, portal, board, author, "PDF invoices")
    with transaction(session):
        session.add(
            Idea(
                board_id=hidden_board.id,
                feature_id=session.scalar(select(Idea.feature_id)),
                title="Secret PDF thing",
                state="published",
            )
        )
    response = portal_client.get(
        f"/p/{portal.slug}/similar", params={"title": "pdf export please"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Export reports to PDF" in response.text and "PDF invoices" in response.text
    assert response.text.index("Export reports") < response.text.index("PDF invoices")
    assert "Dark mode" not in response.text and "Secret PDF thing" not in response.text
    assert portal_client.get(f"/p/{portal.slug}/similar", params={"title": "ab"}).text.strip() == ""


def test_merged_idea_redirects_to_survivor(
    portal_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    author = make_portal_user(session)
    keep = _idea(session, portal, board, author, "Keep me")
    dupe = _idea(session, portal, board, author, "Duplicate")
    with transaction(session):
        session.execute(update(Idea).where(Idea.id == dupe.id).values(state="merged", merged_into_id=keep.id))
    response = portal_client.get(f"/p/{portal.slug}/i/{dupe.id}", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == f"/p/{portal.slug}/i/{keep.id}"
