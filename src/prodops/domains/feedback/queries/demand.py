"""Demand: how much customers want each feature, measured from the evidence linked to it. Never commits.

Definitions (the README's "Demand" section says the same):

- **Evidence** of a feature is its links (feedback items linked to it, see ``FeedbackLink``) and its votes
  (people who voted for it, e.g. on the portal). Only surviving features are ranked: when a feature is merged
  its links and votes move to the survivor, so nothing is counted twice or lost.
- **Linked items**: feedback items linked to the feature (an item counts once per feature).
- **Votes**: votes for the feature.
- **People**: distinct people among the authors of the linked items *and* the voters (a person who wrote
  three items and voted counts once). Items without a known author add no person.
- **Accounts**: distinct accounts among the linked items' accounts and the voters' current accounts.
- **ARR-weighted demand** (``arr``): the sum of the current ARR of those distinct accounts — each account
  counted once per feature, however many items, people or votes it brought.
- **Importance-weighted score** (``score``): the sum over the feature's links of
  ``IMPORTANCE_WEIGHTS[link.importance]`` (not important 0, nice to have 1, important 2, critical 4).
  Votes do not add to the score: they carry no importance; they count as people and accounts above.

Filters narrow the evidence before anything is counted: ``since``/``until`` (or ``period``, the last N days)
keep items received — and votes cast — in that window; ``plan``, ``segment``, ``region`` (account fields) and
``segment_id`` (a saved segment) keep evidence from matching accounts only (evidence without an account is
then left out); ``product_id`` keeps the features of one product.

Everything is computed with grouped SQL (no per-feature loop): ranking 2,000 features over 100,000 items is
one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from scipy.stats import binomtest
from sqlalchemy import Select, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureOut
from prodops.domains.feedback.models import IMPORTANCE_WEIGHTS, FeedbackItem, FeedbackLink
from prodops.domains.feedback.queries.items import items_out
from prodops.domains.feedback.schemas import FeedbackOut
from prodops.platform.db import utcnow
from prodops.platform.errors import NotFound, ValidationFailed

MEASURES: dict[str, str] = {
    "accounts": "Accounts",
    "arr": "ARR",
    "people": "People",
    "items": "Linked items",
    "score": "Importance score",
    "votes": "Votes",
}
SORTS = (*MEASURES, "title")
DEFAULT_SORT = "-accounts"
#: Equal values of the sort measure are ordered by this measure (descending), then by feature id.
TIEBREAK = {
    "accounts": "items",
    "arr": "accounts",
    "people": "items",
    "items": "score",
    "score": "items",
    "votes": "items",
}
PERIODS = {"30d": 30, "90d": 90, "180d": 180, "365d": 365}
DIMENSIONS = {"segment": "Segment", "plan": "Plan", "region": "Region"}
#: Below this many discordant accounts the exact test cannot reach p < 0.05 even when all lean one way.
MIN_DISCORDANT = 6


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class DemandFilters(BaseModel):
    """Query parameters of the demand pages and API."""

    model_config = ConfigDict(extra="forbid")

    product_id: int | None = Field(default=None, description="Only features of this product.")
    segment_id: int | None = Field(default=None, description="Only evidence from accounts in this saved segment.")
    plan: str | None = Field(default=None, max_length=60, description="Only evidence from accounts on this plan.")
    segment: str | None = Field(default=None, max_length=60, description="Only accounts of this segment field.")
    region: str | None = Field(default=None, max_length=60, description="Only evidence from accounts in this region.")
    period: Literal["30d", "90d", "180d", "365d"] | None = Field(
        default=None, description="Only evidence from the last 30, 90, 180 or 365 days."
    )
    since: dt.date | None = Field(default=None, description="Only evidence from this day on (UTC).")
    until: dt.date | None = Field(default=None, description="Only evidence up to and including this day (UTC).")
    q: str | None = Field(default=None, max_length=200, description="Feature titles containing this.")
    sort: str | None = Field(
        default=None, max_length=20, description=f"{', '.join(SORTS)}; `-` for descending (default `{DEFAULT_SORT}`)."
    )
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator(
        "product_id", "segment_id", "plan", "segment", "region", "period", "since", "until", "q", "sort", mode="before"
    )
    @classmethod
    def _blanks(cls, v: Any) -> Any:
        return _blank(v)

    @field_validator("sort")
    @classmethod
    def _sort(cls, v: str | None) -> str | None:
        if v is not None and v.lstrip("-") not in SORTS:
            raise ValueError(f"cannot sort by {v.lstrip('-')!r}; choose one of {', '.join(SORTS)}")
        return v

    @field_validator("until")
    @classmethod
    def _window(cls, v: dt.date | None, info: ValidationInfo) -> dt.date | None:
        since = info.data.get("since")
        if v is not None and since is not None and v < since:
            raise ValueError("until must not be before since")
        return v

    @property
    def measure(self) -> str:
        """The measure the list is sorted by (the chart shows it); ``title`` sorts fall back to accounts."""
        key = (self.sort or DEFAULT_SORT).lstrip("-")
        return key if key in MEASURES else "accounts"

    def window(self, now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[start, end)`` in UTC of the evidence counted."""
        start = end = None
        if self.period:
            start = (now or utcnow()) - dt.timedelta(days=PERIODS[self.period])
        if self.since:
            since = dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)
            start = max(start, since) if start else since
        if self.until:
            end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        return start, end

    def account_scoped(self) -> bool:
        return any(v is not None for v in (self.segment_id, self.plan, self.segment, self.region))


