"""Reads behind the customer-facing portal pages: boards with their idea counts, a board's ideas (sorted, filtered,
searched, paginated on the ``(board_id, state, vote_count)`` index), one idea with its comments, and what the
visitor has voted for or follows. Each page's reads are a fixed number of statements, whatever the data size."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, and_, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.features import service as features
from prodops.domains.portal.models import Board, Comment, Idea, PortalUser, Vote
from prodops.domains.portal.service.ideas import EDIT_WINDOW
from prodops.platform.errors import ValidationFailed
from prodops.platform.listing import Page, check_page, contains


def idea_counts(session: Session, board_ids: list[int]) -> dict[int, int]:
    """Published ideas per board, in one statement."""
    if not board_ids:
        return {}
    rows = session.execute(
        select(Idea.board_id, func.count())
        .where(Idea.board_id.in_(board_ids), Idea.state == "published")
        .group_by(Idea.board_id)
    )
    return {board_id: int(n) for board_id, n in rows}


def board_summaries(session: Session, boards: list[Board]) -> list[dict[str, object]]:
    counts = idea_counts(session, [b.id for b in boards])
    return [
        {"id": b.id, "slug": b.slug, "name": b.name, "description": b.description, "idea_count": counts.get(b.id, 0)}
        for b in boards
    ]


# --- a board's ideas -----------------------------------------------------------------------------

SORTS = ("votes", "newest", "trending")
PER_PAGE = 20


@dataclass(frozen=True)
class IdeaRow:
    id: int
    title: str
    excerpt: str
    vote_count: int
    comment_count: int
    created_at: dt.datetime
    state: str
    status_label: str
    status_kind: str
    voted: bool = False


def _age_days(session: Session) -> ColumnElement[Any]:
    """Days since an idea was posted, in SQL (for the trending sort)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", func.now() - Idea.created_at) / 86400.0
    return func.julianday("now") - func.julianday(Idea.created_at)


def _trending(session: Session) -> ColumnElement[Any]:
    """Votes weighed down by age: ``votes / (age in days + 1)²`` — a new idea that gathers votes fast rises
    above an old favourite (the gravity ranking news sites use)."""
    age = _age_days(session) + 1.0
    return cast(Idea.vote_count, Float) / (age * age)


def _excerpt(body: str, width: int = 180) -> str:
    text = " ".join((body or "").split())
    for mark in ("**", "__", "`", "#", "> "):
        text = text.replace(mark, "")
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


def _rows(session: Session, ideas: Sequence[Any], voted: set[int]) -> list[IdeaRow]:
    found = features.features_by_id(session, [i.feature_id for i in ideas])
    rows = []
    for i in ideas:
        f = found.get(i.feature_id)
        rows.append(
            IdeaRow(
                id=i.id,
                title=i.title,
                excerpt=_excerpt(i.body),
                vote_count=i.vote_count,
                comment_count=i.comment_count,
                created_at=i.created_at,
                state=i.state,
                status_label=f.status_label if f is not None else "",
                status_kind=f.status_kind if f is not None else "idea",
                voted=i.id in voted,
            )
        )
    return rows


def board_ideas(
    session: Session,
    board: Board,
    *,
    sort: str = "votes",
    status: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    user_id: int | None = None,
) -> Page[IdeaRow]:
    """One page of a board's published ideas, sorted by votes (walks the ``(board_id, state, vote_count)``
    index), newest or trending, filtered by status and a search. Four statements whatever the board's size: the
    total, the page, their features' statuses, and the visitor's votes on them."""
    if sort not in SORTS:
        raise ValidationFailed("sort", f"Sort by one of: {', '.join(SORTS)}.")
    check_page(page, per_page)
    where: list[ColumnElement[bool]] = [Idea.board_id == board.id, Idea.state == "published"]
    if q:
        where.append(or_(contains(Idea.title, q), contains(Idea.body, q)))
    if status:
        facts = features.feature_facts().subquery()
        where.append(Idea.feature_id.in_(select(facts.c.feature_id).where(facts.c.status == status)))
    total = int(session.scalar(select(func.count()).select_from(Idea).where(*where)) or 0)
    stmt = select(
        Idea.id,
        Idea.feature_id,
        Idea.title,
        Idea.body,
        Idea.vote_count,
        Idea.comment_count,
        Idea.created_at,
        Idea.state,
    ).where(*where)
    if sort == "votes":
        stmt = stmt.order_by(Idea.vote_count.desc(), Idea.id.desc())
    elif sort == "newest":
        stmt = stmt.order_by(Idea.created_at.desc(), Idea.id.desc())
    else:
        stmt = stmt.order_by(_trending(session).desc(), Idea.id.desc())
    ideas = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all() if total else []
    voted = _voted(session, user_id, [i.id for i in ideas])
    return Page(items=_rows(session, ideas, voted), total=total, number=page, per_page=per_page)


