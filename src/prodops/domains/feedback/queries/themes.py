"""Reading themes: the ranked list with weekly counts and growth, one theme with its trend and typical items, and
the emerging-theme statistics. Reads only; never commits.

**Emerging themes** — which test, and why. For each theme, this week's items are ``x`` out of the ``n`` items that
arrived this week (every status), and the baseline is the theme's share of all feedback over the
:data:`BASELINE_WEEKS` weeks before. The test is a one-sided exact binomial test of ``x`` against ``n`` draws with
the baseline share (``scipy.stats.binomtest``, alternative "greater"): it compares *shares*, so a week when all
feedback doubles (a launch, an import) does not make every theme "emerge", and a week still in progress is as fair
as a whole one. A theme new in the baseline gets a share of (count + ½)/(baseline total + 1), so it is never taken
as zero. All themes are tested at once, so the p-values are corrected for multiple testing with Benjamini–Hochberg
(false discovery rate :data:`ALPHA`). A theme is emerging when its q-value is at most :data:`ALPHA`, it has at
least :data:`MIN_COUNT` items this week (fewer is an anecdote), and its share is at least :data:`MIN_LIFT` times
the baseline share (significant *and* large enough to matter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.stats import binomtest, false_discovery_control
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackInsight, FeedbackItem, FeedbackTheme
from prodops.domains.feedback.queries.items import items_out
from prodops.domains.feedback.schemas import FeedbackOut
from prodops.platform.db import utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.listing import check_page
from prodops.platform.text import sentiment

BASELINE_WEEKS = 8
MIN_COUNT = 5
ALPHA = 0.05
MIN_LIFT = 1.5
#: Weeks of counts in the list's sparklines and the theme page's trend chart.
LIST_WEEKS = 12
DETAIL_WEEKS = 26
SAMPLE_ITEMS = 8
TEST_NAME = "one-sided exact binomial test of this week's share against the baseline share, Benjamini–Hochberg"

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

ThemeSort = Literal["-size", "size", "-growth", "growth", "label", "-label", "-this_week", "this_week"]


# --- weeks ---------------------------------------------------------------------------------------


def iso_week(moment: dt.date | dt.datetime) -> str:
    """``2026-W48`` for any moment in that ISO week (UTC)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str, field: str = "week") -> dt.datetime:
    """Monday 00:00 UTC of an ISO week given as ``2026-W48`` (ValidationFailed naming ``field`` otherwise)."""
    found = _WEEK.match(week.strip())
    if not found:
        raise ValidationFailed(field, "give the week as YYYY-Www, e.g. 2026-W07")
    try:
        day = dt.date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError as exc:
        raise ValidationFailed(field, f"{week} is not a week of that year") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def current_week_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or utcnow()
    day = now.date() - dt.timedelta(days=now.weekday())
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def week_starts(weeks: int, now: dt.datetime | None = None) -> list[dt.datetime]:
    """The Mondays of the last ``weeks`` ISO weeks, oldest first; the last is this (unfinished) week."""
    last = current_week_start(now)
    return [last - dt.timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


def weekly_counts(
    session: Session, starts: Sequence[dt.datetime], theme_ids: Sequence[int] | None = None
) -> dict[int, list[int]]:
    """Items per theme and week (by when they were received): ``{theme_id: [count per week in starts]}``. One
    grouped statement; the week is a CASE over the week boundaries, so the SQL is the same on every database."""
    if not starts:
        return {}
    bounds = [*starts, starts[-1] + dt.timedelta(weeks=1)]
    bucket = case(
        *((FeedbackItem.received_at < bounds[n + 1], n) for n in range(len(starts))),
        else_=len(starts),
    )
    stmt = (
        select(FeedbackInsight.theme_id, bucket.label("week"), func.count())
        .join(FeedbackItem, FeedbackItem.id == FeedbackInsight.item_id)
        .where(
            FeedbackInsight.theme_id.is_not(None),
            FeedbackItem.received_at >= bounds[0],
            FeedbackItem.received_at < bounds[-1],
        )
        .group_by(FeedbackInsight.theme_id, bucket)
    )
    if theme_ids is not None:
        stmt = stmt.where(FeedbackInsight.theme_id.in_(list(theme_ids)))
    found: dict[int, list[int]] = {}
    for theme_id, week, count in session.execute(stmt):
        if theme_id is None or not 0 <= int(week) < len(starts):
            continue
        found.setdefault(int(theme_id), [0] * len(starts))[int(week)] = int(count)
    return found


# --- emerging themes -----------------------------------------------------------------------------


class EmergingRow(BaseModel):
    theme_id: int
    label: str
    count: int
    """Items of the theme received in the week."""
    baseline_count: int
    share: float
    """Of all feedback received in the week."""
    baseline_share: float
    """Of all feedback in the baseline weeks (smoothed: (count + ½)/(total + 1))."""
    lift: float | None
    """``share / baseline_share``."""
    p_value: float | None
    q_value: float | None
    """The p-value after the Benjamini–Hochberg correction across all themes."""
    emerging: bool
    reason: Literal["emerging", "too few", "no baseline", "not significant", "small growth"]


class EmergingReport(BaseModel):
    week: str
    start: dt.datetime
    end: dt.datetime
    """End of the counted window: the end of the week, or now for the week in progress."""
    total: int
    """All feedback received in the week."""
    baseline_start: dt.datetime
    baseline_total: int
    baseline_weeks: int = BASELINE_WEEKS
    test: str = TEST_NAME
    alpha: float = ALPHA
    min_count: int = MIN_COUNT
    min_lift: float = MIN_LIFT
    rows: list[EmergingRow]
    notified: list[int] = Field(default_factory=list)
    """Themes notified by this check (the others were not emerging or were already notified this week)."""

    @property
    def emerging(self) -> list[EmergingRow]:
        return [r for r in self.rows if r.emerging]


def display_label(theme: FeedbackTheme) -> str:
    return theme.custom_label or theme.label


def emerging_report(session: Session, week: str | None = None, *, now: dt.datetime | None = None) -> EmergingReport:
    """The emerging-theme statistics of one ISO week (default: this week so far); see the module docstring."""
    now = now or utcnow()
    start = week_start(week) if week else current_week_start(now)
    end = min(start + dt.timedelta(weeks=1), max(now, start))
    baseline_start = start - dt.timedelta(weeks=BASELINE_WEEKS)
    in_week = case((FeedbackItem.received_at >= start, 1), else_=0)
    window = (FeedbackItem.received_at >= baseline_start, FeedbackItem.received_at < end)
    total, everything = session.execute(
        select(func.coalesce(func.sum(in_week), 0), func.count()).select_from(FeedbackItem).where(*window)
    ).one()
    total = int(total)
    baseline_total = int(everything) - total
    counts: dict[int, tuple[int, int]] = {}
    stmt = (
        select(FeedbackInsight.theme_id, func.coalesce(func.sum(in_week), 0), func.count())
        .join(FeedbackItem, FeedbackItem.id == FeedbackInsight.item_id)
        .where(FeedbackInsight.theme_id.is_not(None), *window)
        .group_by(FeedbackInsight.theme_id)
    )
    for theme_id, current, both in session.execute(stmt):
        counts[int(theme_id)] = (int(current), int(both) - int(current))
    themes = list(
        session.scalars(select(FeedbackTheme).where(FeedbackTheme.merged_into_id.is_(None)).order_by(FeedbackTheme.id))
    )
    rows: list[dict[str, Any]] = []
    for theme in themes:
        x, b = counts.get(theme.id, (0, 0))
        share = x / total if total else 0.0
        base = (b + 0.5) / (baseline_total + 1)
        row: dict[str, Any] = {
            "theme_id": theme.id,
            "label": display_label(theme),
            "count": x,
            "baseline_count": b,
            "share": share,
            "baseline_share": base,
            "lift": share / base if total else None,
            "p_value": None,
            "q_value": None,
        }
        if total and baseline_total:
            row["p_value"] = float(binomtest(x, total, base, alternative="greater").pvalue)
        rows.append(row)
    tested = [r for r in rows if r["p_value"] is not None]
    if tested:
        qs = false_discovery_control([r["p_value"] for r in tested], method="bh")
        for r, q in zip(tested, qs, strict=True):
            r["q_value"] = float(q)
    out = []
    for r in rows:
        if not baseline_total:
            reason = "no baseline"
        elif r["count"] < MIN_COUNT or r["q_value"] is None:
            reason = "too few"
        elif r["q_value"] > ALPHA:
            reason = "not significant"
        elif (r["lift"] or 0.0) < MIN_LIFT:
            reason = "small growth"
        else:
            reason = "emerging"
        out.append(EmergingRow(**r, emerging=reason == "emerging", reason=reason))
    out.sort(key=lambda r: (not r.emerging, r.q_value if r.q_value is not None else 2.0, -r.count))
    return EmergingReport(
        week=iso_week(start),
        start=start,
        end=end,
        total=total,
        baseline_start=baseline_start,
        baseline_total=baseline_total,
        rows=out,
    )


# --- the list ----------------------------------------------------------------------------------


class ThemeFilters(BaseModel):
    """Query parameters of the themes page and of ``GET /api/v1/feedback/themes``."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200, description="Text in the label or key phrases.")
    sort: ThemeSort = Field(
        default="-size", description="`size`, `growth` (this week against the baseline), `this_week` or `label`."
    )
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=200)

    @field_validator("q", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        if isinstance(v, str):
            return v.strip() or None
        return v

    @field_validator("sort", mode="before")
    @classmethod
    def _default_sort(cls, v: Any) -> Any:
        return v or "-size"


class ThemeOut(BaseModel):
    id: int
    label: str
    """What people see: the custom name when someone gave one, else the generated label."""
    generated_label: str
    custom_label: str | None
    key_phrases: list[str]
    size: int
    """Items in the theme."""
    edited: bool
    """A person renamed, merged or split it (it is never deleted by a re-clustering)."""
    merged_into_id: int | None
    alerted_week: str | None
    this_week: int
    """Items received this ISO week (so far)."""
    baseline_weekly: float
    """Average items per week over the baseline weeks before this one."""
    growth: float | None
    """This week's share of all feedback against the baseline share (1.0: as usual)."""
    emerging: bool
    """Significant growth this week (see the test in the README)."""
    negative_share: float | None
    """Share of its analysed items with negative sentiment; None before any sentiment is known."""
    weekly: list[int]
    """Items per week, the last :data:`LIST_WEEKS` ISO weeks, oldest first (the last one is this week so far)."""
    created_at: dt.datetime
    updated_at: dt.datetime


class ThemeList(BaseModel):
    items: list[ThemeOut]
    total: int
    page: int
    per_page: int
    week: str
    weeks: list[dt.date]
    """The Monday of each week in ``weekly``."""
    unthemed: int
    """Analysed items in no theme."""
    test: str = TEST_NAME


class WeekCount(BaseModel):
    week: dt.date
    count: int


class ThemeDetail(ThemeOut):
    series: list[WeekCount]
    """Items per week over the last :data:`DETAIL_WEEKS` ISO weeks."""
    samples: list[FeedbackOut]
    """The most typical items (closest to the theme's centre)."""
    merged_from: list[int]
    """Themes merged into this one."""
    p_value: float | None
    q_value: float | None
    inbox_url: str


def _negative_shares(session: Session, theme_ids: Sequence[int]) -> dict[int, float]:
    if not theme_ids:
        return {}
    negative = func.sum(case((FeedbackInsight.sentiment < sentiment.NEGATIVE_BELOW, 1), else_=0))
    stmt = (
        select(FeedbackInsight.theme_id, negative, func.count(FeedbackInsight.sentiment))
        .where(FeedbackInsight.theme_id.in_(list(theme_ids)))
        .group_by(FeedbackInsight.theme_id)
    )
    return {int(tid): int(neg or 0) / int(n) for tid, neg, n in session.execute(stmt) if n}


def _out(
    theme: FeedbackTheme,
    weekly: list[int],
    report: dict[int, EmergingRow],
    negative: dict[int, float],
) -> ThemeOut:
    row = report.get(theme.id)
    baseline = weekly[:-1][-BASELINE_WEEKS:]
    return ThemeOut(
        id=theme.id,
        label=display_label(theme),
        generated_label=theme.label,
        custom_label=theme.custom_label,
        key_phrases=[str(p) for p in theme.key_phrases or []],
        size=theme.size,
        edited=theme.edited,
        merged_into_id=theme.merged_into_id,
        alerted_week=theme.alerted_week,
        this_week=weekly[-1] if weekly else 0,
        baseline_weekly=sum(baseline) / len(baseline) if baseline else 0.0,
        growth=row.lift if row is not None else None,
        emerging=row.emerging if row is not None else False,
        negative_share=negative.get(theme.id),
        weekly=weekly,
        created_at=theme.created_at,
        updated_at=theme.updated_at,
    )


_SORTS: dict[str, Any] = {
    "size": lambda t: (t.size, t.this_week),
    "growth": lambda t: (t.growth if t.growth is not None else -1.0, t.this_week),
    "this_week": lambda t: (t.this_week, t.size),
    "label": lambda t: t.label.lower(),
}


def list_themes(session: Session, f: ThemeFilters, *, now: dt.datetime | None = None) -> ThemeList:
    """Active themes (merged ones lead to their survivor) with counts, growth and sparklines, in a fixed number of
    statements however many themes."""
    check_page(f.page, f.per_page)
    now = now or utcnow()
    stmt = select(FeedbackTheme).where(FeedbackTheme.merged_into_id.is_(None))
    if f.q:
        pattern = f"%{f.q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(FeedbackTheme.label).like(pattern),
                func.lower(func.coalesce(FeedbackTheme.custom_label, "")).like(pattern),
            )
        )
    themes = list(session.scalars(stmt))
    starts = week_starts(LIST_WEEKS, now)
    weekly = weekly_counts(session, starts, [t.id for t in themes])
    report = {r.theme_id: r for r in emerging_report(session, now=now).rows}
    negative = _negative_shares(session, [t.id for t in themes])
    rows = [_out(t, weekly.get(t.id, [0] * LIST_WEEKS), report, negative) for t in themes]
    key = f.sort.lstrip("-")
    rows.sort(key=lambda t: t.id)
    rows.sort(key=_SORTS[key], reverse=f.sort.startswith("-"))
    unthemed = (
        session.scalar(
            select(func.count())
            .select_from(FeedbackInsight)
            .where(FeedbackInsight.theme_id.is_(None), FeedbackInsight.embedding.is_not(None))
        )
        or 0
    )
    first = (f.page - 1) * f.per_page
    return ThemeList(
        items=rows[first : first + f.per_page],
        total=len(rows),
        page=f.page,
        per_page=f.per_page,
        week=iso_week(now),
        weeks=[s.date() for s in starts],
        unthemed=int(unthemed),
    )