class DemandRow(BaseModel):
    """One feature's demand."""

    rank: int
    """Position in the ranking asked for (0 for one feature's totals)."""
    feature_id: int
    title: str
    product_id: int | None
    product_name: str | None = None
    status: str
    status_label: str | None = None
    status_kind: str | None = None
    items: int
    votes: int
    people: int
    accounts: int
    arr: float
    score: float


class DemandPage(BaseModel):
    items: list[DemandRow]
    total: int
    page: int
    per_page: int
    sort: str
    measure: str


class BreakdownRow(BaseModel):
    """Demand from the accounts sharing one value of a dimension (``value`` None: accounts without one)."""

    value: str | None
    accounts: int
    people: int
    items: int
    arr: float


class SeriesPoint(BaseModel):
    period: dt.date
    items: int
    votes: int
    new_accounts: int
    """Accounts whose first evidence for the feature falls in this period."""


class FeatureDemand(BaseModel):
    feature_id: int
    title: str
    totals: DemandRow | None
    """None when nothing matching the filters asks for the feature."""
    breakdown: dict[str, list[BreakdownRow]]
    interval: Literal["week", "month"]
    series: list[SeriesPoint]
    linked: list[FeedbackOut] = Field(default_factory=list)
    linked_total: int = 0


# --- the evidence, as SQL ---------------------------------------------------------------------


def _weight() -> ColumnElement[Any]:
    return case(dict(IMPORTANCE_WEIGHTS.items()), value=FeedbackLink.importance, else_=0.0)


def _account_ids(session: Session, f: DemandFilters) -> Select[Any] | None:
    """``SELECT account_id`` of the accounts the filters keep, or None when they keep every account."""
    if not f.account_scoped():
        return None
    facts = customers.account_facts().subquery("af")
    stmt = select(facts.c.account_id)
    for key in ("plan", "segment", "region"):
        value = getattr(f, key)
        if value is not None:
            stmt = stmt.where(facts.c[key] == value)
    if f.segment_id is not None:
        try:
            members = customers.segment_account_ids(session, f.segment_id)
        except NotFound as exc:
            raise ValidationFailed("segment_id", f"there is no saved segment {f.segment_id}") from exc
        stmt = stmt.where(facts.c.account_id.in_(members))
    return stmt


def _links(session: Session, f: DemandFilters, accounts: Select[Any] | None) -> Select[Any]:
    """One row per (link, item) kept by the filters: feature_id, item_id, person_id, account_id, weight, at."""
    start, end = f.window()
    stmt = select(
        FeedbackLink.feature_id.label("feature_id"),
        FeedbackItem.id.label("item_id"),
        FeedbackItem.person_id.label("person_id"),
        FeedbackItem.account_id.label("account_id"),
        _weight().label("weight"),
        FeedbackItem.received_at.label("at"),
    ).join(FeedbackItem, FeedbackItem.id == FeedbackLink.item_id)
    if start is not None:
        stmt = stmt.where(FeedbackItem.received_at >= start)
    if end is not None:
        stmt = stmt.where(FeedbackItem.received_at < end)
    if accounts is not None:
        stmt = stmt.where(FeedbackItem.account_id.in_(accounts))
    return stmt


def _votes(session: Session, f: DemandFilters, accounts: Select[Any] | None) -> Select[Any]:
    """One row per vote kept by the filters: feature_id, person_id, account_id (the voter's), at."""
    start, end = f.window()
    votes = features.vote_rows().subquery("v")
    people = customers.person_accounts().subquery("vp")
    stmt = select(
        votes.c.feature_id,
        votes.c.person_id,
        people.c.account_id,
        votes.c.created_at.label("at"),
    ).join(people, people.c.person_id == votes.c.person_id)
    if start is not None:
        stmt = stmt.where(votes.c.created_at >= start)
    if end is not None:
        stmt = stmt.where(votes.c.created_at < end)
    if accounts is not None:
        stmt = stmt.where(people.c.account_id.in_(accounts))
    return stmt


