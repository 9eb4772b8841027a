"""What staff read about portal ideas: the filtered idea list, one idea with its voters (accounts and ARR) and every
comment including internal notes, the moderation queue, a feature's ideas, and pickers. Never commits; every list
is bounded and read in a fixed number of statements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import Condition
from prodops.domains.features import service as features
from prodops.domains.features.schemas import StatusOut
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, PortalUser, Vote
from prodops.domains.portal.schemas import CommentOut, IdeaFilters, IdeaOut, IdeaPage, VoterOut
from prodops.platform.errors import NotFound
from prodops.platform.identity.models import User
from prodops.platform.listing import contains

_SORTS: dict[str, Any] = {
    "votes": Idea.vote_count,
    "created": Idea.created_at,
    "comments": Idea.comment_count,
    "title": Idea.title,
}


class _Lifecycles:
    """Status labels and kinds per product, read once per product per request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int | None, dict[str, StatusOut]] = {}

    def status(self, product_id: int | None, key: str) -> tuple[str, str]:
        if product_id not in self.cache:
            self.cache[product_id] = {s.key: s for s in features.statuses_for(self.session, product_id)}
        found = self.cache[product_id].get(key)
        return (found.label, found.kind) if found is not None else (key.replace("_", " ").capitalize(), "idea")


def _idea_select() -> tuple[Select[Any], Any]:
    facts = features.feature_facts().subquery("ff")
    stmt = (
        select(
            Idea,
            Board.name,
            Board.portal_id,
            Portal.slug,
            facts.c.status,
            facts.c.product_id,
            PortalUser.name,
            PortalUser.email,
        )
        .join(Board, Board.id == Idea.board_id)
        .join(Portal, Portal.id == Board.portal_id)
        .join(facts, facts.c.feature_id == Idea.feature_id)
        .outerjoin(PortalUser, PortalUser.id == Idea.author_id)
    )
    return stmt, facts


def _idea_out(row: Any, lifecycles: _Lifecycles) -> IdeaOut:
    idea, board_name, portal_id, slug, status, product_id, author_name, author_email = row
    label, kind = lifecycles.status(product_id, status)
    return IdeaOut(
        id=idea.id,
        portal_id=portal_id,
        portal_slug=slug,
        board_id=idea.board_id,
        board_name=board_name,
        feature_id=idea.feature_id,
        title=idea.title,
        body=idea.body,
        state=idea.state,
        status=status,
        status_label=label,
        status_kind=kind,
        author_id=idea.author_id,
        author_name=(author_name or author_email or "Deleted user") if idea.author_id else None,
        author_email=author_email,
        created_by_id=idea.created_by_id,
        merged_into_id=idea.merged_into_id,
        vote_count=idea.vote_count,
        comment_count=idea.comment_count,
        created_at=idea.created_at,
        updated_at=idea.updated_at,
    )


def list_ideas(session: Session, f: IdeaFilters) -> IdeaPage:
    """Ideas across portals, filtered and sorted; two statements plus one per product lifecycle shown."""
    stmt, facts = _idea_select()
    where: list[Any] = []
    if f.portal_id is not None:
        where.append(Board.portal_id == f.portal_id)
    if f.board_id is not None:
        where.append(Idea.board_id == f.board_id)
    if f.state is not None:
        where.append(Idea.state == f.state)
    else:
        where.append(Idea.state.not_in(("deleted", "merged")))
    if f.status is not None:
        where.append(facts.c.status == f.status)
    if f.q:
        where.append(contains(Idea.title, f.q))
    stmt = stmt.where(*where)
    count = select(func.count(Idea.id)).join(Board, Board.id == Idea.board_id)
    if f.status is not None:
        count = count.join(facts, facts.c.feature_id == Idea.feature_id)
    total = session.scalar(count.where(*where)) or 0
    key = f.sort.lstrip("-")
    column = _SORTS[key]
    order = column.desc() if f.sort.startswith("-") else column.asc()
    stmt = stmt.order_by(order, Idea.id.desc()).limit(f.per_page).offset((f.page - 1) * f.per_page)
    lifecycles = _Lifecycles(session)
    items = [_idea_out(row, lifecycles) for row in session.execute(stmt)]
    return IdeaPage(items=items, total=total, page=f.page, per_page=f.per_page)


def get_idea(session: Session, idea_id: int) -> IdeaOut:
    stmt, _ = _idea_select()
    row = session.execute(stmt.where(Idea.id == idea_id)).first()
    if row is None:
        raise NotFound("idea", idea_id)
    return _idea_out(row, _Lifecycles(session))


def state_counts(session: Session, portal_id: int | None = None) -> dict[str, int]:
    stmt = select(Idea.state, func.count(Idea.id)).join(Board, Board.id == Idea.board_id).group_by(Idea.state)
    if portal_id is not None:
        stmt = stmt.where(Board.portal_id == portal_id)
    return {row[0]: row[1] for row in session.execute(stmt)}


