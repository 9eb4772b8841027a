"""Roadmap and changelog reads: the public now / next / later columns, published changelog entries with their
ideas, and the staff editor's lists. Never commits.

An idea's place on the roadmap comes from the *kind* of its feature's status (the lifecycle of the feature's
product, else the workspace's, else the built-in one): ``active`` is *now*, ``planned`` is *next*,
``considering`` is *later*. The kind is computed in SQL from the lifecycles in play, so a column is one
bounded statement whatever the number of ideas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.features import service as features
from prodops.domains.features.schemas import StatusOut
from prodops.domains.portal.models import Board, ChangelogEntry, ChangelogIdea, Idea, Portal
from prodops.platform.listing import Page, check_page

#: Roadmap columns: (key, heading, status kind, what the kind means on the page).
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("now", "Now", "active", "in progress"),
    ("next", "Next", "planned", "planned"),
    ("later", "Later", "considering", "under consideration"),
)
COLUMN_LIMIT = 50


@dataclass(frozen=True)
class RoadmapIdea:
    id: int
    title: str
    board_slug: str
    board_name: str
    vote_count: int
    comment_count: int
    status_label: str
    status_kind: str


@dataclass(frozen=True)
class RoadmapColumn:
    key: str
    heading: str
    kind: str
    meaning: str
    total: int
    ideas: list[RoadmapIdea] = field(default_factory=list)


@dataclass(frozen=True)
class LinkedIdea:
    id: int
    title: str
    vote_count: int


@dataclass(frozen=True)
class EntryView:
    id: int
    portal_id: int
    title: str
    body: str
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    ideas: list[LinkedIdea] = field(default_factory=list)


@dataclass(frozen=True)
class ShippableIdea:
    id: int
    title: str
    board_name: str
    vote_count: int
    status_label: str
    status_kind: str


# --- feature status kinds in SQL -------------------------------------------------------------


@dataclass(frozen=True)
class _Lifecycles:
    """The lifecycles of the products in play: per-product ones and the one the others follow."""

    own: dict[int, list[StatusOut]]
    shared: list[StatusOut]

    def status(self, product_id: int | None, key: str) -> StatusOut | None:
        statuses = self.own.get(product_id, self.shared) if product_id is not None else self.shared
        return next((s for s in statuses if s.key == key), None)


def _lifecycles(session: Session, product_ids: Iterable[int | None]) -> _Lifecycles:
    own: dict[int, list[StatusOut]] = {}
    for product_id in sorted({p for p in product_ids if p is not None}):
        statuses = features.statuses_for(session, product_id)
        if statuses and statuses[0].source == "product":
            own[product_id] = statuses
    return _Lifecycles(own, features.statuses_for(session, None))


def _kind_expr(lifecycles: _Lifecycles, product: Any, status: Any) -> ColumnElement[str]:
    """``CASE`` giving the status kind of a feature row (``idea`` for an unknown key, as the features domain)."""
    whens: list[tuple[ColumnElement[bool], str]] = []
    for product_id, statuses in lifecycles.own.items():
        whens.extend((and_(product == product_id, status == s.key), s.kind) for s in statuses)
    # Features of products without a lifecycle of their own follow the shared one (NOT IN drops NULL products).
    others: ColumnElement[bool] = true()
    if lifecycles.own:
        others = or_(product.is_(None), product.not_in(list(lifecycles.own)))
    whens.extend((and_(others, status == s.key), s.kind) for s in lifecycles.shared)
    if not whens:
        return literal("idea")
    return case(*whens, else_=literal("idea"))


def _facts() -> Any:
    return features.feature_facts().subquery("facts")


def _products_in_play(session: Session, facts: Any, where: ColumnElement[bool]) -> list[int | None]:
    stmt = select(facts.c.product_id).select_from(Idea).join(facts, facts.c.feature_id == Idea.feature_id)
    return list(session.scalars(stmt.where(where).distinct()))


# --- the public roadmap ----------------------------------------------------------------------


def roadmap(session: Session, board_ids: Sequence[int], *, limit: int = COLUMN_LIMIT) -> list[RoadmapColumn]:
    """The now / next / later columns of the published ideas on ``board_ids`` (the boards the viewer may see),
    most votes first, at most ``limit`` per column with each column's total."""
    columns = {key: RoadmapColumn(key, heading, kind, meaning, 0) for key, heading, kind, meaning in COLUMNS}
    if not board_ids:
        return list(columns.values())
    facts = _facts()
    scope = and_(Idea.board_id.in_(list(board_ids)), Idea.state == "published")
    lifecycles = _lifecycles(session, _products_in_play(session, facts, scope))
    kind = _kind_expr(lifecycles, facts.c.product_id, facts.c.status)
    wanted = [kind_ for _, _, kind_, _ in COLUMNS]
    inner = (
        select(
            Idea.id,
            Idea.title,
            Idea.vote_count,
            Idea.comment_count,
            Board.slug.label("board_slug"),
            Board.name.label("board_name"),
            facts.c.product_id,
            facts.c.status,
            kind.label("kind"),
            func.row_number().over(partition_by=kind, order_by=(Idea.vote_count.desc(), Idea.id.desc())).label("rank"),
            func.count().over(partition_by=kind).label("total"),
        )
        .join(Board, Board.id == Idea.board_id)
        .join(facts, facts.c.feature_id == Idea.feature_id)
        .where(scope, facts.c.merged_into_id.is_(None), kind.in_(wanted))
        .subquery("ranked")
    )
    stmt = select(inner).where(inner.c.rank <= limit).order_by(inner.c.kind, inner.c.rank)
    by_kind = {c.kind: c for c in columns.values()}
    rows: dict[str, list[RoadmapIdea]] = {k: [] for k in by_kind}
    totals: dict[str, int] = {}
    for row in session.execute(stmt):
        status = lifecycles.status(row.product_id, row.status)
        rows[row.kind].append(
            RoadmapIdea(
                id=row.id,
                title=row.title,
                board_slug=row.board_slug,
                board_name=row.board_name,
                vote_count=row.vote_count,
                comment_count=row.comment_count,
                status_label=status.label if status else row.status,
                status_kind=row.kind,
            )
        )
        totals[row.kind] = row.total
    return [
        RoadmapColumn(c.key, c.heading, c.kind, c.meaning, totals.get(c.kind, 0), rows[c.kind])
        for c in columns.values()
    ]


