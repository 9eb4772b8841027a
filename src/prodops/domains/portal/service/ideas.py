"""What portal users do: submit ideas (each becomes a feature), edit or delete their own, vote and unvote, comment
in threads, follow ideas, and find similar ideas while typing.

Every write keeps ``Idea.vote_count`` / ``comment_count`` in step in the same transaction (``UPDATE ... SET
vote_count = vote_count + 1``), files the demand as feedback (:mod:`.demand`) and audits customer edits and
deletions with the portal user in the record. Boards with ``require_approval`` hold new ideas and comments as
``pending``: only their author sees them until staff approve.

Rules for one's own posts: an idea can be edited for :data:`EDIT_WINDOW` after posting while it is still an idea
(staff have not moved it on), and deleted while nobody else has voted for it or commented; a comment can be edited
for :data:`EDIT_WINDOW` and deleted at any time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.portal.models import Board, Comment, Follow, Idea, PortalUser, Vote
from prodops.domains.portal.service import demand
from prodops.domains.portal.service._actor import portal_actor
from prodops.domains.portal.service.access import PortalContext
from prodops.platform import audit, events
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from prodops.platform.listing import contains
from prodops.platform.text import search as textsearch

IDEA_SUBMITTED = events.declare(
    "portal.idea.submitted", "A customer submitted an idea on a portal board (state: published or pending)."
)
IDEA_EDITED = events.declare("portal.idea.edited", "A customer edited their own portal idea.")
IDEA_WITHDRAWN = events.declare("portal.idea.withdrawn", "A customer deleted their own portal idea.")
VOTE_CAST = events.declare("portal.vote.cast", "A customer voted for a portal idea.")
VOTE_WITHDRAWN = events.declare("portal.vote.withdrawn", "A customer withdrew their vote for a portal idea.")
COMMENT_POSTED = events.declare("portal.comment.posted", "A customer commented on a portal idea (or replied).")

EDIT_WINDOW = dt.timedelta(hours=24)
TITLE_MIN, TITLE_MAX = 4, 200
BODY_MAX = 10_000
COMMENT_MAX = 5_000
MIN_SIMILAR_QUERY = 4


@dataclass(frozen=True)
class IdeaDraft:
    board_id: int
    title: str
    body: str = ""


@dataclass(frozen=True)
class CommentDraft:
    body: str
    parent_id: int | None = None


@dataclass(frozen=True)
class VoteState:
    idea_id: int
    voted: bool
    vote_count: int


def check_idea(title: str, body: str) -> tuple[str, str]:
    """The cleaned title and body, or every problem as a field error."""
    title, body = " ".join((title or "").split()), (body or "").strip()
    problems: list[tuple[str | None, str]] = []
    if len(title) < TITLE_MIN:
        problems.append(("title", f"Give your idea a title of at least {TITLE_MIN} characters."))
    elif len(title) > TITLE_MAX:
        problems.append(("title", f"Keep the title under {TITLE_MAX} characters."))
    if len(body) > BODY_MAX:
        problems.append(("body", f"Keep the description under {BODY_MAX:,} characters."))
    if problems:
        (field, message), *rest = problems
        raise ValidationFailed(field, message, more=rest)
    return title, body


def check_comment(body: str) -> str:
    text = (body or "").strip()
    if not text:
        raise ValidationFailed("body", "Write a comment first.")
    if len(text) > COMMENT_MAX:
        raise ValidationFailed("body", f"Keep comments under {COMMENT_MAX:,} characters.")
    return text


def _participant(ctx: PortalContext) -> PortalUser:
    """The signed-in user, allowed to take part in this portal."""
    user = ctx.user
    if user is None:
        raise PermissionDenied("Sign in to take part.")
    if user.blocked_at is not None:
        raise PermissionDenied("This account has been blocked from taking part in this portal.")
    if not ctx.can_view:
        raise PermissionDenied("This portal is open to invited people only.")
    return user


def visible_idea(session: Session, ctx: PortalContext, idea_id: int, *, lock: bool = False) -> Idea:
    """An idea on a board this visitor may see: published, or their own while pending. NotFound otherwise (a
    merged idea raises NotFound too; pages redirect to its survivor themselves)."""
    stmt = select(Idea).where(Idea.id == idea_id)
    if lock:
        stmt = stmt.with_for_update()
    idea = session.scalar(stmt)
    if idea is None:
        raise NotFound("idea", idea_id)
    ctx.board_by_id(session, idea.board_id)  # NotFound for a board this visitor may not see
    own = ctx.user is not None and idea.author_id == ctx.user.id
    if idea.state == "published" or (idea.state == "pending" and own):
        return idea
    raise NotFound("idea", idea_id)


def _published(idea: Idea, what: str) -> None:
    if idea.state != "published":
        raise Conflict(None, f"You can {what} once the idea has been approved.")


def _idea_status(session: Session, product_id: int | None) -> str:
    statuses = features.statuses_for(session, product_id)
    return next((s.key for s in statuses if s.kind == "idea"), statuses[0].key)


def _record(
    session: Session,
    user: PortalUser,
    entity: str,
    entity_id: int,
    action: str,
    changes: dict[str, list[Any]],
    label: str,
) -> None:
    audit.record(
        session,
        portal_actor(user),
        entity_type=entity,
        entity_id=entity_id,
        action=action,
        changes={**changes, "portal_user_id": [None, user.id]},
        entity_label=label,
    )


# --- ideas ---------------------------------------------------------------------------------------


def submit_idea(session: Session, ctx: PortalContext, draft: IdeaDraft) -> Idea:
    """A new idea on a board: a feature of the board's product in its lifecycle's first idea status, and the idea
    pointing to it (``pending`` when the board requires approval). The author follows it."""
    title, body = check_idea(draft.title, draft.body)
    with transaction(session):
        user = _participant(ctx)
        board = ctx.board_by_id(session, draft.board_id)
        actor = portal_actor(user)
        feature = features.create_feature(
            session,
            actor,
            FeatureIn(
                title=title,
                description=body,
                product_id=board.product_id,
                status=_idea_status(session, board.product_id),
            ),
        )
        idea = Idea(
            board_id=board.id,
            feature_id=feature.id,
            title=title,
            body=body,
            author_id=user.id,
            state="pending" if board.require_approval else "published",
        )
        session.add(idea)
        session.flush()
        session.add(Follow(idea_id=idea.id, user_id=user.id))
        _record(
            session,
            user,
            "portal_idea",
            idea.id,
            "create",
            {"title": [None, title], "body": [None, body], "board_id": [None, board.id], "state": [None, idea.state]},
            title,
        )
        demand.on_idea(session, idea, actor=actor)
        events.emit(
            session,
            IDEA_SUBMITTED,
            {"idea_id": idea.id, "board_id": board.id, "feature_id": feature.id, "state": idea.state, "title": title},
        )
    return idea


def _own_idea(session: Session, ctx: PortalContext, idea_id: int) -> tuple[PortalUser, Idea]:
    user = _participant(ctx)
    idea = visible_idea(session, ctx, idea_id, lock=True)
    if idea.author_id != user.id:
        raise PermissionDenied("You can change only your own ideas.")
    return user, idea


def can_edit_idea(session: Session, idea: Idea, user_id: int | None, now: dt.datetime | None = None) -> bool:
    if user_id is None or idea.author_id != user_id or idea.state not in ("published", "pending"):
        return False
    if (now or utcnow()) - idea.created_at > EDIT_WINDOW:
        return False
    feature = features.features_by_id(session, [idea.feature_id]).get(idea.feature_id)
    return feature is None or feature.status_kind == "idea"


def _others_took_part(session: Session, idea: Idea) -> bool:
    voter = select(Vote.id).where(Vote.idea_id == idea.id, Vote.user_id != idea.author_id).limit(1)
    commenter = (
        select(Comment.id)
        .where(
            Comment.idea_id == idea.id,
            Comment.state != "deleted",
            or_(Comment.author_id.is_(None), Comment.author_id != idea.author_id),
        )
        .limit(1)
    )
    return session.scalar(voter) is not None or session.scalar(commenter) is not None


def can_delete_idea(session: Session, idea: Idea, user_id: int | None) -> bool:
    return (
        user_id is not None
        and idea.author_id == user_id
        and idea.state in ("published", "pending")
        and not _others_took_part(session, idea)
    )


def edit_idea(session: Session, ctx: PortalContext, idea_id: int, title: str, body: str) -> Idea:
    """Change one's own idea (within the edit window, while it is still an idea)."""
    title, body = check_idea(title, body)
    with transaction(session):
        user, idea = _own_idea(session, ctx, idea_id)
        if not can_edit_idea(session, idea, user.id):
            raise Conflict(
                None, "This idea can no longer be edited: the team has picked it up or a day has passed. Add a comment."
            )
        before = {"title": idea.title, "body": idea.body}
        idea.title, idea.body = title, body
        changes = audit.diff(before, {"title": title, "body": body})
        if changes:
            _record(session, user, "portal_idea", idea.id, "update", changes, title)
            demand.on_idea(session, idea, actor=portal_actor(user))
            events.emit(session, IDEA_EDITED, {"idea_id": idea.id, "fields": sorted(changes)})
    return idea


