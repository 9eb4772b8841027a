"""The embeddable feedback widget: the sites that embed it (admins create, change, re-key and delete them; every
change is audited) and the capture of what visitors send through it.

A site has a public key (it sits in the customer's page) and a list of allowed origins. :func:`submit` takes one
submission through the same checks as the public endpoint, in the order that tells a refused caller the least: the
site must be enabled, the request must come from an allowed origin, the caller must be within the rate limit, and only
then is the payload validated. A filled honeypot field is accepted and dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.networks import validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import WidgetSite
from prodops.domains.feedback.schemas import FeedbackIn, FeedbackOut, normalise_tags
from prodops.domains.feedback.service.items import ingest
from prodops.platform import audit
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction
from prodops.platform.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from prodops.platform.org.models import Product
from prodops.platform.ratelimit import RateLimiter

ENTITY = "widget_site"
AUDIT_FIELDS = ("name", "allowed_origins", "product_id", "default_tags", "enabled", "require_email")
KEY_PREFIX = "site_"
MAX_ORIGINS = 50
MAX_WIDGET_TEXT = 5000
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_URL = re.compile(r"^https?://\S+$")


# --- origins --------------------------------------------------------------------------------


def _split(origin: str) -> tuple[str, str, str]:
    """``scheme://host[:port]`` → (scheme, host, port); raises ValueError with a message for people."""
    raw = origin.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep or not scheme:
        raise ValueError(f"{raw!r} is not an origin: write it as https://host, with an optional :port")
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"{raw!r}: only http:// and https:// pages can embed the widget")
    rest = rest.removesuffix("/")  # people paste "https://example.com/"; that is still the origin
    cut = min((rest.find(c) for c in "/?#" if c in rest), default=-1)
    if cut >= 0:
        raise ValueError(f"{raw!r} has a path: an origin is only scheme://host[:port], e.g. {scheme}://{rest[:cut]}")
    if "@" in rest:
        raise ValueError(f"{raw!r} contains a user name: an origin is only scheme://host[:port]")
    if rest.startswith("["):  # an IPv6 address
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"{raw!r}: the IPv6 address is missing its closing ]")
        host, port = rest[: end + 1], rest[end + 1 :].removeprefix(":")
        if rest[end + 1 :] and not rest[end + 1 :].startswith(":"):
            raise ValueError(f"{raw!r} is not an origin: write it as https://host, with an optional :port")
    else:
        host, _, port = rest.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{raw!r}: the port must be a number from 1 to 65535")
    if port:
        port = str(int(port))
    if port == _DEFAULT_PORTS[scheme]:
        port = ""  # browsers leave the default port out of the Origin header
    return scheme, host, port


def _host(host: str, raw: str, *, wildcard: bool) -> str:
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1].lower()
        if not inner or not re.fullmatch(r"[0-9a-f:.]+", inner) or ":" not in inner:
            raise ValueError(f"{raw!r}: {host} is not an IPv6 address")
        return f"[{inner}]"
    star = wildcard and host.startswith("*.")
    name = host[2:] if star else host
    if "*" in name:
        raise ValueError(
            f"{raw!r}: a wildcard may only stand for the subdomains of a domain, as in https://*.example.com"
        )
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"{raw!r}: {name!r} is not a valid host name") from exc
    labels = ascii_name.split(".")
    if not ascii_name or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{raw!r}: {name!r} is not a valid host name")
    if star and len(labels) < 2:
        raise ValueError(f"{raw!r}: a wildcard needs a domain with at least two parts, as in https://*.example.com")
    return f"*.{ascii_name}" if star else ascii_name


def normalise_origin(value: str, *, wildcard: bool = True) -> str:
    """An origin as browsers send it (lower-case host, no default port), or ValueError saying what is wrong.

    ``https://*.example.com`` stands for every subdomain of example.com (at any depth, not example.com itself) on
    that scheme and port."""
    scheme, host, port = _split(value)
    host = _host(host, value.strip(), wildcard=wildcard)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def normalise_origins(values: Any) -> list[str]:
    """Origins from a list or from text (one per line, or separated by commas or spaces), checked and
    de-duplicated; all problems are reported at once."""
    if isinstance(values, str):
        values = re.split(r"[\s,]+", values)
    if not isinstance(values, list | tuple):
        raise ValueError("give a list of origins")  # a validation message, not a type error
    found: dict[str, None] = {}
    problems: list[str] = []
    for raw in values:
        if not isinstance(raw, str):
            problems.append(f"{raw!r} is not text")
            continue
        if not raw.strip():
            continue
        try:
            found[normalise_origin(raw)] = None
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    if not found:
        raise ValueError("add at least one origin, e.g. https://app.example.com")
    if len(found) > MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} origins per site")
    return list(found)


