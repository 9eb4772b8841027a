"""Helpers for the staff-side portal tests: ideas (with their features), votes and comments written the way the
portal's services write them (counters in SQL, demand filed in the same transaction)."""

from __future__ import annotations

import os

from sqlalchemy import update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.portal.models import Board, Comment, Follow, Idea, PortalUser, Vote
from prodops.domains.portal.service import demand
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from tests.portal.conftest import make_portal_user

ACTOR = Actor.system("test")


def make_account(session: Session, name: str, arr: float) -> int:
    domain = f"{name.lower()}.example"
    return customers.create_account(session, ACTOR, AccountIn(name=name, domain=domain, arr=arr)).id


def make_idea(
    session: Session,
    board: Board,
    title: str = "Dark mode",
    *,
    author: PortalUser | None = None,
    state: str = "published",
    body: str = "Please add it.",
    feature_id: int | None = None,
) -> Idea:
    if feature_id is None:
        feature_id = features.create_feature(session, ACTOR, FeatureIn(title=title, product_id=board.product_id)).id
    with transaction(session):
        idea = Idea(board_id=board.id, feature_id=feature_id, title=title, body=body, state=state)
        idea.author_id = author.id if author is not None else None
        session.add(idea)
        session.flush()
        if author is not None:
            session.add(Follow(idea_id=idea.id, user_id=author.id))
        demand.on_idea(session, idea)
    session.refresh(idea)
    return idea


def vote(session: Session, idea: Idea, user: PortalUser) -> Vote:
    with transaction(session):
        row = Vote(idea_id=idea.id, user_id=user.id)
        session.add(row)
        session.flush()
        session.execute(update(Idea).where(Idea.id == idea.id).values(vote_count=Idea.vote_count + 1))
        demand.on_vote(session, row)
    return row


def comment(
    session: Session, idea: Idea, user: PortalUser, body: str = "Yes please", *, state: str = "published"
) -> Comment:
    with transaction(session):
        row = Comment(idea_id=idea.id, author_id=user.id, body=body, state=state)
        session.add(row)
        session.flush()
        if state == "published":
            session.execute(update(Idea).where(Idea.id == idea.id).values(comment_count=Idea.comment_count + 1))
        demand.on_comment(session, row)
    return row


def follow(session: Session, idea: Idea, user: PortalUser) -> None:
    with transaction(session):
        session.add(Follow(idea_id=idea.id, user_id=user.id))


def customer(session: Session, name: str, domain: str) -> PortalUser:
    return make_portal_user(session, f"{name.lower()}-{os.urandom(2).hex()}@{domain}", name)
