"""Customers API shapes, and the segment filter language every domain can reuse.

A segment is a list of conditions ``{"field": ..., "op": ..., "value": ...}`` that must all hold.
Fields are the columns listed in :data:`ACCOUNT_FIELDS` / :data:`PERSON_FIELDS`, custom attributes as
``attributes.<key>``, and, for people, their account's fields as ``account.<field>``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from prodops.platform.errors import ValidationFailed

Entity = Literal["accounts", "people"]
Stage = Literal["trial", "onboarding", "active", "expansion", "at_risk", "churned"]
Scalar = str | int | float | bool | None

STAGES: tuple[str, ...] = ("trial", "onboarding", "active", "expansion", "at_risk", "churned")
STAGE_LABELS = {
    "trial": "Trial",
    "onboarding": "Onboarding",
    "active": "Active",
    "expansion": "Expansion",
    "at_risk": "At risk",
    "churned": "Churned",
}
# Suggestions offered in forms; the columns accept any short text so a CRM's own names import as they are.
PLANS: tuple[str, ...] = ("Free", "Starter", "Growth", "Enterprise")
SEGMENTS: tuple[str, ...] = ("SMB", "Mid-Market", "Enterprise")
REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
MAX_ATTRIBUTES = 100
_R = TypeVar("_R", bound=BaseModel)


# --- the filter language --------------------------------------------------------------------

Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_set", "is_empty"]
OPS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_set", "is_empty")
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "is_set": "is set",
    "is_empty": "is empty",
}
Kind = Literal["text", "stage", "number", "id", "datetime", "attribute"]
KIND_OPS: dict[str, tuple[str, ...]] = {
    "text": ("eq", "ne", "in", "not_in", "contains", "is_set", "is_empty"),
    "stage": ("eq", "ne", "in", "not_in"),
    "number": ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"),
    "id": ("eq", "ne", "in", "not_in", "is_set", "is_empty"),
    "datetime": ("gt", "gte", "lt", "lte", "is_set", "is_empty"),
    "attribute": OPS,
}
ACCOUNT_FIELDS: dict[str, Kind] = {
    "name": "text",
    "domain": "text",
    "plan": "text",
    "segment": "text",
    "region": "text",
    "lifecycle_stage": "stage",
    "arr": "number",
    "owner_id": "id",
    "external_id": "text",
    "created_at": "datetime",
}
PERSON_FIELDS: dict[str, Kind] = {
    "email": "text",
    "name": "text",
    "title": "text",
    "account_id": "id",
    "external_id": "text",
    "created_at": "datetime",
}
NO_VALUE_OPS = frozenset({"is_set", "is_empty"})
LIST_OPS = frozenset({"in", "not_in"})
ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
MAX_LIST = 500
RELATIVE_DATE = re.compile(r"^-(\d{1,5})([dw])$")


class Condition(BaseModel):
    """One condition of a segment: ``field op value``. ``in``/``not_in`` take a list; ``is_set``/``is_empty`` none."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(max_length=120, examples=["arr", "attributes.industry", "account.plan"])
    op: Op
    value: Scalar | list[Scalar] = None


@dataclass(frozen=True)
class FieldRef:
    """Where a condition's field points: a column or an attribute key, on the account or the person."""

    on: Literal["account", "person"]
    kind: Kind
    name: str
    """Column name, or the attribute key when ``kind == "attribute"``."""


