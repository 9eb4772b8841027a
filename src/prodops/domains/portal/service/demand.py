"""One demand model: every portal idea, vote and customer comment is also a feedback item (source ``portal``,
external id ``idea:<id>``, ``vote:<id>``, ``comment:<id>``) linked to the idea's feature, written in the same
transaction as the portal change. The feedback hub's demand ranking therefore counts portal votes — once each,
weighted by the voter's account ARR — without knowing the portal exists.

A portal vote is filed only as feedback, never also as a features-domain vote: the ranking counts both kinds of
evidence, so writing both would count the same person's wish twice. Vote items are filed ``archived``: they count in
demand like any linked item, but need no triage and, being all alike ("Voted for ..."), stay out of the inbox,
duplicate detection and theme fitting. Ideas and comments are real customer text and arrive as ``linked``. Ideas waiting for moderation, internal notes
and staff replies are not customer demand and are not filed; approval files what was held back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import FeedbackIn, FeedbackUpdate
from prodops.domains.portal.models import Board, Comment, Idea, PortalUser, Vote
from prodops.domains.portal.service._actor import portal_actor
from prodops.platform.audit import Actor
from prodops.platform.db import transaction

SOURCE = "portal"
_MAX_TITLE = 300
_MAX_TEXT = 20_000
_CHUNK = 500


def idea_key(idea_id: int) -> str:
    return f"idea:{idea_id}"


def vote_key(vote_id: int) -> str:
    return f"vote:{vote_id}"


def comment_key(comment_id: int) -> str:
    return f"comment:{comment_id}"


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class _Facts:
    """What filing needs about ideas and portal users, read in a few statements for any number of rows."""

    def __init__(self, session: Session, idea_ids: Iterable[int], user_ids: Iterable[int | None]) -> None:
        self.ideas: dict[int, tuple[str, int, int | None, int]] = {}
        """idea id -> (title, feature id, product id, board id)"""
        for chunk in _chunks(sorted(set(idea_ids))):
            stmt = (
                select(Idea.id, Idea.title, Idea.feature_id, Board.product_id, Board.id)
                .join(Board, Board.id == Idea.board_id)
                .where(Idea.id.in_(chunk))
            )
            for idea_id, title, feature_id, product_id, board_id in session.execute(stmt):
                self.ideas[idea_id] = (title, feature_id, product_id, board_id)
        self.people: dict[int, int | None] = {}
        """portal user id -> customers person id"""
        for chunk in _chunks(sorted({u for u in user_ids if u is not None})):
            people = select(PortalUser.id, PortalUser.person_id).where(PortalUser.id.in_(chunk))
            self.people.update((uid, pid) for uid, pid in session.execute(people))

    def item(
        self,
        *,
        idea_id: int,
        user_id: int | None,
        key: str,
        title: str,
        text: str,
        kind: str,
        at: Any,
        status: str = "new",
    ) -> tuple[FeedbackIn, int]:
        idea_title, feature_id, product_id, board_id = self.ideas[idea_id]
        data = FeedbackIn(
            source=SOURCE,
            external_id=key,
            title=title[:_MAX_TITLE],
            text=(text.strip() or idea_title)[:_MAX_TEXT],
            person_id=self.people.get(user_id) if user_id is not None else None,
            product_id=product_id,
            received_at=at,
            status=status,
            meta={"portal": kind, "idea_id": idea_id, "board_id": board_id},
        )
        return data, feature_id


def _file(session: Session, actor: Actor, entries: Sequence[tuple[FeedbackIn, int]]) -> list[int]:
    if not entries:
        return []
    ids: list[int] = []
    for start in range(0, len(entries), _CHUNK):
        chunk = entries[start : start + _CHUNK]
        ids.extend(feedback.ingest_linked(session, actor, [e[0] for e in chunk], [e[1] for e in chunk]))
    return ids


def _withdraw(session: Session, actor: Actor, keys: Sequence[str]) -> int:
    found = feedback.items_by_external_id(session, SOURCE, keys)
    for item_id in found.values():
        feedback.delete_item(session, actor, item_id)
    return len(found)


def _actor_for(session: Session, user_id: int | None, actor: Actor | None) -> Actor:
    if actor is not None:
        return actor
    return portal_actor(session.get(PortalUser, user_id) if user_id is not None else None)


# --- entries ----------------------------------------------------------------------------------


def _idea_entry(facts: _Facts, idea: Idea) -> tuple[FeedbackIn, int]:
    return facts.item(
        idea_id=idea.id,
        user_id=idea.author_id,
        key=idea_key(idea.id),
        title=idea.title,
        text=idea.body,
        kind="idea",
        at=idea.created_at,
    )


def _vote_entry(facts: _Facts, vote: Vote) -> tuple[FeedbackIn, int]:
    title = facts.ideas[vote.idea_id][0]
    return facts.item(
        idea_id=vote.idea_id,
        user_id=vote.user_id,
        key=vote_key(vote.id),
        title=f"Vote: {title}",
        text=f"Voted for “{title}” on the ideas portal.",
        kind="vote",
        at=vote.created_at,
        status="archived",
    )


def _comment_entry(facts: _Facts, comment: Comment) -> tuple[FeedbackIn, int]:
    title = facts.ideas[comment.idea_id][0]
    return facts.item(
        idea_id=comment.idea_id,
        user_id=comment.author_id,
        key=comment_key(comment.id),
        title=f"Comment on: {title}",
        text=comment.body,
        kind="comment",
        at=comment.created_at,
    )


def _fileable_comment(comment: Comment) -> bool:
    return comment.state == "published" and not comment.internal and comment.staff_author_id is None


# --- the hooks the portal's use cases call ----------------------------------------------------


def on_idea(session: Session, idea: Idea, *, actor: Actor | None = None) -> int | None:
    """File a published idea (again after an edit: the item is updated). Returns the feedback item id, or None
    for an idea that is not published (pending, rejected...)."""
    if idea.state != "published":
        return None
    with transaction(session):
        session.flush()
        facts = _Facts(session, [idea.id], [idea.author_id])
        return _file(session, _actor_for(session, idea.author_id, actor), [_idea_entry(facts, idea)])[0]


def on_vote(session: Session, vote: Vote, *, actor: Actor | None = None) -> int:
    """File a vote (a proxy vote too: the customer it was cast for is the person)."""
    with transaction(session):
        session.flush()
        facts = _Facts(session, [vote.idea_id], [vote.user_id])
        return _file(session, _actor_for(session, vote.user_id, actor), [_vote_entry(facts, vote)])[0]


def on_unvote(session: Session, vote: Vote, *, actor: Actor | None = None) -> None:
    """Withdraw a vote's feedback item (call before or after deleting the vote row; only its id is used)."""
    with transaction(session):
        _withdraw(session, _actor_for(session, vote.user_id, actor), [vote_key(vote.id)])


