"""Goals, key results, check-ins, initiatives, feature plans and the alignment report: shapes in and out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Level = Literal["company", "product", "team"]
GoalStatus = Literal["active", "achieved", "missed", "archived"]
Confidence = Literal["on_track", "at_risk", "off_track"]
Health = Literal["on_track", "at_risk", "off_track", "no_data"]
KrSource = Literal["manual", "metric"]
InitiativeStatus = Literal["proposed", "active", "done", "cancelled"]
Bucket = Literal["now", "next", "later"]
EffortUnit = Literal["points", "person_weeks"]

LEVEL_LABELS = {"company": "Company", "product": "Product", "team": "Team"}
STATUS_LABELS = {"active": "Active", "achieved": "Achieved", "missed": "Missed", "archived": "Archived"}
CONFIDENCE_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track", "no_data": "No data"}
INITIATIVE_STATUS_LABELS = {"proposed": "Proposed", "active": "Active", "done": "Done", "cancelled": "Cancelled"}
UNIT_LABELS = {"points": "points", "person_weeks": "person-weeks"}

_WRITE = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# --- goals -----------------------------------------------------------------------------------


class GoalFields(BaseModel):
    model_config = _WRITE

    title: str = Field(min_length=1, max_length=200, description="What the goal achieves, in a sentence.")
    description: str = Field(default="", max_length=20_000, description="Markdown.")
    level: Level = Field(default="company", description="company, product or team.")
    parent_id: int | None = Field(default=None, description="The goal this one contributes to.")
    product_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    period_start: dt.date | None = Field(default=None, description="First day of the goal's period.")
    period_end: dt.date | None = Field(default=None, description="Last day of the goal's period.")
    status: GoalStatus = "active"
    weight: float = Field(default=1.0, ge=0, le=1000, description="How much this goal counts in its parent.")

    _blanks = field_validator(
        "parent_id", "product_id", "team_id", "owner_id", "period_start", "period_end", mode="before"
    )(_blank_to_none)


class GoalIn(GoalFields):
    @model_validator(mode="after")
    def _period(self) -> GoalIn:
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("the period must end on or after its first day")
        return self


class GoalUpdate(GoalFields):
    """Only the fields sent change."""

    title: str = Field(default="", min_length=1, max_length=200)


class KeyResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    goal_id: int
    title: str
    unit: str
    start_value: float
    target_value: float
    current_value: float | None
    source: KrSource
    metric_key: str | None
    weight: float
    owner_id: int | None
    owner_name: str | None = None
    confidence: Confidence | None
    last_checkin_at: dt.datetime | None
    progress: float = Field(default=0.0, description="(current − start) / (target − start), clamped to 0..1.")
    health: Health = "no_data"
    due: bool = Field(default=False, description="No person checked in during the last 7 days.")
    metric_available: bool = Field(default=True, description="False when the metric source cannot be read.")
    created_at: dt.datetime
    updated_at: dt.datetime


class GoalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    level: Level
    parent_id: int | None
    parent_title: str | None = None
    product_id: int | None
    product_name: str | None = None
    team_id: int | None
    team_name: str | None = None
    owner_id: int | None
    owner_name: str | None = None
    period_start: dt.date | None
    period_end: dt.date | None
    status: GoalStatus
    weight: float
    progress: float | None = Field(
        default=None, description="Weighted mean of its key results and child goals; null when nothing measures it."
    )
    health: Health = "no_data"
    key_result_count: int = 0
    child_count: int = 0
    depth: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class GoalDetail(GoalOut):
    key_results: list[KeyResultOut] = Field(default_factory=list)
    children: list[GoalOut] = Field(default_factory=list)
    initiatives: list[InitiativeOut] = Field(default_factory=list)


class GoalFilters(BaseModel):
    q: str | None = Field(default=None, max_length=200, description="Titles containing this.")
    level: Level | None = None
    status: GoalStatus | None = None
    product_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    health: Health | None = None

    _blanks = field_validator("q", "level", "status", "product_id", "team_id", "owner_id", "health", mode="before")(
        _blank_to_none
    )

    def active(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


# --- key results and check-ins ------------------------------------------------------------------


class KeyResultFields(BaseModel):
    model_config = _WRITE

    title: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="", max_length=30, description="e.g. `%`, `accounts`, `ms`.")
    start_value: float = Field(default=0.0, description="Where the measure stood when the goal was set.")
    target_value: float = Field(description="Where it should be; below the start for a measure that should fall.")
    source: KrSource = Field(default="manual", description="manual (weekly check-ins) or metric (live).")
    metric_key: str | None = Field(default=None, max_length=80, description="The analytics metric, for source metric.")
    weight: float = Field(default=1.0, ge=0, le=1000, description="How much it counts in its goal's progress.")
    owner_id: int | None = None

    _blanks = field_validator("metric_key", "owner_id", mode="before")(_blank_to_none)


class KeyResultIn(KeyResultFields):
    @model_validator(mode="after")
    def _consistent(self) -> KeyResultIn:
        if self.target_value == self.start_value:
            raise ValueError("the target must differ from the start value")
        if self.source == "metric" and not self.metric_key:
            raise ValueError("a metric key result needs a metric key")
        return self


class KeyResultUpdate(KeyResultFields):
    """Only the fields sent change."""

    title: str = Field(default="", min_length=1, max_length=200)
    target_value: float = 0.0


class CheckInIn(BaseModel):
    model_config = _WRITE

    value: float | None = Field(
        default=None, description="The measure now; leave out on a metric key result to take the live value."
    )
    confidence: Confidence = Field(description="on_track, at_risk or off_track.")
    narrative: str = Field(default="", max_length=4000, description="What happened and what comes next (Markdown).")

    _blanks = field_validator("value", mode="before")(_blank_to_none)


class CheckInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key_result_id: int
    value: float
    confidence: Confidence | None
    narrative: str
    source: KrSource
    author_id: int | None
    author_name: str | None = None
    created_at: dt.datetime


class ProgressPoint(BaseModel):
    day: dt.date
    progress: float | None


# --- initiatives ----------------------------------------------------------------------------------


class InitiativeFields(BaseModel):
    model_config = _WRITE

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000, description="Markdown.")
    product_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    status: InitiativeStatus = "proposed"
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    goal_ids: list[int] = Field(default_factory=list, max_length=50, description="The goals it serves.")

    _blanks = field_validator("product_id", "team_id", "owner_id", "start_date", "end_date", mode="before")(
        _blank_to_none
    )

    @field_validator("goal_ids", mode="before")
    @classmethod
    def _ids(cls, v: Any) -> Any:
        if isinstance(v, list):
            return list(dict.fromkeys(x for x in v if not (isinstance(x, str) and not x.strip())))
        return v


class InitiativeIn(InitiativeFields):
    @model_validator(mode="after")
    def _dates(self) -> InitiativeIn:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("the end date must be on or after the start date")
        return self


class InitiativeUpdate(InitiativeFields):
    title: str = Field(default="", min_length=1, max_length=200)


class GoalRef(BaseModel):
    id: int
    title: str
    level: Level


class InitiativeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    product_id: int | None
    product_name: str | None = None
    team_id: int | None
    team_name: str | None = None
    owner_id: int | None
    owner_name: str | None = None
    status: InitiativeStatus
    start_date: dt.date | None
    end_date: dt.date | None
    goals: list[GoalRef] = Field(default_factory=list)
    feature_count: int = 0
    effort_points: float = 0.0
    effort_person_weeks: float = 0.0
    created_at: dt.datetime
    updated_at: dt.datetime


class InitiativeFilters(BaseModel):
    q: str | None = Field(default=None, max_length=200)
    status: InitiativeStatus | None = None
    product_id: int | None = None
    team_id: int | None = None
    goal_id: int | None = None
    unaligned: bool = Field(default=False, description="Only initiatives linked to no goal.")
    sort: str | None = Field(default=None, max_length=40)
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    _blanks = field_validator("q", "status", "product_id", "team_id", "goal_id", "sort", mode="before")(_blank_to_none)


# --- feature plans --------------------------------------------------------------------------------


class PlanUpdate(BaseModel):
    """A feature's roadmap facts; only the fields sent change (send null to clear one)."""

    model_config = _WRITE

    initiative_id: int | None = None
    effort: float | None = Field(default=None, ge=0, le=100_000)
    effort_unit: EffortUnit = "points"
    team_id: int | None = None
    bucket: Bucket | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    position: int = Field(default=0, ge=0, le=1_000_000)

    _blanks = field_validator("initiative_id", "effort", "team_id", "bucket", "start_date", "end_date", mode="before")(
        _blank_to_none
    )


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    feature_id: int
    initiative_id: int | None
    initiative_title: str | None = None
    effort: float | None
    effort_unit: EffortUnit
    team_id: int | None
    team_name: str | None = None
    bucket: Bucket | None
    start_date: dt.date | None
    end_date: dt.date | None
    position: int
    updated_at: dt.datetime | None = None


