"""What staff do on ideas besides moderating: vote on behalf of a customer (a proxy vote that records who cast
it), remove a vote, post official answers and internal notes, and change an idea's status (its feature's, through
the features service, which notifies followers through the usual status-change event)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureOut
from prodops.domains.portal.models import Comment, Follow, Idea, PortalUser, Vote
from prodops.domains.portal.schemas import ProxyVoteIn, StaffCommentIn
from prodops.domains.portal.service import demand, identity
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

PROXY_VOTE_CAST = events.declare(
    "portal.vote.proxy", "A staff member voted for a portal idea on behalf of a customer (cast_by_id records who)."
)
VOTE_REMOVED = events.declare("portal.vote.removed", "A staff member removed a vote from a portal idea.")
STAFF_COMMENTED = events.declare(
    "portal.comment.staff", "A staff member answered on a portal idea (official answer or internal note)."
)


def _idea(session: Session, idea_id: int) -> Idea:
    idea = session.get(Idea, idea_id)
    if idea is None:
        raise NotFound("idea", idea_id)
    return idea


def _voter(session: Session, actor: Actor, data: ProxyVoteIn) -> PortalUser:
    """The portal user to vote as: the person's (created when they never signed in), found by person or e-mail."""
    if data.person_id is not None:
        person = customers.people_by_id(session, [data.person_id]).get(data.person_id)
        if person is None:
            raise ValidationFailed("person_id", f"there is no person {data.person_id}")
        email, name = person.email, data.name or person.name
    elif data.email is not None:
        email, name = str(data.email), data.name
    else:
        raise ValidationFailed("email", "pick the customer: their e-mail address or a person from the list")
    user = identity.ensure_user(session, email, name, verified=False)
    if user.deleted_at is not None:
        raise ValidationFailed("email", "this person deleted their portal account")
    return user


def proxy_vote(session: Session, actor: Actor, idea_id: int, data: ProxyVoteIn) -> Vote:
    """Vote for an idea on a customer's behalf (e.g. after a sales call). One vote per person: a customer who
    already voted is refused with a clear message. The customer now follows the idea."""
    with transaction(session):
        idea = _idea(session, idea_id)
        if idea.state != "published":
            raise Conflict(None, f"Votes go on published ideas; this one is {idea.state}.")
        user = _voter(session, actor, data)
        if user.blocked_at is not None:
            raise ValidationFailed("email", f"{user.email} is blocked on the portal")
        if session.scalar(select(Vote.id).where(Vote.idea_id == idea.id, Vote.user_id == user.id)) is not None:
            raise Conflict("email", f"{user.email} has already voted for this idea")
        vote = Vote(idea_id=idea.id, user_id=user.id, cast_by_id=actor.user_id, created_at=utcnow())
        session.add(vote)
        session.flush()
        session.execute(
            update(Idea)
            .where(Idea.id == idea.id)
            .values(vote_count=Idea.vote_count + 1)
            .execution_options(synchronize_session=False)
        )
        if session.scalar(select(Follow.id).where(Follow.idea_id == idea.id, Follow.user_id == user.id)) is None:
            session.add(Follow(idea_id=idea.id, user_id=user.id))
        audit.record(
            session,
            actor,
            entity_type="portal_idea",
            entity_id=idea.id,
            action="proxy_vote",
            changes={"voter": [None, user.email], "portal_user_id": [None, user.id], "vote_id": [None, vote.id]},
            entity_label=idea.title,
        )
        demand.on_vote(session, vote, actor=actor)
        events.emit(
            session,
            PROXY_VOTE_CAST,
            {"idea_id": idea.id, "vote_id": vote.id, "user_id": user.id, "cast_by_id": actor.user_id},
        )
        return vote


def remove_vote(session: Session, actor: Actor, idea_id: int, vote_id: int) -> None:
    """Take a vote off an idea (a proxy vote cast by mistake, a fake account)."""
    with transaction(session):
        idea = _idea(session, idea_id)
        vote = session.get(Vote, vote_id)
        if vote is None or vote.idea_id != idea.id:
            raise NotFound("vote", vote_id)
        email = session.scalar(select(PortalUser.email).where(PortalUser.id == vote.user_id))
        demand.on_unvote(session, vote, actor=actor)
        session.execute(delete(Vote).where(Vote.id == vote.id).execution_options(synchronize_session=False))
        session.execute(
            update(Idea)
            .where(Idea.id == idea.id)
            .values(vote_count=Idea.vote_count - 1)
            .execution_options(synchronize_session=False)
        )
        session.expunge(vote)
        audit.record(
            session,
            actor,
            entity_type="portal_idea",
            entity_id=idea.id,
            action="remove_vote",
            changes={"voter": [email, None], "vote_id": [vote_id, None]},
            entity_label=idea.title,
        )
        events.emit(session, VOTE_REMOVED, {"idea_id": idea.id, "vote_id": vote_id})


def comment(session: Session, actor: Actor, idea_id: int, data: StaffCommentIn) -> Comment:
    """A staff comment: an official answer (marked on the portal; followers are e-mailed), a plain reply, or an
    internal note (never shown on the portal, never counted, never filed as customer demand)."""
    if data.official and data.internal:
        raise ValidationFailed("official", "an internal note cannot be the official answer")
    if actor.user_id is None:
        raise ValidationFailed(None, "staff comments need a signed-in staff member")
    with transaction(session):
        idea = _idea(session, idea_id)
        if idea.state in ("deleted", "merged"):
            raise Conflict(None, f"This idea was {idea.state}; comment on the surviving idea instead.")
        parent_id = None
        if data.parent_id is not None:
            parent = session.get(Comment, data.parent_id)
            if parent is None or parent.idea_id != idea.id or parent.state == "deleted":
                raise ValidationFailed("parent_id", "that comment cannot be answered any more")
            if parent.internal and not data.internal:
                raise ValidationFailed("internal", "a reply to an internal note must be internal too")
            parent_id = parent.parent_id or parent.id
        row = Comment(
            idea_id=idea.id,
            parent_id=parent_id,
            staff_author_id=actor.user_id,
            body=data.body,
            official=data.official,
            internal=data.internal,
            state="published",
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        if not row.internal:
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(comment_count=Idea.comment_count + 1)
                .execution_options(synchronize_session=False)
            )
        audit.record(
            session,
            actor,
            entity_type="portal_comment",
            entity_id=row.id,
            action="create",
            changes={
                "idea_id": [None, idea.id],
                "body": [None, row.body],
                "official": [None, row.official],
                "internal": [None, row.internal],
            },
            entity_label=idea.title,
        )
        if row.official and idea.state == "published":
            from prodops.domains.portal.service import notifications

            notifications.official_reply_on_commit(session, row.id)
        events.emit(
            session,
            STAFF_COMMENTED,
            {"comment_id": row.id, "idea_id": idea.id, "official": row.official, "internal": row.internal},
        )
        return row


def change_status(session: Session, actor: Actor, idea_id: int, status: str) -> FeatureOut:
    """Move the idea's feature to another status of its product's lifecycle (the portal shows it at once)."""
    with transaction(session):
        idea = _idea(session, idea_id)
        if idea.state in ("deleted", "merged"):
            raise Conflict(None, f"This idea was {idea.state}; change the surviving idea instead.")
        feature_id = features.resolve_feature_id(session, idea.feature_id)
        return features.set_status(session, actor, feature_id, status)


__all__ = [
    "PROXY_VOTE_CAST",
    "STAFF_COMMENTED",
    "VOTE_REMOVED",
    "change_status",
    "comment",
    "proxy_vote",
    "remove_vote",
]