class FilterInvalid(ValidationFailed):
    """Every problem of a list of conditions, each located as ``filters.<i>.<part>``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        (field, message), *rest = errors
        super().__init__(field, message, more=rest)


def resolve_field(entity: Entity, name: str) -> FieldRef | None:
    """The column or attribute a field name refers to for ``entity``, or None when it names nothing."""
    on: Literal["account", "person"] = "account" if entity == "accounts" else "person"
    fields = ACCOUNT_FIELDS if entity == "accounts" else PERSON_FIELDS
    if entity == "people" and name.startswith("account."):
        ref = resolve_field("accounts", name.removeprefix("account."))
        return ref
    if name.startswith("attributes."):
        key = name.removeprefix("attributes.")
        return FieldRef(on, "attribute", key) if ATTRIBUTE_KEY.match(key) else None
    kind = fields.get(name)
    return FieldRef(on, kind, name) if kind else None


def field_names(entity: Entity) -> list[str]:
    """The fixed field names a condition may use (plus ``attributes.<key>``)."""
    if entity == "accounts":
        return list(ACCOUNT_FIELDS)
    return list(PERSON_FIELDS) + [f"account.{f}" for f in ACCOUNT_FIELDS]


def parse_when(value: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """``2025-01-31``, an ISO date-time (UTC when no zone) or ``-30d`` / ``-4w`` (that long ago)."""
    match = RELATIVE_DATE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=amount * (7 if unit == "w" else 1))
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _value_error(kind: Kind, op: str, value: Any, label: str) -> str | None:
    """Why ``value`` does not suit ``op`` on a field of ``kind`` (None when it does)."""
    if isinstance(value, list):
        return f"{op} takes a single value, not a list"
    if value is None:
        return f"{op} needs a value"
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("text", "stage"):
        if not isinstance(value, str):
            return f"{label} is text: give a string, not {value!r}"
        if kind == "stage" and value not in STAGES:
            return f"unknown lifecycle stage {value!r}; choose one of {', '.join(STAGES)}"
    elif kind == "number":
        if not is_number:
            return f"{label} is a number: give a number, not {value!r}"
    elif kind == "id":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{label} is an id: give a whole number, not {value!r}"
    elif kind == "datetime":
        if not isinstance(value, str) or parse_when(value) is None:
            return f"{label} is a date: give YYYY-MM-DD, an ISO date-time, or -30d / -4w, not {value!r}"
    elif kind == "attribute":
        if op in ORDER_OPS and not is_number:
            return f"{op} compares numbers: give a number, not {value!r}"
        if op == "contains" and not isinstance(value, str):
            return f"contains looks for text: give a string, not {value!r}"
    if op == "contains" and isinstance(value, str) and not value:
        return "contains needs some text to look for"
    return None


def _as_condition(raw: Any, where: str) -> Condition:
    if isinstance(raw, Condition):
        return raw
    if not isinstance(raw, dict):
        raise _BadConditionError(where, "a condition is an object with field, op and value")
    unknown = set(raw) - {"field", "op", "value"}
    if unknown:
        raise _BadConditionError(f"{where}.{sorted(unknown)[0]}", "unknown key; a condition has field, op and value")
    if raw.get("op") not in OPS:
        raise _BadConditionError(f"{where}.op", f"unknown operator {raw.get('op')!r}; choose one of {', '.join(OPS)}")
    if not isinstance(raw.get("field"), str):
        raise _BadConditionError(f"{where}.field", "field must be a field name")
    return Condition.model_construct(field=raw["field"], op=raw["op"], value=raw.get("value"))


class _BadConditionError(Exception):
    def __init__(self, loc: str, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _checked(entity: Entity, cond: Condition, where: str) -> Condition:
    ref = resolve_field(entity, cond.field)
    if ref is None:
        choices = ", ".join(field_names(entity))
        raise _BadConditionError(
            f"{where}.field", f"unknown field {cond.field!r}; use one of {choices} or attributes.<key>"
        )
    if cond.op not in KIND_OPS[ref.kind]:
        raise _BadConditionError(
            f"{where}.op", f"{cond.field} does not support {cond.op}; use one of {', '.join(KIND_OPS[ref.kind])}"
        )
    value = cond.value
    if cond.op in NO_VALUE_OPS:
        if value not in (None, "", []):
            raise _BadConditionError(f"{where}.value", f"{cond.op} takes no value")
        value = None
    elif cond.op in LIST_OPS:
        if not isinstance(value, list) or not value:
            raise _BadConditionError(f"{where}.value", f"{cond.op} needs a non-empty list of values")
        if len(value) > MAX_LIST:
            raise _BadConditionError(f"{where}.value", f"{cond.op} takes at most {MAX_LIST} values")
        problem = next((p for v in value if (p := _value_error(ref.kind, "eq", v, cond.field))), None)
        if problem:
            raise _BadConditionError(f"{where}.value", problem)
    else:
        problem = _value_error(ref.kind, cond.op, value, cond.field)
        if problem:
            raise _BadConditionError(f"{where}.value", problem)
    return Condition.model_construct(field=cond.field, op=cond.op, value=value)


def validate_conditions(entity: Entity, conditions: list[Any]) -> list[Condition]:
    """Check conditions (dicts or `Condition`) for ``entity``; raises `FilterInvalid` listing every problem."""
    if not isinstance(conditions, list):
        raise FilterInvalid([("filters", "filters must be a list of conditions")])
    errors: list[tuple[str, str]] = []
    checked: list[Condition] = []
    for i, raw in enumerate(conditions):
        try:
            checked.append(_checked(entity, _as_condition(raw, f"filters.{i}"), f"filters.{i}"))
        except _BadConditionError as exc:
            errors.append((exc.loc, exc.message))
    if errors:
        raise FilterInvalid(errors)
    return checked


def describe(cond: Condition) -> str:
    """A condition in words, for chips and segment pages: ``arr ≥ 50000``."""
    field = cond.field.removeprefix("attributes.")
    if cond.op in NO_VALUE_OPS:
        return f"{field} {OP_LABELS[cond.op]}"
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    if cond.field.endswith("lifecycle_stage"):
        shown = ", ".join(STAGE_LABELS.get(str(v), str(v)) for v in values)
    else:
        shown = ", ".join(str(v) for v in values)
    return f"{field} {OP_LABELS[cond.op]} {shown}"


# --- normalising input ----------------------------------------------------------------------


def normalise_domain(value: str | None) -> str | None:
    """``https://www.Acme.com/about`` → ``acme.com``; empty → None; raises ValueError when it is no host name."""
    if value is None:
        return None
    text = value.strip().lower()
    if not text:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    if not DOMAIN.match(text):
        raise ValueError(f"{value!r} is not a domain name like acme.com")
    return text


