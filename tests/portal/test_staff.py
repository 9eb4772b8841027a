"""The staff workspace: ideas across portals, the idea staff view (internal notes, official answers, proxy votes,
voters with accounts and ARR, status changes) and the feature page's panel (real database, real HTTP)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, PortalUser, Vote
from prodops.platform.audit import AuditRecord
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn
from tests.conftest import Client, capture_events, count_statements
from tests.platform.test_email import Mailbox
from tests.portal.conftest import make_board, make_portal, portal_sign_in
from tests.portal.staffing import ACTOR, comment, customer, make_account, make_idea, vote


def _reload(session: Session) -> None:
    session.rollback()
    session.expire_all()


def test_the_idea_list_filters_by_portal_board_state_and_status(
    viewer_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    other_portal = make_portal(session, name="Partner Ideas")
    other_board = make_board(session, other_portal, name="Partners")
    dark = make_idea(session, board, "Dark mode")
    make_idea(session, board, "Offline mode", state="pending")
    make_idea(session, other_board, "Partner API")
    features.set_status(session, ACTOR, dark.feature_id, "planned")

    page = viewer_client.get("/portal")
    assert page.status_code == 200
    for title in ("Dark mode", "Offline mode", "Partner API"):
        assert title in page.text
    assert "Moderation queue (1)" in page.text

    only = viewer_client.get(f"/portal?portal_id={other_portal.id}").text
    assert "Partner API" in only and "Dark mode" not in only
    only = viewer_client.get(f"/portal?board_id={board.id}&state=pending").text
    assert "Offline mode" in only and "Dark mode" not in only
    only = viewer_client.get("/portal?status=planned").text
    assert "Dark mode" in only and "Offline mode" not in only and "Partner API" not in only
    only = viewer_client.get("/portal?q=offline").text
    assert "Offline mode" in only and "Dark mode" not in only
    # HTMX asks for the results only.
    partial = viewer_client.get("/portal?q=dark", headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "Dark mode" in partial.text
    # A bad filter shows the whole list with the problem, never a 500.
    assert viewer_client.get("/portal?state=nonsense").status_code == 200


def test_the_list_page_reads_a_bounded_number_of_statements(
    viewer_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    for i in range(3):
        make_idea(session, board, f"Idea {i}")
    with count_statements() as few:
        assert viewer_client.get("/portal").status_code == 200
    for i in range(3, 40):
        make_idea(session, board, f"Idea {i}")
    with count_statements() as many:
        assert viewer_client.get("/portal").status_code == 200
    assert len(many) == len(few), "the idea list runs more statements with more ideas (N+1)"


def test_viewers_read_but_cannot_act(viewer_client: Client, session: Session, portal: Portal, board: Board) -> None:
    idea = make_idea(session, board)
    page = viewer_client.get(f"/portal/ideas/{idea.id}")
    assert page.status_code == 200
    assert "Vote on behalf" not in page.text and "Change status" not in page.text
    refused = viewer_client.form(f"/portal/ideas/{idea.id}/votes", {"email": "x@big.example"})
    assert refused.status_code == 403
    refused = viewer_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "hi", "kind": "internal"})
    assert refused.status_code == 403
    _reload(session)
    assert session.scalar(select(func.count()).select_from(Vote)) == 0
    assert session.scalar(select(func.count()).select_from(Comment)) == 0


def test_proxy_vote_records_who_cast_it_and_counts_the_customers_arr(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    make_account(session, "Big", 250_000)
    idea = make_idea(session, board)
    response = member_client.form(
        f"/portal/ideas/{idea.id}/votes", {"email": "Carla@Big.example"}, follow_redirects=False
    )
    assert response.status_code == 303
    _reload(session)
    row = session.scalar(select(Vote))
    assert row is not None
    vote_id = row.id
    assert member_client.user is not None
    assert row.cast_by_id == member_client.user.id
    voter = session.get(PortalUser, row.user_id)
    assert voter is not None and voter.email == "carla@big.example"
    assert voter.email_verified_at is None  # staff vouched for the vote, not for the address
    assert session.scalar(select(Idea.vote_count).where(Idea.id == idea.id)) == 1
    # The customer follows the idea from now on.
    assert session.scalar(select(Follow.id).where(Follow.idea_id == idea.id, Follow.user_id == voter.id))
    # Filed as demand: a feedback item from Carla, of the Big account.
    item = session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"vote:{row.id}"))
    assert item is not None and item.person_id == voter.person_id and item.account_id is not None
    audit = session.scalar(select(AuditRecord).where(AuditRecord.action == "proxy_vote"))
    assert audit is not None and audit.actor_id == member_client.user.id

    page = member_client.get(f"/portal/ideas/{idea.id}").text
    assert "carla" in page.lower() and "Big" in page and "$250K" in page
    assert f"voted by {member_client.user.email}" in page or "on their behalf" in page

    # A second vote for the same person is refused and changes nothing.
    again = member_client.form(f"/portal/ideas/{idea.id}/votes", {"email": "carla@big.example"})
    assert "already voted" in again.text
    _reload(session)
    assert session.scalar(select(func.count()).select_from(Vote)) == 1
    assert session.scalar(select(Idea.vote_count).where(Idea.id == idea.id)) == 1

    # Removing the vote takes the demand with it.
    member_client.form(f"/portal/ideas/{idea.id}/votes/{vote_id}/delete")
    _reload(session)
    assert session.scalar(select(Idea.vote_count).where(Idea.id == idea.id)) == 0
    assert session.scalar(select(FeedbackItem).where(FeedbackItem.external_id == f"vote:{vote_id}")) is None


def test_the_people_picker_finds_customers_by_name_or_email(member_client: Client, session: Session) -> None:
    make_account(session, "Big", 1000)
    from prodops.domains.customers import service as customers

    customers.ensure_person(session, ACTOR, "zelda.quinn@big.example", "Zelda Quinn")
    assert "zelda.quinn@big.example" in member_client.get("/portal/people?q=zelda").text
    assert "zelda.quinn@big.example" in member_client.get("/portal/people?email=quinn@").text
    assert "zelda" not in member_client.get("/portal/people?q=nobody").text


def test_internal_notes_stay_internal_and_official_answers_are_marked(
    member_client: Client, session: Session, portal: Portal, board: Board, app: object
) -> None:
    author = customer(session, "Ann", "big.example")
    idea = make_idea(session, board, author=author)
    member_client.form(
        f"/portal/ideas/{idea.id}/comments", {"body": "Renewal at risk **without** it", "kind": "internal"}
    )
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "We are on it", "kind": "official"})
    _reload(session)
    rows = {c.body: c for c in session.scalars(select(Comment))}
    assert rows["Renewal at risk **without** it"].internal
    assert rows["We are on it"].official
    # Only the official answer counts on the portal and neither is customer demand.
    assert session.scalar(select(Idea.comment_count).where(Idea.id == idea.id)) == 1
    assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 1  # the idea itself

    staff_page = member_client.get(f"/portal/ideas/{idea.id}").text
    assert "Renewal at risk <strong>without</strong> it" in staff_page
    assert "Internal note" in staff_page and "Official answer" in staff_page

    from fastapi.testclient import TestClient

    with TestClient(app) as customer_client:  # type: ignore[arg-type]
        public = portal_sign_in(customer_client, portal, author).get(f"/p/{portal.slug}/i/{idea.id}")  # type: ignore[arg-type]
        assert public.status_code == 200
        assert "We are on it" in public.text
        assert "Renewal at risk" not in public.text


def test_an_internal_note_cannot_be_official_and_empty_answers_are_refused(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    idea = make_idea(session, board)
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "", "kind": "official"})
    _reload(session)
    assert session.scalar(select(func.count()).select_from(Comment)) == 0
    internal = member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "note", "kind": "internal"})
    assert internal.status_code == 200
    _reload(session)
    note = session.scalar(select(Comment))
    assert note is not None
    member_client.form(f"/portal/comments/{note.id}/official", {"official": "on"})
    _reload(session)
    assert session.scalar(select(Comment.official).where(Comment.id == note.id)) is False


def test_staff_change_the_status_through_the_features_service(
    member_client: Client, session: Session, portal: Portal
) -> None:
    product = org.create_product(session, ACTOR, ProductIn(key="core", name="Core")).id
    board = make_board(session, portal, product_id=product)
    idea = make_idea(session, board)
    with capture_events("features.feature.status_changed") as seen:
        response = member_client.form(f"/portal/ideas/{idea.id}/status", {"status": "planned"}, follow_redirects=False)
    assert response.status_code == 303
    assert [e.payload["to_status"] for e in seen] == ["planned"]
    _reload(session)
    assert features.get_feature(session, idea.feature_id).status == "planned"
    assert "Planned" in member_client.get(f"/portal/ideas/{idea.id}").text
    bad = member_client.form(f"/portal/ideas/{idea.id}/status", {"status": "nope"})
    assert "is not a status" in bad.text
    _reload(session)
    assert features.get_feature(session, idea.feature_id).status == "planned"


def test_the_feature_page_shows_its_portal_ideas(
    viewer_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    idea = make_idea(session, board, "Export to PDF")
    page = viewer_client.get(f"/features/{idea.feature_id}")
    assert f'hx-get="/portal/features/{idea.feature_id}/ideas"' in page.text
    panel = viewer_client.get(f"/portal/features/{idea.feature_id}/ideas")
    assert panel.status_code == 200 and "Export to PDF" in panel.text and f"/p/{portal.slug}" in panel.text
    empty = viewer_client.get("/portal/features/999999/ideas")
    assert "No portal idea" in empty.text


def test_the_vote_chart_loads_after_the_page(viewer_client: Client, session: Session, board: Board) -> None:
    idea = make_idea(session, board)
    for name in ("A", "B"):
        vote(session, idea, customer(session, name, "x.example"))
    page = viewer_client.get(f"/portal/ideas/{idea.id}")
    assert f'data-vega-src="/portal/ideas/{idea.id}/votes.json"' in page.text
    spec = viewer_client.get(f"/portal/ideas/{idea.id}/votes.json").json()
    assert sum(p["votes"] for p in spec["data"]["values"]) == 2


def test_a_portal_session_reaches_no_staff_page(client: Client, session: Session, portal: Portal, board: Board) -> None:
    person = customer(session, "Eve", "x.example")
    idea = make_idea(session, board, author=person)
    comment(session, idea, person)
    portal_sign_in(client, portal, person)
    for url in ("/portal", "/portal/queue", f"/portal/ideas/{idea.id}", "/admin/portals", "/api/v1/portal/ideas"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code in (401, 303), (url, response.status_code)
    response = client.form(f"/portal/ideas/{idea.id}/votes", {"email": "x@x.example"}, follow_redirects=False)
    assert response.status_code in (401, 303, 403)
    _reload(session)
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_an_official_answer_from_the_staff_page_reaches_followers_by_email(
    member_client: Client, session: Session, portal: Portal, board: Board, mailbox: Mailbox
) -> None:
    author = customer(session, "Ann", "big.example")
    idea = make_idea(session, board, "Dark mode", author=author)  # the author follows her idea
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "Internal only", "kind": "internal"})
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "Just a reply", "kind": "reply"})
    assert mailbox.received == []
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "**Planned** for May", "kind": "official"})
    mailbox.wait_for(1)
    assert [m.rcpt_tos for m in mailbox.received] == [[author.email]]
    text = mailbox.received[0].message.as_string()
    assert "Planned" in text and "Internal only" not in text
    # Marking an earlier staff reply official tells followers too; unmarking it sends nothing.
    _reload(session)
    reply = session.scalar(select(Comment).where(Comment.body == "Just a reply"))
    assert reply is not None
    mailbox.received.clear()
    member_client.form(f"/portal/comments/{reply.id}/official", {"official": "on"})
    mailbox.wait_for(1)
    member_client.form(f"/portal/comments/{reply.id}/official", {"official": ""})
    assert len(mailbox.received) == 1


def test_csv_export_holds_exactly_the_filtered_ideas(
    viewer_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    make_idea(session, board, "=HYPERLINK(evil)")
    make_idea(session, board, "Offline mode", state="pending")
    page = viewer_client.get("/portal?state=pending")
    assert 'href="/portal/ideas.csv?state=pending"' in page.text
    response = viewer_client.get("/portal/ideas.csv?state=pending")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("id,title,portal,board,state")
    assert len(lines) == 2 and "Offline mode" in lines[1] and "pending" in lines[1]
    everything = viewer_client.get("/portal/ideas.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK(evil)" in everything  # a formula is never handed to a spreadsheet as one
    assert viewer_client.get("/portal/ideas.csv?state=bogus").status_code == 422


def test_the_idea_page_shows_its_history(member_client: Client, session: Session, board: Board) -> None:
    idea = make_idea(session, board, "Drak mode")
    response = member_client.form(f"/portal/ideas/{idea.id}/edit", {"title": "Dark mode", "body": ""})
    assert response.status_code == 200, response.text[-2000:]
    page = member_client.get(f"/portal/ideas/{idea.id}").text
    assert "staff_edit" in page and "Drak mode" in page


def test_staff_reply_in_a_customers_thread(member_client: Client, session: Session, board: Board) -> None:
    ann = customer(session, "Ann", "big.example")
    idea = make_idea(session, board)
    question = comment(session, idea, ann, "Does this cover PDFs?")
    page = member_client.get(f"/portal/ideas/{idea.id}").text
    assert f'name="parent_id" value="{question.id}"' in page
    member_client.form(
        f"/portal/ideas/{idea.id}/comments", {"body": "Yes, PDFs too.", "kind": "reply", "parent_id": question.id}
    )
    _reload(session)
    answer = session.scalar(select(Comment).where(Comment.body == "Yes, PDFs too."))
    assert answer is not None and answer.parent_id == question.id and answer.staff_author_id is not None
    # A public reply to an internal note is refused: the thread would leak it.
    note = member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "Secret", "kind": "internal"})
    assert note.status_code == 200
    _reload(session)
    secret = session.scalar(select(Comment).where(Comment.body == "Secret"))
    assert secret is not None
    member_client.form(f"/portal/ideas/{idea.id}/comments", {"body": "Leak", "kind": "reply", "parent_id": secret.id})
    _reload(session)
    assert session.scalar(select(Comment).where(Comment.body == "Leak")) is None


def test_the_idea_page_reads_a_bounded_number_of_statements(
    viewer_client: Client, session: Session, board: Board
) -> None:
    make_account(session, "Big", 1000)
    idea = make_idea(session, board)
    for i in range(2):
        person = customer(session, f"P{i}", "big.example")
        vote(session, idea, person)
        comment(session, idea, person, f"Comment {i}")
    with count_statements() as few:
        assert viewer_client.get(f"/portal/ideas/{idea.id}").status_code == 200
    for i in range(2, 25):
        person = customer(session, f"P{i}", "big.example")
        vote(session, idea, person)
        comment(session, idea, person, f"Comment {i}")
    with count_statements() as many:
        assert viewer_client.get(f"/portal/ideas/{idea.id}").status_code == 200
    assert len(many) == len(few), "the idea page runs more statements with more voters or comments (N+1)"