def on_comment(session: Session, comment: Comment, *, actor: Actor | None = None) -> int | None:
    """File a customer's published comment (again after an edit). Internal notes, staff replies and comments
    waiting for moderation are not filed (None)."""
    if not _fileable_comment(comment):
        return None
    with transaction(session):
        session.flush()
        facts = _Facts(session, [comment.idea_id], [comment.author_id])
        return _file(session, _actor_for(session, comment.author_id, actor), [_comment_entry(facts, comment)])[0]


def on_comment_deleted(session: Session, comment: Comment, *, actor: Actor | None = None) -> None:
    """Withdraw a comment's feedback item (its replies stay on the portal, and so do their items)."""
    with transaction(session):
        _withdraw(session, _actor_for(session, comment.author_id, actor), [comment_key(comment.id)])


def on_idea_removed(session: Session, idea: Idea, *, actor: Actor | None = None) -> int:
    """An idea left the portal (rejected or deleted): withdraw it, its votes and its comments. Returns how many
    items went."""
    with transaction(session):
        keys = [idea_key(idea.id)]
        keys += [vote_key(i) for i in session.scalars(select(Vote.id).where(Vote.idea_id == idea.id))]
        keys += [comment_key(i) for i in session.scalars(select(Comment.id).where(Comment.idea_id == idea.id))]
        return _withdraw(session, actor or Actor.system("portal"), keys)