class _HasOrigins(Protocol):
    @property
    def allowed_origins(self) -> Sequence[str]: ...


def origin_allowed(site: _HasOrigins, origin: str | None) -> bool:
    """Whether a request's ``Origin`` header names one of the site's allowed origins (exactly, or as a subdomain of
    a ``https://*.example.com`` entry on the same scheme and port). A missing or ``null`` origin never matches."""
    if not origin or origin.strip() == "null":
        return False
    try:
        scheme, host, port = _split(origin)
        host = _host(host, origin, wildcard=False)
    except ValueError:
        return False
    exact = f"{scheme}://{host}" + (f":{port}" if port else "")
    for allowed in site.allowed_origins:
        if allowed == exact:
            return True
        a_scheme, a_host, a_port = _split(allowed)
        if a_host.startswith("*.") and (a_scheme, a_port) == (scheme, port) and host.endswith(a_host[1:]):
            return True
    return False


# --- shapes ---------------------------------------------------------------------------------


def _origins_validator(value: Any) -> Any:
    return None if value is None else normalise_origins(value)


def _tags_validator(value: Any) -> Any:
    return normalise_tags(value)


class WidgetSiteIn(BaseModel):
    """A site that embeds the widget. Origins are exact (``https://app.example.com``, ``http://localhost:3000``)
    or cover subdomains (``https://*.example.com``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    allowed_origins: list[str] = Field(description="Pages on these origins may send feedback; one or more.")
    product_id: int | None = Field(default=None, description="The product captured items belong to.")
    default_tags: list[str] = Field(default_factory=list, description="Tags every captured item gets.")
    enabled: bool = True
    require_email: bool = Field(default=False, description="Refuse feedback without an e-mail address.")

    _origins = field_validator("allowed_origins", mode="before")(_origins_validator)
    _tags = field_validator("default_tags", mode="before")(_tags_validator)


class WidgetSiteUpdate(BaseModel):
    """Changes to a site: only the fields sent change; ``product_id: null`` clears the product."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    allowed_origins: list[str] | None = None
    product_id: int | None = None
    default_tags: list[str] | None = None
    enabled: bool | None = None
    require_email: bool | None = None

    _origins = field_validator("allowed_origins", mode="before")(_origins_validator)
    _tags = field_validator("default_tags", mode="before")(_tags_validator)

    @field_validator("name", "allowed_origins", "default_tags", "enabled", "require_email", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class WidgetSiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    site_key: str
    allowed_origins: list[str]
    product_id: int | None
    product_name: str | None = None
    default_tags: list[str]
    enabled: bool
    require_email: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class WidgetSubmission(BaseModel):
    """What the widget posts. ``website`` is a honeypot: people never see it, so a filled one means a bot."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=200)
    page_url: str | None = Field(default=None, max_length=2000)
    website: str = Field(default="", max_length=2000)

    @field_validator("text", mode="after")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v:
            raise ValueError("Write your feedback first.")
        if len(v) > MAX_WIDGET_TEXT:
            raise ValueError(f"Keep it under {MAX_WIDGET_TEXT:,} characters (this is {len(v):,}).")
        return v

    @field_validator("email", mode="after")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            _, address = validate_email(v)
        except Exception as exc:  # pydantic's own error type; say it in words a visitor understands
            raise ValueError("Enter a valid e-mail address, like name@example.com.") from exc
        return address.lower()

    @field_validator("page_url", mode="after")
    @classmethod
    def _page_url(cls, v: str | None) -> str | None:
        if v and not _URL.match(v):
            raise ValueError("must be the http:// or https:// address of the page")
        return v or None


def _field_errors(exc: ValidationError) -> ValidationFailed:
    problems: list[tuple[str | None, str]] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "is not a field the widget sends"
        problems.append((".".join(loc) or None, message))
    return ValidationFailed(problems[0][0], problems[0][1], more=problems[1:])


def parse_submission(payload: bytes | Mapping[str, Any] | WidgetSubmission) -> WidgetSubmission:
    """The submission from a raw JSON body or a mapping; 422 with field-level messages when it is not valid."""
    if isinstance(payload, WidgetSubmission):
        return payload
    try:
        if isinstance(payload, bytes):
            return WidgetSubmission.model_validate_json(payload or b"null")
        return WidgetSubmission.model_validate(payload)
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "model_type", "model_attributes_type") for e in exc.errors()):
            raise ValidationFailed(None, "Send a JSON object with at least a 'text' field.") from exc
        raise _field_errors(exc) from exc


# --- the rate limit -------------------------------------------------------------------------


class RateLimited(ServiceError):
    """Too many submissions from one address to one site; ``retry_after`` is in whole seconds."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(None, f"Too much feedback from your address. Try again in {_duration(retry_after)}.")
        self.retry_after = retry_after


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes" if minutes < 120 else f"{math.ceil(minutes / 60)} hours"


#: Submissions per site and address (in Redis when configured, so every server process shares the count).
limiter = RateLimiter("widget")


def rate_limit() -> tuple[int, int]:
    """The configured allowance as (submissions, window in seconds)."""
    count, _, unit = get_settings().widget_rate_limit.partition("/")
    return int(count.strip()), _UNITS[unit.strip()]


def _check_rate(site_id: int, ip: str) -> None:
    allowed, window = rate_limit()
    key = f"{site_id}:{ip}"
    if not limiter.hit(key, allowed, window):
        raise RateLimited(limiter.retry_after(key, window))


# --- sites ----------------------------------------------------------------------------------


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(18)


def _key_hint(key: str) -> str:
    # The key is public, but an audit log is no place to collect working keys: keep enough to recognise one.
    return key[: len(KEY_PREFIX) + 4] + "…"


def _out(site: WidgetSite, product_name: str | None = None) -> WidgetSiteOut:
    out = WidgetSiteOut.model_validate(site)
    out.product_name = product_name
    return out


def _row(session: Session, site_id: int) -> WidgetSite:
    site = session.get(WidgetSite, site_id)
    if site is None:
        raise NotFound("widget site", site_id)
    return site


def _check_product(session: Session, product_id: int | None) -> str | None:
    if product_id is None:
        return None
    name = session.scalar(select(Product.name).where(Product.id == product_id))
    if name is None:
        raise ValidationFailed("product_id", f"there is no product {product_id}")
    return name


def list_sites(session: Session) -> list[WidgetSiteOut]:
    rows = session.execute(
        select(WidgetSite, Product.name)
        .outerjoin(Product, Product.id == WidgetSite.product_id)
        .order_by(WidgetSite.name, WidgetSite.id)
    ).all()
    return [_out(site, name) for site, name in rows]


def get_site(session: Session, site_id: int) -> WidgetSiteOut:
    site = _row(session, site_id)
    return _out(site, _check_product(session, site.product_id))


def site_for_key(session: Session, site_key: str) -> WidgetSiteOut | None:
    """The site with this public key (enabled or not), or None."""
    if not site_key.startswith(KEY_PREFIX) or len(site_key) > 64:
        return None
    site = session.scalar(select(WidgetSite).where(WidgetSite.site_key == site_key))
    return None if site is None else _out(site)


def create_site(session: Session, actor: Actor, data: WidgetSiteIn) -> WidgetSiteOut:
    with transaction(session):
        product_name = _check_product(session, data.product_id)
        site = WidgetSite(
            name=data.name,
            site_key=new_key(),
            allowed_origins=list(data.allowed_origins),
            product_id=data.product_id,
            default_tags=list(data.default_tags),
            enabled=data.enabled,
            require_email=data.require_email,
        )
        session.add(site)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=site.id,
            action="create",
            changes=audit.diff({}, {**audit.snapshot(site, AUDIT_FIELDS), "site_key": _key_hint(site.site_key)}),
            entity_label=site.name,
        )
        return _out(site, product_name)