def delete_idea(session: Session, ctx: PortalContext, idea_id: int) -> int:
    """Withdraw one's own idea while nobody else has voted for it or commented. Returns its board id."""
    with transaction(session):
        user, idea = _own_idea(session, ctx, idea_id)
        if not can_delete_idea(session, idea, user.id):
            raise Conflict(None, "Others have voted or commented on this idea, so it stays. Ask the team to remove it.")
        before = idea.state
        idea.state = "deleted"
        _record(session, user, "portal_idea", idea.id, "delete", {"state": [before, "deleted"]}, idea.title)
        demand.on_idea_removed(session, idea, actor=portal_actor(user))
        events.emit(session, IDEA_WITHDRAWN, {"idea_id": idea.id, "board_id": idea.board_id})
        return idea.board_id


# --- votes ---------------------------------------------------------------------------------------


def _insert_ignore(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT unless a unique row is already there; True when a row was added (safe when two requests race)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the two supported databases are above
        stmt = insert(table).values(**values)
    # RETURNING says whether a row went in (rowcount is not reported for ORM inserts on every driver).
    return session.execute(stmt.returning(table.id)).first() is not None


def _count(session: Session, idea_id: int) -> int:
    return int(session.scalar(select(Idea.vote_count).where(Idea.id == idea_id)) or 0)


def vote(session: Session, ctx: PortalContext, idea_id: int) -> VoteState:
    """Vote for an idea (once per person; voting again changes nothing)."""
    with transaction(session):
        user = _participant(ctx)
        idea = visible_idea(session, ctx, idea_id)
        _published(idea, "vote")
        if _insert_ignore(session, Vote, {"idea_id": idea.id, "user_id": user.id, "created_at": utcnow()}):
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(vote_count=Idea.vote_count + 1)
                .execution_options(synchronize_session=False)
            )
            row = session.scalar(select(Vote).where(Vote.idea_id == idea.id, Vote.user_id == user.id))
            assert row is not None
            demand.on_vote(session, row, actor=portal_actor(user))
            events.emit(session, VOTE_CAST, {"idea_id": idea.id, "vote_id": row.id})
        return VoteState(idea.id, True, _count(session, idea.id))


