"""Portal API shapes: portals, boards, invites and single sign-on (admin); ideas, votes, comments and moderation
as staff see them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from prodops.domains.portal.models import IDEA_STATES

Visibility = Literal["public", "private", "segment"]
IdeaState = Literal["pending", "published", "rejected", "merged", "deleted"]
assert set(IDEA_STATES) == set(IdeaState.__args__)  # type: ignore[attr-defined]

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
#: Slugs that would clash with the portal's own pages if a portal were addressed by a bare path one day.
RESERVED_SLUGS = frozenset({"admin", "api", "static", "login", "logout", "p", "portal"})


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _slug(value: str) -> str:
    value = value.strip().lower()
    if not SLUG.match(value):
        raise ValueError("use lower-case letters, digits and dashes (e.g. acme-ideas), at most 60 characters")
    if value in RESERVED_SLUGS:
        raise ValueError(f"“{value}” is reserved; choose another")
    return value


def _color(value: str) -> str:
    if not COLOR.match(value.strip()):
        raise ValueError("use a colour like #4f46e5 (a # and six hex digits)")
    return value.strip().lower()


def _logo(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if value.startswith("https://") and len(value) > len("https://") and " " not in value:
        return value
    if value.startswith("/") and not value.startswith("//") and " " not in value and "\\" not in value:
        return value
    raise ValueError("use an https:// address or a path on this site starting with /")


def _domains(value: Any) -> Any:
    if isinstance(value, str):
        value = [d for d in re.split(r"[\s,;]+", value) if d]
    if not isinstance(value, list):
        return value
    found: list[str] = []
    for raw in value:
        domain = str(raw).strip().lower().lstrip("@")
        if not DOMAIN.match(domain):
            raise ValueError(f"“{raw}” is not a web domain like example.com")
        if domain not in found:
            found.append(domain)
    if len(found) > 100:
        raise ValueError("at most 100 domains")
    return found


class PortalIn(_Input):
    """A new portal (``/p/<slug>``)."""

    slug: str = Field(max_length=60, description="The portal's address: /p/<slug>.")
    name: str = Field(min_length=1, max_length=120)
    intro: str = Field(default="", max_length=10_000, description="Markdown shown at the top; rendered sanitised.")
    logo_url: str = Field(default="", max_length=2000, description="An https:// address or a path on this site.")
    primary_color: str = Field(default="#4f46e5", description="#rrggbb")
    background_color: str = Field(default="#ffffff", description="#rrggbb")
    visibility: Visibility = "public"
    allowed_domains: list[str] = Field(
        default_factory=list, description="Private portals: e-mail domains whose people may enter."
    )
    segment_id: int | None = Field(default=None, description="Segment portals: the customers segment allowed in.")
    allow_anonymous: bool = Field(default=False, description="Let people post with an e-mail confirmation only.")
    enabled: bool = True

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, v: Any) -> Any:
        return None if v is None else _slug(v)

    @field_validator("primary_color", "background_color")
    @classmethod
    def _check_color(cls, v: Any) -> Any:
        return None if v is None else _color(v)

    @field_validator("logo_url")
    @classmethod
    def _check_logo(cls, v: Any) -> Any:
        return None if v is None else _logo(v)

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _check_domains(cls, v: Any) -> Any:
        return None if v is None else _domains(v)


class PortalUpdate(_Input):
    """Changes to a portal: only the fields sent change."""

    slug: str | None = Field(default=None, max_length=60)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    intro: str | None = Field(default=None, max_length=10_000)
    logo_url: str | None = Field(default=None, max_length=2000)
    primary_color: str | None = None
    background_color: str | None = None
    visibility: Visibility | None = None
    allowed_domains: list[str] | None = None
    segment_id: int | None = None
    allow_anonymous: bool | None = None
    enabled: bool | None = None

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, v: Any) -> Any:
        return None if v is None else _slug(v)

    @field_validator("primary_color", "background_color")
    @classmethod
    def _check_color(cls, v: Any) -> Any:
        return None if v is None else _color(v)

    @field_validator("logo_url")
    @classmethod
    def _check_logo(cls, v: Any) -> Any:
        return None if v is None else _logo(v)

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _check_domains(cls, v: Any) -> Any:
        return None if v is None else _domains(v)


class PortalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    intro: str
    logo_url: str
    primary_color: str
    background_color: str
    visibility: Visibility
    allowed_domains: list[str]
    segment_id: int | None
    allow_anonymous: bool
    enabled: bool
    sso_enabled: bool = Field(default=False, description="True when a single-sign-on secret is set.")
    board_count: int = 0
    idea_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class SsoSecretOut(BaseModel):
    """The portal's single-sign-on secret (shown to admins only) and how the host product uses it."""

    portal_id: int
    secret: str
    sso_url: str = Field(description="Where the host product sends people: append ?jwt=<token>.")
    example_claims: dict[str, Any]
    example_token: str = Field(description="A token signed with the secret, valid for 10 minutes from now.")


