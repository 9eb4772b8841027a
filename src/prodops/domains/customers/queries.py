"""Customer reads: lists, details, facets, exports, and compiling segment conditions to SQL. Never commits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Select,
    String,
    and_,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from prodops.domains.customers.models import Account, Person, Segment
from prodops.domains.customers.schemas import (
    ATTRIBUTE_KEY,
    AccountFilters,
    AccountOut,
    Condition,
    Entity,
    FieldRef,
    Op,
    PersonFilters,
    PersonOut,
    SegmentOut,
    parse_when,
    resolve_field,
    validate_conditions,
)
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.listing import Page, check_page, contains, order_by, search

# --- typed reads of one custom attribute (the same meaning on SQLite and PostgreSQL) ----------


class AttrText(FunctionElement[str]):
    """The attribute as text (``'42'``, ``'true'``), NULL when missing or null."""

    type = String()
    inherit_cache = True
    name = "attr_text"


class AttrNumber(FunctionElement[float]):
    """The attribute as a number when it is one (or numeric text like ``"1200"``), else NULL."""

    type = Float()
    inherit_cache = True
    name = "attr_number"


def _parts(element: FunctionElement[Any], compiler: SQLCompiler, kw: dict[str, Any]) -> tuple[Any, Any]:
    column, key = list(element.clauses)
    # Rendered afresh at every use: positional parameter styles need one placeholder per occurrence.
    return (lambda: compiler.process(column, **kw)), (lambda: compiler.process(key, **kw))


@compiles(AttrText, "sqlite")
def _attr_text_sqlite(element: AttrText, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, kw)

    def path() -> str:
        return f"'$.' || json_quote({key()})"

    return (
        f"CASE json_type({col()}, {path()}) WHEN 'text' THEN json_extract({col()}, {path()}) "
        f"WHEN 'integer' THEN CAST(json_extract({col()}, {path()}) AS TEXT) "
        f"WHEN 'real' THEN CAST(json_extract({col()}, {path()}) AS TEXT) "
        "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END"
    )


@compiles(AttrNumber, "sqlite")
def _attr_number_sqlite(element: AttrNumber, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, kw)

    def path() -> str:
        return f"'$.' || json_quote({key()})"

    def text() -> str:
        return f"trim(json_extract({col()}, {path()}))"

    return (
        f"CASE WHEN json_type({col()}, {path()}) IN ('integer', 'real') THEN json_extract({col()}, {path()}) "
        f"WHEN json_type({col()}, {path()}) = 'text' AND {text()} GLOB '*[0-9]*' "
        f"AND NOT {text()} GLOB '*[^0-9.eE+-]*' THEN CAST({text()} AS REAL) END"
    )


_PG_NUMBER = r"'^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[[:space:]]*$'"


@compiles(AttrText, "postgresql")
def _attr_text_pg(element: AttrText, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, kw)
    return f"({col()} ->> CAST({key()} AS TEXT))"


@compiles(AttrNumber, "postgresql")
def _attr_number_pg(element: AttrNumber, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, kw)

    def text() -> str:
        return f"({col()} ->> CAST({key()} AS TEXT))"

    def kind() -> str:
        return f"json_typeof({col()} -> CAST({key()} AS TEXT))"

    return (
        f"CASE WHEN {kind()} = 'number' THEN CAST({text()} AS DOUBLE PRECISION) "
        f"WHEN {kind()} = 'string' AND {text()} ~ {_PG_NUMBER} THEN CAST({text()} AS DOUBLE PRECISION) END"
    )


# --- compiling conditions -------------------------------------------------------------------


def _negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    # "is not X" includes rows where the value is missing: NULL comparisons would silently drop them.
    return not_(func.coalesce(clause, false()))


def _column_clause(column: Any, kind: str, op: str, value: Any) -> ColumnElement[bool]:
    if kind == "datetime" and isinstance(value, str):
        value = parse_when(value)
    if op == "eq":
        return column == value  # type: ignore[no-any-return]
    if op == "ne":
        return or_(column.is_(None), column != value)
    if op == "in":
        return column.in_(value)  # type: ignore[no-any-return]
    if op == "not_in":
        return or_(column.is_(None), column.not_in(value))
    if op == "gt":
        return column > value  # type: ignore[no-any-return]
    if op == "gte":
        return column >= value  # type: ignore[no-any-return]
    if op == "lt":
        return column < value  # type: ignore[no-any-return]
    if op == "lte":
        return column <= value  # type: ignore[no-any-return]
    if op == "contains":
        return contains(column, value)
    present = and_(column.is_not(None), column != "") if kind == "text" else column.is_not(None)
    if op == "is_set":
        return present
    if op == "is_empty":
        return not_(present)
    raise ValueError(f"unknown operator {op}")


def _attr_equals(column: Any, key: str, values: Sequence[Any]) -> ColumnElement[bool]:
    """The attribute equals one of ``values``: text compares as text, numbers as numbers, booleans as true/false."""
    texts = [v for v in values if isinstance(v, str)]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    bools = ["true" if v else "false" for v in values if isinstance(v, bool)]
    parts: list[ColumnElement[bool]] = []
    k = literal(key, String())
    if texts or bools:
        parts.append(AttrText(column, k).in_(texts + bools))
    if numbers:
        parts.append(AttrNumber(column, k).in_(numbers))
    return or_(*parts) if parts else false()


def _attribute_clause(column: Any, key: str, op: str, value: Any) -> ColumnElement[bool]:
    k = literal(key, String())
    if op in ("eq", "in"):
        return _attr_equals(column, key, value if isinstance(value, list) else [value])
    if op in ("ne", "not_in"):
        return _negate(_attr_equals(column, key, value if isinstance(value, list) else [value]))
    if op in ("gt", "gte", "lt", "lte"):
        number = AttrNumber(column, k)
        comparisons: dict[str, ColumnElement[bool]] = {
            "gt": number > value,
            "gte": number >= value,
            "lt": number < value,
            "lte": number <= value,
        }
        return comparisons[op]
    text = AttrText(column, k)
    if op == "contains":
        return contains(text, value)
    present = and_(text.is_not(None), text != "")
    if op == "is_set":
        return present
    if op == "is_empty":
        return not_(present)
    raise ValueError(f"unknown operator {op}")


def _clause(model: type[Account] | type[Person], ref: FieldRef, cond: Condition) -> ColumnElement[bool]:
    if ref.kind == "attribute":
        return _attribute_clause(model.attributes, ref.name, cond.op, cond.value)
    return _column_clause(getattr(model, ref.name), ref.kind, cond.op, cond.value)


def compile_conditions(entity: Entity, conditions: Sequence[Condition]) -> ColumnElement[bool]:
    """AND of already validated conditions, as a WHERE clause on accounts or people."""
    if entity == "accounts":
        return and_(true(), *[_clause(Account, resolve_field(entity, c.field), c) for c in conditions])  # type: ignore[arg-type]
    own: list[ColumnElement[bool]] = []
    on_account: list[ColumnElement[bool]] = []
    for cond in conditions:
        ref = resolve_field(entity, cond.field)
        assert ref is not None, cond.field
        (on_account if ref.on == "account" else own).append(
            _clause(Account if ref.on == "account" else Person, ref, cond)
        )
    if on_account:
        own.append(Person.account_id.in_(select(Account.id).where(and_(*on_account)).correlate(None)))
    return and_(true(), *own)


def account_clause(conditions: Sequence[Condition | dict[str, Any]]) -> ColumnElement[bool]:
    return compile_conditions("accounts", validate_conditions("accounts", list(conditions)))


def person_clause(conditions: Sequence[Condition | dict[str, Any]]) -> ColumnElement[bool]:
    return compile_conditions("people", validate_conditions("people", list(conditions)))


# --- outputs --------------------------------------------------------------------------------


def account_out(account: Account, people_count: int | None = None, *, with_owner: bool = True) -> AccountOut:
    out = AccountOut.model_validate(account)
    out.people_count = people_count
    if with_owner and account.owner_id is not None and "owner" in account.__dict__ and account.owner is not None:
        out.owner_name = account.owner.display_name
    return out


def person_out(person: Person) -> PersonOut:
    out = PersonOut.model_validate(person)
    if person.account_id is not None and "account" in person.__dict__ and person.account is not None:
        out.account_name = person.account.name
    return out


def segment_out(segment: Segment, member_count: int | None = None) -> SegmentOut:
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        entity=segment.entity,
        filters=[Condition.model_validate(c) for c in segment.filters],
        member_count=member_count,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


# --- accounts -------------------------------------------------------------------------------

_owner_label = func.coalesce(func.nullif(User.name, ""), User.email)


def _people_count() -> Any:
    return (
        select(func.count(Person.id))
        .where(Person.account_id == Account.id)
        .correlate(Account)
        .scalar_subquery()
        .label("people_count")
    )


def account_sorts(people_count: Any) -> dict[str, Any]:
    return {
        "name": Account.name,
        "domain": Account.domain,
        "plan": Account.plan,
        "segment": Account.segment,
        "region": Account.region,
        "stage": Account.lifecycle_stage,
        "arr": Account.arr,
        "owner": _owner_label,
        "people": people_count,
        "created_at": Account.created_at,
        "updated_at": Account.updated_at,
    }


def _attr_condition(attr: str) -> Condition:
    key, sep, value = attr.partition("=")
    key = key.strip()
    if not ATTRIBUTE_KEY.match(key):
        raise ValidationFailed("attr", f"attribute name {key!r} must be letters, digits, spaces, '_', '-' or '.'")
    if not sep:
        return Condition.model_construct(field=f"attributes.{key}", op="is_set", value=None)
    return Condition.model_construct(field=f"attributes.{key}", op="eq", value=value.strip())


def get_segment(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("segment", segment_id)
    return segment


def _segment_conditions(session: Session, segment_id: int, entity: Entity) -> list[Condition]:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise ValidationFailed("segment_id", f"there is no segment {segment_id}")
    if segment.entity != entity:
        raise ValidationFailed("segment_id", f"segment {segment.name!r} is a segment of {segment.entity}, not {entity}")
    return validate_conditions(entity, list(segment.filters))


def account_conditions(session: Session, f: AccountFilters) -> list[Condition]:
    """The list filters as conditions of the filter language (a saved segment adds its own)."""
    conds: list[Condition] = []

    def add(field: str, op: Op, value: Any) -> None:
        conds.append(Condition.model_construct(field=field, op=op, value=value))

    for name in ("plan", "segment", "region"):
        if getattr(f, name) is not None:
            add(name, "eq", getattr(f, name))
    if f.stage is not None:
        add("lifecycle_stage", "eq", f.stage)
    if f.owner_id is not None:
        add("owner_id", "eq", f.owner_id)
    if f.arr_min is not None:
        add("arr", "gte", f.arr_min)
    if f.arr_max is not None:
        add("arr", "lte", f.arr_max)
    if f.attr is not None:
        conds.append(_attr_condition(f.attr))
    if f.segment_id is not None:
        conds.extend(_segment_conditions(session, f.segment_id, "accounts"))
    return conds


def account_where(session: Session, f: AccountFilters) -> ColumnElement[bool]:
    return and_(
        compile_conditions("accounts", account_conditions(session, f)),
        search(f.q, Account.name, Account.domain, Account.external_id),
    )


def _accounts_stmt(where: ColumnElement[bool], sort: str | None) -> Select[Any]:
    stmt = select(Account).outerjoin(Account.owner).options(contains_eager(Account.owner)).where(where)
    return order_by(stmt, sort, account_sorts(_people_count()), "name", Account.id)


def _people_counts(session: Session, account_ids: Sequence[int]) -> dict[int, int]:
    """People per account for one page of accounts (counting for the page only keeps deep pages cheap)."""
    if not account_ids:
        return {}
    stmt = (
        select(Person.account_id, func.count())
        .where(Person.account_id.in_(sorted(set(account_ids))))
        .group_by(Person.account_id)
    )
    return {aid: n for aid, n in session.execute(stmt) if aid is not None}


def _with_counts(session: Session, accounts: Sequence[Account]) -> list[AccountOut]:
    counts = _people_counts(session, [a.id for a in accounts])
    return [account_out(a, counts.get(a.id, 0)) for a in accounts]


def list_accounts(session: Session, f: AccountFilters) -> Page[AccountOut]:
    """One page of accounts with owner and people count: three statements whatever the page size or depth."""
    check_page(f.page, f.per_page)
    where = account_where(session, f)
    stmt = _accounts_stmt(where, f.sort)
    total = session.scalar(select(func.count()).select_from(Account).where(where)) or 0
    accounts = list(session.scalars(stmt.limit(f.per_page).offset((f.page - 1) * f.per_page)).unique())
    return Page(items=_with_counts(session, accounts), total=total, number=f.page, per_page=f.per_page)


def get_account(session: Session, account_id: int) -> AccountOut:
    row = session.execute(_accounts_stmt(Account.id == account_id, None).add_columns(_people_count())).first()
    if row is None:
        raise NotFound("account", account_id)
    return account_out(row[0], row[1])


def accounts_by_id(session: Session, ids: Sequence[int]) -> dict[int, AccountOut]:
    if not ids:
        return {}
    accounts = list(session.scalars(_accounts_stmt(Account.id.in_(set(ids)), None)).unique())
    return {a.id: a for a in _with_counts(session, accounts)}


def account_people(session: Session, account_id: int, limit: int = 100) -> list[PersonOut]:
    stmt = (
        select(Person)
        .where(Person.account_id == account_id)
        .order_by(Person.name, Person.email, Person.id)
        .limit(limit)
    )
    return [PersonOut.model_validate(p) for p in session.scalars(stmt)]


FACETS = ("plan", "segment", "region", "lifecycle_stage")


_FACET_TTL = 60.0
_facet_cache: dict[str, tuple[float, dict[str, list[tuple[str, int]]]]] = {}


def forget_facets() -> None:
    """Drop cached facet counts (the customers service calls this after every committed write)."""
    _facet_cache.clear()


def account_facets(session: Session) -> dict[str, list[tuple[str, int]]]:
    """Values in use for each filterable text column, with counts, in one statement.

    Counting 100,000 accounts takes ~70 ms on PostgreSQL, so the result is kept for a minute per database; writes
    made through this process clear it at once, writes from other processes show within the minute.
    """
    key = str(session.get_bind().engine.url)
    cached = _facet_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < _FACET_TTL:
        return {k: list(v) for k, v in cached[1].items()}
    facets = _count_facets(session)
    _facet_cache[key] = (time.monotonic(), facets)
    return {k: list(v) for k, v in facets.items()}


def _count_facets(session: Session) -> dict[str, list[tuple[str, int]]]:
    parts = [
        select(
            literal_column(f"'{name}'").label("facet"), getattr(Account, name).label("value"), func.count().label("n")
        )
        .where(getattr(Account, name).is_not(None))
        .group_by(getattr(Account, name))
        for name in FACETS
    ]
    facets: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
    for facet, value, n in session.execute(union_all(*parts)):
        facets[facet].append((value, n))
    for values in facets.values():
        values.sort(key=lambda v: (-v[1], v[0]))
    return facets


def owner_choices(session: Session) -> list[tuple[int, str]]:
    """Active users who can own accounts, by name."""
    stmt = select(User.id, _owner_label).where(User.is_active.is_(True)).order_by(_owner_label)
    return [(uid, label) for uid, label in session.execute(stmt)]


def segment_choices(session: Session, entity: Entity) -> list[tuple[int, str]]:
    stmt = select(Segment.id, Segment.name).where(Segment.entity == entity).order_by(Segment.name)
    return [(sid, name) for sid, name in session.execute(stmt)]


def arr_by_segment(session: Session, f: AccountFilters) -> list[dict[str, Any]]:
    """ARR and account counts grouped by segment and plan, for the filtered accounts."""
    stmt = (
        select(Account.segment, Account.plan, func.sum(Account.arr), func.count())
        .where(account_where(session, f))
        .group_by(Account.segment, Account.plan)
    )
    return [
        {"segment": s or "(none)", "plan": p or "(none)", "arr": float(arr or 0), "accounts": n}
        for s, p, arr, n in session.execute(stmt)
    ]


ACCOUNT_EXPORT_COLUMNS = (
    "id",
    "external_id",
    "name",
    "domain",
    "plan",
    "arr",
    "segment",
    "region",
    "lifecycle_stage",
    "owner_email",
    "people_count",
    "created_at",
)


def account_export(session: Session, f: AccountFilters) -> tuple[list[str], list[list[Any]]]:
    """Every account matching the filters (all pages), sorted like the list, with one column per custom attribute."""
    people_count = _people_count()
    stmt = (
        select(Account, people_count, User.email)
        .outerjoin(User, Account.owner_id == User.id)
        .where(account_where(session, f))
        .execution_options(yield_per=1000)
    )
    stmt = order_by(stmt, f.sort, account_sorts(people_count), "name", Account.id)
    records: list[tuple[Account, int, str | None]] = [(r[0], r[1], r[2]) for r in session.execute(stmt)]
    keys = sorted({k for a, _, _ in records for k in a.attributes})
    headers = [*ACCOUNT_EXPORT_COLUMNS, *(f"attributes.{k}" for k in keys)]
    rows = [
        [
            a.id,
            a.external_id,
            a.name,
            a.domain,
            a.plan,
            a.arr,
            a.segment,
            a.region,
            a.lifecycle_stage,
            email,
            n,
            a.created_at.isoformat(),
            *(a.attributes.get(k) for k in keys),
        ]
        for a, n, email in records
    ]
    return headers, rows


# --- people ---------------------------------------------------------------------------------

PERSON_SORTS: dict[str, Any] = {
    "name": Person.name,
    "email": Person.email,
    "title": Person.title,
    "account": Account.name,
    "created_at": Person.created_at,
    "updated_at": Person.updated_at,
}


def person_conditions(session: Session, f: PersonFilters) -> list[Condition]:
    conds: list[Condition] = []
    if f.account_id is not None:
        conds.append(Condition.model_construct(field="account_id", op="eq", value=f.account_id))
    if f.title:
        conds.append(Condition.model_construct(field="title", op="contains", value=f.title))
    if f.attr is not None:
        conds.append(_attr_condition(f.attr))
    if f.segment_id is not None:
        conds.extend(_segment_conditions(session, f.segment_id, "people"))
    return conds


def person_where(session: Session, f: PersonFilters) -> ColumnElement[bool]:
    return and_(
        compile_conditions("people", person_conditions(session, f)),
        search(f.q, Person.email, Person.name, Person.external_id),
    )


def _people_stmt(where: ColumnElement[bool], sort: str | None) -> Select[Any]:
    stmt = select(Person).outerjoin(Person.account).options(contains_eager(Person.account)).where(where)
    return order_by(stmt, sort, PERSON_SORTS, "name", Person.id)


def list_people(session: Session, f: PersonFilters) -> Page[PersonOut]:
    check_page(f.page, f.per_page)
    where = person_where(session, f)
    total = session.scalar(select(func.count()).select_from(Person).where(where)) or 0
    stmt = _people_stmt(where, f.sort).limit(f.per_page).offset((f.page - 1) * f.per_page)
    return Page(items=[person_out(p) for p in session.scalars(stmt)], total=total, number=f.page, per_page=f.per_page)


def get_person(session: Session, person_id: int) -> PersonOut:
    person = session.scalars(_people_stmt(Person.id == person_id, None)).first()
    if person is None:
        raise NotFound("person", person_id)
    return person_out(person)


def people_by_id(session: Session, ids: Sequence[int]) -> dict[int, PersonOut]:
    if not ids:
        return {}
    return {p.id: person_out(p) for p in session.scalars(_people_stmt(Person.id.in_(set(ids)), None))}


def person_by_email(session: Session, email: str) -> PersonOut | None:
    person = session.scalars(_people_stmt(Person.email == email.strip().lower(), None)).first()
    return person_out(person) if person else None


def account_name(session: Session, account_id: int) -> str | None:
    return session.scalar(select(Account.name).where(Account.id == account_id))


PERSON_EXPORT_COLUMNS = (
    "id",
    "external_id",
    "email",
    "name",
    "title",
    "account_external_id",
    "account_domain",
    "account_name",
    "created_at",
)


def person_export(session: Session, f: PersonFilters) -> tuple[list[str], list[list[Any]]]:
    stmt = _people_stmt(person_where(session, f), f.sort).execution_options(yield_per=1000)
    people = list(session.scalars(stmt))
    keys = sorted({k for p in people for k in p.attributes})
    headers = [*PERSON_EXPORT_COLUMNS, *(f"attributes.{k}" for k in keys)]
    rows = []
    for p in people:
        acc = p.account
        rows.append(
            [
                p.id,
                p.external_id,
                p.email,
                p.name,
                p.title,
                acc.external_id if acc else None,
                acc.domain if acc else None,
                acc.name if acc else None,
                p.created_at.isoformat(),
                *(p.attributes.get(k) for k in keys),
            ]
        )
    return headers, rows


# --- segments -------------------------------------------------------------------------------


def segment_members_where(segment: Segment) -> ColumnElement[bool]:
    return compile_conditions(segment.entity, validate_conditions(segment.entity, list(segment.filters)))  # type: ignore[arg-type]


def segment_counts(session: Session, segments: Sequence[Segment]) -> dict[int, int]:
    """Member counts of several segments in one statement."""
    columns = []
    for seg in segments:
        model = Account if seg.entity == "accounts" else Person
        try:
            where = segment_members_where(seg)
        except ValidationFailed:
            continue  # a segment saved under older field rules shows no count rather than breaking the page
        columns.append(select(func.count()).select_from(model).where(where).scalar_subquery().label(f"s{seg.id}"))
    if not columns:
        return {}
    row = session.execute(select(*columns)).one()
    return {int(key[1:]): value for key, value in row._mapping.items()}


def list_segments(
    session: Session, q: str | None = None, entity: Entity | None = None, page: int = 1, per_page: int = 50
) -> Page[SegmentOut]:
    check_page(page, per_page)
    stmt = select(Segment)
    if q:
        stmt = stmt.where(contains(Segment.name, q))
    if entity:
        stmt = stmt.where(Segment.entity == entity)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    segments = list(
        session.scalars(stmt.order_by(Segment.name, Segment.id).limit(per_page).offset((page - 1) * per_page))
    )
    counts = segment_counts(session, segments)
    return Page(items=[segment_out(s, counts.get(s.id)) for s in segments], total=total, number=page, per_page=per_page)


def segment_detail(session: Session, segment_id: int) -> SegmentOut:
    segment = get_segment(session, segment_id)
    return segment_out(segment, segment_counts(session, [segment]).get(segment.id))


def segment_member_ids(session: Session, segment_id: int) -> Select[Any]:
    """A SELECT of the ids of a segment's members (accounts or people), to use as ``x.in_(...)``."""
    segment = get_segment(session, segment_id)
    model = Account if segment.entity == "accounts" else Person
    return select(model.id).where(segment_members_where(segment))


def segment_account_ids(session: Session, segment_id: int) -> Select[Any]:
    """Account ids of a segment: its accounts, or for a people segment the accounts its people belong to."""
    segment = get_segment(session, segment_id)
    if segment.entity == "accounts":
        return select(Account.id).where(segment_members_where(segment))
    return select(Person.account_id).where(segment_members_where(segment), Person.account_id.is_not(None)).distinct()


def attribute_keys(session: Session, entity: Entity, sample: int = 2000) -> list[str]:
    """Custom attribute names in use (from the most recent records), for pickers."""
    model = Account if entity == "accounts" else Person
    keys: set[str] = set()
    for attrs in session.scalars(select(model.attributes).order_by(model.id.desc()).limit(sample)):
        keys.update(attrs or {})
    return sorted(keys)