_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_FLOAT = re.compile(r"^-?[0-9]+\.[0-9]+$")


def parse_scalar(text: str) -> Any:
    """A value typed by a person or read from a file: whole and decimal numbers and true/false become numbers and
    booleans; anything else (including zip codes like ``02139``) stays text."""
    text = text.strip()
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def check_attributes(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} custom attributes")
    clean: dict[str, Any] = {}
    for raw_key, raw in value.items():
        key = raw_key.strip()
        if not ATTRIBUTE_KEY.match(key):
            raise ValueError(f"attribute name {key!r} must be 1–64 letters, digits, spaces, '_', '-' or '.'")
        item = raw.strip() if isinstance(raw, str) else raw
        if isinstance(item, str) and len(item) > 2000:
            raise ValueError(f"attribute {key!r} is longer than 2000 characters")
        if isinstance(item, float) and not math.isfinite(item):  # NaN and infinity cannot be stored as JSON
            raise ValueError(f"attribute {key!r} is not a finite number")
        clean[key] = item
    return clean


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _AccountFields(_Input):
    @field_validator("domain", mode="before", check_fields=False)
    @classmethod
    def _domain(cls, v: Any) -> Any:
        return normalise_domain(v) if isinstance(v, str) else v

    @field_validator("plan", "segment", "region", "external_id", mode="before", check_fields=False)
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("arr", mode="after", check_fields=False)
    @classmethod
    def _cents(cls, v: float | None) -> float | None:
        return None if v is None else round(float(v), 2)

    @field_validator("attributes", mode="after", check_fields=False)
    @classmethod
    def _attributes(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_attributes(v)


class AccountIn(_AccountFields):
    """A new account."""

    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253, description="Web domain, e.g. `acme.com`; unique.")
    plan: str | None = Field(default=None, max_length=60)
    arr: float = Field(default=0.0, ge=0, le=1e11, description="Annual recurring revenue in the instance currency.")
    segment: str | None = Field(default=None, max_length=60)
    region: str | None = Field(default=None, max_length=60)
    lifecycle_stage: Stage = "active"
    owner_id: int | None = None
    external_id: str | None = Field(
        default=None, max_length=120, description="The id in your CRM or billing system; unique."
    )
    attributes: dict[str, Scalar] = Field(
        default_factory=dict, description="Custom attributes: names to text, numbers or booleans."
    )