def _evidence(
    session: Session,
    f: DemandFilters,
    accounts: Select[Any] | None,
    who: Literal["person_id", "account_id"] | None,
    feature_ids: Sequence[int] | None = None,
    filtered: Any = None,
) -> Any:
    """The evidence as narrow rows — ``feature_id, [who], is_item, weight`` — of links and votes.

    Without filters the links are read alone (joined to their items only when ``who`` needs them), so each
    grouping streams the narrowest rows; with a period or account filter the rows come from ``filtered``, the
    filtered evidence computed once (:func:`_filtered_evidence`)."""
    if filtered is not None:
        cols: list[Any] = [filtered.c.feature_id]
        if who is not None:
            cols.append(filtered.c[who].label("who"))
        return select(*cols, filtered.c.is_item, filtered.c.weight).subquery(f"ev_{who or 'all'}")
    vote_stmt = _votes(session, f, accounts)
    vote_cols: list[Any] = [vote_stmt.selected_columns.feature_id]
    link_cols: list[Any] = [FeedbackLink.feature_id.label("feature_id")]
    if who is not None:
        vote_cols.append(vote_stmt.selected_columns[who].label("who"))
        link_cols.append(getattr(FeedbackItem, who).label("who"))
    links = select(*link_cols, literal(1).label("is_item"), _weight().label("weight"))
    if who is not None:
        links = links.join(FeedbackItem, FeedbackItem.id == FeedbackLink.item_id)
    votes = vote_stmt.with_only_columns(
        *vote_cols, literal(0).label("is_item"), literal(0.0).label("weight"), maintain_column_froms=True
    )
    if feature_ids is not None:
        links = links.where(FeedbackLink.feature_id.in_(feature_ids))
        votes = votes.where(vote_stmt.selected_columns.feature_id.in_(feature_ids))
    return union_all(links, votes).subquery(f"ev_{who or 'all'}")


def _filtered_evidence(
    session: Session, f: DemandFilters, accounts: Select[Any] | None, feature_ids: Sequence[int] | None
) -> Any:
    """With a period or account filter: the kept evidence — ``feature_id, person_id, account_id, is_item,
    weight`` — once, as a CTE the groupings share (filters usually keep a small part). None without a filter."""
    start, end = f.window()
    if start is None and end is None and accounts is None:
        return None
    links = _links(session, f, accounts)
    votes = _votes(session, f, accounts)
    if feature_ids is not None:
        links = links.where(FeedbackLink.feature_id.in_(feature_ids))
        votes = votes.where(votes.selected_columns.feature_id.in_(feature_ids))
    lk = links.subquery("lk")
    vt = votes.subquery("vt")
    return union_all(
        select(lk.c.feature_id, lk.c.person_id, lk.c.account_id, literal(1).label("is_item"), lk.c.weight),
        select(vt.c.feature_id, vt.c.person_id, vt.c.account_id, literal(0).label("is_item"), literal(0.0)),
    ).cte("ev")


