"""Insight queries in and results out: one typed query object per insight kind, one result shape for all.

A query names events, properties and a date range; property names are user input and never reach SQL as text
(see :mod:`.sql`). Dates are either ISO dates (``2026-03-01``) or relative to now: ``-30d`` (the 30 days ending
today, today included), ``-12w`` (12 weeks), ``-6m`` (6 months), ``-48h`` (48 hours).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PropertySource = Literal["event", "person", "account"]
Interval = Literal["hour", "day", "week", "month"]
FilterOp = Literal["eq", "neq", "contains", "gt", "lt", "is_set", "is_not_set"]
Math = Literal["total", "people", "accounts", "sum", "avg", "min", "max", "median", "p90", "p95", "p99"]
WindowUnit = Literal["minute", "hour", "day", "week"]

PROPERTY_MATHS = frozenset({"sum", "avg", "min", "max", "median", "p90", "p95", "p99"})
MATH_LABELS: dict[str, str] = {
    "total": "Total count",
    "people": "Unique people",
    "accounts": "Unique accounts",
    "sum": "Sum of",
    "avg": "Average of",
    "min": "Minimum of",
    "max": "Maximum of",
    "median": "Median of",
    "p90": "90th percentile of",
    "p95": "95th percentile of",
    "p99": "99th percentile of",
}
OP_LABELS: dict[str, str] = {
    "eq": "is",
    "neq": "is not",
    "contains": "contains",
    "gt": "is greater than",
    "lt": "is less than",
    "is_set": "is set",
    "is_not_set": "is not set",
}
INTERVAL_LABELS: dict[str, str] = {"hour": "Hourly", "day": "Daily", "week": "Weekly", "month": "Monthly"}
RELATIVE = re.compile(r"^-(\d{1,4})([hdwm])$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,200}$")
MAX_SERIES = 5
MAX_STEPS = 10


def _check_name(value: str, what: str) -> str:
    value = value.strip()
    if not _NAME.match(value):
        raise ValueError(f"a {what} is 1-200 characters without control characters")
    return value


def check_date(value: str | None, *, allow_none: bool) -> str | None:
    """A date bound as written: an ISO date or ``-N`` + ``h``/``d``/``w``/``m``."""
    if value is None or not str(value).strip():
        if allow_none:
            return None
        raise ValueError("choose a start date, e.g. -30d or 2026-01-01")
    value = str(value).strip()
    if RELATIVE.match(value):
        if int(value[1:-1]) < 1:
            raise ValueError("a relative date counts at least 1 unit, e.g. -1d")
        return value
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("use a date like 2026-01-31 or a relative one like -30d, -12w, -6m, -48h") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Filter(_Strict):
    """Keep events whose (event, person or account) property passes a test."""

    source: PropertySource = "event"
    property: str = Field(min_length=1, max_length=200)
    op: FilterOp = "eq"
    value: str | float | None = None

    @field_validator("property")
    @classmethod
    def _property(cls, v: str) -> str:
        return _check_name(v, "property name")

    @model_validator(mode="after")
    def _value(self) -> Filter:
        if self.op in {"is_set", "is_not_set"}:
            self.value = None
        elif self.value is None or (isinstance(self.value, str) and not self.value.strip()):
            raise ValueError(f"the filter on “{self.property}” needs a value")
        elif self.op in {"gt", "lt"}:
            try:
                self.value = float(self.value)
            except (TypeError, ValueError):
                raise ValueError(f"“{self.property}” {OP_LABELS[self.op]} needs a number") from None
        else:
            self.value = str(self.value) if not isinstance(self.value, str) else self.value
        return self

    def describe(self) -> str:
        where = {"event": "", "person": "person ", "account": "account "}[self.source]
        tail = "" if self.value is None else f" {self.value:g}" if isinstance(self.value, float) else f" “{self.value}”"
        return f"{where}{self.property} {OP_LABELS[self.op]}{tail}"


class Breakdown(_Strict):
    """Split the answer by the values of one property; the ``limit`` largest values, the rest as "Other"."""

    source: PropertySource = "account"
    property: str = Field(min_length=1, max_length=200)
    limit: int = Field(default=5, ge=1, le=25)

    @field_validator("property")
    @classmethod
    def _property(cls, v: str) -> str:
        return _check_name(v, "property name")

    def describe(self) -> str:
        return {"event": "", "person": "person ", "account": ""}[self.source] + self.property


class _Ranged(_Strict):
    date_from: str = "-30d"
    date_to: str | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=20)

    @field_validator("date_from", mode="before")
    @classmethod
    def _from(cls, v: Any) -> str:
        return check_date(v, allow_none=False) or "-30d"

    @field_validator("date_to", mode="before")
    @classmethod
    def _to(cls, v: Any) -> str | None:
        return check_date(v, allow_none=True)


def _check_event(v: str | None) -> str | None:
    return None if v is None else _check_name(v, "event name")


class Series(_Strict):
    """One line of a trend: an event (``None`` for any event) measured by ``math``."""

    event: str | None = None
    math: Math = "total"
    property: str | None = Field(default=None, max_length=200)
    label: str | None = Field(default=None, max_length=120)

    @field_validator("event")
    @classmethod
    def _event(cls, v: str | None) -> str | None:
        return _check_event(v or None)

    @model_validator(mode="after")
    def _needs_property(self) -> Series:
        if self.math in PROPERTY_MATHS:
            if not self.property:
                raise ValueError(f"“{MATH_LABELS[self.math]}” needs a numeric event property")
            self.property = _check_name(self.property, "property name")
        else:
            self.property = None
        return self

    def describe(self) -> str:
        if self.label:
            return self.label
        what = self.event or "any event"
        if self.math in PROPERTY_MATHS:
            return f"{MATH_LABELS[self.math]} {self.property} ({what})"
        return f"{MATH_LABELS[self.math]} of {what}" if self.math == "total" else f"{MATH_LABELS[self.math]} ({what})"


class TrendsQuery(_Ranged):
    kind: Literal["trends"] = "trends"
    series: list[Series] = Field(min_length=1, max_length=MAX_SERIES)
    interval: Interval = "day"
    breakdown: Breakdown | None = None
    compare: bool = False


class FunnelStep(_Strict):
    event: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, max_length=120)

    @field_validator("event")
    @classmethod
    def _event(cls, v: str) -> str:
        return _check_name(v, "event name")


class FunnelQuery(_Ranged):
    kind: Literal["funnel"] = "funnel"
    steps: list[FunnelStep] = Field(min_length=2, max_length=MAX_STEPS)
    order: Literal["ordered", "strict"] = "ordered"
    window: int = Field(default=14, ge=1, le=10_000)
    window_unit: WindowUnit = "day"
    breakdown: Breakdown | None = None


class RetentionQuery(_Ranged):
    kind: Literal["retention"] = "retention"
    target_event: str = Field(min_length=1, max_length=200)
    return_event: str = Field(min_length=1, max_length=200)
    cohort: Literal["first_time", "recurring"] = "first_time"
    interval: Literal["day", "week", "month"] = "week"
    periods: int = Field(default=8, ge=1, le=60)

    @field_validator("target_event", "return_event")
    @classmethod
    def _events(cls, v: str) -> str:
        return _check_name(v, "event name")


class StickinessQuery(_Ranged):
    kind: Literal["stickiness"] = "stickiness"
    event: str | None = None
    interval: Literal["day", "week", "month"] = "day"

    @field_validator("event")
    @classmethod
    def _event(cls, v: str | None) -> str | None:
        return _check_event(v or None)


class LifecycleQuery(_Ranged):
    kind: Literal["lifecycle"] = "lifecycle"
    event: str | None = None
    interval: Interval = "day"

    @field_validator("event")
    @classmethod
    def _event(cls, v: str | None) -> str | None:
        return _check_event(v or None)


class AdoptionQuery(_Ranged):
    kind: Literal["adoption"] = "adoption"
    feature_name: str = Field(min_length=1, max_length=200)
    events: list[str] = Field(min_length=1, max_length=20)
    feature_id: int | None = Field(default=None, ge=1, description="The features-domain feature this measures.")
    interval: Interval = "week"

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(_check_name(e, "event name") for e in v))


class DatasetQuery(_Ranged):
    """Rows per interval of an operational dataset (``ds_<name>`` in the warehouse), by one of its date columns."""

    kind: Literal["dataset"] = "dataset"
    dataset: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    date_column: str = Field(min_length=1, max_length=200)
    interval: Interval = "day"
    where_column: str | None = Field(default=None, max_length=200)
    where_value: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _where(self) -> DatasetQuery:
        if self.where_column and self.where_value is None:
            raise ValueError("the filter on the dataset needs a value")
        if not self.where_column:
            self.where_column = self.where_value = None
        return self


InsightQuery = Annotated[
    TrendsQuery | FunnelQuery | RetentionQuery | StickinessQuery | LifecycleQuery | AdoptionQuery | DatasetQuery,
    Field(discriminator="kind"),
]
KINDS: dict[str, str] = {
    "trends": "Trends",
    "funnel": "Funnel",
    "retention": "Retention",
    "stickiness": "Stickiness",
    "lifecycle": "Lifecycle",
    "adoption": "Feature adoption",
    "dataset": "Dataset",
}


# --- results -------------------------------------------------------------------------------------------------


class Point(BaseModel):
    bucket: dt.datetime
    value: float | None


class SeriesResult(BaseModel):
    """One line of a chart: ``label`` names it; ``breakdown`` is the breakdown value it stands for."""

    label: str
    breakdown: str | None = None
    compare: bool = False
    points: list[Point]

    def total(self) -> float:
        return sum(p.value or 0 for p in self.points)


class RanSql(BaseModel):
    sql: str
    params: dict[str, Any]


class FunnelStepResult(BaseModel):
    step: int
    label: str
    count: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    median_seconds_from_previous: float | None
    avg_seconds_from_previous: float | None


class FunnelBreakdownResult(BaseModel):
    breakdown: str
    steps: list[FunnelStepResult]


class InsightResult(BaseModel):
    """What every insight returns: a title in words, chart data, the table behind it, and the SQL it ran."""

    kind: str
    title: str
    date_from: dt.datetime
    date_to: dt.datetime
    interval: str | None = None
    series: list[SeriesResult] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    steps: list[FunnelStepResult] = Field(default_factory=list)
    breakdowns: list[FunnelBreakdownResult] = Field(default_factory=list)
    median_seconds_to_convert: float | None = None
    avg_seconds_to_convert: float | None = None
    curve: list[list[Any]] = Field(default_factory=list)
    """Retention: ``[period, share]`` averaged over the cohorts."""
    sql: list[RanSql] = Field(default_factory=list)
    unit: str = ""
