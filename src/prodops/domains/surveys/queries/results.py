"""Survey results: scores over time and broken down by account segment, plan, region, product and account, the
change against the previous period, and response rates per wave.

Every number comes from one grouped query — responses counted per (dimensions, score) — and the pure scoring
functions turn each histogram into a score with its interval. A score counts as soon as it is given (a response
that stopped before "why?" still counts); responses without a score (custom surveys, a skipped question) do not.
Periods are UTC calendar months or ISO weeks (Monday first), bucketed by the database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Select, String, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from prodops.domains.customers import service as customers
from prodops.domains.surveys.models import Response
from prodops.domains.surveys.schemas import KIND_LABELS, SurveyOut, WaveOut
from prodops.domains.surveys.service import distribution, get_survey, scoring
from prodops.platform.db import utcnow
from prodops.platform.errors import ValidationFailed
from prodops.platform.org.models import Product

Interval = Literal["week", "month"]
Dimension = Literal["period", "segment", "plan", "region", "product", "account"]
DIMENSIONS: tuple[str, ...] = ("segment", "plan", "region", "product", "account")
DIMENSION_LABELS = {
    "segment": "Segment",
    "plan": "Plan",
    "region": "Region",
    "product": "Product",
    "account": "Account",
}
QUARTER = dt.timedelta(days=91)
TOP_ACCOUNTS = 25
NONE_LABEL = "(none)"


class PeriodStart(FunctionElement[str]):
    """The first day (``YYYY-MM-DD``) of the UTC month or ISO week a timestamp falls in, on SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True

    def __init__(self, column: Any, unit: Interval) -> None:
        super().__init__(column)
        self.unit = unit