def unvote(session: Session, ctx: PortalContext, idea_id: int) -> VoteState:
    """Withdraw one's vote (nothing happens without one)."""
    with transaction(session):
        user = _participant(ctx)
        idea = visible_idea(session, ctx, idea_id)
        row = session.scalar(select(Vote).where(Vote.idea_id == idea.id, Vote.user_id == user.id))
        if row is not None:
            gone = session.execute(
                delete(Vote).where(Vote.id == row.id).returning(Vote.id).execution_options(synchronize_session=False)
            ).first()
            if gone is not None:  # a racing request may have withdrawn it first
                session.execute(
                    update(Idea)
                    .where(Idea.id == idea.id)
                    .values(vote_count=Idea.vote_count - 1)
                    .execution_options(synchronize_session=False)
                )
                demand.on_unvote(session, row, actor=portal_actor(user))
                events.emit(session, VOTE_WITHDRAWN, {"idea_id": idea.id, "vote_id": row.id})
            session.expunge(row)
        return VoteState(idea.id, False, _count(session, idea.id))


# --- follows -------------------------------------------------------------------------------------


def follow(session: Session, ctx: PortalContext, idea_id: int) -> bool:
    """Follow an idea (status changes, official replies, the launch). True when now following."""
    with transaction(session):
        user = _participant(ctx)
        idea = visible_idea(session, ctx, idea_id)
        _insert_ignore(session, Follow, {"idea_id": idea.id, "user_id": user.id, "created_at": utcnow()})
    return True


def unfollow(session: Session, ctx: PortalContext, idea_id: int) -> bool:
    """Stop following an idea. False (not following) afterwards."""
    with transaction(session):
        user = _participant(ctx)
        idea = visible_idea(session, ctx, idea_id)
        session.execute(delete(Follow).where(Follow.idea_id == idea.id, Follow.user_id == user.id))
    return False


# --- comments ------------------------------------------------------------------------------------


def add_comment(session: Session, ctx: PortalContext, idea_id: int, draft: CommentDraft) -> Comment:
    """A comment or a reply (replies to replies join the same thread). ``pending`` when the board requires
    approval. The commenter follows the idea (unfollowing is one click, and every e-mail has an unfollow link)."""
    body = check_comment(draft.body)
    with transaction(session):
        user = _participant(ctx)
        idea = visible_idea(session, ctx, idea_id)
        _published(idea, "comment")
        parent_id = None
        if draft.parent_id is not None:
            parent = session.get(Comment, draft.parent_id)
            if parent is None or parent.idea_id != idea.id or parent.internal or parent.state != "published":
                raise ValidationFailed("parent_id", "That comment cannot be answered any more.")
            parent_id = parent.parent_id or parent.id
        board = session.get(Board, idea.board_id)
        state = "pending" if board is not None and board.require_approval else "published"
        comment = Comment(idea_id=idea.id, parent_id=parent_id, author_id=user.id, body=body, state=state)
        session.add(comment)
        session.flush()
        if state == "published":
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(comment_count=Idea.comment_count + 1)
                .execution_options(synchronize_session=False)
            )
        _insert_ignore(session, Follow, {"idea_id": idea.id, "user_id": user.id, "created_at": utcnow()})
        _record(
            session,
            user,
            "portal_comment",
            comment.id,
            "create",
            {"idea_id": [None, idea.id], "body": [None, body], "state": [None, state]},
            idea.title,
        )
        demand.on_comment(session, comment, actor=portal_actor(user))
        events.emit(session, COMMENT_POSTED, {"comment_id": comment.id, "idea_id": idea.id, "state": state})
    return comment