def _demand_stmt(session: Session, f: DemandFilters, feature_ids: Sequence[int] | None = None) -> Select[Any]:
    """Every surviving feature with evidence, with all its measures, in one statement (sorted, not paginated).

    Independent groupings over narrow evidence rows — counts and score, distinct people, distinct accounts with
    their ARR — joined on the feature. Without filters each reads the tables directly (the counts need no item
    at all); with a period or account filter they share the kept evidence, computed once."""
    accounts = _account_ids(session, f)
    filtered = _filtered_evidence(session, f, accounts, feature_ids)
    every = _evidence(session, f, accounts, "person_id" if filtered is not None else None, feature_ids, filtered)
    sums = [
        func.sum(every.c.is_item).label("items"),
        func.sum(every.c.weight).label("score"),
        func.sum(1 - every.c.is_item).label("votes"),
    ]
    if filtered is not None:  # the kept evidence is materialised: count its people in the same pass
        counts = (
            select(every.c.feature_id, *sums, func.count(every.c.who.distinct()).label("people"))
            .group_by(every.c.feature_id)
            .subquery("li")
        )
        people = counts
    else:
        counts = select(every.c.feature_id, *sums).group_by(every.c.feature_id).subquery("li")
        persons = _evidence(session, f, accounts, "person_id", feature_ids)
        people = (
            select(persons.c.feature_id, func.count(persons.c.who.distinct()).label("people"))
            .group_by(persons.c.feature_id)
            .subquery("pp")
        )
    companies = _evidence(session, f, accounts, "account_id", feature_ids, filtered)
    pairs = (
        select(companies.c.feature_id, companies.c.who).where(companies.c.who.is_not(None)).distinct().subquery("fa")
    )
    facts = customers.account_facts().subquery("af")
    by_arr = (
        select(
            pairs.c.feature_id,
            func.count(facts.c.account_id).label("accounts"),
            func.sum(facts.c.arr).label("arr"),
        )
        .join(facts, facts.c.account_id == pairs.c.who)
        .group_by(pairs.c.feature_id)
        .subquery("ar")
    )
    feats = features.feature_facts().subquery("f")
    columns = {
        "items": func.coalesce(counts.c["items"], 0),
        "votes": func.coalesce(counts.c.votes, 0),
        "people": func.coalesce(people.c.people, 0),
        "accounts": func.coalesce(by_arr.c.accounts, 0),
        "arr": func.coalesce(by_arr.c.arr, 0),
        "score": func.coalesce(counts.c.score, 0),
        "title": feats.c.title,
    }
    stmt = (
        select(
            feats.c.feature_id,
            feats.c.title,
            feats.c.product_id,
            feats.c.status,
            *(columns[k].label(k) for k in MEASURES),
        )
        .select_from(counts)
        .join(feats, feats.c.feature_id == counts.c.feature_id)
        .outerjoin(by_arr, by_arr.c.feature_id == counts.c.feature_id)
        .where(feats.c.merged_into_id.is_(None))
    )
    if people is not counts:
        stmt = stmt.outerjoin(people, people.c.feature_id == counts.c.feature_id)
    if f.product_id is not None:
        stmt = stmt.where(feats.c.product_id == f.product_id)
    if f.q:
        stmt = stmt.where(feats.c.title.icontains(f.q, autoescape=True))
    key = f.sort or DEFAULT_SORT
    column = columns[key.lstrip("-")]
    primary = column.desc() if key.startswith("-") else column.asc()
    tiebreak = TIEBREAK.get(key.lstrip("-"))
    order = [primary] + ([columns[tiebreak].desc()] if tiebreak else [])
    return stmt.order_by(*order, feats.c.feature_id)


def _rows(session: Session, stmt: Select[Any]) -> list[DemandRow]:
    return [
        DemandRow(
            rank=n,
            feature_id=r.feature_id,
            title=r.title,
            product_id=r.product_id,
            status=r.status,
            items=int(r.items or 0),
            votes=int(r.votes or 0),
            people=int(r.people or 0),
            accounts=int(r.accounts or 0),
            arr=float(r.arr or 0),
            score=float(r.score or 0),
        )
        for n, r in enumerate(session.execute(stmt), start=1)
    ]


def _label(session: Session, rows: list[DemandRow]) -> list[DemandRow]:
    """Product names and status labels of a page of rows (one statement)."""
    found = features.features_by_id(session, [r.feature_id for r in rows]) if rows else {}
    for row in rows:
        feature = found.get(row.feature_id)
        if feature is not None:
            row.product_name = feature.product_name
            row.status_label = feature.status_label
            row.status_kind = feature.status_kind
    return rows


def ranking_rows(session: Session, f: DemandFilters) -> list[DemandRow]:
    """Every ranked feature with every measure (all pages, unlabelled): what the CSV export uses."""
    return _rows(session, _demand_stmt(session, f))


def evidence_rows(session: Session, feature_ids: Sequence[int] | None = None) -> list[Any]:
    """Every measure of the surviving features with evidence, unfiltered (only ``feature_ids`` when given), as
    plain rows (``feature_id, items, votes, people, accounts, arr, score``): callers asking about thousands of
    features build their own objects."""
    return list(session.execute(_demand_stmt(session, DemandFilters(), feature_ids)))


