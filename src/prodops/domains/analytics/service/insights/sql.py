"""The SQL every insight shares: parameters, the events of a date range with their person and account, property
expressions, filters, and date ranges cut into intervals.

Rules that keep the insight code safe and portable:

- User text (event names, property names, filter values) only ever travels as a ``$pN`` parameter. A property
  name becomes a JSON path parameter (``$."name"``, quotes and backslashes escaped), never part of the SQL text.
- Identifiers and keywords in the SQL text come from whitelists in this module (interval names, account
  columns); numbers are formatted from validated integers.
- Only :meth:`Warehouse.query` runs the SQL; it is written in DuckDB's dialect and portable constructs (no
  QUALIFY, no ASOF joins), so another backend can translate it.

The person of an event is ``COALESCE(o.new_person_id, e.person_id)`` (merged persons, see the schema module);
its account is ``COALESCE(e.account_id, p.account_id)``: the event's own account, else the person's.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prodops.domains.analytics.service.insights.types import RELATIVE, Filter, RanSql

#: Account attributes kept as columns of the ``accounts`` table (anything else is read from its JSON).
ACCOUNT_COLUMNS = {"plan", "arr", "arr_band", "segment", "region", "name", "external_id"}
#: Person attributes kept as columns of the ``persons`` table.
PERSON_COLUMNS = {"email", "name", "external_id"}
TRUNC = {"minute": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month"}
NONE_LABEL = "(none)"
OTHER_LABEL = "Other"


@dataclass
class Sql:
    """Collects parameters while a statement is built: ``sql.p(value)`` returns the placeholder."""

    params: dict[str, Any] = field(default_factory=dict)

    def p(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def ran(self, text: str) -> RanSql:
        return RanSql(sql=text.strip(), params={k: _plain(v) for k, v in self.params.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_path(name: str) -> str:
    """The JSON path of a top-level key, quoted so any key is read literally (``a.b`` is the key "a.b")."""
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prop(sql: Sql, source: str, name: str) -> str:
    """The expression (text) of a property of the event, its person or its account."""
    if source == "account":
        if name in ACCOUNT_COLUMNS:
            return f"CAST(a.{name} AS VARCHAR)" if name == "arr" else f"a.{name}"
        return f"json_extract_string(a.properties, {sql.p(json_path(name))})"
    if source == "person":
        if name in PERSON_COLUMNS:
            return f"p.{name}"
        return f"json_extract_string(p.properties, {sql.p(json_path(name))})"
    return f"json_extract_string(e.properties, {sql.p(json_path(name))})"


def numeric_prop(sql: Sql, source: str, name: str) -> str:
    if source == "account" and name == "arr":
        return "a.arr"
    return f"TRY_CAST({prop(sql, source, name)} AS DOUBLE)"


def filter_sql(sql: Sql, f: Filter) -> str:
    if f.op in {"gt", "lt"}:
        num = numeric_prop(sql, f.source, f.property)
        return f"{num} {'>' if f.op == 'gt' else '<'} {sql.p(float(f.value))}"  # type: ignore[arg-type]
    expr = prop(sql, f.source, f.property)
    if f.op == "is_set":
        return f"{expr} IS NOT NULL"
    if f.op == "is_not_set":
        return f"{expr} IS NULL"
    if f.op == "contains":
        return f"strpos(lower({expr}), lower({sql.p(str(f.value))})) > 0"
    if f.op == "neq":
        return f"({expr} IS NULL OR {expr} <> {sql.p(str(f.value))})"
    return f"{expr} = {sql.p(str(f.value))}"


def sources_needed(filters: Iterable[Filter], *extra: str) -> set[str]:
    return {f.source for f in filters} | set(extra)


def events_sql(
    sql: Sql,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    events: Iterable[str] | None = None,
    filters: Iterable[Filter] = (),
    columns: Iterable[str] = (),
    need: Iterable[str] = (),
) -> str:
    """``SELECT event, ts, person_id [, account_id], <columns>`` of the events in [start, end).

    ``need`` names the joins the caller's ``columns`` use besides the filters (``person``, ``account``); asking
    for ``account_id`` needs the person (an event without an account takes its person's).
    """
    filters = list(filters)
    needed = sources_needed(filters, *need)
    if "account" in needed:
        needed.add("person")
    select = [
        "e.event AS event",
        "e.timestamp AS ts",
        "COALESCE(o.new_person_id, e.person_id) AS person_id",
    ]
    if "person" in needed:
        select.append("COALESCE(e.account_id, p.account_id) AS account_id")
    select.extend(columns)
    joins = ["LEFT JOIN person_overrides o ON o.old_person_id = e.person_id"]
    if "person" in needed:
        joins.append("LEFT JOIN persons p ON p.person_id = COALESCE(o.new_person_id, e.person_id)")
    if "account" in needed:
        joins.append("LEFT JOIN accounts a ON a.account_id = COALESCE(e.account_id, p.account_id)")
    where = []
    if start is not None:
        where.append(f"e.timestamp >= {sql.p(start)}")
    if end is not None:
        where.append(f"e.timestamp < {sql.p(end)}")
    names = list(dict.fromkeys(events)) if events is not None else None
    if names is not None:
        where.append(f"e.event IN ({', '.join(sql.p(n) for n in names)})" if names else "FALSE")
    where.extend(filter_sql(sql, f) for f in filters)
    return (
        f"SELECT {', '.join(select)}\nFROM events e\n"
        + "\n".join(joins)
        + (f"\nWHERE {' AND '.join(where)}" if where else "")
    )


# --- dates ---------------------------------------------------------------------------------------------------


def naive(value: dt.datetime) -> dt.datetime:
    """A UTC datetime as the warehouse stores it (naive, UTC)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def trunc(value: dt.datetime, interval: str) -> dt.datetime:
    """The start of the interval ``value`` falls in (weeks start on Monday, like DuckDB's ``date_trunc``)."""
    if interval == "minute":
        return value.replace(second=0, microsecond=0)
    if interval == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    raise ValueError(interval)


def add(value: dt.datetime, interval: str, n: int = 1) -> dt.datetime:
    """``value`` moved by ``n`` intervals (months keep the day where they can)."""
    if interval == "month":
        month = value.month - 1 + n
        year = value.year + month // 12
        month = month % 12 + 1
        return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))
    size = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
    size["week"] = dt.timedelta(weeks=1)
    return value + n * size[interval]


