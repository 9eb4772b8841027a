"""Votes and subscribers: the people who asked for a feature and the people who follow it.

Both follow merges: voting for (or following) a merged feature records it on the survivor.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import PersonOut
from prodops.domains.features import queries
from prodops.domains.features.models import Feature, FeatureSubscriber, FeatureVote
from prodops.domains.features.schemas import SubscriberOut, VoteOut
from prodops.domains.features.service._shared import (
    SUBSCRIBER_ADDED,
    SUBSCRIBER_REMOVED,
    VOTE_ADDED,
    VOTE_REMOVED,
    check_user,
    person,
    record,
)
from prodops.platform import events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import ValidationFailed


def _survivor(session: Session, feature_id: int) -> Feature:
    feature = session.get(Feature, queries.resolve_feature_id(session, feature_id))
    assert feature is not None  # resolve_feature_id raised NotFound otherwise
    return feature


def _vote_out(vote: FeatureVote, who: PersonOut | None) -> VoteOut:
    return VoteOut(
        feature_id=vote.feature_id,
        person_id=vote.person_id,
        person_name=who.display_name if who else None,
        person_email=who.email if who else None,
        cast_by_id=vote.cast_by_id,
        created_at=vote.created_at,
    )


def _subscriber_out(sub: FeatureSubscriber, who: PersonOut | None) -> SubscriberOut:
    return SubscriberOut(
        feature_id=sub.feature_id,
        person_id=sub.person_id,
        person_name=who.display_name if who else None,
        person_email=who.email if who else None,
        created_at=sub.created_at,
    )


def _ensure_person(session: Session, actor: Actor, email: str, name: str) -> PersonOut:
    try:
        return customers.ensure_person(session, actor, email.strip().lower(), name.strip())
    except ValidationError as exc:
        raise ValidationFailed("email", f"{email.strip() or 'an empty value'} is not an e-mail address") from exc


# --- votes ----------------------------------------------------------------------------------


def add_vote(session: Session, actor: Actor, feature_id: int, person_id: int, cast_by_id: int | None = None) -> VoteOut:
    """Record ``person_id``'s vote (once per person; voting again changes nothing). ``cast_by_id`` is the staff
    user who voted on their behalf, by default the actor."""
    with transaction(session):
        feature = _survivor(session, feature_id)
        who = person(session, person_id)
        check_user(session, cast_by_id, "cast_by_id")
        vote = session.scalar(
            select(FeatureVote).where(FeatureVote.feature_id == feature.id, FeatureVote.person_id == person_id)
        )
        if vote is None:
            vote = FeatureVote(
                feature_id=feature.id,
                person_id=person_id,
                cast_by_id=cast_by_id if cast_by_id is not None else actor.user_id,
            )
            session.add(vote)
            session.flush()
            record(session, actor, feature, "vote", {"vote": [None, who.email]})
            events.emit(
                session,
                VOTE_ADDED,
                {"feature_id": feature.id, "person_id": person_id, "cast_by_id": vote.cast_by_id},
            )
        return _vote_out(vote, who)


def add_vote_by_email(session: Session, actor: Actor, feature_id: int, email: str, name: str = "") -> VoteOut:
    """Vote on behalf of the person with this e-mail, adding them to the customer base if new."""
    with transaction(session):
        who = _ensure_person(session, actor, email, name)
        return add_vote(session, actor, feature_id, who.id)


def remove_vote(session: Session, actor: Actor, feature_id: int, person_id: int) -> bool:
    """Withdraw a vote; False when there was none."""
    with transaction(session):
        feature = _survivor(session, feature_id)
        vote = session.scalar(
            select(FeatureVote).where(FeatureVote.feature_id == feature.id, FeatureVote.person_id == person_id)
        )
        if vote is None:
            return False
        who = customers.people_by_id(session, [person_id]).get(person_id)
        session.delete(vote)
        record(session, actor, feature, "unvote", {"vote": [who.email if who else person_id, None]})
        events.emit(session, VOTE_REMOVED, {"feature_id": feature.id, "person_id": person_id})
        return True


def feature_votes(session: Session, feature_id: int, limit: int = 500) -> list[VoteOut]:
    """The newest votes of a feature with the voters' names (two statements)."""
    votes = queries.votes(session, feature_id, limit)
    people = customers.people_by_id(session, [v.person_id for v in votes])
    return [_vote_out(v, people.get(v.person_id)) for v in votes]


# --- subscribers ----------------------------------------------------------------------------


def subscribe(session: Session, actor: Actor, feature_id: int, person_id: int) -> SubscriberOut:
    """Make ``person_id`` follow a feature (once; subscribing again changes nothing)."""
    with transaction(session):
        feature = _survivor(session, feature_id)
        who = person(session, person_id)
        sub = session.scalar(
            select(FeatureSubscriber).where(
                FeatureSubscriber.feature_id == feature.id, FeatureSubscriber.person_id == person_id
            )
        )
        if sub is None:
            sub = FeatureSubscriber(feature_id=feature.id, person_id=person_id)
            session.add(sub)
            session.flush()
            record(session, actor, feature, "subscribe", {"subscriber": [None, who.email]})
            events.emit(session, SUBSCRIBER_ADDED, {"feature_id": feature.id, "person_id": person_id})
        return _subscriber_out(sub, who)


def subscribe_by_email(session: Session, actor: Actor, feature_id: int, email: str, name: str = "") -> SubscriberOut:
    """Subscribe the person with this e-mail, adding them to the customer base if new."""
    with transaction(session):
        who = _ensure_person(session, actor, email, name)
        return subscribe(session, actor, feature_id, who.id)


def unsubscribe(session: Session, actor: Actor, feature_id: int, person_id: int) -> bool:
    """Stop ``person_id`` following a feature; False when they did not."""
    with transaction(session):
        feature = _survivor(session, feature_id)
        sub = session.scalar(
            select(FeatureSubscriber).where(
                FeatureSubscriber.feature_id == feature.id, FeatureSubscriber.person_id == person_id
            )
        )
        if sub is None:
            return False
        who = customers.people_by_id(session, [person_id]).get(person_id)
        session.delete(sub)
        record(session, actor, feature, "unsubscribe", {"subscriber": [who.email if who else person_id, None]})
        events.emit(session, SUBSCRIBER_REMOVED, {"feature_id": feature.id, "person_id": person_id})
        return True


def feature_subscribers(session: Session, feature_id: int, limit: int = 500) -> list[SubscriberOut]:
    subs = queries.subscribers(session, feature_id, limit)
    people = customers.people_by_id(session, [s.person_id for s in subs])
    return [_subscriber_out(s, people.get(s.person_id)) for s in subs]