# --- the changelog ---------------------------------------------------------------------------


def _linked_ideas(
    session: Session, entry_ids: Sequence[int], board_ids: Sequence[int] | None
) -> dict[int, list[LinkedIdea]]:
    """The ideas linked to each entry, most votes first; only published ideas on ``board_ids`` when given (the
    public view), every linked idea otherwise (staff)."""
    found: dict[int, list[LinkedIdea]] = {e: [] for e in entry_ids}
    if not entry_ids:
        return found
    stmt = (
        select(ChangelogIdea.entry_id, Idea.id, Idea.title, Idea.vote_count)
        .join(Idea, Idea.id == ChangelogIdea.idea_id)
        .where(ChangelogIdea.entry_id.in_(list(entry_ids)))
        .order_by(ChangelogIdea.entry_id, Idea.vote_count.desc(), Idea.id)
    )
    if board_ids is not None:
        stmt = stmt.where(Idea.board_id.in_(list(board_ids)), Idea.state == "published")
    for entry_id, idea_id, title, votes in session.execute(stmt):
        found[entry_id].append(LinkedIdea(idea_id, title, votes))
    return found


def _entry_view(entry: ChangelogEntry, ideas: list[LinkedIdea]) -> EntryView:
    return EntryView(
        id=entry.id,
        portal_id=entry.portal_id,
        title=entry.title,
        body=entry.body,
        published_at=entry.published_at,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        ideas=ideas,
    )


