"""The triage inbox: filters, one page of items (keyset paging that stays fast 100,000 items deep) and the facet
counts of the filter sidebar. Reads only; never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import (
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from prodops.domains.customers import service as customers
from prodops.domains.feedback.models import (
    IMPORTANCE,
    IMPORTANCE_LABELS,
    SOURCE_LABELS,
    STATUSES,
    FeedbackInsight,
    FeedbackItem,
    FeedbackLink,
    FeedbackTag,
)
from prodops.domains.feedback.queries.insights import INSIGHT_COLUMNS, ItemInsight, active_kinds, kind_labels
from prodops.domains.feedback.queries.items import items_out
from prodops.domains.feedback.schemas import FeedbackOut, Importance, Source, normalise_tags
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.listing import Page, check_page, search
from prodops.platform.org.models import Product
from prodops.platform.text import sentiment as sentiment_model

InboxStatus = Literal["new", "triaged", "linked", "archived", "all"]
SentimentLabel = Literal["negative", "neutral", "positive"]
Sort = Literal["-received_at", "received_at", "-importance", "importance", "-arr", "arr"]

#: What the inbox shows when no status is asked for: the items still waiting for triage.
DEFAULT_STATUSES: tuple[str, ...] = ("new", "triaged")
STATUS_LABELS = {"new": "New", "triaged": "Triaged", "linked": "Linked", "archived": "Archived"}
SORT_LABELS: dict[str, str] = {
    "-received_at": "Newest first",
    "received_at": "Oldest first",
    "-importance": "Most important first",
    "importance": "Least important first",
    "-arr": "Highest account ARR first",
    "arr": "Lowest account ARR first",
}
#: Deepest row reachable with ``page`` numbers; deeper pages use the ``after`` cursor, which costs the same at any
#: depth (an OFFSET walks every skipped row).
MAX_OFFSET = 10_000
MAX_PER_PAGE = 200
FACET_TAGS = 25
_UNBOUNDED = 2_000_000_000
#: Most items a source, product or tag facet counts (see :func:`facets`).
FACET_COUNT_LIMIT = 10_000
_IMPORTANCE_RANK = {name: rank for rank, name in enumerate(IMPORTANCE, start=1)}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _values(value: Any) -> Any:
    """Repeated or comma-separated query values, blanks dropped: ``?status=new,triaged`` or ``?status=new&status=..``."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    found: list[Any] = []
    for item in items:
        parts = item.split(",") if isinstance(item, str) else [item]
        found.extend(p.strip() if isinstance(p, str) else p for p in parts)
    return [v for v in found if v not in ("", None)]