class AccountUpdate(_AccountFields):
    """Changes to an account: only the fields sent change; ``null`` clears an optional field."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    plan: str | None = Field(default=None, max_length=60)
    arr: float | None = Field(default=None, ge=0, le=1e11)
    segment: str | None = Field(default=None, max_length=60)
    region: str | None = Field(default=None, max_length=60)
    lifecycle_stage: Stage | None = None
    owner_id: int | None = None
    external_id: str | None = Field(default=None, max_length=120)
    attributes: dict[str, Scalar] | None = Field(default=None, description="Replaces all custom attributes.")

    @field_validator("name", "arr", "lifecycle_stage", "attributes", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class AccountRow(AccountUpdate):
    """One row of an accounts import: matched by external id, else domain, else exact name."""

    owner_id: int | None = None
    owner_email: str | None = Field(default=None, max_length=320, description="Owner by e-mail instead of id.")
    attributes: dict[str, Scalar] | None = Field(
        default=None, description="Merged into the account's attributes; null removes a key."
    )

    @field_validator("attributes", mode="after")
    @classmethod
    def _attributes(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_attributes(v)

    @field_validator("owner_email", mode="before")
    @classmethod
    def _owner_email(cls, v: Any) -> Any:
        v = _blank_to_none(v)
        return v.lower() if isinstance(v, str) else v


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    domain: str | None
    plan: str | None
    arr: float
    segment: str | None
    region: str | None
    lifecycle_stage: Stage
    owner_id: int | None
    owner_name: str | None = None
    external_id: str | None
    attributes: dict[str, Any]
    people_count: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class _PersonFields(_Input):
    @field_validator("email", mode="before", check_fields=False)
    @classmethod
    def _email(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("email", mode="after", check_fields=False)
    @classmethod
    def _email_lower(cls, v: str | None) -> str | None:
        return v.lower() if isinstance(v, str) else v

    @field_validator("external_id", mode="before", check_fields=False)
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("attributes", mode="after", check_fields=False)
    @classmethod
    def _attributes(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_attributes(v)


class PersonIn(_PersonFields):
    """A new person. Without ``account_id`` the person joins the account whose domain matches the e-mail."""

    email: EmailStr
    name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=200)
    account_id: int | None = None
    external_id: str | None = Field(default=None, max_length=120)
    attributes: dict[str, Scalar] = Field(default_factory=dict)


class PersonUpdate(_PersonFields):
    """Changes to a person: only the fields sent change; ``account_id: null`` detaches them from their account."""

    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    account_id: int | None = None
    external_id: str | None = Field(default=None, max_length=120)
    attributes: dict[str, Scalar] | None = None

    @field_validator("email", "name", "title", "attributes", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class PersonRow(PersonUpdate):
    """One row of a people import: matched by external id, else e-mail. The account by its external id or domain."""

    account_external_id: str | None = Field(default=None, max_length=120)
    account_domain: str | None = Field(default=None, max_length=253)
    attributes: dict[str, Scalar] | None = Field(
        default=None, description="Merged into the person's attributes; null removes a key."
    )

    @field_validator("attributes", mode="after")
    @classmethod
    def _attributes(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_attributes(v)

    @field_validator("account_external_id", mode="before")
    @classmethod
    def _blank_account(cls, v: Any) -> Any:
        return _blank_to_none(v)

    @field_validator("account_domain", mode="before")
    @classmethod
    def _account_domain(cls, v: Any) -> Any:
        return normalise_domain(v) if isinstance(v, str) else v


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    title: str
    account_id: int | None
    account_name: str | None = None
    external_id: str | None
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def display_name(self) -> str:
        return self.name or self.email


class SegmentIn(_Input):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    entity: Entity = "accounts"
    filters: list[Condition] = Field(default_factory=list, max_length=50)


class SegmentUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    entity: Entity | None = None
    filters: list[Condition] | None = Field(default=None, max_length=50)

    @field_validator("name", "description", "entity", "filters", mode="after")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("cannot be null")
        return v


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    entity: Entity
    filters: list[Condition]
    member_count: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class UpsertResult:
    """What an import or bulk upsert did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass(frozen=True)
