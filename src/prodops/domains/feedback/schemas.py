"""Feedback API shapes: items in and out, links (highlights) to features, bulk results, list filters."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from prodops.domains.feedback.models import IMPORTANCE, SOURCES, STATUSES

Source = Literal[
    "api",
    "import",
    "email",
    "widget",
    "portal",
    "survey",
    "support_ticket",
    "sales_call",
    "interview",
    "app_review",
]
Importance = Literal["not", "nice", "important", "critical"]
Status = Literal["new", "triaged", "linked", "archived"]
assert set(SOURCES) == set(Source.__args__)  # type: ignore[attr-defined]
assert set(IMPORTANCE) == set(Importance.__args__)  # type: ignore[attr-defined]
assert set(STATUSES) == set(Status.__args__)  # type: ignore[attr-defined]

MAX_TEXT = 20_000
MAX_TAGS = 20
MAX_BULK = 1000


def normalise_tags(value: Any) -> Any:
    """Trimmed, lower-case, de-duplicated (order kept); a comma-separated string is accepted too."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return value
    seen: dict[str, None] = {}
    for raw in value:
        if not isinstance(raw, str):
            raise ValueError("tags must be text")
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > 60:
            raise ValueError(f"tag {tag[:20]!r}… is longer than 60 characters")
        seen[tag] = None
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return list(seen)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("tags", mode="before", check_fields=False)
    @classmethod
    def _tags(cls, v: Any) -> Any:
        return normalise_tags(v)

    @field_validator(
        "source_url", "external_id", "area", "person_email", "account_domain", mode="before", check_fields=False
    )
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("received_at", mode="after", check_fields=False)
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is None:
            return None
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)


class FeedbackIn(_Input):
    """One piece of feedback. With a ``source`` and ``external_id`` already known, the item is updated instead.

    Who said it: ``person_id``, or ``person_email`` (the person is created, and joins the account of their
    e-mail domain, if new). The account comes from ``account_id``, else ``account_domain``, else the person's.
    """

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    title: str = Field(default="", max_length=300)
    source: Source = "api"
    source_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    external_id: str | None = Field(default=None, max_length=200, description="The id in the source system.")
    person_id: int | None = None
    person_email: EmailStr | None = None
    person_name: str = Field(default="", max_length=200)
    account_id: int | None = None
    account_domain: str | None = Field(default=None, max_length=253)
    product_id: int | None = None
    area: str | None = Field(default=None, max_length=80)
    tags: list[str] = Field(default_factory=list)
    importance: Importance | None = None
    received_at: dt.datetime | None = Field(default=None, description="When the customer said it; default now.")
    status: Status = "new"
    assignee_id: int | None = None
    notes: str = Field(default="", max_length=MAX_TEXT)
    meta: dict[str, Any] = Field(default_factory=dict, description="Channel extras, e.g. a review's rating.")

    @field_validator("person_email", mode="after")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else v

    @model_validator(mode="after")
    def _one_person(self) -> FeedbackIn:
        if self.person_id is not None and self.person_email is not None:
            raise ValueError("give person_id or person_email, not both")
        return self


class FeedbackUpdate(_Input):
    """Changes to an item: only the fields sent change; ``null`` clears an optional field."""

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    title: str | None = Field(default=None, max_length=300)
    person_id: int | None = None
    account_id: int | None = None
    product_id: int | None = None
    area: str | None = Field(default=None, max_length=80)
    tags: list[str] | None = None
    importance: Importance | None = None
    received_at: dt.datetime | None = None
    status: Status | None = None
    assignee_id: int | None = None
    notes: str | None = Field(default=None, max_length=MAX_TEXT)

    @field_validator("text", "title", "tags", "received_at", "status", "notes", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackIn] = Field(min_length=1, max_length=MAX_BULK)


class BulkChange(_Input):
    """One change applied to many items (the inbox's bulk actions)."""

    ids: list[int] = Field(min_length=1, max_length=5000)
    status: Status | None = None
    assignee_id: int | None = None
    unassign: bool = False
    importance: Importance | None = None
    product_id: int | None = None
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)

    @field_validator("add_tags", "remove_tags", mode="before")
    @classmethod
    def _tag_lists(cls, v: Any) -> Any:
        return normalise_tags(v) or []


class LinkIn(_Input):
    """Link an item — or the passage ``highlight_start:highlight_end`` of its text — to a feature."""

    feature_id: int
    importance: Importance = "nice"
    highlight_start: int | None = Field(default=None, ge=0)
    highlight_end: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> LinkIn:
        if (self.highlight_start is None) != (self.highlight_end is None):
            raise ValueError("give both highlight_start and highlight_end, or neither")
        if (
            self.highlight_start is not None
            and self.highlight_end is not None
            and self.highlight_end <= self.highlight_start
        ):
            raise ValueError("highlight_end must be after highlight_start")
        return self


class LinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    item_id: int
    feature_id: int
    feature_title: str | None = None
    feature_status: str | None = None
    highlight: str
    highlight_start: int | None
    highlight_end: int | None
    importance: Importance
    created_by_id: int | None
    created_at: dt.datetime


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    text: str
    source: Source
    source_url: str | None
    external_id: str | None
    person_id: int | None
    person_email: str | None = None
    person_name: str | None = None
    account_id: int | None
    account_name: str | None = None
    account_arr: float | None = None
    product_id: int | None
    product_name: str | None = None
    area: str | None
    tags: list[str]
    importance: Importance | None
    received_at: dt.datetime
    status: Status
    assignee_id: int | None
    assignee_name: str | None = None
    notes: str
    meta: dict[str, Any]
    links: list[LinkOut] = Field(default_factory=list)
    created_at: dt.datetime
    updated_at: dt.datetime
    kind: str | None = Field(default=None, description="The type (bug, feature_request...); null until analysed.")
    kind_confidence: float | None = Field(
        default=None, description="How sure the model is (0..1); 1 when a person set it."
    )
    sentiment: float | None = Field(
        default=None, description="From -1 (negative) to 1 (positive); null until analysed."
    )
    theme_id: int | None = Field(default=None, description="The theme the item belongs to, if any.")


class IngestResult(BaseModel):
    """What a bulk ingest or import did. ``ids`` follow the order of the input."""

    created: int
    updated: int
    ids: list[int]
