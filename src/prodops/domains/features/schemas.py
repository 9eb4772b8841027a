"""Features API shapes: features in and out, status lifecycles, votes, subscribers and list filters.

Other domains use :class:`FeatureOut`, :class:`StatusOut` and :data:`DEFAULT_STATUSES` from here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

StatusKind = Literal["idea", "considering", "planned", "active", "shipped", "declined"]

KIND_LABELS: dict[str, str] = {
    "idea": "Idea",
    "considering": "Considering",
    "planned": "Planned",
    "active": "In progress",
    "shipped": "Shipped",
    "declined": "Declined",
}
MAX_TAGS = 20
MAX_TAG_LENGTH = 60
MAX_STATUSES = 30
STATUS_KEY = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
_SPACES = re.compile(r"\s+")


# --- statuses -------------------------------------------------------------------------------


class StatusIn(BaseModel):
    """One step of a lifecycle. ``key`` is what features store; it is derived from the label when left out."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str | None = Field(
        default=None,
        max_length=40,
        description="Lowercase letters, digits and `_`, e.g. `under_review`; stable across renames.",
    )
    label: str = Field(min_length=1, max_length=80, description="What people see, e.g. `Under review`.")
    kind: StatusKind = Field(default="idea", description="What the status means, whatever it is called.")
    notify: bool = Field(default=False, description="Entering this status tells everyone who asked for the feature.")

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if not v:
                return None
            if not STATUS_KEY.match(v):
                raise ValueError("use 1–40 lowercase letters, digits and '_' (starting with a letter or digit)")
        return v

    def resolved_key(self) -> str:
        """The key, or one made from the label (``Under review`` → ``under_review``)."""
        if self.key:
            return self.key
        slug = re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_")[:40].rstrip("_")
        return slug or "status"


class StatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    kind: StatusKind
    notify: bool = False
    position: int = 0
    product_id: int | None = None
    source: Literal["product", "workspace", "default"] = "default"
    """Where the lifecycle comes from: the product's own, the workspace default, or the built-in one."""


def _builtin(position: int, key: str, label: str, kind: StatusKind, *, notify: bool = False) -> StatusOut:
    return StatusOut(key=key, label=label, kind=kind, notify=notify, position=position, source="default")


#: The built-in lifecycle, used until an admin configures the workspace's or a product's own.
DEFAULT_STATUSES: tuple[StatusOut, ...] = (
    _builtin(0, "idea", "Idea", "idea"),
    _builtin(1, "under_consideration", "Under consideration", "considering"),
    _builtin(2, "planned", "Planned", "planned"),
    _builtin(3, "in_progress", "In progress", "active"),
    _builtin(4, "shipped", "Shipped", "shipped", notify=True),
    _builtin(5, "declined", "Declined", "declined"),
)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: str = Field(min_length=1, max_length=40, description="A status key of the feature's product.")


# --- features -------------------------------------------------------------------------------


def normalise_tags(value: Any) -> list[str]:
    """Trimmed, lower-case, deduplicated tags (inner spaces collapsed, blanks dropped); raises ValueError on
    too many or too long. Forms split their comma-separated text before calling."""
    if value is None:
        return []
    items = value
    if not isinstance(items, list | tuple):
        raise ValueError("tags must be a list of words")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("each tag must be text")
        tag = _SPACES.sub(" ", item).strip().lower()
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag {tag[:20]!r}… is longer than {MAX_TAG_LENGTH} characters")
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags (got {len(tags)})")
    return tags


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
        return None if v is None else normalise_tags(v)

    @field_validator("area", "status", mode="before", check_fields=False)
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("area", mode="after", check_fields=False)
    @classmethod
    def _area(cls, v: str | None) -> str | None:
        return None if v is None else _SPACES.sub(" ", v)


class FeatureIn(_Input):
    """A new feature or idea."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000, description="Markdown; shown sanitised.")
    product_id: int | None = None
    area: str | None = Field(default=None, max_length=80, description="Product area, e.g. `Billing`.")
    owner_id: int | None = Field(default=None, description="The user responsible.")
    team_id: int | None = None
    tags: list[str] = Field(default_factory=list, description=f"At most {MAX_TAGS}; stored lower-case.")
    status: str | None = Field(
        default=None, max_length=40, description="A status key of the product; the lifecycle's first when left out."
    )
    release_note: str = Field(default="", max_length=10_000, description="Markdown shown when the feature ships.")


class FeatureUpdate(_Input):
    """Changes to a feature: only the fields sent change; ``null`` clears an optional field."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    product_id: int | None = None
    area: str | None = Field(default=None, max_length=80)
    owner_id: int | None = None
    team_id: int | None = None
    tags: list[str] | None = Field(default=None, description="Replaces all tags.")
    status: str | None = Field(default=None, max_length=40)
    release_note: str | None = Field(default=None, max_length=10_000)

    @field_validator("title", "description", "tags", "status", "release_note", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class FeatureOut(BaseModel):
    id: int
    title: str
    description: str
    product_id: int | None
    product_name: str | None = None
    area: str | None
    owner_id: int | None
    owner_name: str | None = None
    team_id: int | None
    team_name: str | None = None
    tags: list[str]
    status: str
    status_label: str
    status_kind: StatusKind
    status_changed_at: dt.datetime
    release_note: str
    merged_into_id: int | None
    vote_count: int = 0
    subscriber_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class FeatureChoice(BaseModel):
    """A feature offered by a link-to-feature or merge picker."""

    id: int
    title: str
    status_label: str


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: int = Field(description="The surviving feature.")


# --- votes and subscribers ------------------------------------------------------------------


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: int
    cast_by_id: int | None = Field(
        default=None, description="The staff user voting on the person's behalf (default: the caller)."
    )


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: int


class VoteOut(BaseModel):
    feature_id: int
    person_id: int
    person_name: str | None = None
    person_email: str | None = None
    cast_by_id: int | None = None
    created_at: dt.datetime


class SubscriberOut(BaseModel):
    feature_id: int
    person_id: int
    person_name: str | None = None
    person_email: str | None = None
    created_at: dt.datetime


# --- list filters (query parameters) --------------------------------------------------------

SORTS = (
    "title",
    "status",
    "product",
    "area",
    "owner",
    "team",
    "votes",
    "subscribers",
    "status_changed_at",
    "created_at",
    "updated_at",
)


class FeatureFilters(BaseModel):
    """Query parameters of the features list (page, CSV and API)."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200, description="Search titles and descriptions.")
    product_id: int | None = None
    status: str | None = Field(default=None, max_length=40, description="A status key.")
    area: str | None = Field(default=None, max_length=80)
    tag: str | None = Field(default=None, max_length=MAX_TAG_LENGTH)
    owner_id: int | None = None
    team_id: int | None = None
    include_merged: bool = Field(default=False, description="Also list merged features (redirects).")
    sort: str | None = Field(default=None, max_length=40, description=f"{', '.join(SORTS)}; `-` for descending.")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("q", "status", "area", "sort", "product_id", "owner_id", "team_id", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("include_merged", mode="before")
    @classmethod
    def _merged(cls, v: Any) -> Any:
        v = _blank_to_none(v)
        return False if v is None else v

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, v: Any) -> Any:
        v = _blank_to_none(v)
        return _SPACES.sub(" ", v).lower() if isinstance(v, str) else v

    def query(self) -> dict[str, Any]:
        """The filters as keyword arguments of ``list_features``."""
        return self.model_dump()