def update_site(session: Session, actor: Actor, site_id: int, data: WidgetSiteUpdate) -> WidgetSiteOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        site = _row(session, site_id)
        if "product_id" in changes:
            _check_product(session, changes["product_id"])
        before = audit.snapshot(site, AUDIT_FIELDS)
        for key, value in changes.items():
            setattr(site, key, list(value) if isinstance(value, list) else value)
        diff = audit.diff(before, audit.snapshot(site, AUDIT_FIELDS))
        if diff:
            action = "update"
            if set(diff) == {"enabled"}:
                action = "enable" if site.enabled else "disable"
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=site.id,
                action=action,
                changes=diff,
                entity_label=site.name,
            )
        session.flush()
        return _out(site, _check_product(session, site.product_id))


def rotate_key(session: Session, actor: Actor, site_id: int) -> WidgetSiteOut:
    """Give the site a new key: pages still using the old snippet get 404 until they are updated."""
    with transaction(session):
        site = _row(session, site_id)
        old = site.site_key
        site.site_key = new_key()
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=site.id,
            action="rotate_key",
            changes={"site_key": [_key_hint(old), _key_hint(site.site_key)]},
            entity_label=site.name,
        )
        return _out(site, _check_product(session, site.product_id))


def delete_site(session: Session, actor: Actor, site_id: int) -> None:
    """Delete a site; feedback already captured through it stays."""
    with transaction(session):
        site = _row(session, site_id)
        audit.record(
            session,
            actor,
            entity_type=ENTITY,
            entity_id=site.id,
            action="delete",
            changes=audit.diff({**audit.snapshot(site, AUDIT_FIELDS), "site_key": _key_hint(site.site_key)}, {}),
            entity_label=site.name,
        )
        session.delete(site)