def _order_stmt(session: Session, f: DemandFilters) -> Select[Any]:
    """Every surviving feature with evidence, in ranking order, with only the sort measure and its tie-break:
    the narrowest rows that answer the question (a quarter of the cost of every measure), for pickers."""
    key = (f.sort or DEFAULT_SORT).lstrip("-")
    descending = (f.sort or DEFAULT_SORT).startswith("-")
    who: Literal["person_id", "account_id"] | None = (
        "person_id" if key == "people" else "account_id" if key in ("accounts", "arr") else None
    )
    accounts = _account_ids(session, f)
    evidence = _evidence(session, f, accounts, who, None, _filtered_evidence(session, f, accounts, None))
    items = func.sum(evidence.c.is_item)
    if key == "arr":
        pairs = select(evidence.c.feature_id, evidence.c.who).distinct().subquery("pa")
        facts = customers.account_facts().subquery("af")
        grouped = (
            select(
                pairs.c.feature_id,
                func.coalesce(func.sum(facts.c.arr), 0).label("value"),
                func.count(facts.c.account_id).label("tiebreak"),
            )
            .select_from(pairs)
            .outerjoin(facts, facts.c.account_id == pairs.c.who)
            .group_by(pairs.c.feature_id)
        )
    else:
        distinct_who: Any = func.count(evidence.c.who.distinct()) if who else items
        value: Any = {
            "accounts": distinct_who,
            "people": distinct_who,
            "items": items,
            "score": func.sum(evidence.c.weight),
            "votes": func.sum(1 - evidence.c.is_item),
            "title": items,
        }[key]
        tiebreak = func.sum(evidence.c.weight) if key == "items" else items
        grouped = select(evidence.c.feature_id, value.label("value"), tiebreak.label("tiebreak")).group_by(
            evidence.c.feature_id
        )
    measured = grouped.subquery("m")
    feats = features.feature_facts().subquery("f")
    stmt = (
        select(measured.c.feature_id, feats.c.title, measured.c.value)
        .join(feats, feats.c.feature_id == measured.c.feature_id)
        .where(feats.c.merged_into_id.is_(None))
    )
    if f.product_id is not None:
        stmt = stmt.where(feats.c.product_id == f.product_id)
    if f.q:
        stmt = stmt.where(feats.c.title.icontains(f.q, autoescape=True))
    primary: Any = feats.c.title if key == "title" else measured.c.value
    order = [primary.desc() if descending else primary.asc()]
    if key != "title":
        order.append(measured.c.tiebreak.desc())
    return stmt.order_by(*order, feats.c.feature_id)


def ranked(session: Session, f: DemandFilters, *, top: int = 0) -> tuple[DemandPage, list[DemandRow]]:
    """One page of the ranking, and the ``top`` features by the sort measure (for the chart), labelled.

    Two statements whatever the size: every measure of every feature (one grouped statement, sorted), and the
    product and status labels of the rows shown. (Ordering on the sort measure alone and measuring only the
    page was tried: the page's features carry most of the evidence, so it was slower.)"""
    rows = ranking_rows(session, f)
    start = (f.page - 1) * f.per_page
    page = rows[start : start + f.per_page]
    chart: list[DemandRow] = []
    if top:
        chart = sorted(rows, key=lambda r: (-getattr(r, f.measure), r.rank))[:top]
    _label(session, list({id(r): r for r in [*page, *chart]}.values()))
    return (
        DemandPage(
            items=page,
            total=len(rows),
            page=f.page,
            per_page=f.per_page,
            sort=f.sort or DEFAULT_SORT,
            measure=f.measure,
        ),
        chart,
    )


def ranking(session: Session, f: DemandFilters) -> DemandPage:
    """What customers want most: one page of features ranked by ``f.sort``, with product and status labels."""
    return ranked(session, f)[0]


def feature_totals(session: Session, f: DemandFilters) -> list[tuple[int, str, int]]:
    """(feature id, title, accounts) of every surviving feature with evidence, alphabetically (for pickers)."""
    stmt = _order_stmt(session, f.model_copy(update={"sort": "-accounts"}))
    rows = [(fid, title, int(value or 0)) for fid, title, value in session.execute(stmt)]
    return sorted(rows, key=lambda t: (t[1].lower(), t[0]))


def label_rows(session: Session, rows: list[DemandRow]) -> list[DemandRow]:
    return _label(session, rows)


# --- one feature --------------------------------------------------------------------------------


def _survivor(session: Session, feature_id: int) -> FeatureOut:
    return features.get_feature(session, features.resolve_feature_id(session, feature_id))


