"""One demand model: portal ideas, votes and customer comments reach the feedback hub's demand ranking, each once,
weighted by the voter's account ARR (real database, the feedback hub's own ranking query)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.features import service as features
from prodops.domains.features.models import FeatureVote
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import DemandFilters
from prodops.domains.portal.models import Board, Comment, Idea, Portal, PortalUser, Vote
from prodops.domains.portal.service import demand as portal_demand
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.org import service as org
from prodops.platform.org.schemas import ProductIn

ACTOR = Actor.system("test")


@dataclass
class World:
    board: int
    feature: int
    other_feature: int
    idea: int
    users: dict[str, int]
    """portal users: ann and bob (Big, ARR 100k), cat (Mid, ARR 30k), eve (no account)"""


def _person(session: Session, email: str) -> int:
    return customers.ensure_person(session, ACTOR, email, email.split("@", maxsplit=1)[0].title()).id


@pytest.fixture
def world(session: Session) -> World:
    product = org.create_product(session, ACTOR, ProductIn(key="core", name="Core")).id
    for name, arr in (("big", 100_000), ("mid", 30_000)):
        customers.create_account(session, ACTOR, AccountIn(name=name.title(), domain=f"{name}.example", arr=arr))
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Dark mode", product_id=product)).id
    other = features.create_feature(session, ACTOR, FeatureIn(title="Offline mode", product_id=product)).id
    users = {}
    with transaction(session):
        portal = Portal(slug="acme", name="Acme Ideas")
        session.add(portal)
        session.flush()
        board = Board(portal_id=portal.id, slug="core", name="Core", product_id=product)
        session.add(board)
        for key, email in (("ann", "ann@big.example"), ("bob", "bob@big.example"), ("cat", "cat@mid.example")):
            user = PortalUser(email=email, name=key.title(), person_id=_person(session, email))
            session.add(user)
            session.flush()
            users[key] = user.id
        eve = PortalUser(email="eve@nowhere.example", name="Eve", person_id=None)
        session.add(eve)
        session.flush()
        users["eve"] = eve.id
        idea = Idea(
            board_id=board.id, feature_id=feature, title="Dark mode please", body="My eyes!", author_id=users["ann"]
        )
        session.add(idea)
        session.flush()
        ids = (board.id, idea.id)
    return World(board=ids[0], feature=feature, other_feature=other, idea=ids[1], users=users)


def _row(session: Session, feature_id: int) -> demand.DemandRow | None:
    page = demand.ranking(session, DemandFilters(per_page=500))
    return next((r for r in page.items if r.feature_id == feature_id), None)


def _vote(session: Session, idea_id: int, user_id: int, *, cast_by: int | None = None) -> Vote:
    with transaction(session):
        vote = Vote(idea_id=idea_id, user_id=user_id, cast_by_id=cast_by)
        session.add(vote)
        session.flush()
        session.execute(update(Idea).where(Idea.id == idea_id).values(vote_count=Idea.vote_count + 1))
        portal_demand.on_vote(session, vote)
    return vote


def _portal_items(session: Session) -> dict[str, FeedbackItem]:
    return {
        i.external_id or "": i for i in session.scalars(select(FeedbackItem).where(FeedbackItem.source == "portal"))
    }


def test_a_vote_counts_once_weighted_by_the_voters_account_arr(session: Session, world: World) -> None:
    assert _row(session, world.feature) is None
    _vote(session, world.idea, world.users["cat"])
    row = _row(session, world.feature)
    assert row is not None
    # One linked item (the vote), one person, one account: Mid's 30k.
    assert (row.items, row.people, row.accounts, row.arr, row.votes) == (1, 1, 1, 30_000, 0)
    # The vote is filed as feedback only, never also as a features-domain vote (that would count it twice).
    assert session.scalar(select(func.count()).select_from(FeatureVote)) == 0

    # Two voters of the same account add people, not ARR: each account counts once per feature.
    _vote(session, world.idea, world.users["ann"])
    _vote(session, world.idea, world.users["bob"])
    row = _row(session, world.feature)
    assert row is not None
    assert (row.items, row.people, row.accounts, row.arr) == (3, 3, 2, 130_000)

    # Sorting by ARR ranks the feature above one with no portal demand.
    top = demand.ranking(session, DemandFilters(sort="-arr")).items[0]
    assert (top.feature_id, top.arr) == (world.feature, 130_000)


def test_the_vote_item_names_the_voter_account_and_feature(session: Session, world: World) -> None:
    vote = _vote(session, world.idea, world.users["cat"])
    item = _portal_items(session)[f"vote:{vote.id}"]
    # Evidence that needs no triage: it counts in demand (above) but stays out of the inbox and theme fitting.
    assert item.status == "archived"
    assert item.meta == {"portal": "vote", "idea_id": world.idea, "board_id": world.board}
    assert "Dark mode please" in item.text
    person = customers.person_by_email(session, "cat@mid.example")
    assert person is not None
    assert item.person_id == person.id
    assert item.account_id == person.account_id
    links = list(session.scalars(select(FeedbackLink).where(FeedbackLink.item_id == item.id)))
    assert [link.feature_id for link in links] == [world.feature]


def test_filing_again_updates_instead_of_duplicating(session: Session, world: World) -> None:
    vote = _vote(session, world.idea, world.users["cat"])
    with transaction(session):
        portal_demand.on_vote(session, session.get(Vote, vote.id))  # type: ignore[arg-type]
    assert len(_portal_items(session)) == 1
    assert session.scalar(select(func.count()).select_from(FeedbackLink)) == 1


def test_unvote_removes_the_demand(session: Session, world: World) -> None:
    vote = _vote(session, world.idea, world.users["cat"])
    keep = _vote(session, world.idea, world.users["ann"])
    with transaction(session):
        row = session.get(Vote, vote.id)
        assert row is not None
        portal_demand.on_unvote(session, row)
        session.delete(row)
    result = _row(session, world.feature)
    assert result is not None
    assert (result.items, result.people, result.accounts, result.arr) == (1, 1, 1, 100_000)
    assert set(_portal_items(session)) == {f"vote:{keep.id}"}


def test_ideas_and_customer_comments_count_internal_notes_and_staff_replies_do_not(
    session: Session, world: World
) -> None:
    staff = None
    from tests.conftest import make_user

    staff = make_user("member")
    with transaction(session):
        idea = session.get(Idea, world.idea)
        assert idea is not None
        portal_demand.on_idea(session, idea)
        comment = Comment(idea_id=world.idea, author_id=world.users["cat"], body="We need this for night shifts.")
        internal = Comment(idea_id=world.idea, staff_author_id=staff.id, body="Big renewal hinges on it", internal=True)
        official = Comment(idea_id=world.idea, staff_author_id=staff.id, body="On our list!", official=True)
        session.add_all([comment, internal, official])
        session.flush()
        assert portal_demand.on_comment(session, comment) is not None
        assert portal_demand.on_comment(session, internal) is None
        assert portal_demand.on_comment(session, official) is None
    items = _portal_items(session)
    assert set(items) == {f"idea:{world.idea}", f"comment:{comment.id}"}
    assert items[f"comment:{comment.id}"].text == "We need this for night shifts."
    assert items[f"idea:{world.idea}"].title == "Dark mode please"
    assert items[f"idea:{world.idea}"].text == "My eyes!"
    row = _row(session, world.feature)
    assert row is not None
    # The idea (Ann, Big) and the comment (Cat, Mid).
    assert (row.items, row.people, row.accounts, row.arr) == (2, 2, 2, 130_000)

    with transaction(session):
        found = session.get(Comment, comment.id)
        assert found is not None
        portal_demand.on_comment_deleted(session, found)
        found.state = "deleted"
    assert set(_portal_items(session)) == {f"idea:{world.idea}"}


def test_pending_ideas_are_filed_when_published_and_withdrawn_when_removed(session: Session, world: World) -> None:
    with transaction(session):
        idea = session.get(Idea, world.idea)
        assert idea is not None
        idea.state = "pending"
        assert portal_demand.on_idea(session, idea) is None
    assert _portal_items(session) == {}
    vote = _vote(session, world.idea, world.users["bob"])
    with transaction(session):
        idea = session.get(Idea, world.idea)
        assert idea is not None
        idea.state = "published"
        assert portal_demand.on_idea_published(session, idea) == 2
    assert set(_portal_items(session)) == {f"idea:{world.idea}", f"vote:{vote.id}"}
    with transaction(session):
        idea = session.get(Idea, world.idea)
        assert idea is not None
        assert portal_demand.on_idea_removed(session, idea) == 2
        idea.state = "deleted"
    assert _portal_items(session) == {}
    assert _row(session, world.feature) is None


def test_a_voter_without_an_account_counts_as_a_person_without_arr(session: Session, world: World) -> None:
    _vote(session, world.idea, world.users["eve"])
    row = _row(session, world.feature)
    assert row is not None
    assert (row.items, row.people, row.accounts, row.arr) == (1, 0, 0, 0)


def test_deleting_the_portal_account_keeps_the_accounts_demand(session: Session, world: World) -> None:
    _vote(session, world.idea, world.users["cat"])
    with transaction(session):
        user = session.get(PortalUser, world.users["cat"])
        assert user is not None
        assert portal_demand.on_user_deleted(session, user) == 1
    item = next(iter(_portal_items(session).values()))
    assert item.person_id is None
    row = _row(session, world.feature)
    assert row is not None
    assert (row.items, row.people, row.accounts, row.arr) == (1, 0, 1, 30_000)


def test_merged_features_keep_portal_demand_on_the_survivor(session: Session, world: World) -> None:
    _vote(session, world.idea, world.users["cat"])
    features.merge_features(session, ACTOR, world.feature, world.other_feature)
    assert _row(session, world.feature) is None
    row = _row(session, world.other_feature)
    assert row is not None
    assert (row.items, row.arr) == (1, 30_000)
    # A vote filed after the merge goes straight to the survivor.
    _vote(session, world.idea, world.users["ann"])
    row = _row(session, world.other_feature)
    assert row is not None
    assert (row.items, row.accounts, row.arr) == (2, 2, 130_000)


def test_a_failed_portal_write_files_nothing(session: Session, world: World) -> None:
    with pytest.raises(RuntimeError), transaction(session):
        vote = Vote(idea_id=world.idea, user_id=world.users["cat"])
        session.add(vote)
        session.flush()
        portal_demand.on_vote(session, vote)
        raise RuntimeError("the portal write failed after filing")
    assert _portal_items(session) == {}
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_bulk_filing_matches_one_by_one(session: Session, world: World) -> None:
    with transaction(session):
        votes = [Vote(idea_id=world.idea, user_id=u) for u in world.users.values()]
        comment = Comment(idea_id=world.idea, author_id=world.users["bob"], body="Yes please")
        session.add_all([*votes, comment])
        session.flush()
        idea = session.get(Idea, world.idea)
        assert idea is not None
        assert portal_demand.file_all(session, ACTOR, [idea], votes, [comment]) == 6
    row = _row(session, world.feature)
    assert row is not None
    # idea (ann) + 4 votes + comment (bob): 6 items; people ann, bob, cat (eve has none); accounts Big + Mid.
    assert (row.items, row.people, row.accounts, row.arr) == (6, 3, 2, 130_000)