def resolve_range(
    date_from: str, date_to: str | None, interval: str, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in naive UTC. Relative starts count back from now (``-30d``: today and the 29 days before);
    an ISO ``date_to`` includes that whole day; no ``date_to`` means now. The start is widened to the start of
    its interval so that the first bucket is whole."""
    now = naive(now)
    match = RELATIVE.match(date_from)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        if unit == "h":
            start = trunc(now, "hour") - dt.timedelta(hours=n - 1)
        elif unit == "d":
            start = trunc(now, "day") - dt.timedelta(days=n - 1)
        elif unit == "w":
            start = trunc(now, "day") - dt.timedelta(days=7 * n - 1)
        else:
            start = add(trunc(now, "day"), "month", -n) + dt.timedelta(days=1)
    else:
        start = dt.datetime.combine(dt.date.fromisoformat(date_from), dt.time())
    if date_to is None:
        end = now
    elif RELATIVE.match(date_to):
        # "until -7d": up to the start of that relative day.
        end, _ = resolve_range(date_to, None, "day", now)
    else:
        end = dt.datetime.combine(dt.date.fromisoformat(date_to), dt.time()) + dt.timedelta(days=1)
    start = trunc(start, interval)
    if end <= start:
        end = add(start, interval)
    return start, end


def buckets(start: dt.datetime, end: dt.datetime, interval: str) -> list[dt.datetime]:
    """Every interval start in [start, end)."""
    out: list[dt.datetime] = []
    b = trunc(start, interval)
    while b < end:
        out.append(b)
        b = add(b, interval)
    return out


def utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def interval_literal(n: int, unit: str) -> str:
    """An SQL interval from a validated integer and a whitelisted unit."""
    if unit not in TRUNC:
        raise ValueError(unit)
    return f"INTERVAL {int(n)} {unit.upper()}"


def actors_sql(
    sql: Sql,
    *,
    start: dt.datetime,
    end: dt.datetime,
    unit: str,
    events: Iterable[str] | None,
    filters: Iterable[Filter],
    breakdown: tuple[str, str] | None = None,
    accounts: bool = False,
) -> str:
    """``(bucket, person_id[, account_id][, bd])``: who was active in each interval, for distinct counts.

    Written in two steps because it is much faster on large tables: first the distinct (interval, person as sent,
    event account) of the matching events, with only the event filters; then merges, the person and account joins,
    filters and breakdown on those far fewer rows. Same answer as resolving and filtering every event row.
    """
    filters = list(filters)
    first_filters = [f for f in filters if f.source == "event"]
    later_filters = [f for f in filters if f.source != "event"]
    needed: set[str] = {f.source for f in later_filters}
    if breakdown and breakdown[0] != "event":
        needed.add(breakdown[0])
    if accounts or "account" in needed:
        needed.add("person")
    inner = [f"date_trunc('{TRUNC[unit]}', e.timestamp) AS bucket", "e.person_id AS raw_person_id"]
    if "person" in needed:
        inner.append("e.account_id AS own_account")
    if breakdown and breakdown[0] == "event":
        inner.append(f"{prop(sql, 'event', breakdown[1])} AS bd_raw")
    where = [f"e.timestamp >= {sql.p(start)}", f"e.timestamp < {sql.p(end)}"]
    names = list(dict.fromkeys(events)) if events is not None else None
    if names is not None:
        where.append(f"e.event IN ({', '.join(sql.p(n) for n in names)})" if names else "FALSE")
    where.extend(filter_sql(sql, f) for f in first_filters)
    first = f"SELECT DISTINCT {', '.join(inner)}\nFROM events e\nWHERE {' AND '.join(where)}"
    outer = ["ev.bucket", "COALESCE(o.new_person_id, ev.raw_person_id) AS person_id"]
    joins = ["LEFT JOIN person_overrides o ON o.old_person_id = ev.raw_person_id"]
    if "person" in needed:
        outer.append("COALESCE(ev.own_account, p.account_id) AS account_id")
        joins.append("LEFT JOIN persons p ON p.person_id = COALESCE(o.new_person_id, ev.raw_person_id)")
    if "account" in needed:
        joins.append("LEFT JOIN accounts a ON a.account_id = COALESCE(ev.own_account, p.account_id)")
    if breakdown:
        expr = "ev.bd_raw" if breakdown[0] == "event" else prop(sql, breakdown[0], breakdown[1])
        outer.append(f"COALESCE({expr}, {sql.p(NONE_LABEL)}) AS bd")
    later = [filter_sql(sql, f) for f in later_filters]
    return (
        f"SELECT {', '.join(outer)}\nFROM (\n{first}\n) ev\n"
        + "".join(j + "\n" for j in joins)
        + (f"WHERE {' AND '.join(later)}" if later else "")
    ).rstrip()