def theme_choices(session: Session, *, exclude: int | None = None) -> list[tuple[int, str, int]]:
    """(id, label, size) of the active themes, largest first: the targets of "merge into…"."""
    stmt = (
        select(FeedbackTheme.id, func.coalesce(FeedbackTheme.custom_label, FeedbackTheme.label), FeedbackTheme.size)
        .where(FeedbackTheme.merged_into_id.is_(None))
        .order_by(FeedbackTheme.size.desc(), FeedbackTheme.id)
    )
    return [(tid, label, size) for tid, label, size in session.execute(stmt) if tid != exclude]


# --- one theme -----------------------------------------------------------------------------------


def survivor_id(session: Session, theme_id: int) -> int:
    """The theme that a (possibly merged) theme now lives in; NotFound for an unknown id."""
    seen: set[int] = set()
    current = theme_id
    while True:
        merged_into = session.execute(
            select(FeedbackTheme.merged_into_id).where(FeedbackTheme.id == current)
        ).one_or_none()
        if merged_into is None:
            raise NotFound("theme", theme_id)
        if merged_into[0] is None or current in seen:
            return current
        seen.add(current)
        current = int(merged_into[0])


def sample_items(session: Session, theme_id: int, limit: int = SAMPLE_ITEMS) -> list[FeedbackOut]:
    """The items closest to the theme's centre, most typical first."""
    ids = list(
        session.scalars(
            select(FeedbackInsight.item_id)
            .where(FeedbackInsight.theme_id == theme_id)
            .order_by(FeedbackInsight.theme_score.desc(), FeedbackInsight.item_id.desc())
            .limit(limit)
        )
    )
    if not ids:
        return []
    rows = {item.id: item for item in session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids)))}
    return items_out(session, [rows[i] for i in ids if i in rows], with_links=False)