class RowProblem:
    """Why one row of a bulk upsert cannot be applied (``row`` counts from 0 unless the caller numbers rows)."""

    row: int
    field: str | None
    message: str


class RowsRejected(ValidationFailed):
    """A bulk upsert refused as a whole: nothing was written. ``rows`` lists every bad row."""

    def __init__(self, problems: list[RowProblem]) -> None:
        first, *rest = problems
        super().__init__(
            first.field,
            f"row {first.row}: {first.message}",
            more=[(p.field, f"row {p.row}: {p.message}") for p in rest],
        )
        self.rows = problems

    def as_detail(self) -> list[dict[str, object]]:
        return [
            {"loc": ["rows", p.row, *([p.field] if p.field else [])], "msg": p.message, "type": "rowrejected"}
            for p in self.rows
        ]


# --- import rows (one per line of a CSV/XLSX file; cells arrive as text) ---------------------

_MONEY = re.compile(
    r"^[A-Z]{0,3}\s*[$€£¥₹]?\s*(?P<n>[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?|[0-9]+(\.[0-9]+)?)\s*[A-Z]{0,3}$"
)


def _money(value: Any) -> Any:
    """ "$12,500" or "12500 USD" → "12500"; anything else is left for the number check to report."""
    if isinstance(value, str):
        match = _MONEY.match(value.strip())
        if match:
            return match.group("n").replace(",", "")
    return value


def _stage(value: Any) -> Any:
    """ "At risk", "at-risk", "AT_RISK" → "at_risk"."""
    if isinstance(value, str):
        return re.sub(r"[\s-]+", "_", value.strip().lower())
    return value


def _row(model: type[_R], given: dict[str, Any]) -> _R | dict[str, Any]:
    """The upsert row for already validated import values, without validating them a second time (imports of
    100,000 rows spend their time there). Attributes are still checked; a bad one returns the plain dict, which
    the upsert validates and reports as a row problem."""
    try:
        if "attributes" in given:
            given["attributes"] = check_attributes(given["attributes"])
    except ValueError:
        return given
    return model.model_construct(_fields_set=set(given), **given)