def voters(session: Session, idea_id: int, *, limit: int = 200) -> list[VoterOut]:
    """The idea's voters, most valuable accounts first: person, account, ARR and who cast proxy votes."""
    people = customers.person_accounts().subquery("pa")
    accounts = customers.account_facts().subquery("af")
    caster = aliased(User)
    stmt = (
        select(
            Vote.id,
            Vote.user_id,
            Vote.cast_by_id,
            Vote.created_at,
            PortalUser.name,
            PortalUser.email,
            PortalUser.person_id,
            people.c.account_id,
            accounts.c.name,
            accounts.c.arr,
            caster.name,
            caster.email,
        )
        .join(PortalUser, PortalUser.id == Vote.user_id)
        .outerjoin(people, people.c.person_id == PortalUser.person_id)
        .outerjoin(accounts, accounts.c.account_id == people.c.account_id)
        .outerjoin(caster, caster.id == Vote.cast_by_id)
        .where(Vote.idea_id == idea_id)
        .order_by(func.coalesce(accounts.c.arr, -1).desc(), Vote.created_at.desc(), Vote.id.desc())
        .limit(limit)
    )
    found = []
    for row in session.execute(stmt):
        found.append(
            VoterOut(
                vote_id=row[0],
                user_id=row[1],
                cast_by_id=row[2],
                created_at=row[3],
                name=row[4] or row[5] or "Deleted user",
                email=row[5],
                person_id=row[6],
                account_id=row[7],
                account_name=row[8],
                arr=float(row[9]) if row[9] is not None else None,
                cast_by_name=(row[10] or row[11]) if row[2] is not None else None,
            )
        )
    return found


@dataclass(frozen=True)
class DemandSummary:
    """What the voters are worth: distinct accounts and their summed ARR (each account once)."""

    voters: int
    accounts: int
    arr: float
    followers: int


def demand_summary(session: Session, idea_id: int) -> DemandSummary:
    people = customers.person_accounts().subquery("pa")
    accounts = customers.account_facts().subquery("af")
    distinct_accounts = (
        select(accounts.c.account_id, accounts.c.arr)
        .join(people, people.c.account_id == accounts.c.account_id)
        .join(PortalUser, PortalUser.person_id == people.c.person_id)
        .join(Vote, Vote.user_id == PortalUser.id)
        .where(Vote.idea_id == idea_id)
        .distinct()
        .subquery("da")
    )
    n, arr = session.execute(
        select(func.count(distinct_accounts.c.account_id), func.coalesce(func.sum(distinct_accounts.c.arr), 0))
    ).one()
    votes = session.scalar(select(func.count(Vote.id)).where(Vote.idea_id == idea_id)) or 0
    follows = session.scalar(select(func.count(Follow.id)).where(Follow.idea_id == idea_id)) or 0
    return DemandSummary(voters=votes, accounts=int(n or 0), arr=float(arr or 0), followers=follows)