class BoardIn(_Input):
    slug: str = Field(max_length=60)
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=10_000)
    product_id: int | None = Field(default=None, description="New ideas become features of this product.")
    segment_id: int | None = Field(default=None, description="Only people in this customers segment see the board.")
    require_approval: bool = Field(default=False, description="New ideas and comments wait for moderation.")
    position: int = Field(default=0, ge=0, le=10_000)
    archived: bool = False

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, v: Any) -> Any:
        return None if v is None else _slug(v)


class BoardUpdate(_Input):
    slug: str | None = Field(default=None, max_length=60)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=10_000)
    product_id: int | None = None
    segment_id: int | None = None
    require_approval: bool | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    archived: bool | None = None

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, v: Any) -> Any:
        return None if v is None else _slug(v)


class BoardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    portal_id: int
    slug: str
    name: str
    description: str
    product_id: int | None
    product_name: str | None = None
    segment_id: int | None
    segment_name: str | None = None
    require_approval: bool
    position: int
    archived: bool
    idea_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class InviteIn(_Input):
    email: EmailStr


class InviteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    portal_id: int
    email: str
    invited_by_id: int | None
    created_at: dt.datetime


# --- staff side ---------------------------------------------------------------------------------


class IdeaFilters(_Input):
    """Query parameters of the staff idea list and ``GET /api/v1/portal/ideas``."""

    portal_id: int | None = None
    board_id: int | None = None
    state: IdeaState | None = None
    status: str | None = Field(default=None, max_length=40, description="A feature status key.")
    q: str | None = Field(default=None, max_length=200, description="Titles containing this.")
    sort: Literal["-votes", "votes", "-created", "created", "-comments", "title"] = "-created"
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("portal_id", "board_id", "state", "status", "q", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        return v


class IdeaOut(BaseModel):
    """An idea as staff see it."""

    id: int
    portal_id: int
    portal_slug: str
    board_id: int
    board_name: str
    feature_id: int
    title: str
    body: str
    state: IdeaState
    status: str
    status_label: str
    status_kind: str
    author_id: int | None
    author_name: str | None
    author_email: str | None
    created_by_id: int | None
    merged_into_id: int | None
    vote_count: int
    comment_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class IdeaPage(BaseModel):
    items: list[IdeaOut]
    total: int
    page: int
    per_page: int


class VoterOut(BaseModel):
    vote_id: int
    user_id: int
    name: str
    email: str | None
    person_id: int | None
    account_id: int | None
    account_name: str | None
    arr: float | None
    cast_by_id: int | None
    cast_by_name: str | None = None
    created_at: dt.datetime


class CommentOut(BaseModel):
    id: int
    idea_id: int
    parent_id: int | None
    author_id: int | None
    author_name: str | None
    staff_author_id: int | None
    staff_author_name: str | None
    body: str
    official: bool
    internal: bool
    state: str
    created_at: dt.datetime
    edited_at: dt.datetime | None


class ProxyVoteIn(_Input):
    """A vote a staff member casts for a customer: name the customers person, or give an e-mail (a new person is
    created and joins the account of their e-mail domain)."""

    person_id: int | None = None
    email: EmailStr | None = None
    name: str = Field(default="", max_length=200)


class StaffCommentIn(_Input):
    body: str = Field(min_length=1, max_length=20_000, description="Markdown; rendered sanitised.")
    parent_id: int | None = None
    official: bool = Field(default=False, description="Marked as the team's answer on the portal.")
    internal: bool = Field(default=False, description="Staff only: never shown on the portal.")


class IdeaEdit(_Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=20_000)
    board_id: int | None = None


class CommentEdit(_Input):
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    official: bool | None = None


class BlockIn(_Input):
    reason: str = Field(min_length=1, max_length=500)


class ModerationIn(_Input):
    """Approve or reject pending ideas and comments in one go."""

    action: Literal["approve", "reject"]
    ideas: list[int] = Field(default_factory=list, max_length=500)
    comments: list[int] = Field(default_factory=list, max_length=500)


class ModerationResult(BaseModel):
    ideas: int
    comments: int


class MergeIn(_Input):
    into: int = Field(description="The idea that survives.")


class MergeResult(BaseModel):
    source_id: int
    target_id: int
    votes_moved: int
    votes_dropped: int
    comments_moved: int
    followers_moved: int
    features_merged: bool