class FeedbackFilters(BaseModel):
    """Query parameters of the inbox page and of ``GET /api/v1/feedback`` (the same parameters mean the same items).

    List parameters repeat (``?source=email&source=widget``) or take commas (``?source=email,widget``).
    """

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200, description="Text in the title or text (case-insensitive).")
    source: list[Source] = Field(default_factory=list, description="Any of these channels.")
    status: list[InboxStatus] = Field(
        default_factory=list,
        description="Any of these statuses. Default `new` and `triaged` (what waits for triage); `all` for every status.",
    )
    product_id: int | None = None
    area: str | None = Field(default=None, max_length=80)
    tag: list[str] = Field(default_factory=list, max_length=10, description="Items with any of these tags.")
    kind: list[str] = Field(
        default_factory=list, max_length=10, description="Items of any of these types (`bug`, `feature_request`...)."
    )
    sentiment: list[SentimentLabel] = Field(
        default_factory=list,
        description=(
            f"Any of `negative` (sentiment below {sentiment_model.NEGATIVE_BELOW}), `neutral` or `positive` "
            f"(above {sentiment_model.POSITIVE_ABOVE})."
        ),
    )
    assignee: str | None = Field(
        default=None, pattern=r"^(me|none|[0-9]{1,12})$", description="A user id, `me`, or `none` for unassigned."
    )
    importance: Importance | Literal["none"] | None = Field(default=None, description="`none`: importance not set.")
    account_id: int | None = None
    person_id: int | None = None
    segment_id: int | None = Field(default=None, description="Only items from accounts in this saved segment.")
    plan: str | None = Field(default=None, max_length=60, description="Account plan.")
    segment: str | None = Field(default=None, max_length=60, description="Account segment (e.g. `Enterprise`).")
    region: str | None = Field(default=None, max_length=60, description="Account region.")
    arr_min: float | None = Field(default=None, ge=0, description="Account ARR at least this.")
    arr_max: float | None = Field(default=None, ge=0, description="Account ARR at most this.")
    feature_id: int | None = Field(default=None, description="Items linked to this feature.")
    theme_id: int | None = Field(default=None, description="Items in this theme (see /api/v1/feedback/themes).")
    unlinked: bool | None = Field(default=None, description="`true`: items linked to no feature; `false`: linked.")
    received_from: dt.date | None = Field(default=None, description="Received on or after this day (UTC).")
    received_to: dt.date | None = Field(default=None, description="Received on or before this day (UTC).")
    sort: Sort | None = Field(default=None, description="`received_at`, `importance` or `arr`; `-` for descending.")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)
    after: int | None = Field(default=None, description="Cursor: the id of the last item of the previous page.")
    before: int | None = Field(default=None, description="Cursor: the id of the first item of the next page.")

    @field_validator(
        "q",
        "product_id",
        "area",
        "assignee",
        "importance",
        "account_id",
        "person_id",
        "segment_id",
        "plan",
        "segment",
        "region",
        "arr_min",
        "arr_max",
        "feature_id",
        "theme_id",
        "unlinked",
        "received_from",
        "received_to",
        "sort",
        "after",
        "before",
        mode="before",
    )
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("source", "status", "kind", "sentiment", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return list(dict.fromkeys(_values(v)))

    @field_validator("kind", mode="after")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        for key in v:
            if not key.replace("_", "").isalnum() or len(key) > 40:
                raise ValueError(f"{key[:40]!r} is not a type key (letters, digits and _)")
        return v

    @field_validator("tag", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> Any:
        return normalise_tags(_values(v)) or []

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackFilters:
        if self.arr_min is not None and self.arr_max is not None and self.arr_max < self.arr_min:
            raise ValueError("arr_max must not be below arr_min")
        if self.received_from and self.received_to and self.received_to < self.received_from:
            raise ValueError("received_to must not be before received_from")
        if self.after is not None and self.before is not None:
            raise ValueError("give after or before, not both")
        return self

    def statuses(self) -> tuple[str, ...] | None:
        """The statuses to show (None: every status)."""
        if "all" in self.status:
            return None
        return tuple(s for s in STATUSES if s in self.status) or DEFAULT_STATUSES


@dataclass(frozen=True)
class InboxPage(Page[FeedbackOut]):
    """A page of the inbox; ``offset`` rows come before it, and the cursors lead to the pages around it."""

    offset: int = 0
    next_after: int | None = None
    prev_before: int | None = None

    @property
    def start(self) -> int:
        return 0 if not self.items else self.offset + 1

    @property
    def end(self) -> int:
        return self.offset + len(self.items)

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.next_after is not None


# --- filters to SQL ------------------------------------------------------------------------

Dimension = Literal["status", "source", "product", "tag", "kind", "sentiment"]


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _account_conditions(f: FeedbackFilters) -> list[dict[str, Any]]:
    conds: list[dict[str, Any]] = [
        {"field": name, "op": "eq", "value": getattr(f, name)}
        for name in ("plan", "segment", "region")
        if getattr(f, name) is not None
    ]
    if f.arr_min is not None:
        conds.append({"field": "arr", "op": "gte", "value": f.arr_min})
    if f.arr_max is not None:
        conds.append({"field": "arr", "op": "lte", "value": f.arr_max})
    return conds


def _segment_accounts(session: Session, segment_id: int) -> Select[Any]:
    try:
        return customers.segment_account_ids(session, segment_id)
    except NotFound as exc:
        raise ValidationFailed("segment_id", f"there is no saved segment {segment_id}") from exc


def sentiment_bucket() -> Any:
    """``negative`` / ``neutral`` / ``positive`` for an insight's sentiment (NULL when not analysed)."""
    score = FeedbackInsight.sentiment
    return case(
        (score < sentiment_model.NEGATIVE_BELOW, literal("negative")),
        (score > sentiment_model.POSITIVE_ABOVE, literal("positive")),
        (score.is_not(None), literal("neutral")),
        else_=None,
    )


def sentiment_condition(labels: Sequence[str]) -> ColumnElement[bool]:
    """Insights whose sentiment has one of these labels (see ``platform/text/sentiment.py`` for the bounds)."""
    score = FeedbackInsight.sentiment
    parts: list[ColumnElement[bool]] = []
    if "negative" in labels:
        parts.append(score < sentiment_model.NEGATIVE_BELOW)
    if "positive" in labels:
        parts.append(score > sentiment_model.POSITIVE_ABOVE)
    if "neutral" in labels:
        parts.append(score.between(sentiment_model.NEGATIVE_BELOW, sentiment_model.POSITIVE_ABOVE))
    return or_(*parts)


def _insight_conditions(f: FeedbackFilters, skip: Dimension | None) -> list[ColumnElement[bool]]:
    """Type and sentiment, read from the stored analysis (items not analysed yet match neither)."""
    where: list[ColumnElement[bool]] = []
    if skip != "kind" and f.kind:
        where.append(FeedbackItem.id.in_(select(FeedbackInsight.item_id).where(FeedbackInsight.kind.in_(f.kind))))
    if skip != "sentiment" and f.sentiment:
        where.append(FeedbackItem.id.in_(select(FeedbackInsight.item_id).where(sentiment_condition(f.sentiment))))
    return where


def text_matches(q: str) -> Any:
    """``SELECT id`` of the items whose title or text contains ``q``: as a subquery the texts are scanned once, in
    table order, rather than row by row along another index; as a CTE several parts of one statement share it."""
    return select(FeedbackItem.id).where(search(q, FeedbackItem.title, FeedbackItem.text))


def conditions(
    session: Session,
    f: FeedbackFilters,
    *,
    me: int | None = None,
    skip: Dimension | None = None,
    matches: Any = None,
) -> list[ColumnElement[bool]]:
    """The filters as WHERE clauses on feedback items; ``skip`` leaves one dimension out (for its facet counts);
    ``matches`` is a CTE of :func:`text_matches` to use for ``q``."""
    item = FeedbackItem
    where: list[ColumnElement[bool]] = []
    statuses = f.statuses()
    if skip != "status" and statuses is not None:
        where.append(item.status == statuses[0] if len(statuses) == 1 else item.status.in_(statuses))
    if skip != "source" and f.source:
        where.append(item.source.in_(f.source))
    if skip != "product" and f.product_id is not None:
        where.append(item.product_id == f.product_id)
    if skip != "tag" and f.tag:
        where.append(item.id.in_(select(FeedbackTag.item_id).where(FeedbackTag.tag.in_(f.tag))))
    where.extend(_insight_conditions(f, skip))
    if f.area is not None:
        where.append(item.area == f.area)
    if f.assignee == "none":
        where.append(item.assignee_id.is_(None))
    elif f.assignee == "me":
        if me is None:
            raise ValidationFailed("assignee", "'me' needs a signed-in user")
        where.append(item.assignee_id == me)
    elif f.assignee is not None:
        where.append(item.assignee_id == int(f.assignee))
    if f.importance == "none":
        where.append(item.importance.is_(None))
    elif f.importance is not None:
        where.append(item.importance == f.importance)
    if f.account_id is not None:
        where.append(item.account_id == f.account_id)
    if f.person_id is not None:
        where.append(item.person_id == f.person_id)
    if f.segment_id is not None:
        where.append(item.account_id.in_(_segment_accounts(session, f.segment_id)))
    account_conds = _account_conditions(f)
    if account_conds:
        where.append(item.account_id.in_(customers.account_ids_matching(account_conds)))
    if f.feature_id is not None:
        where.append(item.id.in_(select(FeedbackLink.item_id).where(FeedbackLink.feature_id == f.feature_id)))
    if f.theme_id is not None:
        where.append(item.id.in_(select(FeedbackInsight.item_id).where(FeedbackInsight.theme_id == f.theme_id)))
    if f.unlinked is not None:
        linked = exists().where(FeedbackLink.item_id == item.id)
        where.append(~linked if f.unlinked else linked)
    if f.received_from is not None:
        where.append(item.received_at >= _day_start(f.received_from))
    if f.received_to is not None:
        where.append(item.received_at < _day_start(f.received_to + dt.timedelta(days=1)))
    if f.q:
        where.append(item.id.in_(select(matches.c.id) if matches is not None else text_matches(f.q)))
    return where


# --- sorting and keyset paging --------------------------------------------------------------


@dataclass(frozen=True)
class _SortSpec:
    expr: Any
    desc: bool
    facts: Any = None
    """The account-facts subquery to outer-join when sorting by ARR."""

    def joined(self, stmt: Any) -> Any:
        if self.facts is None:
            return stmt
        return stmt.outerjoin(self.facts, self.facts.c.account_id == FeedbackItem.account_id)

    def ordered(self, stmt: Any, *, reverse: bool = False) -> Any:
        if self.desc != reverse:
            return stmt.order_by(self.expr.desc(), FeedbackItem.id.desc())
        return stmt.order_by(self.expr.asc(), FeedbackItem.id.asc())

    def position(self) -> Any:
        return tuple_(self.expr, FeedbackItem.id)


def _sort_spec(sort: str | None) -> _SortSpec:
    key = sort or "-received_at"
    desc = key.startswith("-")
    name = key.lstrip("-")
    if name == "importance":
        rank = case(*((FeedbackItem.importance == n, r) for n, r in _IMPORTANCE_RANK.items()), else_=0)
        return _SortSpec(rank, desc)
    if name == "arr":
        facts = customers.account_facts().subquery("account_facts")
        # Items without an account sort as the smallest ARR.
        return _SortSpec(func.coalesce(facts.c.arr, -1.0), desc, facts)
    return _SortSpec(FeedbackItem.received_at, desc)


def _cursor_mark(session: Session, spec: _SortSpec, cursor: int, field: str) -> Any:
    """The sort position of the cursor item, as a row value to compare with."""
    stmt = spec.joined(select(spec.expr).select_from(FeedbackItem)).where(FeedbackItem.id == cursor)
    row = session.execute(stmt).first()
    if row is None:
        raise ValidationFailed(field, f"there is no feedback item {cursor} to page from; start again from page 1")
    return tuple_(literal(row[0], spec.expr.type), literal(cursor, FeedbackItem.id.type))


def _items_with_insights(session: Session, ids: list[int]) -> tuple[dict[int, FeedbackItem], dict[int, ItemInsight]]:
    """The items and their stored analysis, in one statement."""
    rows: dict[int, FeedbackItem] = {}
    analysed: dict[int, ItemInsight] = {}
    if ids:
        stmt = (
            select(FeedbackItem, *INSIGHT_COLUMNS)
            .outerjoin(FeedbackInsight, FeedbackInsight.item_id == FeedbackItem.id)
            .where(FeedbackItem.id.in_(ids))
        )
        for item, item_id, kind, confidence, source, mood, theme_id, version in session.execute(stmt):
            rows[item.id] = item
            if item_id is not None:
                analysed[item.id] = ItemInsight(item_id, kind, confidence, source, mood, theme_id, version)
    return rows, analysed


def list_items(session: Session, f: FeedbackFilters, *, me: int | None = None) -> InboxPage:
    """One page of items with names, tags and links: a fixed number of statements whatever the page size.

    Pages are addressed by ``page`` (up to :data:`MAX_OFFSET` rows deep) or, at any depth, by the ``after`` /
    ``before`` cursors each page hands out (``next_after``, ``prev_before``): a cursor is an item id, and the
    database seeks to it along the sort index instead of counting off the rows before it."""
    check_page(f.page, f.per_page)
    cursor = f.after if f.after is not None else f.before
    if cursor is not None and f.page != 1:
        raise ValidationFailed("page", "give page or a cursor (after/before), not both")
    if cursor is None and (f.page - 1) * f.per_page > MAX_OFFSET:
        raise ValidationFailed(
            "page",
            f"page numbers reach the first {MAX_OFFSET:,} items; to go deeper pass after=<id of the last item you have>",
        )
    where = and_(true(), *conditions(session, f, me=me))
    spec = _sort_spec(f.sort)
    counted_alone = select(func.count()).select_from(FeedbackItem).where(where)
    # Ids first, rows after: the sort then runs on index entries, not on whole rows (texts are long).
    stmt = spec.joined(select(FeedbackItem.id)).where(where)
    backwards = f.before is not None
    if cursor is None and f.q:
        # A text search scans every text: count in the same pass (a window count) rather than in a second one.
        offset = (f.page - 1) * f.per_page
        windowed = spec.joined(select(FeedbackItem.id, func.count().over())).where(where)
        found = session.execute(spec.ordered(windowed).limit(f.per_page + 1).offset(offset)).all()
        ids = [row[0] for row in found]
        total = found[0][1] if found else (session.scalar(counted_alone) or 0) if offset else 0
    elif cursor is None:
        total = session.scalar(counted_alone) or 0
        offset = (f.page - 1) * f.per_page
        ids = list(session.scalars(spec.ordered(stmt).limit(f.per_page + 1).offset(offset)))
    else:
        total = session.scalar(counted_alone) or 0
        mark = _cursor_mark(session, spec, cursor, "before" if backwards else "after")
        position = spec.position()
        # In display order, rows "ahead" of the cursor compare greater for a descending sort, smaller for ascending.
        ahead = position > mark if spec.desc else position < mark
        behind = position < mark if spec.desc else position > mark
        counted = spec.joined(select(func.count()).select_from(FeedbackItem)).where(where)
        if backwards:
            rows_ahead = session.scalar(counted.where(ahead)) or 0
            ids = list(session.scalars(spec.ordered(stmt.where(ahead), reverse=True).limit(f.per_page + 1)))
            offset = max(0, rows_ahead - f.per_page)
        else:
            # The cursor row itself is ahead too, if it still matches the filters.
            rows_ahead = session.scalar(counted.where(or_(ahead, position == mark))) or 0
            ids = list(session.scalars(spec.ordered(stmt.where(behind)).limit(f.per_page + 1)))
            offset = rows_ahead
    more = len(ids) > f.per_page
    ids = ids[: f.per_page]
    if backwards:
        ids.reverse()
        # Paging back from a cursor: the cursor's own page follows; earlier ones only if the query found more.
        next_after = ids[-1] if ids else None
        prev_before = ids[0] if ids and more else None
    else:
        next_after = ids[-1] if ids and more else None
        prev_before = ids[0] if ids and offset > 0 else None
    rows, analysed = _items_with_insights(session, ids)
    items = [rows[i] for i in ids if i in rows]
    return InboxPage(
        items=items_out(session, items, insights=analysed),
        total=total,
        number=offset // f.per_page + 1,
        per_page=f.per_page,
        offset=offset,
        next_after=next_after,
        prev_before=prev_before,
    )


# --- facets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int | None
    """None when counting was skipped (see :func:`facets`)."""


@dataclass(frozen=True)
class Facets:
    status: list[FacetValue]
    source: list[FacetValue]
    product: list[FacetValue]
    tag: list[FacetValue]
    skipped: tuple[str, ...] = ()
    """Dimensions whose counts were skipped: too many items to count them quickly."""
    kind: list[FacetValue] = field(default_factory=list)
    """By type (items not analysed yet are in no type)."""
    sentiment: list[FacetValue] = field(default_factory=list)
    """By sentiment label (the sentiment breakdown)."""

    @property
    def total(self) -> int:
        """Items matching every filter but status, summed over all statuses."""
        return sum(v.count or 0 for v in self.status)


def _grouped(dim: Dimension, where: list[ColumnElement[bool]]) -> Any:
    """``facet, value, n`` rows of one dimension.

    With no filter at all one index answers alone. Otherwise the matching items are selected first, at most
    :data:`FACET_COUNT_LIMIT` of them (callers only ask when fewer match): the LIMIT keeps the database from folding
    the selection into the grouping, which would walk the whole table along the grouped column's index."""
    name: Any = literal_column(f"'{dim}'").label("facet")
    if dim in ("kind", "sentiment"):
        bucket: Any = FeedbackInsight.kind if dim == "kind" else sentiment_bucket()
        stmt = select(name, cast(bucket, String).label("value"), func.count().label("n")).select_from(FeedbackInsight)
        if where:
            matched = select(FeedbackItem.id).where(*where).limit(FACET_COUNT_LIMIT + 1).subquery("matched")
            stmt = stmt.join(matched, matched.c.id == FeedbackInsight.item_id)
        return stmt.group_by(bucket)
    if dim == "tag":
        stmt = select(name, FeedbackTag.tag.label("value"), func.count().label("n"))
        if where:
            matched = select(FeedbackItem.id).where(*where).limit(FACET_COUNT_LIMIT + 1).subquery("matched")
            stmt = stmt.join(matched, matched.c.id == FeedbackTag.item_id)
        ranked = stmt.group_by(FeedbackTag.tag).order_by(func.count().desc(), FeedbackTag.tag).limit(FACET_TAGS)
        sub = ranked.subquery()
        return select(sub.c.facet, sub.c.value, sub.c.n)
    column: Any = FeedbackItem.source if dim == "source" else FeedbackItem.product_id
    if where:
        matched = select(column.label("value")).where(*where).limit(FACET_COUNT_LIMIT + 1).subquery("matched")
        column = matched.c.value
    return select(name, cast(column, String).label("value"), func.count().label("n")).group_by(column)


def facets(session: Session, f: FeedbackFilters, *, me: int | None = None) -> Facets:
    """Counts for the filter sidebar by status, source, product, tag, type and sentiment.

    Each dimension is counted with every other filter applied but not its own, so the sidebar shows what choosing
    another value would give. Status counts are always exact. Counting sources, products or tags needs one row read
    per item (there is no composite index for them), so they are counted only when at most
    :data:`FACET_COUNT_LIMIT` items are in play, or when no filter applies and an index answers alone; otherwise
    the values are listed without counts and the dimension is named in ``skipped``."""
    # A text search is scanned once per statement, shared by its parts.
    matches = text_matches(f.q).cte("text_matches") if f.q else None
    status_where = conditions(session, f, me=me, skip="status", matches=matches)
    status_column: Any = FeedbackItem.status
    if status_where:  # select first, then group (see _grouped); the bound is only there to keep them apart
        matched = select(FeedbackItem.status.label("status")).where(*status_where).limit(_UNBOUNDED).subquery()
        status_column = matched.c.status
    by_status = select(status_column, func.count()).group_by(status_column)
    status_counts: dict[str, int] = dict(session.execute(by_status).all())
    statuses = f.statuses()
    total = sum(n for s, n in status_counts.items() if statuses is None or s in statuses)
    active = {
        "source": bool(f.source),
        "product": f.product_id is not None,
        "tag": bool(f.tag),
        "kind": bool(f.kind),
        "sentiment": bool(f.sentiment),
    }
    parts: list[Any] = []
    skipped: list[str] = []
    dims: tuple[Dimension, ...] = ("source", "product", "tag", "kind", "sentiment")
    for dim in dims:
        where = conditions(session, f, me=me, skip=dim, matches=matches)
        if where and active[dim]:
            base = session.scalar(select(func.count()).select_from(FeedbackItem).where(*where)) or 0
        else:
            base = total
        if not where or base <= FACET_COUNT_LIMIT:
            parts.append(_grouped(dim, where))
        else:
            skipped.append(dim)
    counts: dict[str, dict[str, int]] = {"source": {}, "product": {}, "tag": {}, "kind": {}, "sentiment": {}}
    if parts:
        stmt: Any = parts[0]
        if len(parts) > 1:
            stmt = union_all(*parts)
        for facet, value, n in session.execute(stmt):
            if value is not None:
                counts[facet][str(value)] = n
    tag_values = list(counts["tag"])
    if "tag" in skipped:  # still offer the most used tags, uncounted
        tag_values = [row[1] for row in session.execute(_grouped("tag", []))]
    tag_values += [t for t in f.tag if t not in tag_values]

    def count(dim: str, value: str) -> int | None:
        return None if dim in skipped else counts[dim].get(value, 0)

    products = session.execute(select(Product.id, Product.name).order_by(Product.name)).all()
    return Facets(
        status=[FacetValue(s, STATUS_LABELS[s], status_counts.get(s, 0)) for s in STATUSES],
        source=sorted(
            (FacetValue(s, SOURCE_LABELS[s], count("source", s)) for s in SOURCE_LABELS),
            key=lambda v: (-(v.count or 0), v.label),
        ),
        product=[FacetValue(str(pid), name, count("product", str(pid))) for pid, name in products],
        tag=[FacetValue(t, t, count("tag", t)) for t in tag_values],
        skipped=tuple(skipped),
        kind=_kind_values(session, f, count),
        sentiment=[FacetValue(k, lbl, count("sentiment", k)) for k, lbl in sentiment_model.LABELS.items()],
    )


def _kind_values(session: Session, f: FeedbackFilters, count: Any) -> list[FacetValue]:
    """The active types, then any other type an item has (a retired type, or a user label set)."""
    offered = dict(active_kinds(session))
    labels = kind_labels(session)
    values = [FacetValue(k, lbl, count("kind", k)) for k, lbl in offered.items()]
    for key in f.kind:
        if key not in offered:
            values.append(FacetValue(key, labels.get(key, key), count("kind", key)))
    return values


def require_item(session: Session, item_id: int) -> None:
    """NotFound unless the item exists (routes check before writing, so a 404 never rolls a transaction back)."""
    if session.scalar(select(FeedbackItem.id).where(FeedbackItem.id == item_id)) is None:
        raise NotFound("feedback item", item_id)


# --- choices for pickers --------------------------------------------------------------------


def assignee_choices(session: Session) -> list[tuple[int, str]]:
    """Active members and admins (who can triage), by name."""
    label = func.coalesce(func.nullif(User.name, ""), User.email)
    stmt = (
        select(User.id, label)
        .where(User.is_active.is_(True), User.role.in_(("member", "admin")))
        .order_by(func.lower(label), User.id)
    )
    return [(uid, name) for uid, name in session.execute(stmt)]


def product_choices(session: Session) -> list[tuple[int, str]]:
    return [(pid, name) for pid, name in session.execute(select(Product.id, Product.name).order_by(Product.name))]


def importance_choices() -> list[tuple[str, str]]:
    return [(name, IMPORTANCE_LABELS[name]) for name in reversed(IMPORTANCE)]


def user_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    label = func.coalesce(func.nullif(User.name, ""), User.email)
    return dict(session.execute(select(User.id, label).where(User.id.in_(sorted(set(ids))))).all())