def get_theme(session: Session, theme_id: int, *, now: dt.datetime | None = None) -> ThemeDetail:
    """One theme (merged ones too: their ``merged_into_id`` says where their items went)."""
    now = now or utcnow()
    theme = session.get(FeedbackTheme, theme_id)
    if theme is None:
        raise NotFound("theme", theme_id)
    starts = week_starts(DETAIL_WEEKS, now)
    counts = weekly_counts(session, starts, [theme.id]).get(theme.id, [0] * DETAIL_WEEKS)
    report = {r.theme_id: r for r in emerging_report(session, now=now).rows}
    negative = _negative_shares(session, [theme.id])
    base = _out(theme, counts[-LIST_WEEKS:], report, negative)
    row = report.get(theme.id)
    merged_from = list(
        session.scalars(
            select(FeedbackTheme.id).where(FeedbackTheme.merged_into_id == theme.id).order_by(FeedbackTheme.id)
        )
    )
    return ThemeDetail(
        **base.model_dump(),
        series=[WeekCount(week=s.date(), count=c) for s, c in zip(starts, counts, strict=True)],
        samples=sample_items(session, theme.id),
        merged_from=merged_from,
        p_value=row.p_value if row else None,
        q_value=row.q_value if row else None,
        inbox_url=f"/feedback?theme_id={theme.id}&status=all",
    )


def theme_labels(session: Session, theme_ids: Sequence[int]) -> dict[int, str]:
    """Theme id → the label people see, for chips and item rows."""
    if not theme_ids:
        return {}
    stmt = select(FeedbackTheme.id, func.coalesce(FeedbackTheme.custom_label, FeedbackTheme.label)).where(
        FeedbackTheme.id.in_(sorted(set(theme_ids)))
    )
    return {int(tid): str(label) for tid, label in session.execute(stmt)}


__all__ = [
    "ALPHA",
    "BASELINE_WEEKS",
    "MIN_COUNT",
    "MIN_LIFT",
    "EmergingReport",
    "EmergingRow",
    "ThemeDetail",
    "ThemeFilters",
    "ThemeList",
    "ThemeOut",
    "emerging_report",
    "get_theme",
    "iso_week",
    "list_themes",
    "survivor_id",
    "theme_choices",
    "week_start",
    "weekly_counts",
]
