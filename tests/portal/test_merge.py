"""Merging duplicate ideas: votes move de-duplicated per person, comments and followers move, the duplicate's
portal address redirects to the survivor, the two features merge and the demand counts each person once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import DemandFilters
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, Vote
from prodops.domains.portal.service import merge
from prodops.platform.audit import AuditRecord
from tests.conftest import Client
from tests.portal.conftest import make_board, make_portal
from tests.portal.staffing import ACTOR, comment, customer, follow, make_account, make_idea, vote


def _reload(session: Session) -> None:
    session.rollback()
    session.expire_all()


def _demand(session: Session, feature_id: int) -> demand.DemandRow | None:
    return next(
        (r for r in demand.ranking(session, DemandFilters(per_page=500)).items if r.feature_id == feature_id), None
    )


def test_merge_moves_votes_once_per_person_comments_and_followers(
    member_client: Client, session: Session, portal: Portal, board: Board
) -> None:
    make_account(session, "Big", 100_000)
    make_account(session, "Mid", 30_000)
    ann, bob, cat = (
        customer(session, n, d) for n, d in (("Ann", "big.example"), ("Bob", "big.example"), ("Cat", "mid.example"))
    )
    keep = make_idea(session, board, "Dark mode", author=ann)
    dup = make_idea(session, board, "Night theme", author=bob)
    dup_feature = dup.feature_id
    vote(session, keep, ann)
    vote(session, keep, cat)
    vote(session, dup, bob)
    vote(session, dup, cat)  # Cat voted for both: one vote survives
    first = comment(session, dup, bob, "Night theme please")
    follow(session, dup, cat)  # Cat also follows both (after voting on keep she follows nothing yet)
    follow(session, keep, cat)

    page = member_client.get(f"/portal/ideas/{dup.id}/merge")
    assert page.status_code == 200 and "Dark mode" in page.text
    found = member_client.get(f"/portal/ideas/{dup.id}/merge?q=dark", headers={"HX-Request": "true"})
    assert "Dark mode" in found.text and "<html" not in found.text

    response = member_client.form(f"/portal/ideas/{dup.id}/merge", {"into": keep.id}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/portal/ideas/{keep.id}"
    _reload(session)
    survivor = session.get(Idea, keep.id)
    merged = session.get(Idea, dup.id)
    assert survivor is not None and merged is not None
    assert (merged.state, merged.merged_into_id, merged.vote_count, merged.comment_count) == ("merged", keep.id, 0, 0)
    voters = sorted(session.scalars(select(Vote.user_id).where(Vote.idea_id == keep.id)))
    assert voters == sorted([ann.id, bob.id, cat.id])
    assert survivor.vote_count == 3  # the counter matches the rows
    assert survivor.comment_count == 1
    assert session.scalar(select(Comment.idea_id).where(Comment.id == first.id)) == keep.id
    followers = sorted(session.scalars(select(Follow.user_id).where(Follow.idea_id == keep.id)))
    assert followers == sorted([ann.id, bob.id, cat.id])  # authors followed their ideas; Cat once
    assert session.scalar(select(func.count()).select_from(Follow).where(Follow.idea_id == dup.id)) == 0

    # The two features became one; every demand item now counts for the survivor, each person once.
    assert features.get_feature(session, dup_feature).merged_into_id == keep.feature_id
    assert merged.feature_id == keep.feature_id  # the duplicate idea shows the surviving feature
    row = _demand(session, keep.feature_id)
    assert row is not None
    # Items: 2 ideas + 3 surviving votes + 1 comment; Cat's duplicate vote left with its row.
    assert (row.items, row.people, row.accounts, row.arr) == (6, 3, 2, 130_000)
    vote_items = list(
        session.scalars(
            select(FeedbackItem.external_id).where(
                FeedbackItem.source == "portal", FeedbackItem.external_id.like("vote:%")
            )
        )
    )
    assert len(vote_items) == 3
    titles = set(session.scalars(select(FeedbackItem.title).where(FeedbackItem.external_id.like("vote:%"))))
    assert titles == {"Vote: Dark mode"}
    assert (
        session.scalar(select(func.count()).select_from(FeedbackLink).where(FeedbackLink.feature_id == dup_feature))
        == 0
    )

    actions = set(session.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "portal_idea")))
    assert {"merge", "merge_in"} <= actions

    # The duplicate's addresses lead to the survivor: staff page, portal page (301) and API (308).
    assert (
        member_client.get(f"/portal/ideas/{dup.id}", follow_redirects=False).headers["location"]
        == f"/portal/ideas/{keep.id}"
    )
    public = member_client.get(f"/p/{portal.slug}/i/{dup.id}", follow_redirects=False)
    assert public.status_code in (301, 308) and public.headers["location"].endswith(f"/i/{keep.id}")
    api = member_client.get(f"/api/v1/portal/ideas/{dup.id}", follow_redirects=False)
    assert api.status_code == 308 and api.headers["location"] == f"/api/v1/portal/ideas/{keep.id}"


def test_merging_two_faces_of_one_feature_keeps_the_feature(session: Session, portal: Portal, board: Board) -> None:
    keep = make_idea(session, board, "Export PDF")
    dup = make_idea(session, board, "PDF export", feature_id=keep.feature_id)
    vote(session, dup, customer(session, "Dan", "x.example"))
    result = merge.merge_ideas(session, ACTOR, dup.id, keep.id)
    assert (result.votes_moved, result.votes_dropped, result.features_merged) == (1, 0, False)
    assert features.get_feature(session, keep.feature_id).merged_into_id is None


def test_refused_merges_change_nothing(member_client: Client, session: Session, portal: Portal, board: Board) -> None:
    other = make_board(session, make_portal(session, name="Other"))
    a = make_idea(session, board, "A")
    b = make_idea(session, board, "B", state="deleted")
    c = make_idea(session, other, "C")
    for into, message in ((a.id, "into itself"), (b.id, "deleted"), (c.id, "same portal"), ("", "pick the idea")):
        response = member_client.form(f"/portal/ideas/{a.id}/merge", {"into": into})
        assert response.status_code == 422, (into, response.status_code)
        assert message in response.text
    _reload(session)
    assert session.scalar(select(Idea.state).where(Idea.id == a.id)) == "published"
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "merge")) == 0


def test_merging_features_elsewhere_moves_their_ideas(session: Session, portal: Portal, board: Board) -> None:
    a = make_idea(session, board, "A")
    b = make_idea(session, board, "B")
    features.merge_features(session, ACTOR, a.feature_id, b.feature_id)
    _reload(session)
    assert session.scalar(select(Idea.feature_id).where(Idea.id == a.id)) == b.feature_id
