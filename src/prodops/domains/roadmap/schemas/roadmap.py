"""Roadmap views (timeline by month or quarter, now/next/later board, lanes by goal or team) and share links."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Layout = Literal["board", "timeline"]
Group = Literal["none", "goal", "team"]
Granularity = Literal["month", "quarter"]
FieldName = Literal["status", "team", "initiative", "goals", "dates", "effort", "score", "description"]

LAYOUT_LABELS = {"board": "Now / next / later", "timeline": "Timeline"}
GROUP_LABELS = {"none": "No lanes", "goal": "By goal", "team": "By team"}
FIELD_LABELS: dict[str, str] = {
    "status": "Status",
    "team": "Team",
    "initiative": "Initiative",
    "goals": "Goals",
    "dates": "Dates",
    "effort": "Effort (internal)",
    "score": "Score (internal)",
    "description": "Description",
}
INTERNAL_FIELDS = frozenset({"effort", "score"})
"""Fields a share link shows only when its creator ticked them."""
INSIDE_FIELDS: list[FieldName] = ["status", "team", "initiative", "goals", "dates", "effort", "score"]
SHARE_DEFAULT_FIELDS: list[FieldName] = ["status", "team", "dates"]
BUCKET_LABELS = {"now": "Now", "next": "Next", "later": "Later"}


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class RoadmapView(BaseModel):
    """What a roadmap shows: the layout, its lanes, the filters and the fields on each card.

    A share link stores one of these and its audience sees exactly that, nothing more."""

    model_config = ConfigDict(extra="forbid")

    layout: Layout = "board"
    group: Group = "none"
    granularity: Granularity = "month"
    start: dt.date | None = Field(default=None, description="First month or quarter of the timeline (default: now).")
    periods: int = Field(default=6, ge=1, le=24, description="Months or quarters the timeline shows.")
    product_id: int | None = None
    team_id: int | None = None
    goal_id: int | None = None
    fields: list[FieldName] = Field(default_factory=lambda: list(INSIDE_FIELDS))

    _blanks = field_validator("start", "product_id", "team_id", "goal_id", mode="before")(_blank)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [p for p in (s.strip() for s in v.split(",")) if p]
        return v

    @field_validator("fields")
    @classmethod
    def _unique(cls, v: list[FieldName]) -> list[FieldName]:
        return list(dict.fromkeys(v))

    def shows(self, name: str) -> bool:
        return name in self.fields

    def query(self, **changes: Any) -> dict[str, Any]:
        """The view as query parameters (defaults left out)."""
        data = {**self.model_dump(mode="json"), **changes}
        data["fields"] = ",".join(data["fields"])
        defaults = RoadmapView().model_dump(mode="json")
        defaults["fields"] = ",".join(defaults["fields"])
        return {k: v for k, v in data.items() if v is not None and v != defaults.get(k)}


class GoalRef(BaseModel):
    id: int
    title: str


class RoadmapItem(BaseModel):
    feature_id: int
    title: str
    description: str | None = None
    status: str | None = None
    status_label: str | None = None
    product_id: int | None = None
    product_name: str | None = None
    team_id: int | None = None
    team_name: str | None = None
    initiative_id: int | None = None
    initiative_title: str | None = None
    goals: list[GoalRef] = Field(default_factory=list)
    bucket: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    position: int = 0
    effort: float | None = None
    effort_unit: str | None = None
    score: float | None = None
    # Where the timeline draws the bar: 1-based first and last column, and whether it runs past either edge.
    col_start: int | None = None
    col_end: int | None = None


class Period(BaseModel):
    start: dt.date
    end: dt.date
    """Exclusive."""
    label: str


class Lane(BaseModel):
    key: str
    title: str
    buckets: dict[str, list[RoadmapItem]] = Field(default_factory=dict)
    """Board: items per bucket (now, next, later), in position order."""
    items: list[RoadmapItem] = Field(default_factory=list)
    """Timeline: items with dates inside the range, by start date."""


class RoadmapData(BaseModel):
    view: RoadmapView
    lanes: list[Lane]
    periods: list[Period] = Field(default_factory=list)
    unscheduled: list[RoadmapItem] = Field(default_factory=list)
    """Timeline: planned features without dates."""
    outside: int = 0
    """Timeline: features dated entirely outside the range shown."""
    total: int


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="Who it is for, e.g. `Sales kick-off, team Mobile`.")
    view: RoadmapView = Field(default_factory=lambda: RoadmapView(fields=list(SHARE_DEFAULT_FIELDS)))


class ShareOut(BaseModel):
    id: int
    name: str
    view: RoadmapView
    url: str
    created_at: dt.datetime
    created_by: str | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class MoveIn(BaseModel):
    """A re-plan from the roadmap: a new bucket and place (board), or a shift by whole periods (timeline)."""

    model_config = ConfigDict(extra="forbid")

    bucket: Literal["now", "next", "later"] | None = None
    before_id: int | None = Field(default=None, description="Put the feature just before this one in the bucket.")
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    shift: int | None = Field(default=None, ge=-48, le=48, description="Move the dates by this many periods.")
    granularity: Granularity = "month"

    _blanks = field_validator("bucket", "before_id", "position", "shift", mode="before")(_blank)