def _own_comment(session: Session, ctx: PortalContext, comment_id: int) -> tuple[PortalUser, Comment, Idea]:
    user = _participant(ctx)
    comment = session.get(Comment, comment_id)
    if comment is None or comment.internal or comment.state == "deleted":
        raise NotFound("comment", comment_id)
    idea = visible_idea(session, ctx, comment.idea_id)
    if comment.author_id != user.id:
        raise PermissionDenied("You can change only your own comments.")
    return user, comment, idea


def can_edit_comment(comment: Any, user_id: int | None, now: dt.datetime | None = None) -> bool:
    return (
        user_id is not None
        and comment.author_id == user_id
        and comment.state != "deleted"
        and (now or utcnow()) - comment.created_at <= EDIT_WINDOW
    )


def edit_comment(session: Session, ctx: PortalContext, comment_id: int, body: str) -> Comment:
    text = check_comment(body)
    with transaction(session):
        user, comment, idea = _own_comment(session, ctx, comment_id)
        if not can_edit_comment(comment, user.id):
            raise Conflict(None, "Comments can be edited for a day after posting. Add a new comment instead.")
        if text != comment.body:
            _record(session, user, "portal_comment", comment.id, "update", {"body": [comment.body, text]}, idea.title)
            comment.body = text
            comment.edited_at = utcnow()
            demand.on_comment(session, comment, actor=portal_actor(user))
    return comment


def delete_comment(session: Session, ctx: PortalContext, comment_id: int) -> int:
    """Delete one's own comment (its replies stay, under a "deleted" placeholder). Returns the idea id."""
    with transaction(session):
        user, comment, idea = _own_comment(session, ctx, comment_id)
        before = comment.state
        comment.state = "deleted"
        if before == "published":
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(comment_count=Idea.comment_count - 1)
                .execution_options(synchronize_session=False)
            )
        _record(session, user, "portal_comment", comment.id, "delete", {"state": [before, "deleted"]}, idea.title)
        demand.on_comment_deleted(session, comment, actor=portal_actor(user))
        return idea.id


# --- similar ideas -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarIdea:
    id: int
    title: str
    vote_count: int
    board_slug: str


SIMILAR_POOL = 300


def similar_ideas(session: Session, ctx: PortalContext, q: str, *, limit: int = 5) -> list[SimilarIdea]:
    """Published ideas on the boards this visitor may see whose titles share words with ``q``: candidates are the
    most-voted ideas containing any of the words (at most :data:`SIMILAR_POOL`), ranked by BM25 on their titles
    (the platform's text search), ties by votes."""
    words = [t for t in textsearch.terms((q or "")[:500]) if len(t) >= 3]
    if len((q or "").strip()) < MIN_SIMILAR_QUERY or not words:
        return []
    boards = {b.id: b.slug for b in ctx.boards(session)}
    if not boards:
        return []
    rows = session.execute(
        select(Idea.id, Idea.title, Idea.vote_count, Idea.board_id)
        .where(
            Idea.board_id.in_(list(boards)),
            Idea.state == "published",
            or_(*[contains(Idea.title, w) for w in words]),
        )
        .order_by(Idea.vote_count.desc(), Idea.id.desc())
        .limit(SIMILAR_POOL)
    ).all()
    if not rows:
        return []
    scores = textsearch.bm25([r.title for r in rows], words)
    order = np.argsort(-np.asarray(scores), kind="stable")[:limit]
    return [
        SimilarIdea(rows[i].id, rows[i].title, rows[i].vote_count, boards[rows[i].board_id])
        for i in order
        if scores[i] > 0
    ]


def my_votes(session: Session, user_id: int | None, idea_ids: list[int]) -> set[int]:
    """Which of these ideas the user voted for (one statement)."""
    if user_id is None or not idea_ids:
        return set()
    return set(session.scalars(select(Vote.idea_id).where(Vote.user_id == user_id, Vote.idea_id.in_(idea_ids))))


def follows(session: Session, user_id: int | None, idea_id: int) -> bool:
    if user_id is None:
        return False
    found = select(func.count()).select_from(Follow).where(Follow.user_id == user_id, Follow.idea_id == idea_id)
    return bool(session.scalar(found))