# --- capture --------------------------------------------------------------------------------


def check_origin(site: WidgetSiteOut, origin: str | None) -> None:
    """Refuse a disabled site (404) or a request from an origin the site does not allow (403)."""
    if not site.enabled:
        raise NotFound("widget site", _key_hint(site.site_key))
    if not origin_allowed(site, origin):
        if not origin:
            raise PermissionDenied(
                "The feedback widget only accepts requests sent by a browser from an allowed site "
                "(this request has no Origin header)."
            )
        raise PermissionDenied(
            f"Pages on {origin[:200]} may not send feedback to this site key. An administrator can add the origin "
            "to the site's allowed origins in ProdOps."
        )


def submit(
    session: Session,
    site: WidgetSiteOut,
    payload: bytes | Mapping[str, Any] | WidgetSubmission,
    origin: str | None,
    ip: str,
    *,
    user_agent: str = "",
) -> FeedbackOut | None:
    """Capture one submission as a ``widget`` item: origin, rate limit, then the payload (``bytes`` is the raw
    JSON body). Returns the item, or None when the honeypot was filled (nothing is stored). The person is matched
    or created by e-mail, and joins the account of their e-mail domain."""
    check_origin(site, origin)
    _check_rate(site.id, ip)
    data = parse_submission(payload)
    if data.website:
        return None
    if site.require_email and not data.email:
        raise ValidationFailed("email", "Enter your e-mail address so we can reply.")
    meta: dict[str, Any] = {"site": site.name, "site_id": site.id}
    if data.page_url:
        meta["page_url"] = data.page_url
    if user_agent:
        meta["user_agent"] = user_agent[:500]
    if data.name and not data.email:
        meta["name"] = data.name  # a name alone identifies no person; keep it with the item
    item, _ = ingest(
        session,
        Actor(None, f"widget: {site.name}"[:320]),
        FeedbackIn(
            text=data.text,
            source="widget",
            source_url=data.page_url,
            person_email=data.email,
            person_name=data.name if data.email else "",
            product_id=site.product_id,
            tags=list(site.default_tags),
            meta=meta,
        ),
    )
    return item


#: "Similar ideas" look-ups per site and address: the same allowance as submissions, counted apart, so a customer
#: who types for a while can still send their feedback.
similar_limiter = RateLimiter("widget-similar")


def similar_ideas(session: Session, site: WidgetSiteOut, q: str, origin: str | None, ip: str) -> list[Any]:
    """Features like what a visitor is typing (title and status only): the same origin check and rate limit as a
    submission. Texts shorter than a few words get no suggestions."""
    check_origin(site, origin)
    allowed, window = rate_limit()
    key = f"{site.id}:{ip}"
    if not similar_limiter.hit(key, allowed, window):
        raise RateLimited(similar_limiter.retry_after(key, window))
    if len(q) > MAX_WIDGET_TEXT:
        raise ValidationFailed("q", f"Keep it under {MAX_WIDGET_TEXT:,} characters.")
    from prodops.domains.feedback.service.similar import similar_ideas as find

    return list(find(session, q, product_id=site.product_id))


__all__ = [
    "WidgetSiteIn",
    "WidgetSiteOut",
    "WidgetSiteUpdate",
    "WidgetSubmission",
    "check_origin",
    "create_site",
    "delete_site",
    "get_site",
    "list_sites",
    "normalise_origin",
    "origin_allowed",
    "rate_limit",
    "rotate_key",
    "similar_ideas",
    "site_for_key",
    "submit",
    "update_site",
]