def published_entries(
    session: Session, portal_id: int, board_ids: Sequence[int], *, page: int = 1, per_page: int = 20
) -> Page[EntryView]:
    """A portal's published changelog, newest first, each with its linked ideas the viewer may see."""
    check_page(page, per_page)
    where = and_(ChangelogEntry.portal_id == portal_id, ChangelogEntry.published_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(ChangelogEntry).where(where)) or 0
    stmt = (
        select(ChangelogEntry)
        .where(where)
        .order_by(ChangelogEntry.published_at.desc(), ChangelogEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    entries = list(session.scalars(stmt))
    ideas = _linked_ideas(session, [e.id for e in entries], board_ids)
    return Page([_entry_view(e, ideas[e.id]) for e in entries], total, page, per_page)


def published_entry(session: Session, portal_id: int, entry_id: int, board_ids: Sequence[int]) -> EntryView | None:
    entry = session.get(ChangelogEntry, entry_id)
    if entry is None or entry.portal_id != portal_id or entry.published_at is None:
        return None
    return _entry_view(entry, _linked_ideas(session, [entry.id], board_ids)[entry.id])


def last_published(session: Session, portal_id: int) -> dt.datetime | None:
    """When the portal's changelog last changed (the feed's ``updated``)."""
    stmt = select(func.max(ChangelogEntry.updated_at)).where(
        ChangelogEntry.portal_id == portal_id, ChangelogEntry.published_at.is_not(None)
    )
    return session.scalar(stmt)


# --- the staff editor ------------------------------------------------------------------------


def staff_entries(
    session: Session, portal_id: int | None = None, *, page: int = 1, per_page: int = 50
) -> tuple[Page[EntryView], dict[int, str]]:
    """Every entry (drafts first, then newest published), with all linked ideas, and portal id → name."""
    check_page(page, per_page)
    where: ColumnElement[bool] = ChangelogEntry.portal_id == portal_id if portal_id else literal(True)
    total = session.scalar(select(func.count()).select_from(ChangelogEntry).where(where)) or 0
    stmt = (
        select(ChangelogEntry)
        .where(where)
        .order_by(
            ChangelogEntry.published_at.is_not(None),
            ChangelogEntry.published_at.desc(),
            ChangelogEntry.updated_at.desc(),
            ChangelogEntry.id.desc(),
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    entries = list(session.scalars(stmt))
    ideas = _linked_ideas(session, [e.id for e in entries], None)
    return Page([_entry_view(e, ideas[e.id]) for e in entries], total, page, per_page), portal_names(session)


def staff_entry(session: Session, entry_id: int) -> EntryView | None:
    entry = session.get(ChangelogEntry, entry_id)
    if entry is None:
        return None
    return _entry_view(entry, _linked_ideas(session, [entry.id], None)[entry.id])


def portal_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Portal.id, Portal.name).order_by(Portal.name, Portal.id)).all())


def shippable_ideas(
    session: Session, portal_id: int, *, q: str = "", include: Sequence[int] = (), limit: int = 100
) -> list[ShippableIdea]:
    """Ideas of a portal an entry may announce: published ideas whose feature shipped (most votes first), plus
    the ideas in ``include`` (already linked) whatever their status."""
    facts = _facts()
    scope = and_(Board.portal_id == portal_id, Idea.state == "published")
    in_portal = Idea.board_id.in_(select(Board.id).where(Board.portal_id == portal_id))
    lifecycles = _lifecycles(session, _products_in_play(session, facts, and_(in_portal, Idea.state == "published")))
    kind = _kind_expr(lifecycles, facts.c.product_id, facts.c.status)
    condition = and_(scope, kind == "shipped")
    if q.strip():
        condition = and_(condition, func.lower(Idea.title).contains(q.strip().lower(), autoescape=True))
    if include:
        condition = or_(condition, and_(Board.portal_id == portal_id, Idea.id.in_(list(include))))
    stmt = (
        select(Idea.id, Idea.title, Board.name, Idea.vote_count, facts.c.product_id, facts.c.status, kind)
        .join(Board, Board.id == Idea.board_id)
        .join(facts, facts.c.feature_id == Idea.feature_id)
        .where(condition)
        .order_by(Idea.vote_count.desc(), Idea.id.desc())
        .limit(limit)
    )
    out: list[ShippableIdea] = []
    for idea_id, title, board_name, votes, product_id, status_key, kind_value in session.execute(stmt):
        status = lifecycles.status(product_id, status_key)
        out.append(ShippableIdea(idea_id, title, board_name, votes, status.label if status else status_key, kind_value))
    return out
