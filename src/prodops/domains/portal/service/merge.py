"""Merging duplicate ideas: the votes (one per person), comments and followers of the duplicate move to the
surviving idea, the duplicate redirects to it, its feedback follows, and when the two ideas are the faces of two
different features those are merged too (through the features service, which moves the feedback links).

Also keeps ideas in step when features are merged anywhere else (the feature page): an idea whose feature was
merged becomes a face of the surviving feature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.portal.models import Board, ChangelogIdea, Comment, Follow, Idea, Vote
from prodops.domains.portal.schemas import MergeResult
from prodops.domains.portal.service import demand
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import Conflict, NotFound, ValidationFailed

IDEA_MERGED = events.declare(
    "portal.idea.merged",
    "A portal idea was merged into another: votes (de-duplicated per person), comments and followers moved to the "
    "survivor (target_id); the duplicate now redirects there.",
)
MERGEABLE = ("published", "pending")


def _count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def merge_ideas(session: Session, actor: Actor, source_id: int, target_id: int) -> MergeResult:
    """Merge idea ``source_id`` into ``target_id`` (same portal) and say what moved."""
    if source_id == target_id:
        raise ValidationFailed("into", "An idea cannot be merged into itself; pick another idea.")
    with transaction(session):
        source = session.get(Idea, source_id, with_for_update=True)
        if source is None:
            raise NotFound("idea", source_id)
        target = session.get(Idea, target_id, with_for_update=True)
        if target is None:
            raise ValidationFailed("into", f"there is no idea {target_id}")
        if source.state not in MERGEABLE:
            raise Conflict(None, f"“{source.title}” is {source.state}; only live ideas can be merged.")
        if target.state not in MERGEABLE:
            raise ValidationFailed("into", f"“{target.title}” is {target.state}; merge into a live idea.")
        portals = {
            row[0]: row[1]
            for row in session.execute(
                select(Board.id, Board.portal_id).where(Board.id.in_([source.board_id, target.board_id]))
            )
        }
        if portals[source.board_id] != portals[target.board_id]:
            raise ValidationFailed("into", "Both ideas must be on the same portal.")

        # Votes: a person who voted for both keeps one vote (the survivor's); the duplicate's goes, with its feedback.
        dropped = list(
            session.scalars(
                select(Vote).where(
                    Vote.idea_id == source.id, Vote.user_id.in_(select(Vote.user_id).where(Vote.idea_id == target.id))
                )
            )
        )
        for vote in dropped:
            demand.on_unvote(session, vote, actor=actor)
        if dropped:
            session.execute(
                delete(Vote).where(Vote.id.in_([v.id for v in dropped])).execution_options(synchronize_session=False)
            )
        moved_votes = session.execute(
            update(Vote)
            .where(Vote.idea_id == source.id)
            .values(idea_id=target.id)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]

        counted_comments = _count(
            session,
            select(Comment.id).where(
                Comment.idea_id == source.id, Comment.state == "published", Comment.internal.is_(False)
            ),
        )
        moved_comments = session.execute(
            update(Comment)
            .where(Comment.idea_id == source.id)
            .values(idea_id=target.id)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]

        session.execute(
            delete(Follow).where(
                Follow.idea_id == source.id,
                Follow.user_id.in_(select(Follow.user_id).where(Follow.idea_id == target.id)),
            )
        )
        moved_follows = session.execute(
            update(Follow)
            .where(Follow.idea_id == source.id)
            .values(idea_id=target.id)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]

        # Changelog entries that announced the duplicate now announce the survivor.
        session.execute(
            delete(ChangelogIdea).where(
                ChangelogIdea.idea_id == source.id,
                ChangelogIdea.entry_id.in_(select(ChangelogIdea.entry_id).where(ChangelogIdea.idea_id == target.id)),
            )
        )
        session.execute(
            update(ChangelogIdea)
            .where(ChangelogIdea.idea_id == source.id)
            .values(idea_id=target.id)
            .execution_options(synchronize_session=False)
        )

        # Counters move in SQL; earlier merges into the duplicate now point at the survivor.
        session.execute(
            update(Idea)
            .where(Idea.id == target.id)
            .values(
                vote_count=Idea.vote_count + moved_votes,
                comment_count=Idea.comment_count + counted_comments,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Idea)
            .where(Idea.merged_into_id == source.id)
            .values(merged_into_id=target.id)
            .execution_options(synchronize_session=False)
        )
        before = {"state": source.state, "vote_count": source.vote_count, "comment_count": source.comment_count}
        source.state = "merged"
        source.merged_into_id = target.id
        source.vote_count = 0
        source.comment_count = 0
        session.flush()
        session.refresh(target)

        source_feature = features.resolve_feature_id(session, source.feature_id)
        target_feature = features.resolve_feature_id(session, target.feature_id)
        features_merged = source_feature != target_feature
        if features_merged:
            # The features service moves votes, subscribers and feedback links, and runs our hook below, which
            # points the duplicate idea (and any other face of that feature) at the surviving feature.
            features.merge_features(session, actor, source_feature, target_feature)
        demand.on_merge(session, source, target, actor=actor)

        audit.record(
            session,
            actor,
            entity_type="portal_idea",
            entity_id=source.id,
            action="merge",
            changes={
                "merged_into_id": [None, target.id],
                "state": [before["state"], "merged"],
                "vote_count": [before["vote_count"], 0],
                "comment_count": [before["comment_count"], 0],
            },
            entity_label=source.title,
        )
        audit.record(
            session,
            actor,
            entity_type="portal_idea",
            entity_id=target.id,
            action="merge_in",
            changes={
                "merged_from": [None, f"#{source.id} {source.title}"],
                "votes_moved": [None, moved_votes],
                "votes_dropped": [None, len(dropped)],
                "comments_moved": [None, moved_comments],
                "followers_moved": [None, moved_follows],
            },
            entity_label=target.title,
        )
        events.emit(
            session,
            IDEA_MERGED,
            {
                "source_id": source.id,
                "target_id": target.id,
                "votes_moved": moved_votes,
                "votes_dropped": len(dropped),
                "comments_moved": moved_comments,
                "followers_moved": moved_follows,
                "features_merged": features_merged,
            },
        )
        return MergeResult(
            source_id=source.id,
            target_id=target.id,
            votes_moved=moved_votes,
            votes_dropped=len(dropped),
            comments_moved=moved_comments,
            followers_moved=moved_follows,
            features_merged=features_merged,
        )


@features.on_merge
def _ideas_follow_their_feature(session: Session, source_id: int, target_id: int) -> None:
    """Features merge hook: ideas that were the face of the merged feature become faces of the survivor (their
    status is the survivor's from now on). Runs inside the features merge's transaction."""
    session.execute(
        update(Idea)
        .where(Idea.feature_id == source_id)
        .values(feature_id=target_id)
        .execution_options(synchronize_session=False)
    )


__all__ = ["IDEA_MERGED", "merge_ideas"]