def vote_series(
    session: Session, idea_id: int, *, days: int = 90, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Votes per week over the last ``days`` (for the idea's chart); weeks without votes are zero."""
    now = now or dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(days=days)).date()
    start = start - dt.timedelta(days=start.weekday())
    stamps = session.scalars(
        select(Vote.created_at).where(
            Vote.idea_id == idea_id, Vote.created_at >= dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        )
    )
    weeks: dict[dt.date, int] = {}
    day = start
    while day <= now.date():
        weeks[day] = 0
        day += dt.timedelta(days=7)
    for stamp in stamps:
        week = stamp.date() - dt.timedelta(days=stamp.weekday())
        if week in weeks:
            weeks[week] += 1
    return [{"week": w.isoformat(), "votes": n} for w, n in weeks.items()]


def comments(session: Session, idea_id: int, *, include_internal: bool = True) -> list[CommentOut]:
    """Every comment of an idea (threads in order), internal notes included for staff."""
    staff = aliased(User)
    stmt = (
        select(Comment, PortalUser.name, PortalUser.email, staff.name, staff.email)
        .outerjoin(PortalUser, PortalUser.id == Comment.author_id)
        .outerjoin(staff, staff.id == Comment.staff_author_id)
        .where(Comment.idea_id == idea_id)
        .order_by(Comment.created_at, Comment.id)
    )
    if not include_internal:
        stmt = stmt.where(Comment.internal.is_(False))
    found = []
    for comment, name, email, staff_name, staff_email in session.execute(stmt):
        found.append(
            CommentOut(
                id=comment.id,
                idea_id=comment.idea_id,
                parent_id=comment.parent_id,
                author_id=comment.author_id,
                author_name=(name or email or "Deleted user") if comment.author_id else None,
                staff_author_id=comment.staff_author_id,
                staff_author_name=(staff_name or staff_email) if comment.staff_author_id else None,
                body=comment.body,
                official=comment.official,
                internal=comment.internal,
                state=comment.state,
                created_at=comment.created_at,
                edited_at=comment.edited_at,
            )
        )
    return found


@dataclass(frozen=True)
class PendingComment:
    comment: CommentOut
    idea_id: int
    idea_title: str
    portal_slug: str
    board_name: str


def pending_comments(session: Session, portal_id: int | None = None, *, limit: int = 200) -> list[PendingComment]:
    stmt = (
        select(Comment, Idea.title, Portal.slug, Board.name, PortalUser.name, PortalUser.email)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .join(Portal, Portal.id == Board.portal_id)
        .outerjoin(PortalUser, PortalUser.id == Comment.author_id)
        .where(Comment.state == "pending")
        .order_by(Comment.created_at, Comment.id)
        .limit(limit)
    )
    if portal_id is not None:
        stmt = stmt.where(Board.portal_id == portal_id)
    found = []
    for comment, title, slug, board_name, name, email in session.execute(stmt):
        out = CommentOut(
            id=comment.id,
            idea_id=comment.idea_id,
            parent_id=comment.parent_id,
            author_id=comment.author_id,
            author_name=(name or email or "Deleted user") if comment.author_id else None,
            staff_author_id=None,
            staff_author_name=None,
            body=comment.body,
            official=False,
            internal=False,
            state=comment.state,
            created_at=comment.created_at,
            edited_at=comment.edited_at,
        )
        found.append(PendingComment(out, comment.idea_id, title, slug, board_name))
    return found


def queue_size(session: Session) -> int:
    ideas = session.scalar(select(func.count(Idea.id)).where(Idea.state == "pending")) or 0
    comments_ = session.scalar(select(func.count(Comment.id)).where(Comment.state == "pending")) or 0
    return ideas + comments_


def ideas_for_feature(session: Session, feature_id: int) -> list[IdeaOut]:
    """The portal ideas that are the public face of a feature (for its page), most voted first."""
    stmt, _ = _idea_select()
    stmt = stmt.where(Idea.feature_id == feature_id, Idea.state != "deleted").order_by(Idea.vote_count.desc()).limit(50)
    lifecycles = _Lifecycles(session)
    return [_idea_out(row, lifecycles) for row in session.execute(stmt)]


def merge_choices(session: Session, idea: IdeaOut, q: str = "", *, limit: int = 20) -> list[IdeaOut]:
    """Ideas of the same portal an idea can be merged into (published or pending, not itself)."""
    stmt, _ = _idea_select()
    stmt = stmt.where(Board.portal_id == idea.portal_id, Idea.id != idea.id, Idea.state.in_(("published", "pending")))
    if q.strip():
        stmt = stmt.where(contains(Idea.title, q.strip()))
    stmt = stmt.order_by(Idea.vote_count.desc(), Idea.id).limit(limit)
    lifecycles = _Lifecycles(session)
    return [_idea_out(row, lifecycles) for row in session.execute(stmt)]


@dataclass(frozen=True)
class PersonChoice:
    person_id: int
    email: str
    name: str
    account_name: str | None


def people_search(session: Session, q: str, *, limit: int = 10) -> list[PersonChoice]:
    """Customers people whose name or e-mail contains ``q`` (for "vote on behalf of")."""
    q = q.strip()
    if len(q) < 2:
        return []
    clause = or_(
        customers.person_filter([Condition(field="name", op="contains", value=q)]),
        customers.person_filter([Condition(field="email", op="contains", value=q)]),
    )
    ids = [row[0] for row in session.execute(customers.person_accounts().where(clause).limit(limit))]
    people = customers.people_by_id(session, ids)
    return [
        PersonChoice(p.id, p.email, p.name, p.account_name)
        for p in sorted(people.values(), key=lambda p: (p.name or p.email).lower())
    ]


def portal_choices(session: Session) -> list[tuple[int, str]]:
    return [(row[0], row[1]) for row in session.execute(select(Portal.id, Portal.name).order_by(Portal.name))]


def board_choices(session: Session, portal_id: int | None = None) -> list[tuple[int, str]]:
    stmt = select(Board.id, Board.name, Portal.name).join(Portal, Portal.id == Board.portal_id)
    if portal_id is not None:
        stmt = stmt.where(Board.portal_id == portal_id)
    stmt = stmt.order_by(Portal.name, Board.position, Board.name)
    return [(row[0], row[1] if portal_id is not None else f"{row[2]} · {row[1]}") for row in session.execute(stmt)]


def status_choices(session: Session) -> list[tuple[str, str]]:
    """Status keys of the workspace lifecycle and every product's (label once per key)."""
    seen: dict[str, str] = {}
    for product in [None, *(p[0] for p in session.execute(select(Board.product_id).distinct()) if p[0] is not None)]:
        for status in features.statuses_for(session, product):
            seen.setdefault(status.key, status.label)
    return list(seen.items())
