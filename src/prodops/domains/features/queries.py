"""Feature reads: lists, details, lifecycles, pickers, facets and exports. Never commits.

A feature's status label and kind come from its product's lifecycle, else the workspace lifecycle, else the
built-in one; :data:`STATUS_LABEL` and friends compute that in SQL so a page of features is one statement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Select, String, and_, case, func, literal, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from prodops.domains.features.models import Feature, FeatureStatus, FeatureSubscriber, FeatureVote
from prodops.domains.features.schemas import DEFAULT_STATUSES, FeatureChoice, FeatureOut, StatusOut
from prodops.platform.errors import NotFound
from prodops.platform.identity.models import User
from prodops.platform.listing import Page, order_by, paginate
from prodops.platform.org.models import Product, Team

# --- lifecycles -----------------------------------------------------------------------------


def _status_out(row: FeatureStatus) -> StatusOut:
    return StatusOut(
        key=row.key,
        label=row.label,
        kind=row.kind,  # the table's check constraint keeps kinds known
        notify=row.notify,
        position=row.position,
        product_id=row.product_id,
        source="product" if row.product_id is not None else "workspace",
    )


@dataclass(frozen=True)
class Lifecycles:
    """Every configured lifecycle, loaded at once (the table is small): ``own[product_id]``, ``own[None]``."""

    own: dict[int | None, list[StatusOut]]

    def for_product(self, product_id: int | None) -> list[StatusOut]:
        if product_id is not None and self.own.get(product_id):
            return self.own[product_id]
        return self.own.get(None) or list(DEFAULT_STATUSES)

    def label(self, key: str) -> str:
        """A label for ``key`` when no product is in view: the workspace's, else any product's, else the key."""
        for status in self.for_product(None):
            if status.key == key:
                return status.label
        for statuses in self.own.values():
            for status in statuses:
                if status.key == key:
                    return status.label
        return key


def _rows_to_lifecycles(rows: Iterable[FeatureStatus]) -> Lifecycles:
    own: dict[int | None, list[StatusOut]] = {}
    for row in rows:
        own.setdefault(row.product_id, []).append(_status_out(row))
    return Lifecycles(own)


def load_lifecycles(session: Session) -> Lifecycles:
    stmt = select(FeatureStatus).order_by(FeatureStatus.product_id, FeatureStatus.position, FeatureStatus.id)
    return _rows_to_lifecycles(session.scalars(stmt))


def statuses_for(session: Session, product_id: int | None) -> list[StatusOut]:
    """The lifecycle a product's features follow: its own, else the workspace's, else the built-in default."""
    scope: ColumnElement[bool] = FeatureStatus.product_id.is_(None)
    if product_id is not None:
        scope = or_(scope, FeatureStatus.product_id == product_id)
    stmt = select(FeatureStatus).where(scope).order_by(FeatureStatus.position, FeatureStatus.id)
    return _rows_to_lifecycles(session.scalars(stmt)).for_product(product_id)


def own_statuses(session: Session, product_id: int | None) -> list[StatusOut]:
    """The rows configured for exactly this product (or the workspace); empty when it inherits."""
    where = FeatureStatus.product_id.is_(None) if product_id is None else FeatureStatus.product_id == product_id
    stmt = select(FeatureStatus).where(where).order_by(FeatureStatus.position, FeatureStatus.id)
    return [_status_out(r) for r in session.scalars(stmt)]


def lifecycle_members(product_id: int | None) -> ColumnElement[bool]:
    """Features that follow the lifecycle configured for ``product_id`` (None: the workspace lifecycle)."""
    if product_id is not None:
        return Feature.product_id == product_id
    with_own = select(FeatureStatus.product_id).where(FeatureStatus.product_id.is_not(None)).distinct()
    return or_(Feature.product_id.is_(None), Feature.product_id.not_in(with_own))


def status_usage(session: Session, where: ColumnElement[bool]) -> dict[str, int]:
    """How many live (not merged) features matching ``where`` are in each status."""
    stmt = select(Feature.status, func.count()).where(where, Feature.merged_into_id.is_(None)).group_by(Feature.status)
    return {key: n for key, n in session.execute(stmt).all()}  # noqa: C416  # rows, not pairs, to mypy


# --- the feature statement ------------------------------------------------------------------

_ps = aliased(FeatureStatus, name="fs_product")
_ws = aliased(FeatureStatus, name="fs_workspace")
_DEFAULTS = {s.key: s for s in DEFAULT_STATUSES}

STATUS_LABEL = func.coalesce(
    _ps.label,
    _ws.label,
    case({k: s.label for k, s in _DEFAULTS.items()}, value=Feature.status, else_=Feature.status),
)
STATUS_KIND = func.coalesce(
    _ps.kind, _ws.kind, case({k: s.kind for k, s in _DEFAULTS.items()}, value=Feature.status, else_=literal("idea"))
)
STATUS_POSITION = func.coalesce(
    _ps.position,
    _ws.position,
    case({k: s.position for k, s in _DEFAULTS.items()}, value=Feature.status, else_=literal(999)),
)
OWNER_LABEL = func.coalesce(func.nullif(User.name, ""), User.email)


def _vote_count() -> Any:
    return (
        select(func.count(FeatureVote.id))
        .where(FeatureVote.feature_id == Feature.id)
        .correlate(Feature)
        .scalar_subquery()
        .label("vote_count")
    )


def _subscriber_count() -> Any:
    return (
        select(func.count(FeatureSubscriber.id))
        .where(FeatureSubscriber.feature_id == Feature.id)
        .correlate(Feature)
        .scalar_subquery()
        .label("subscriber_count")
    )


def _with_status(stmt: Any) -> Any:
    """Join the product's and the workspace's status rows that label ``Feature.status`` (outer joins)."""
    return stmt.outerjoin(_ps, and_(_ps.product_id == Feature.product_id, _ps.key == Feature.status)).outerjoin(
        _ws, and_(_ws.product_id.is_(None), _ws.key == Feature.status)
    )


def _features_stmt(where: ColumnElement[bool]) -> tuple[Select[Any], dict[str, Any]]:
    """Features with everything :class:`FeatureOut` shows, and the columns a list may sort by."""
    votes = _vote_count()
    subscribers = _subscriber_count()
    stmt = select(
        Feature,
        votes,
        subscribers,
        Product.name.label("product_name"),
        OWNER_LABEL.label("owner_name"),
        Team.name.label("team_name"),
        STATUS_LABEL.label("status_label"),
        STATUS_KIND.label("status_kind"),
    )
    stmt = (
        _with_status(stmt)
        .outerjoin(Product, Product.id == Feature.product_id)
        .outerjoin(User, User.id == Feature.owner_id)
        .outerjoin(Team, Team.id == Feature.team_id)
        .where(where)
        # Callers may hold an older copy of a feature in their session (writes commit without expiring).
        .execution_options(populate_existing=True)
    )
    sorts = {
        "title": Feature.title,
        "status": STATUS_POSITION,
        "product": Product.name,
        "area": Feature.area,
        "owner": OWNER_LABEL,
        "team": Team.name,
        "votes": votes,
        "subscribers": subscribers,
        "status_changed_at": Feature.status_changed_at,
        "created_at": Feature.created_at,
        "updated_at": Feature.updated_at,
    }
    return stmt, sorts


def feature_out(row: Any) -> FeatureOut:
    feature: Feature = row[0]
    return FeatureOut(
        id=feature.id,
        title=feature.title,
        description=feature.description,
        product_id=feature.product_id,
        product_name=row.product_name,
        area=feature.area,
        owner_id=feature.owner_id,
        owner_name=row.owner_name,
        team_id=feature.team_id,
        team_name=row.team_name,
        tags=list(feature.tags or []),
        status=feature.status,
        status_label=row.status_label,
        status_kind=row.status_kind,
        status_changed_at=feature.status_changed_at,
        release_note=feature.release_note,
        merged_into_id=feature.merged_into_id,
        vote_count=row.vote_count or 0,
        subscriber_count=row.subscriber_count or 0,
        created_at=feature.created_at,
        updated_at=feature.updated_at,
    )


# --- tags in a JSON list (the same meaning on SQLite and PostgreSQL) --------------------------


class HasTag(FunctionElement[bool]):
    """True when the JSON list column contains the tag (an exact, already normalised string)."""

    type = Boolean()
    inherit_cache = True
    name = "has_tag"


@compiles(HasTag, "sqlite")
def _has_tag_sqlite(element: HasTag, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = list(element.clauses)
    # Both parts are compiled SQL (a column and a bound parameter), never user text.
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) "  # noqa: S608
        f"WHERE json_each.value = {compiler.process(tag, **kw)})"
    )


@compiles(HasTag, "postgresql")
def _has_tag_pg(element: HasTag, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = list(element.clauses)
    return (
        f"EXISTS (SELECT 1 FROM json_array_elements_text({compiler.process(column, **kw)}) AS t(v) "  # noqa: S608
        f"WHERE t.v = {compiler.process(tag, **kw)})"
    )


def has_tag(tag: str) -> HasTag:
    return HasTag(Feature.tags, literal(tag, String()))


# --- lists ----------------------------------------------------------------------------------


def feature_where(
    *,
    product_id: int | None = None,
    status: str | None = None,
    q: str | None = None,
    area: str | None = None,
    tag: str | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    include_merged: bool = False,
) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [true()]
    if not include_merged:
        clauses.append(Feature.merged_into_id.is_(None))
    if product_id is not None:
        clauses.append(Feature.product_id == product_id)
    if status:
        clauses.append(Feature.status == status)
    if area:
        clauses.append(Feature.area == area)
    if tag:
        clauses.append(has_tag(tag))
    if owner_id is not None:
        clauses.append(Feature.owner_id == owner_id)
    if team_id is not None:
        clauses.append(Feature.team_id == team_id)
    if q:
        clauses.append(
            or_(Feature.title.icontains(q, autoescape=True), Feature.description.icontains(q, autoescape=True))
        )
    return and_(*clauses)


def list_features(
    session: Session,
    *,
    product_id: int | None = None,
    status: str | None = None,
    q: str | None = None,
    area: str | None = None,
    tag: str | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    include_merged: bool = False,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[FeatureOut]:
    """One page of features (survivors unless ``include_merged``), two statements whatever the page size.

    ``sort`` is one of ``schemas.SORTS`` (``-`` prefix for descending); the default is most votes first."""
    where = feature_where(
        product_id=product_id,
        status=status,
        q=q,
        area=area,
        tag=tag,
        owner_id=owner_id,
        team_id=team_id,
        include_merged=include_merged,
    )
    stmt, sorts = _features_stmt(where)
    stmt = order_by(stmt, sort, sorts, "-votes", Feature.id)
    found = paginate(session, stmt, page, per_page, scalars=False)
    return Page(items=[feature_out(r) for r in found.items], total=found.total, number=page, per_page=per_page)


def status_counts(session: Session, *, product_id: int | None = None, **filters: Any) -> list[tuple[StatusOut, int]]:
    """Features per status for the filters given (``status`` ignored), in lifecycle order, for filter chips."""
    filters.pop("status", None)
    filters = {k: v for k, v in filters.items() if k in _FILTER_KEYS}
    where = feature_where(product_id=product_id, **filters)
    counts = dict(session.execute(select(Feature.status, func.count()).where(where).group_by(Feature.status)).all())
    lifecycles = load_lifecycles(session)
    ordered: list[tuple[StatusOut, int]] = []
    seen: set[str] = set()
    for status in lifecycles.for_product(product_id):
        ordered.append((status, counts.get(status.key, 0)))
        seen.add(status.key)
    for key in sorted(set(counts) - seen):
        label = lifecycles.label(key)
        ordered.append((StatusOut(key=key, label=label, kind="idea", source="product"), counts[key]))
    return ordered


_FILTER_KEYS = frozenset({"q", "area", "tag", "owner_id", "team_id", "include_merged"})


def get_feature(session: Session, feature_id: int) -> FeatureOut:
    """One feature (merged ones too: check ``merged_into_id``); NotFound when there is none."""
    stmt, _ = _features_stmt(Feature.id == feature_id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound("feature", feature_id)
    return feature_out(row)


def features_by_id(session: Session, ids: Iterable[int]) -> dict[int, FeatureOut]:
    """Several features by id in one statement (missing ids are left out; merged ones are included as they are)."""
    wanted = set(ids)
    if not wanted:
        return {}
    stmt, _ = _features_stmt(Feature.id.in_(wanted))
    return {out.id: out for out in (feature_out(r) for r in session.execute(stmt))}


def resolve_feature_id(session: Session, feature_id: int, *, max_hops: int = 50) -> int:
    """The surviving feature for ``feature_id``, following merges; NotFound when the feature does not exist."""
    current = feature_id
    for _ in range(max_hops):
        target = session.execute(select(Feature.merged_into_id).where(Feature.id == current)).first()
        if target is None:
            raise NotFound("feature", current)
        if target[0] is None:
            return current
        current = target[0]
    return current  # a loop can only come from hand-edited rows; stop somewhere rather than spin


def merged_title(session: Session, feature_id: int) -> str | None:
    return session.scalar(select(Feature.title).where(Feature.id == feature_id))


def feature_choices(
    session: Session, q: str | None, limit: int = 20, *, exclude: int | None = None
) -> list[FeatureChoice]:
    """Surviving features whose title contains ``q`` (case-insensitive), for link and merge pickers."""
    stmt = _with_status(select(Feature.id, Feature.title, STATUS_LABEL)).where(Feature.merged_into_id.is_(None))
    if q and q.strip():
        stmt = stmt.where(Feature.title.icontains(q.strip(), autoescape=True))
    if exclude is not None:
        stmt = stmt.where(Feature.id != exclude)
    stmt = stmt.order_by(func.lower(Feature.title), Feature.id).limit(max(1, min(limit, 100)))
    return [FeatureChoice(id=i, title=t, status_label=label) for i, t, label in session.execute(stmt)]


def voter_person_ids(session: Session, feature_id: int) -> list[int]:
    stmt = select(FeatureVote.person_id).where(FeatureVote.feature_id == feature_id).order_by(FeatureVote.id)
    return list(session.scalars(stmt))


def subscriber_person_ids(session: Session, feature_id: int) -> list[int]:
    stmt = (
        select(FeatureSubscriber.person_id)
        .where(FeatureSubscriber.feature_id == feature_id)
        .order_by(FeatureSubscriber.id)
    )
    return list(session.scalars(stmt))


def votes(session: Session, feature_id: int, limit: int = 500) -> list[FeatureVote]:
    stmt = select(FeatureVote).where(FeatureVote.feature_id == feature_id).order_by(FeatureVote.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def subscribers(session: Session, feature_id: int, limit: int = 500) -> list[FeatureSubscriber]:
    stmt = (
        select(FeatureSubscriber)
        .where(FeatureSubscriber.feature_id == feature_id)
        .order_by(FeatureSubscriber.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- facets and choices ---------------------------------------------------------------------


def areas(session: Session, product_id: int | None = None) -> list[str]:
    """Product areas in use by live features (of one product when given), alphabetically."""
    stmt = select(Feature.area).where(Feature.area.is_not(None), Feature.merged_into_id.is_(None)).distinct()
    if product_id is not None:
        stmt = stmt.where(Feature.product_id == product_id)
    return sorted(session.scalars(stmt), key=str.lower)


def tag_counts(session: Session) -> list[tuple[str, int]]:
    """Tags in use by live features with how many use each, most used first."""
    counter: Counter[str] = Counter()
    for tags in session.scalars(select(Feature.tags).where(Feature.merged_into_id.is_(None))):
        counter.update(tags or [])
    return sorted(counter.items(), key=lambda t: (-t[1], t[0]))


def all_tags(session: Session) -> list[str]:
    """Every tag in use by live features, alphabetically."""
    return sorted(tag for tag, _ in tag_counts(session))


def product_choices(session: Session) -> list[tuple[int, str]]:
    return [(i, n) for i, n in session.execute(select(Product.id, Product.name).order_by(Product.name))]


def team_choices(session: Session) -> list[tuple[int, str]]:
    return [(i, n) for i, n in session.execute(select(Team.id, Team.name).order_by(Team.name))]


def owner_choices(session: Session) -> list[tuple[int, str]]:
    """Active users who can own features, by name."""
    stmt = select(User.id, OWNER_LABEL).where(User.is_active.is_(True)).order_by(OWNER_LABEL)
    return [(uid, label) for uid, label in session.execute(stmt)]


def product_id_for_key(session: Session, key: str) -> int | None:
    return session.scalar(select(Product.id).where(Product.key == key))


def product_name(session: Session, product_id: int) -> str | None:
    return session.scalar(select(Product.name).where(Product.id == product_id))


# --- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "title",
    "status",
    "status_label",
    "product",
    "area",
    "owner",
    "team",
    "tags",
    "votes",
    "subscribers",
    "status_changed_at",
    "created_at",
    "updated_at",
    "merged_into_id",
    "description",
)


def feature_export(session: Session, *, sort: str | None = None, **filters: Any) -> tuple[list[str], list[list[Any]]]:
    """Every feature matching the filters (all pages), sorted like the list."""
    filters.pop("page", None)
    filters.pop("per_page", None)
    stmt, sorts = _features_stmt(feature_where(**filters))
    stmt = order_by(stmt, sort, sorts, "-votes", Feature.id).execution_options(yield_per=1000)
    rows = []
    for row in session.execute(stmt):
        f = feature_out(row)
        rows.append(
            [
                f.id,
                f.title,
                f.status,
                f.status_label,
                f.product_name,
                f.area,
                f.owner_name,
                f.team_name,
                ", ".join(f.tags),
                f.vote_count,
                f.subscriber_count,
                f.status_changed_at.isoformat(),
                f.created_at.isoformat(),
                f.updated_at.isoformat(),
                f.merged_into_id,
                f.description,
            ]
        )
    return list(EXPORT_COLUMNS), rows


def counts_by_id(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(votes, subscribers) of several features in one statement."""
    if not ids:
        return {}
    stmt = select(Feature.id, _vote_count(), _subscriber_count()).where(Feature.id.in_(set(ids)))
    return {i: (v or 0, s or 0) for i, v, s in session.execute(stmt)}


def merged_into(session: Session, feature_id: int) -> list[tuple[int, str]]:
    """The features merged into this one (now redirects), newest first."""
    stmt = (
        select(Feature.id, Feature.title)
        .where(Feature.merged_into_id == feature_id)
        .order_by(Feature.updated_at.desc(), Feature.id.desc())
    )
    return [(i, t) for i, t in session.execute(stmt)]