def on_idea_published(session: Session, idea: Idea, *, actor: Actor | None = None) -> int:
    """An idea became visible (approved, or restored): file it with its votes and published customer comments.
    Idempotent. Returns how many items were filed."""
    if idea.state != "published":
        return 0
    with transaction(session):
        session.flush()
        votes = list(session.scalars(select(Vote).where(Vote.idea_id == idea.id)))
        comments = [
            c for c in session.scalars(select(Comment).where(Comment.idea_id == idea.id)) if _fileable_comment(c)
        ]
        facts = _Facts(
            session, [idea.id], [idea.author_id, *(v.user_id for v in votes), *(c.author_id for c in comments)]
        )
        entries = [_idea_entry(facts, idea)]
        entries += [_vote_entry(facts, v) for v in votes]
        entries += [_comment_entry(facts, c) for c in comments]
        return len(_file(session, actor or Actor.system("portal"), entries))


def on_merge(session: Session, source_idea: Idea, target_idea: Idea, *, actor: Actor | None = None) -> int:
    """After a merge moved the source's votes and comments to the target: file them again against the target
    (their feedback now names the surviving idea and is linked to its feature). Votes dropped as duplicates must
    be withdrawn with :func:`on_unvote` by the merge before their rows go. The source idea's own item stays,
    linked to its feature, which the merge folds into the target's when they differ (the feedback hub moves the
    links then). Returns how many items were refiled."""
    with transaction(session):
        session.flush()
        votes = list(session.scalars(select(Vote).where(Vote.idea_id == target_idea.id)))
        comments = [
            c for c in session.scalars(select(Comment).where(Comment.idea_id == target_idea.id)) if _fileable_comment(c)
        ]
        facts = _Facts(
            session,
            [target_idea.id],
            [*(v.user_id for v in votes), *(c.author_id for c in comments)],
        )
        entries = [_vote_entry(facts, v) for v in votes] + [_comment_entry(facts, c) for c in comments]
        return len(_file(session, actor or Actor.system("portal"), entries))


def on_user_deleted(session: Session, user: PortalUser, *, actor: Actor | None = None) -> int:
    """A portal user deleted their account: their items keep counting for their account (the account's ARR is
    company data, not theirs) but no longer name the person. Returns how many items changed."""
    with transaction(session):
        keys = [idea_key(i) for i in session.scalars(select(Idea.id).where(Idea.author_id == user.id))]
        keys += [vote_key(i) for i in session.scalars(select(Vote.id).where(Vote.user_id == user.id))]
        keys += [comment_key(i) for i in session.scalars(select(Comment.id).where(Comment.author_id == user.id))]
        found = feedback.items_by_external_id(session, SOURCE, keys)
        account_id = None
        if user.person_id is not None:
            person = customers.people_by_id(session, [user.person_id]).get(user.person_id)
            account_id = person.account_id if person is not None else None
        who = actor or Actor.system("portal account deletion")
        for item_id in found.values():
            feedback.update_item(session, who, item_id, FeedbackUpdate(person_id=None, account_id=account_id))
        return len(found)


# --- in bulk (demo data, imports) -------------------------------------------------------------


def file_all(
    session: Session,
    actor: Actor,
    ideas: Sequence[Idea] = (),
    votes: Sequence[Vote] = (),
    comments: Sequence[Comment] = (),
) -> int:
    """File many ideas, votes and comments at once (a few statements per 500). Returns how many items."""
    with transaction(session):
        session.flush()
        comments = [c for c in comments if _fileable_comment(c)]
        ideas = [i for i in ideas if i.state == "published"]
        facts = _Facts(
            session,
            [*(i.id for i in ideas), *(v.idea_id for v in votes), *(c.idea_id for c in comments)],
            [*(i.author_id for i in ideas), *(v.user_id for v in votes), *(c.author_id for c in comments)],
        )
        entries = [_idea_entry(facts, i) for i in ideas]
        entries += [_vote_entry(facts, v) for v in votes]
        entries += [_comment_entry(facts, c) for c in comments]
        return len(_file(session, actor, entries))


__all__ = [
    "SOURCE",
    "comment_key",
    "file_all",
    "idea_key",
    "on_comment",
    "on_comment_deleted",
    "on_idea",
    "on_idea_published",
    "on_idea_removed",
    "on_merge",
    "on_unvote",
    "on_user_deleted",
    "on_vote",
    "vote_key",
]