def _one_feature(
    session: Session, f: DemandFilters, feature: FeatureOut
) -> tuple[DemandRow | None, dict[str, list[BreakdownRow]]]:
    """A feature's totals and its breakdown by account segment, plan and region from one grouped statement (its
    evidence per account and person, with the account's facts), folded here — each account and person once."""
    accounts = _account_ids(session, f)
    lk = _links(session, f, accounts).where(FeedbackLink.feature_id == feature.id).subquery("lk")
    vt_stmt = _votes(session, f, accounts)
    vt = vt_stmt.where(vt_stmt.selected_columns.feature_id == feature.id).subquery("vt")
    evidence = union_all(
        select(lk.c.person_id, lk.c.account_id, literal(1).label("is_item"), lk.c.weight),
        select(vt.c.person_id, vt.c.account_id, literal(0).label("is_item"), literal(0.0).label("weight")),
    ).subquery("ev")
    facts = customers.account_facts().subquery("af")
    dims = [facts.c[dim] for dim in DIMENSIONS]
    stmt = (
        select(
            evidence.c.account_id,
            evidence.c.person_id,
            func.sum(evidence.c.is_item).label("items"),
            func.sum(evidence.c.weight).label("score"),
            func.count().label("evidence"),
            facts.c.arr,
            *dims,
        )
        .outerjoin(facts, facts.c.account_id == evidence.c.account_id)
        .group_by(evidence.c.account_id, evidence.c.person_id, facts.c.arr, *dims)
    )
    groups: dict[str, dict[str | None, tuple[set[int], set[int], list[float]]]] = {dim: {} for dim in DIMENSIONS}
    every_account: dict[int, float] = {}
    every_person: set[int] = set()
    items = votes = 0
    score = 0.0
    for row in session.execute(stmt):
        items += int(row.items or 0)
        votes += int(row.evidence) - int(row.items or 0)
        score += float(row.score or 0)
        if row.person_id is not None:
            every_person.add(row.person_id)
        if row.account_id is None:
            continue
        every_account[row.account_id] = float(row.arr or 0)
        for dim in DIMENSIONS:
            account_ids, person_ids, sums = groups[dim].setdefault(row._mapping[dim], (set(), set(), [0, 0.0]))
            if row.account_id not in account_ids:
                account_ids.add(row.account_id)
                sums[1] += float(row.arr or 0)
            if row.person_id is not None:
                person_ids.add(row.person_id)
            sums[0] += int(row.items or 0)
    breakdown: dict[str, list[BreakdownRow]] = {}
    for dim, by_value in groups.items():
        rows = [
            BreakdownRow(value=value, accounts=len(a), people=len(p), items=int(t[0]), arr=t[1])
            for value, (a, p, t) in by_value.items()
        ]
        breakdown[dim] = sorted(rows, key=lambda r: (-r.arr, -r.accounts, r.value or "~"))
    if not items and not votes:
        return None, breakdown
    totals = DemandRow(
        rank=0,
        feature_id=feature.id,
        title=feature.title,
        product_id=feature.product_id,
        product_name=feature.product_name,
        status=feature.status,
        status_label=feature.status_label,
        status_kind=feature.status_kind,
        items=items,
        votes=votes,
        people=len(every_person),
        accounts=len(every_account),
        arr=sum(every_account.values()),
        score=score,
    )
    return totals, breakdown


def _bucket(at: dt.datetime, interval: str) -> dt.date:
    day = at.astimezone(dt.UTC).date()
    if interval == "month":
        return day.replace(day=1)
    return day - dt.timedelta(days=day.weekday())


def _next(day: dt.date, interval: str) -> dt.date:
    if interval == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=7)


def _series(
    session: Session, f: DemandFilters, feature_id: int, interval: str | None
) -> tuple[Literal["week", "month"], list[SeriesPoint]]:
    """Linked items, votes and accounts new to the feature per week or month (bucketed in Python: portable, and
    one feature's evidence is small)."""
    accounts = _account_ids(session, f)
    link_rows = session.execute(
        _links(session, f, accounts)
        .with_only_columns(FeedbackItem.received_at, FeedbackItem.account_id, maintain_column_froms=True)
        .where(FeedbackLink.feature_id == feature_id)
    ).all()
    vote_stmt = _votes(session, f, accounts)
    vote_rows = session.execute(
        vote_stmt.with_only_columns(
            vote_stmt.selected_columns.at, vote_stmt.selected_columns.account_id, maintain_column_froms=True
        ).where(vote_stmt.selected_columns.feature_id == feature_id)
    ).all()
    events = [(at, account, True) for at, account in link_rows] + [(at, account, False) for at, account in vote_rows]
    if not events:
        return ("week" if interval == "week" else "month"), []
    events.sort(key=lambda e: e[0])
    first, last = events[0][0], events[-1][0]
    chosen: Literal["week", "month"]
    if interval in ("week", "month"):
        chosen = "week" if interval == "week" else "month"
    else:
        chosen = "week" if (last - first).days <= 26 * 7 else "month"
    start, end = f.window()
    lo = _bucket(start, chosen) if start else _bucket(first, chosen)
    hi = _bucket(min(end - dt.timedelta(seconds=1), utcnow()) if end else max(last, utcnow()), chosen)
    points: dict[dt.date, list[int]] = {}
    day = lo
    while day <= hi:
        points[day] = [0, 0, 0]
        day = _next(day, chosen)
    seen: set[int] = set()
    for at, account, is_item in events:
        point = points.setdefault(_bucket(at, chosen), [0, 0, 0])
        point[0 if is_item else 1] += 1
        if account is not None and account not in seen:
            seen.add(account)
            point[2] += 1
    return chosen, [
        SeriesPoint(period=day, items=v[0], votes=v[1], new_accounts=v[2]) for day, v in sorted(points.items())
    ]