@compiles(PeriodStart)
def _period_sqlite(element: PeriodStart, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    if element.unit == "month":
        return f"strftime('%Y-%m-01', {column})"
    # 'weekday 0' moves to the coming Sunday (or stays on one); six days back is that week's Monday.
    return f"date({column}, 'weekday 0', '-6 days')"


@compiles(PeriodStart, "postgresql")
def _period_pg(element: PeriodStart, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"to_char(date_trunc('{element.unit}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Filters:
    """What the results page and API narrow responses by (all optional)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    segment_id: int | None = None
    plan: str | None = None
    segment: str | None = None
    region: str | None = None
    wave_id: int | None = None
    channel: str | None = None

    @property
    def needs_accounts(self) -> bool:
        return bool(self.plan or self.segment or self.region)


Histogram = dict[int, int]


def _grouped(
    session: Session, survey_id: int, dims: Sequence[str], f: Filters, interval: Interval = "month"
) -> dict[tuple[Any, ...], Histogram]:
    """(dimension values...) → {score: count} for the survey's scored responses."""
    facts = customers.account_facts().subquery()
    columns: list[Any] = []
    join_accounts = f.needs_accounts
    for dim in dims:
        if dim == "period":
            columns.append(PeriodStart(Response.responded_at, interval).label("period"))
        elif dim in ("segment", "plan", "region"):
            columns.append(facts.c[dim].label(dim))
            join_accounts = True
        elif dim == "account":
            columns.append(Response.account_id.label("account"))
        elif dim == "product":
            columns.append(Response.product_id.label("product"))
    stmt: Select[Any] = select(*columns, Response.score, func.count()).where(
        Response.survey_id == survey_id, Response.score.is_not(None)
    )
    if join_accounts:
        stmt = stmt.outerjoin(facts, facts.c.account_id == Response.account_id)
    if f.since is not None:
        stmt = stmt.where(Response.responded_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Response.responded_at < f.until)
    if f.plan:
        stmt = stmt.where(facts.c.plan == f.plan)
    if f.segment:
        stmt = stmt.where(facts.c.segment == f.segment)
    if f.region:
        stmt = stmt.where(facts.c.region == f.region)
    if f.segment_id is not None:
        stmt = stmt.where(Response.account_id.in_(customers.segment_account_ids(session, f.segment_id)))
    if f.wave_id is not None:
        stmt = stmt.where(Response.wave_id == f.wave_id)
    if f.channel:
        stmt = stmt.where(Response.channel == f.channel)
    stmt = stmt.group_by(*columns, Response.score)
    found: dict[tuple[Any, ...], Histogram] = {}
    for row in session.execute(stmt):
        *key, value, n = row
        hist = found.setdefault(tuple(key), {})
        hist[int(value)] = hist.get(int(value), 0) + int(n)
    return found


def breakdown(
    session: Session,
    survey_id: int,
    kind: str,
    dims: Sequence[str],
    f: Filters | None = None,
    interval: Interval = "month",
) -> dict[tuple[Any, ...], scoring.Score]:
    """The score of every combination of ``dims`` (e.g. ``("period", "segment")``: NPS by segment by month)."""
    return {
        key: scoring.score(kind, hist)
        for key, hist in _grouped(session, survey_id, dims, f or Filters(), interval).items()
    }


# --- the results page -----------------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    score: scoring.Score
    key: Any = None
    url: str | None = None


@dataclass
class Results:
    survey: SurveyOut
    kind: str | None
    kind_label: str
    filters: Filters
    interval: Interval
    overall: scoring.Score | None
    current: scoring.Score | None
    previous: scoring.Score | None
    change: scoring.Change | None
    current_start: dt.datetime
    series: list[Row] = field(default_factory=list)
    tables: dict[str, list[Row]] = field(default_factory=dict)
    waves: list[WaveOut] = field(default_factory=list)
    distribution: Histogram = field(default_factory=dict)

    @property
    def headline(self) -> str:
        """ "NPS 41, +6 vs last quarter, ±4" — or "no responses yet"."""
        if self.kind is None:
            return "This survey has no score question."
        s = self.current if self.current is not None and self.current.n else self.overall
        if s is None or s.value is None:
            return f"{self.kind_label}: no responses yet"
        text = f"{self.kind_label} {fmt(self.kind, s.value)}"
        if self.change is not None and self.change.delta is not None:
            text += (
                f", {self.change.delta:+.0f} vs last quarter"
                if self.kind != "ces"
                else f", {self.change.delta:+.2f} vs last quarter"
            )
        if s.margin is not None:
            text += f", ±{fmt(self.kind, s.margin)}"
        return text


def fmt(kind: str | None, value: float | None) -> str:
    if value is None:
        return "—"
    if kind == "ces":
        return f"{value:.2f}"
    if kind == "csat":
        return f"{value:.0f}%"
    return f"{value:.0f}"


def pick_interval(survey_span_days: int, wanted: str | None) -> Interval:
    if wanted in ("week", "month"):
        return "week" if wanted == "week" else "month"
    if wanted:
        raise ValidationFailed("interval", "choose week or month")
    return "week" if survey_span_days <= 120 else "month"


def _span_days(session: Session, survey_id: int) -> int:
    # Two statements: SQLite answers a lone min() or max() from the index, but scans it for both at once.
    where = Response.survey_id == survey_id
    first = session.scalar(select(func.min(Response.responded_at)).where(where))
    last = session.scalar(select(func.max(Response.responded_at)).where(where))
    if first is None or last is None:
        return 0
    if isinstance(first, str):  # SQLite hands aggregate timestamps back as text
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(str(last))
    return int((last - first).days)


def _label(value: Any) -> str:
    return NONE_LABEL if value in (None, "") else str(value)


def results(
    session: Session,
    survey_id: int,
    f: Filters | None = None,
    *,
    interval: str | None = None,
    now: dt.datetime | None = None,
) -> Results:
    f = f or Filters()
    now = now or utcnow()
    survey = get_survey(session, survey_id)
    kind = survey.score_kind
    chosen = pick_interval(_span_days(session, survey_id), interval)
    end = f.until or now
    current_start = end - QUARTER
    res = Results(
        survey=survey,
        kind=kind,
        kind_label=KIND_LABELS.get(kind or "", "Score"),
        filters=f,
        interval=chosen,
        overall=None,
        current=None,
        previous=None,
        change=None,
        current_start=current_start,
        waves=distribution.list_waves(session, survey_id),
    )
    if kind is None:
        return res
    heavy = _cached_scores(session, survey_id, kind, f, chosen, end)
    res.distribution, res.overall, res.series = heavy.distribution, heavy.overall, heavy.series
    res.current, res.previous = heavy.current, heavy.previous
    res.change = scoring.change(res.previous, res.current)
    res.tables = {dim: list(rows) for dim, rows in heavy.tables.items()}
    return res


@dataclass
class _Scores:
    distribution: Histogram
    overall: scoring.Score
    series: list[Row]
    current: scoring.Score
    previous: scoring.Score
    tables: dict[str, list[Row]]


#: Results are recomputed at most once a minute per survey, filters and data: the key holds a fingerprint of the
#: responses (see :func:`_fingerprint`), so a new or changed answer shows at once; changes to accounts (a new
#: segment or plan) show within the minute.
_TTL = 60.0
_cache: dict[tuple[Any, ...], tuple[float, _Scores]] = {}


def forget() -> None:
    """Drop cached results (tests; a process that knows the data changed under it)."""
    _cache.clear()


def _fingerprint(session: Session, survey_id: int) -> tuple[Any, ...]:
    """What changes whenever the survey's scores can: the newest response id of all surveys (a new response
    anywhere) and the survey's latest answer time (every answer moves it). Both are index look-ups, not counts."""
    newest = session.scalar(select(func.max(Response.id)))
    latest = session.scalar(select(func.max(Response.responded_at)).where(Response.survey_id == survey_id))
    return (newest, str(latest))


def _cached_scores(
    session: Session, survey_id: int, kind: str, f: Filters, interval: Interval, end: dt.datetime
) -> _Scores:
    key = (
        str(session.get_bind().engine.url),
        survey_id,
        kind,
        f,
        interval,
        end.replace(second=0, microsecond=0) if f.until is None else end,
        _fingerprint(session, survey_id),
    )
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < _TTL:
        return hit[1]
    scores = _compute(session, survey_id, kind, f, interval, end)
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = (now, scores)
    return scores


def _sum(target: Histogram, hist: Histogram) -> None:
    for v, n in hist.items():
        target[v] = target.get(v, 0) + n


def _compute(session: Session, survey_id: int, kind: str, f: Filters, interval: Interval, end: dt.datetime) -> _Scores:
    """Everything the results page shows, in four grouped queries: per period; the two quarters; by account
    attributes (segment × plan × region, summed per dimension here); by account × product."""
    everything = _grouped(session, survey_id, ["period"], f, interval)
    total: Histogram = {}
    for hist in everything.values():
        _sum(total, hist)
    series = [Row(label=str(k[0]), key=k[0], score=scoring.score(kind, h)) for k, h in sorted(everything.items())]
    current_start = end - QUARTER
    cur = _exact(session, survey_id, f, current_start, end)
    prev = _exact(session, survey_id, f, current_start - QUARTER, current_start)
    tables: dict[str, list[Row]] = {}
    marginals: dict[str, dict[Any, Histogram]] = {d: {} for d in DIMENSIONS}
    for (segment, plan, region), hist in _grouped(session, survey_id, ["segment", "plan", "region"], f).items():
        for dim, value in (("segment", segment), ("plan", plan), ("region", region)):
            _sum(marginals[dim].setdefault(value, {}), hist)
    for (account, product), hist in _grouped(session, survey_id, ["account", "product"], f).items():
        _sum(marginals["account"].setdefault(account, {}), hist)
        _sum(marginals["product"].setdefault(product, {}), hist)
    products = dict(session.execute(select(Product.id, Product.name)).all()) if marginals["product"] else {}
    for dim in DIMENSIONS:
        rows = [
            Row(label=_label(products.get(k, k) if dim == "product" else k), key=k, score=scoring.score(kind, h))
            for k, h in marginals[dim].items()
        ]
        rows.sort(key=lambda r: (-r.score.n, r.label))
        if dim == "account":
            rows = rows[:TOP_ACCOUNTS]
            names = {a.id: a.name for a in customers.accounts_by_id(session, [r.key for r in rows if r.key]).values()}
            for r in rows:
                if r.key:
                    r.label = names.get(r.key, f"#{r.key}")
                    r.url = f"/customers/accounts/{r.key}"
        tables[dim] = rows
    return _Scores(
        distribution=dict(sorted(total.items())),
        overall=scoring.score(kind, total),
        series=series,
        current=scoring.score(kind, cur),
        previous=scoring.score(kind, prev),
        tables=tables,
    )


def _exact(session: Session, survey_id: int, f: Filters, start: dt.datetime, end: dt.datetime) -> Histogram:
    window = Filters(**{**f.__dict__, "since": max(start, f.since) if f.since else start, "until": end})
    found = _grouped(session, survey_id, [], window)
    return found.get((), {})


def chart_spec(res: Results) -> dict[str, Any]:
    """The score per period with its 95% interval as a band, and the number of responses on hover."""
    kind = res.kind or "nps"
    values = [
        {
            "period": row.label,
            "score": round(row.score.value, 2) if row.score.value is not None else None,
            "low": round(row.score.low, 2) if row.score.low is not None else None,
            "high": round(row.score.high, 2) if row.score.high is not None else None,
            "n": row.score.n,
        }
        for row in res.series
    ]
    domain = {"nps": [-100, 100], "csat": [0, 100], "ces": [1, 7]}[kind]
    x = {
        "field": "period",
        "type": "temporal",
        "title": "Week starting" if res.interval == "week" else "Month",
        "axis": {"format": "%d %b" if res.interval == "week" else "%b %Y"},
    }
    tooltip = [
        {"field": "period", "type": "temporal", "title": "Period", "format": "%d %b %Y"},
        {"field": "score", "type": "quantitative", "title": res.kind_label, "format": ".1f"},
        {"field": "low", "type": "quantitative", "title": "95% low", "format": ".1f"},
        {"field": "high", "type": "quantitative", "title": "95% high", "format": ".1f"},
        {"field": "n", "type": "quantitative", "title": "Responses"},
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "height": 240,
        "width": "container",
        "layer": [
            {
                "mark": {"type": "area", "opacity": 0.2},
                "encoding": {
                    "x": x,
                    "y": {"field": "low", "type": "quantitative", "scale": {"domain": domain}, "title": res.kind_label},
                    "y2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "line", "point": True, "tooltip": True},
                "encoding": {
                    "x": x,
                    "y": {"field": "score", "type": "quantitative", "scale": {"domain": domain}},
                    "tooltip": tooltip,
                },
            },
        ],
    }


def definition(kind: str | None) -> str:
    if kind == "nps":
        return (
            "NPS = % promoters (9–10) − % detractors (0–6), from −100 to 100; 7–8 are passives. The ± is the 95% "
            "adjusted-Wald interval (three pseudo-responses added: ¾ promoter, ¾ detractor, 1½ passive), which keeps "
            "its coverage for small samples. A change is tested with a two-sample z-test on the +1/0/−1 scores; "
            "it is called real when p < 0.05, and not tested with fewer than 30 responses in a period."
        )
    if kind == "csat":
        return (
            "CSAT = % of answers 4 or 5 on the 1–5 scale. The ± is the 95% Wilson interval. A change is tested with a "
            "two-sample z-test on the proportions (p < 0.05, at least 30 responses per period)."
        )
    if kind == "ces":
        return (
            "CES = the mean of the 1–7 answers (7 = very easy). The ± is the 95% Student t interval. A change is "
            "tested with a two-sample z-test on the means (p < 0.05, at least 30 responses per period)."
        )
    return "Custom surveys have no score; their answers are listed under Responses."