class AccountImport(_AccountFields):
    """A row of an accounts file. Columns named ``attributes.<name>`` (or mapped to one) become custom attributes."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    external_id: str | None = Field(default=None, max_length=120)
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    plan: str | None = Field(default=None, max_length=60)
    arr: float | None = Field(default=None, ge=0, le=1e11)
    segment: str | None = Field(default=None, max_length=60)
    region: str | None = Field(default=None, max_length=60)
    lifecycle_stage: Stage | None = None
    owner_email: str | None = Field(default=None, max_length=320)

    @field_validator("arr", mode="before")
    @classmethod
    def _arr_text(cls, v: Any) -> Any:
        return _money(v)

    @field_validator("lifecycle_stage", mode="before")
    @classmethod
    def _stage_text(cls, v: Any) -> Any:
        return _stage(v)

    @field_validator("owner_email", mode="before")
    @classmethod
    def _owner(cls, v: Any) -> Any:
        v = _blank_to_none(v)
        return v.lower() if isinstance(v, str) else v

    def extra_attributes(self) -> dict[str, Any]:
        return {
            k.removeprefix("attributes."): parse_scalar(str(v))
            for k, v in (self.model_extra or {}).items()
            if k.startswith("attributes.")
        }

    def to_row(self) -> AccountRow | dict[str, Any]:
        given = {k: getattr(self, k) for k in self.model_fields_set if k in type(self).model_fields}
        for key in ("arr", "lifecycle_stage"):  # an empty cell leaves these as they are
            if given.get(key, 0) is None:
                given.pop(key)
        attributes = self.extra_attributes()
        if attributes:
            given["attributes"] = attributes
        return _row(AccountRow, given)


class PersonImport(_PersonFields):
    """A row of a people file; the account by ``account_external_id`` or ``account_domain``, else the e-mail's domain."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    email: EmailStr
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(default=None, max_length=120)
    account_external_id: str | None = Field(default=None, max_length=120)
    account_domain: str | None = Field(default=None, max_length=253)

    @field_validator("account_domain", mode="before")
    @classmethod
    def _account_domain(cls, v: Any) -> Any:
        return normalise_domain(v) if isinstance(v, str) else v

    def to_row(self) -> PersonRow | dict[str, Any]:
        given = {k: getattr(self, k) for k in self.model_fields_set if k in type(self).model_fields}
        for key in ("name", "title"):
            if key in given and given[key] is None:
                given[key] = ""
        attributes = {
            k.removeprefix("attributes."): parse_scalar(str(v))
            for k, v in (self.model_extra or {}).items()
            if k.startswith("attributes.")
        }
        if attributes:
            given["attributes"] = attributes
        return _row(PersonRow, given)


# --- list filters (query parameters) --------------------------------------------------------


class AccountFilters(BaseModel):
    """Query parameters of the accounts list (page and API)."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200, description="Search name, domain and external id.")
    plan: str | None = Field(default=None, max_length=60)
    segment: str | None = Field(default=None, max_length=60)
    region: str | None = Field(default=None, max_length=60)
    stage: Stage | None = Field(default=None, description="Lifecycle stage.")
    owner_id: int | None = None
    arr_min: float | None = Field(default=None, ge=0)
    arr_max: float | None = Field(default=None, ge=0)
    segment_id: int | None = Field(default=None, description="Only accounts in this saved segment.")
    attr: str | None = Field(
        default=None, max_length=200, description="Custom attribute: `key=value`, or `key` for any value."
    )
    sort: str | None = Field(
        default=None,
        max_length=40,
        description="name, domain, plan, segment, region, stage, arr, owner, people, created_at; `-` for descending.",
    )
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator(
        "q",
        "plan",
        "segment",
        "region",
        "attr",
        "sort",
        "stage",
        "owner_id",
        "arr_min",
        "arr_max",
        "segment_id",
        mode="before",
    )
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)


class PersonFilters(BaseModel):
    """Query parameters of the people list (page and API)."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200, description="Search e-mail, name and external id.")
    account_id: int | None = None
    title: str | None = Field(default=None, max_length=200, description="Title contains this text.")
    segment_id: int | None = Field(default=None, description="Only people in this saved segment.")
    attr: str | None = Field(
        default=None, max_length=200, description="Custom attribute: `key=value`, or `key` for any value."
    )
    sort: str | None = Field(
        default=None, max_length=40, description="name, email, title, account, created_at; `-` for descending."
    )
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("q", "title", "attr", "sort", "account_id", "segment_id", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)


class SegmentFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200)
    entity: Entity | None = None
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("q", "entity", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_to_none(v)


class MembersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sort: str | None = Field(default=None, max_length=40)
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)