class PlannedFeature(BaseModel):
    feature_id: int
    title: str
    status: str
    product_id: int | None
    effort: float | None
    effort_unit: EffortUnit
    team_id: int | None
    team_name: str | None = None
    bucket: Bucket | None


# --- alignment ------------------------------------------------------------------------------------


class AlignmentFilters(BaseModel):
    team_id: int | None = Field(default=None, description="Only work owned by this team.")
    product_id: int | None = Field(default=None, description="Only features of this product.")
    unit: EffortUnit = Field(default="points", description="The unit effort is shown in (the other is converted).")

    _blanks = field_validator("team_id", "product_id", mode="before")(_blank_to_none)


class EffortShare(BaseModel):
    id: int | None = Field(description="The goal or initiative; null for the unaligned rest.")
    title: str
    features: int
    effort: float
    share: float = Field(description="Of all planned effort, 0..1.")


class UnalignedFeature(BaseModel):
    feature_id: int
    title: str
    initiative_id: int | None
    initiative_title: str | None
    effort: float
    team_name: str | None
    reason: Literal["no_initiative", "initiative_without_goal"]


class UnstaffedGoal(BaseModel):
    id: int
    title: str
    level: Level
    owner_name: str | None


class AlignmentReport(BaseModel):
    filters: AlignmentFilters
    unit: EffortUnit
    total_features: int
    total_effort: float
    unestimated: int = Field(description="Planned features without an effort estimate (they count as 0).")
    aligned_share: float
    by_goal: list[EffortShare]
    by_initiative: list[EffortShare]
    unaligned: list[UnalignedFeature] = Field(description="Unaligned features by title (at most the limit asked).")
    unaligned_total: int = Field(description="All unaligned features in the view.")
    unstaffed: list[UnstaffedGoal]


GoalDetail.model_rebuild()