def linked_items(
    session: Session, f: DemandFilters, feature_id: int, *, limit: int = 20, offset: int = 0
) -> tuple[list[FeedbackOut], int]:
    """The feature's linked feedback kept by the filters, newest first, with names and highlights."""
    stmt = _links(session, f, _account_ids(session, f)).where(FeedbackLink.feature_id == feature_id)
    ids_stmt = stmt.with_only_columns(FeedbackItem.id, maintain_column_froms=True).order_by(
        FeedbackItem.received_at.desc(), FeedbackItem.id.desc()
    )
    total = session.scalar(select(func.count()).select_from(ids_stmt.order_by(None).subquery())) or 0
    ids = list(session.scalars(ids_stmt.limit(limit).offset(offset)))
    if not ids:
        return [], total
    found = {i.id: i for i in session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids)))}
    return items_out(session, [found[i] for i in ids if i in found]), total


def feature_demand(
    session: Session,
    feature_id: int,
    f: DemandFilters | None = None,
    *,
    interval: str | None = None,
    with_items: int = 20,
) -> FeatureDemand:
    """One feature's demand: totals, breakdown by account segment, plan and region, a weekly or monthly series,
    and its newest linked feedback. A merged feature answers for its survivor."""
    f = f or DemandFilters()
    feature = _survivor(session, feature_id)
    totals, breakdown = _one_feature(session, f, feature)
    chosen, series = _series(session, f, feature.id, interval)
    linked, linked_total = linked_items(session, f, feature.id, limit=with_items) if with_items else ([], 0)
    return FeatureDemand(
        feature_id=feature.id,
        title=feature.title,
        totals=totals,
        breakdown=breakdown,
        interval=chosen,
        series=series,
        linked=linked,
        linked_total=linked_total,
    )


# --- comparing two features -----------------------------------------------------------------------


class GroupOut(BaseModel):
    accounts: int
    arr: float


class Comparison(BaseModel):
    """Which of two features do the accounts of a population want more? Accounts are the units."""

    a_id: int
    a_title: str
    b_id: int
    b_title: str
    population: int
    """Accounts the filters keep (all accounts without an account filter)."""
    population_label: str
    asked_a: GroupOut
    asked_b: GroupOut
    a_only: GroupOut
    b_only: GroupOut
    both: GroupOut
    neither: int
    discordant: int
    p_value: float | None
    """McNemar's exact test (two-sided): None when no account asked for exactly one of them."""
    test: str = "McNemar's exact test (two-sided binomial test of the discordant accounts against ½)"
    significant: bool
    verdict: str
    explanation: str


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided p-value of McNemar's exact test: under "no difference" each discordant account is equally likely
    to have asked for A only or B only, so ``a_only ~ Binomial(a_only + b_only, 1/2)`` (SciPy's exact binomial
    test; for this symmetric case it equals ``min(1, 2 · P(X ≤ min(a_only, b_only)))``)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    return float(binomtest(a_only, n, 0.5).pvalue)


def _asking(session: Session, f: DemandFilters, feature_id: int, accounts: Select[Any] | None) -> set[int]:
    links = _links(session, f, accounts).where(FeedbackLink.feature_id == feature_id)
    votes = _votes(session, f, accounts)
    votes = votes.where(votes.selected_columns.feature_id == feature_id)
    found: set[int | None] = set(
        session.scalars(links.with_only_columns(FeedbackItem.account_id, maintain_column_froms=True).distinct())
    )
    found |= set(
        session.scalars(
            votes.with_only_columns(votes.selected_columns.account_id, maintain_column_froms=True).distinct()
        )
    )
    return {account for account in found if account is not None}


def _population_label(session: Session, f: DemandFilters) -> str:
    parts = []
    if f.segment_id is not None:
        names = {s.id: s.name for s in customers.list_segments(session)}
        parts.append(f"saved segment “{names.get(f.segment_id, f.segment_id)}”")
    parts += [f"{label.lower()} {getattr(f, key)}" for key, label in DIMENSIONS.items() if getattr(f, key)]
    return "accounts in " + ", ".join(parts) if parts else "all accounts"


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}".rstrip("0").rstrip(".") if p < 0.995 else "1"