def _voted(session: Session, user_id: int | None, idea_ids: list[int]) -> set[int]:
    if user_id is None or not idea_ids:
        return set()
    return set(session.scalars(select(Vote.idea_id).where(Vote.user_id == user_id, Vote.idea_id.in_(idea_ids))))


def my_pending(session: Session, board: Board, user_id: int | None) -> list[IdeaRow]:
    """The visitor's own ideas on this board that wait for approval (only they see them)."""
    if user_id is None:
        return []
    ideas = session.execute(
        select(
            Idea.id,
            Idea.feature_id,
            Idea.title,
            Idea.body,
            Idea.vote_count,
            Idea.comment_count,
            Idea.created_at,
            Idea.state,
        )
        .where(Idea.board_id == board.id, Idea.state == "pending", Idea.author_id == user_id)
        .order_by(Idea.created_at.desc())
        .limit(20)
    ).all()
    return _rows(session, ideas, set())


def status_choices(session: Session, board: Board) -> list[tuple[str, str]]:
    """The statuses of the board's product lifecycle as (key, label), for the filter."""
    return [(s.key, s.label) for s in features.statuses_for(session, board.product_id)]


# --- one idea ------------------------------------------------------------------------------------


@dataclass
class CommentView:
    id: int
    parent_id: int | None
    author: str
    is_team: bool
    official: bool
    body: str
    state: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    own: bool
    can_edit: bool
    replies: list[CommentView] = field(default_factory=list)


MAX_COMMENTS = 500


def idea_comments(session: Session, idea: Idea, user_id: int | None, now: dt.datetime) -> list[CommentView]:
    """The idea's threads as the portal shows them: published comments (and the visitor's own pending ones),
    never internal notes; a deleted comment with replies stays as a placeholder. Staff replies show as the team,
    never with a staff member's name. Two statements."""
    visible = or_(
        Comment.state.in_(("published", "deleted")), and_(Comment.state == "pending", Comment.author_id == user_id)
    )
    rows = session.execute(
        select(Comment, PortalUser.name)
        .outerjoin(PortalUser, PortalUser.id == Comment.author_id)
        .where(Comment.idea_id == idea.id, Comment.internal.is_(False), visible)
        .order_by(Comment.created_at, Comment.id)
        .limit(MAX_COMMENTS)
    ).all()
    views: dict[int, CommentView] = {}
    roots: list[CommentView] = []
    for c, author_name in rows:
        own = user_id is not None and c.author_id == user_id
        view = CommentView(
            id=c.id,
            parent_id=c.parent_id,
            author="" if c.staff_author_id is not None else (author_name or "A customer"),
            is_team=c.staff_author_id is not None,
            official=c.official,
            body=c.body if c.state != "deleted" else "",
            state=c.state,
            created_at=c.created_at,
            edited_at=c.edited_at,
            own=own and c.state != "deleted",
            can_edit=own and c.state != "deleted" and now - c.created_at <= EDIT_WINDOW,
        )
        views[c.id] = view
        parent = views.get(c.parent_id) if c.parent_id is not None else None
        if parent is not None:
            parent.replies.append(view)
        else:
            roots.append(view)
    # Deleted comments stay only as the placeholder of a thread that has replies.
    return [r for r in roots if r.state != "deleted" or r.replies]


def author_name(session: Session, idea: Idea) -> str:
    if idea.author_id is None:
        return "A customer" if idea.created_by_id is None else ""
    name = session.scalar(select(PortalUser.name).where(PortalUser.id == idea.author_id))
    return name or "A customer"