def compare(session: Session, a: int, b: int, f: DemandFilters | None = None, *, alpha: float = 0.05) -> Comparison:
    """Which of features ``a`` and ``b`` do customers want more, within the accounts the filters keep?

    Each account is one paired observation (asked for A? asked for B?), so the right test is McNemar's: only
    the accounts that asked for exactly one of the two carry information about which is wanted more.
    """
    f = f or DemandFilters()
    try:
        found_a = _survivor(session, a)
    except NotFound as exc:
        raise ValidationFailed("a", f"there is no feature {a}") from exc
    try:
        found_b = _survivor(session, b)
    except NotFound as exc:
        raise ValidationFailed("b", f"there is no feature {b}") from exc
    a_id, a_title, b_id, b_title = found_a.id, found_a.title, found_b.id, found_b.title
    if a_id == b_id:
        raise ValidationFailed(
            "b", "choose two different features (these are the same, or one was merged into the other)"
        )
    accounts = _account_ids(session, f)
    asked_a = _asking(session, f, a_id, accounts)
    asked_b = _asking(session, f, b_id, accounts)
    facts = customers.account_facts().subquery("af")
    population_stmt = select(func.count()).select_from(facts)
    if accounts is not None:
        population_stmt = population_stmt.where(facts.c.account_id.in_(accounts))
    population = session.scalar(population_stmt) or 0
    wanted = sorted(asked_a | asked_b)
    arr: dict[int, float] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = select(facts.c.account_id, facts.c.arr).where(facts.c.account_id.in_(chunk))
        arr.update({aid: float(value or 0) for aid, value in session.execute(stmt)})

    def group(ids: set[int]) -> GroupOut:
        return GroupOut(accounts=len(ids), arr=sum(arr.get(i, 0.0) for i in ids))

    a_only, b_only, both = asked_a - asked_b, asked_b - asked_a, asked_a & asked_b
    discordant = len(a_only) + len(b_only)
    p = mcnemar_exact(len(a_only), len(b_only)) if discordant else None
    significant = p is not None and p < alpha and discordant >= MIN_DISCORDANT
    who = _population_label(session, f)
    if discordant == 0:
        verdict = "The data cannot tell them apart."
        explanation = (
            f"No account among {who} asked for exactly one of the two, so there is nothing to compare "
            "(accounts that asked for both or for neither say nothing about which is wanted more)."
        )
    elif discordant < MIN_DISCORDANT:
        verdict = "Too few accounts to tell them apart."
        explanation = (
            f"Only {discordant} account{'s' if discordant != 1 else ''} asked for exactly one of the two "
            f"({len(a_only)} for “{a_title}” only, {len(b_only)} for “{b_title}” only). With fewer than "
            f"{MIN_DISCORDANT}, even a unanimous split could be chance (p = {_fmt_p(p or 1)})."
        )
    elif significant:
        winner, loser = (a_title, b_title) if len(a_only) > len(b_only) else (b_title, a_title)
        verdict = f"Customers in this population want “{winner}” more than “{loser}”."
        explanation = (
            f"Of the {discordant} accounts that asked for exactly one of the two, {max(len(a_only), len(b_only))} "
            f"chose “{winner}”. If both were wanted equally, a split this uneven would happen with probability "
            f"p = {_fmt_p(p or 0)} (below {alpha:g})."
        )
    else:
        verdict = "The data cannot tell them apart."
        explanation = (
            f"Of the {discordant} accounts that asked for exactly one of the two, {len(a_only)} chose “{a_title}” "
            f"and {len(b_only)} chose “{b_title}”. A split like this is likely by chance when both are wanted "
            f"equally (p = {_fmt_p(p or 1)}, not below {alpha:g})."
        )
    return Comparison(
        a_id=a_id,
        a_title=a_title,
        b_id=b_id,
        b_title=b_title,
        population=population,
        population_label=who,
        asked_a=group(asked_a),
        asked_b=group(asked_b),
        a_only=group(a_only),
        b_only=group(b_only),
        both=group(both),
        neither=max(0, population - len(asked_a | asked_b)),
        discordant=discordant,
        p_value=p,
        significant=significant,
        verdict=verdict,
        explanation=explanation,
    )


# --- facets ----------------------------------------------------------------------------------------


def account_facets(session: Session) -> dict[str, list[str]]:
    """The plan, segment and region values in use, for the filter pickers."""
    facts = customers.account_facts().subquery("af")
    found: dict[str, list[str]] = {}
    for dim in DIMENSIONS:
        column = facts.c[dim]
        found[dim] = sorted(v for v in session.scalars(select(column).where(column.is_not(None)).distinct()) if v)
    return found


__all__ = [
    "DIMENSIONS",
    "MEASURES",
    "BreakdownRow",
    "Comparison",
    "DemandFilters",
    "DemandPage",
    "DemandRow",
    "FeatureDemand",
    "SeriesPoint",
    "account_facets",
    "compare",
    "evidence_rows",
    "feature_demand",
    "feature_totals",
    "label_rows",
    "linked_items",
    "mcnemar_exact",
    "ranked",
    "ranking",
    "ranking_rows",
]
