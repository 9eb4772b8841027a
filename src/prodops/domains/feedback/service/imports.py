"""CSV/XLSX imports of feedback through the platform's tabular engine: columns matched by name (or chosen), a dry run
that lists every bad row and column, and an all-or-nothing commit through :func:`ingest_many`.

A row updates an existing item when its ``prodops_id`` (the column our exports write) names one, or when its source
and external id are already known; otherwise it creates one. Updating never undoes triage: the status stays, and
fields the row leaves empty keep their value. Re-importing the same file therefore changes nothing.

Large files are written in chunks inside one transaction (all or nothing) with the session's identity map cleared
between chunks, so memory grows with the file, not with the ORM objects it touches.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.networks import validate_email
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback.models import IMPORTANCE_LABELS, SOURCE_LABELS, SOURCES, STATUSES, FeedbackItem
from prodops.domains.feedback.schemas import (
    MAX_TEXT,
    FeedbackIn,
    FeedbackUpdate,
    Importance,
    Source,
    Status,
    normalise_tags,
)
from prodops.domains.feedback.service.batches import accounts_by_domain, known_accounts
from prodops.domains.feedback.service.items import ingest_many, update_item
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.errors import ServiceError
from prodops.platform.org.models import Product
from prodops.platform.tabular import (
    ColumnSpec,
    ImportReport,
    RowError,
    Table,
    apply_mapping,
    check_mapping,
    guess_mapping,
    normalise_header,
    validate_rows,
)
from prodops.platform.tabular.export import FORMULA_STARTS

#: Rows written per call of ``ingest_many`` (and between clearings of the session).
CHUNK = 2000
_LOOKUP = 500
#: A received time this close to the stored one is the same time (spreadsheets keep milliseconds, not microseconds).
_SAME_TIME = dt.timedelta(milliseconds=1)

IMPORT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "text",
        "Text",
        required=True,
        aliases=("feedback", "comment", "comments", "body", "message", "description", "review", "content", "verbatim"),
        help="What the customer said.",
    ),
    ColumnSpec("title", "Title", aliases=("subject", "summary", "headline")),
    ColumnSpec(
        "source",
        "Source",
        aliases=("channel", "origin"),
        help="API, Import, E-mail, Widget, Portal, Survey, Support ticket, Sales call, Interview or App review "
        "(default: Import).",
    ),
    ColumnSpec("source_url", "Source URL", aliases=("url", "link", "ticket url", "permalink")),
    ColumnSpec(
        "external_id",
        "External ID",
        aliases=("ticket id", "review id", "source id", "reference", "ref"),
        help="The id in the source system: a row with a source and external id already known updates that item.",
    ),
    ColumnSpec(
        "person_email",
        "Person e-mail",
        aliases=("email", "e-mail", "email address", "customer email", "user email", "requester email", "author email"),
        help="Who said it; a new address becomes a person of the account of its domain.",
    ),
    ColumnSpec(
        "person_name",
        "Person name",
        aliases=("name", "full name", "customer name", "requester", "author", "contact name"),
        help="Used when the person is new.",
    ),
    ColumnSpec(
        "account_domain",
        "Account domain",
        aliases=("company domain", "domain", "company website", "website"),
        help="e.g. acme.com; default: the person's account.",
    ),
    ColumnSpec("product", "Product", aliases=("product key", "product name"), help="A product's key or name."),
    ColumnSpec("area", "Area", aliases=("product area", "component", "module", "category")),
    ColumnSpec(
        "tags", "Tags", aliases=("tag", "labels", "label", "keywords"), help="Separated by commas or semicolons."
    ),
    ColumnSpec(
        "importance",
        "Importance",
        aliases=("priority", "severity"),
        help="Not important, Nice to have, Important or Critical (or not, nice, important, critical).",
    ),
    ColumnSpec(
        "received_at",
        "Received",
        aliases=("received at", "received on", "date", "submitted at", "timestamp"),
        help="e.g. 2024-03-05 or 2024-03-05 14:22 (UTC unless the value has an offset); day/month numbers such as "
        "05/03/2024 are refused as ambiguous. Default: now.",
    ),
    ColumnSpec(
        "status",
        "Status",
        aliases=("state",),
        help="New, Triaged, Linked or Archived (default New); an existing item keeps its status.",
    ),
    ColumnSpec("notes", "Notes", aliases=("internal notes", "note"), help="Internal notes (never shown to customers)."),
    ColumnSpec(
        "meta", "Meta (JSON)", help='A JSON object of channel extras, e.g. {"rating": 4} (our exports write it).'
    ),
    ColumnSpec(
        "prodops_id",
        "ProdOps ID",
        aliases=("prodops item id",),
        help="The item's id in ProdOps (our exports write it): the row updates that item.",
    ),
    ColumnSpec(
        "prodops_account_id",
        "ProdOps account ID",
        help="The account's id in ProdOps (our exports write it); wins over the account domain.",
    ),
)
#: Cells checked against the database even in rows that failed validation.
_RAW_CHECKED = ("product", "account_domain", "prodops_account_id")
#: Columns our exports add for reading, never imported (and never kept in meta).
EXPORT_ONLY = ("account_name", "product_name", "created_at", "updated_at", "linked_features")
META_PREFIX = "meta."


# --- reading cells ----------------------------------------------------------------------------


def _fold(text: str) -> str:
    return normalise_header(text)


_SOURCE_NAMES = {_fold(k): k for k in SOURCES} | {_fold(v): k for k, v in SOURCE_LABELS.items()}
_IMPORTANCE_NAMES = {_fold(k): k for k in IMPORTANCE_LABELS} | {_fold(v): k for k, v in IMPORTANCE_LABELS.items()}
_STATUS_NAMES = {_fold(s): s for s in STATUSES}


def source_of(value: str) -> str | None:
    """A source's key from its key or label in any case ('Support ticket', 'support_ticket', 'E-mail')."""
    return _SOURCE_NAMES.get(_fold(value))


_NUMERIC_DAY_MONTH = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T].*)?$")
_YEAR_FIRST = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(.*)$")
_NAMED_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d %b %Y %H:%M",
    "%d %B %Y %H:%M",
    "%b %d %Y %H:%M",
    "%B %d %Y %H:%M",
    "%d %b %Y %H:%M:%S",
    "%b %d %Y %H:%M:%S",
    "%b %d %Y %I:%M %p",
    "%B %d %Y %I:%M %p",
    "%d %b %Y %I:%M %p",
)
_TIME_12H = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])$")


def parse_received(value: str) -> dt.datetime:
    """A date or date and time as people write it, UTC unless the text has an offset.

    ISO 8601 (``2024-03-05``, ``2024-03-05 14:22``, ``2024-03-05T14:22:05+02:00``), year first with slashes or dots
    (``2024/03/05``), month names (``5 Mar 2024``, ``March 5, 2024 2:22 PM``). Day and month both as numbers
    (``05/03/2024``) are refused: the same text means 5 March in Europe and 3 May in the US."""
    text = " ".join(value.split())
    if not text:
        raise ValueError("the cell is empty")
    numeric = _NUMERIC_DAY_MONTH.match(text)
    if numeric:
        first, second, year = (int(numeric.group(i)) for i in (1, 2, 3))
        year = year + 2000 if year < 100 else year
        if first > 12 and second <= 12:
            hint = f"if it is day/month/year, write {year:04d}-{second:02d}-{first:02d}"
        elif second > 12 and first <= 12:
            hint = f"if it is month/day/year, write {year:04d}-{first:02d}-{second:02d}"
        else:
            hint = (
                f"write {year:04d}-{second:02d}-{first:02d} for day/month/year "
                f"or {year:04d}-{first:02d}-{second:02d} for month/day/year"
            )
        raise ValueError(
            "day and month as numbers are ambiguous (05/03/2024 is 5 March in Europe and 3 May in the US); "
            f"use year-month-day: {hint}"
        )
    year_first = _YEAR_FIRST.match(text)
    if year_first:
        y, m, d, rest = year_first.groups()
        text = f"{y}-{int(m):02d}-{int(d):02d}{rest}"
    twelve = _TIME_12H.match(text)
    if twelve:
        day, hour, minute, seconds, half = twelve.groups()
        h = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
        text = f"{day} {h:02d}:{minute}:{seconds or '00'}"
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text.replace(" UTC", "Z").replace(" Z", "Z"))
    except ValueError:
        cleaned = text.replace(",", "")
        for fmt in _NAMED_FORMATS:
            try:
                parsed = dt.datetime.strptime(cleaned, fmt)  # noqa: DTZ007  # naive means UTC, set below
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError("is not a date; write it as 2024-03-05 or 2024-03-05 14:22 (year-month-day, UTC)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=65_536)
def _valid_email(value: str) -> str:
    """An e-mail address checked as ``EmailStr`` checks it, lower-cased; cached, because a file names the same people
    again and again and the check costs more than the rest of the row."""
    _, address = validate_email(value)
    return address.lower()


def _unescape(value: Any) -> Any:
    """Undo the quote our exports put before text a spreadsheet would run as a formula ('=..., '+..., '-...)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


class FeedbackRow(BaseModel):
    """One row of a feedback file. Columns mapped to ``meta.<key>`` are kept in the item's ``meta``."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    title: str = Field(default="", max_length=300)
    source: Source | None = None
    source_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    external_id: str | None = Field(default=None, max_length=200)
    person_email: str | None = Field(default=None, max_length=320)
    person_name: str = Field(default="", max_length=200)
    account_domain: str | None = Field(default=None, max_length=253)
    product: str | None = Field(default=None, max_length=120)
    area: str | None = Field(default=None, max_length=80)
    tags: list[str] = Field(default_factory=list)
    importance: Importance | None = None
    received_at: dt.datetime | None = None
    status: Status | None = None
    notes: str = Field(default="", max_length=MAX_TEXT)
    meta: dict[str, Any] | None = None
    prodops_id: int | None = Field(default=None, ge=1)
    prodops_account_id: int | None = Field(default=None, ge=1)

    @field_validator("*", mode="before")
    @classmethod
    def _cells(cls, v: Any) -> Any:
        return _unescape(v)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip():
            found = source_of(v)
            if found is None:
                raise ValueError("is not a source; use one of " + ", ".join(SOURCE_LABELS.values()))
            return found
        return v

    @field_validator("importance", mode="before")
    @classmethod
    def _importance(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip():
            found = _IMPORTANCE_NAMES.get(_fold(v))
            if found is None:
                raise ValueError("is not an importance; use one of " + ", ".join(IMPORTANCE_LABELS.values()))
            return found
        return v

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip():
            found = _STATUS_NAMES.get(_fold(v))
            if found is None:
                raise ValueError("is not a status; use one of new, triaged, linked, archived")
            return found
        return v

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [_unescape(part.strip()) for part in re.split(r"[,;]", v)]
        return normalise_tags(v)

    @field_validator("received_at", mode="before")
    @classmethod
    def _received(cls, v: Any) -> Any:
        if isinstance(v, str):
            return parse_received(v)
        return v

    @field_validator("meta", mode="before")
    @classmethod
    def _meta(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError as exc:
                raise ValueError('is not JSON; write an object such as {"rating": 4}') from exc
            if not isinstance(v, dict):
                raise ValueError('must be a JSON object such as {"rating": 4}')
        return v

    @field_validator("person_email", mode="after")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _valid_email(v) if v else v

    @field_validator("account_domain", mode="after")
    @classmethod
    def _domain(cls, v: str | None) -> str | None:
        return v.lower() if v else v

    def all_meta(self) -> dict[str, Any]:
        """The ``meta`` column merged with the ``meta.<key>`` columns (which win)."""
        extras = {
            k.removeprefix(META_PREFIX): _unescape(v)
            for k, v in (self.model_extra or {}).items()
            if k.startswith(META_PREFIX) and v not in (None, "")
        }
        return {**(self.meta or {}), **extras}

    def compact(self) -> Row:
        return Row(
            text=self.text,
            title=self.title,
            source=self.source,
            source_url=self.source_url,
            external_id=self.external_id,
            person_email=self.person_email,
            person_name=self.person_name,
            account_domain=self.account_domain,
            product=self.product,
            area=self.area,
            tags=tuple(self.tags),
            importance=self.importance,
            received_at=self.received_at,
            status=self.status,
            notes=self.notes,
            meta=self.all_meta(),
            prodops_id=self.prodops_id,
            prodops_account_id=self.prodops_account_id,
        )


@dataclass(frozen=True, slots=True)
class Row:
    """A validated row, kept compact: a file's rows are all held until the commit (a tenth of a model's size)."""

    text: str
    title: str
    source: str | None
    source_url: str | None
    external_id: str | None
    person_email: str | None
    person_name: str
    account_domain: str | None
    product: str | None
    area: str | None
    tags: tuple[str, ...]
    importance: str | None
    received_at: dt.datetime | None
    status: str | None
    notes: str
    meta: dict[str, Any]
    prodops_id: int | None
    prodops_account_id: int | None

    def to_input(
        self, *, product_id: int | None, default_source: str, key: tuple[str, str | None] | None
    ) -> FeedbackIn:
        """The row as a :class:`FeedbackIn` (already validated: the row's rules are FeedbackIn's). ``key`` is the
        (source, external id) of the item the row's ProdOps ID names."""
        source, external_id = key if key is not None else (self.source or default_source, self.external_id)
        values: dict[str, Any] = {
            "text": self.text,
            "title": self.title,
            "source": source,
            "source_url": self.source_url,
            "external_id": external_id,
            "person_email": self.person_email,
            "person_name": self.person_name,
            "account_id": self.prodops_account_id,
            "account_domain": self.account_domain if self.prodops_account_id is None else None,
            "product_id": product_id,
            "area": self.area,
            "tags": list(self.tags),
            "importance": self.importance,
            "received_at": self.received_at,
            "status": self.status or "new",
            "notes": self.notes,
            "meta": self.meta,
        }
        return FeedbackIn.model_construct(**values)


# --- columns ----------------------------------------------------------------------------------


def _meta_columns(headers: Sequence[str]) -> list[ColumnSpec]:
    """A ``meta.<header>`` field for every other column of the file: kept with the item unless unmapped."""
    taken = set(guess_mapping(headers, IMPORT_COLUMNS).values())
    skipped = {normalise_header(h) for h in EXPORT_ONLY}
    specs: dict[str, ColumnSpec] = {}
    for header in headers:
        if header in taken or normalise_header(header) in skipped:
            continue
        key = header.strip()
        key = key[len(META_PREFIX) :].strip() if key.lower().startswith(META_PREFIX) else key
        if not key or len(key) > 100 or f"{META_PREFIX}{key}" in specs:
            continue
        specs[f"{META_PREFIX}{key}"] = ColumnSpec(f"{META_PREFIX}{key}", f"{key} (kept in meta)", aliases=(header,))
    return list(specs.values())


def import_columns(headers: Sequence[str] = ()) -> list[ColumnSpec]:
    """The fields a feedback file can fill: the fixed ones, plus ``meta.<column>`` for every other column."""
    return [*IMPORT_COLUMNS, *_meta_columns(headers)]


def suggest_mapping(headers: Sequence[str]) -> dict[str, str]:
    """field → header for the columns recognised by name (including the extra columns kept in meta)."""
    return guess_mapping(headers, import_columns(headers))


# --- the import -------------------------------------------------------------------------------


class _CommitRefused(Exception):
    """The database refused a chunk after the checks passed (e.g. a row changed meanwhile): report, roll back."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = errors


@dataclass
class _Plan:
    """What the checks learnt about the file, reused by the dry-run counts and the commit."""

    products: dict[str, int] = field(default_factory=dict)
    """Folded product key or name → id."""
    by_id: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    """ProdOps ID → (source, external id) of the existing item."""


def _product_names(session: Session) -> dict[str, int]:
    names: dict[str, int] = {}
    for pid, key, name in session.execute(select(Product.id, Product.key, Product.name)):
        names.setdefault(_fold(key), pid)
        names.setdefault(_fold(name), pid)
    return names


def _product_list(session: Session) -> str:
    """The products as a person would name them, for error messages."""
    rows = session.execute(select(Product.key, Product.name).order_by(Product.key)).all()
    return ", ".join(f"{key} ({name})" for key, name in rows) or "there are none yet"


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing_ids(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    found: dict[int, tuple[str, str | None]] = {}
    for chunk in _chunks(sorted(set(ids)), _LOOKUP):
        stmt = select(FeedbackItem.id, FeedbackItem.source, FeedbackItem.external_id).where(FeedbackItem.id.in_(chunk))
        found.update({i: (s, e) for i, s, e in session.execute(stmt)})
    return found


def _effective_key(row: Row, plan: _Plan, default_source: str) -> tuple[str, str | None]:
    if row.prodops_id is not None and row.prodops_id in plan.by_id:
        return plan.by_id[row.prodops_id]
    return (row.source or default_source, row.external_id)


def _check_rows(
    session: Session,
    valid: list[tuple[int, Row]],
    plan: _Plan,
    mapping: Mapping[str, str],
    default_source: str,
    invalid: Sequence[tuple[int, dict[str, str]]] = (),
) -> list[RowError]:
    """The checks that need the database, for every row: unknown products, accounts and items, and the same item
    twice in the file. ``invalid`` are the cells of rows that failed validation: their product and account domain
    are checked too, so one dry run lists every problem."""
    labels = {c.name: c.label for c in IMPORT_COLUMNS}

    def error(number: int, name: str, message: str) -> RowError:
        return RowError(number, mapping.get(name), name, f"{labels[name]}: {message}.")

    plan.products = _product_names(session)
    plan.by_id = _existing_ids(session, (r.prodops_id for _, r in valid if r.prodops_id is not None))
    accounts = known_accounts(session, (r.prodops_account_id for _, r in valid if r.prodops_account_id is not None))
    domains = accounts_by_domain(
        session,
        [
            *(r.account_domain for _, r in valid if r.account_domain and r.prodops_account_id is None),
            *(cells.get("account_domain", "").lower() for _, cells in invalid),
        ],
    )
    errors: list[RowError] = []
    product_list = _product_list(session)
    for number, cells in invalid:
        product, domain = cells.get("product", ""), cells.get("account_domain", "").lower()
        if product and _fold(product) not in plan.products:
            errors.append(error(number, "product", f"{product!r} is not a product key or name (known: {product_list})"))
        if domain and not cells.get("prodops_account_id") and domain not in domains:
            errors.append(error(number, "account_domain", f"no account has the domain {domain!r}; add it first"))
    first_key: dict[tuple[str, str], int] = {}
    first_id: dict[int, int] = {}
    for number, row in valid:
        if row.product and _fold(row.product) not in plan.products:
            errors.append(
                error(number, "product", f"{row.product!r} is not a product key or name (known: {product_list})")
            )
        if row.prodops_account_id is not None and row.prodops_account_id not in accounts:
            errors.append(error(number, "prodops_account_id", f"there is no account {row.prodops_account_id}"))
        elif row.prodops_account_id is None and row.account_domain and row.account_domain not in domains:
            errors.append(
                error(number, "account_domain", f"no account has the domain {row.account_domain!r}; add it first")
            )
        if row.prodops_id is not None:
            item = plan.by_id.get(row.prodops_id)
            if item is None:
                errors.append(
                    error(
                        number,
                        "prodops_id",
                        f"there is no feedback item {row.prodops_id} (leave the cell empty to create a new item)",
                    )
                )
            else:
                source, external_id = item
                if row.external_id and row.external_id != external_id:
                    has = f"the external id {external_id!r}" if external_id else "no external id"
                    errors.append(
                        error(
                            number,
                            "external_id",
                            f"item {row.prodops_id} has {has}, not {row.external_id!r}; leave one of the two cells "
                            "empty",
                        )
                    )
                if row.source and row.source != source:
                    errors.append(
                        error(
                            number,
                            "source",
                            f"item {row.prodops_id} came from {SOURCE_LABELS[source]}, not "
                            f"{SOURCE_LABELS[row.source]}; the source of an item does not change",
                        )
                    )
                if row.prodops_id in first_id:
                    errors.append(
                        error(
                            number, "prodops_id", f"item {row.prodops_id} is already on row {first_id[row.prodops_id]}"
                        )
                    )
                else:
                    first_id[row.prodops_id] = number
        source, external_id = _effective_key(row, plan, default_source)
        if external_id:
            if (source, external_id) in first_key:
                errors.append(
                    error(
                        number,
                        "external_id",
                        f"{external_id!r} from {SOURCE_LABELS[source]} is already on row {first_key[(source, external_id)]}",
                    )
                )
            else:
                first_key[(source, external_id)] = number
    return errors


def _people(session: Session, emails: Iterable[str]) -> dict[str, tuple[int, int | None]]:
    """``{e-mail: (person id, account id)}`` of the known people among ``emails`` (read only)."""
    wanted = sorted(set(emails))
    found: dict[str, tuple[int, int | None]] = {}
    people = customers.person_accounts().subquery()
    for chunk in _chunks(wanted, _LOOKUP):
        rows = session.execute(
            select(people.c.email, people.c.person_id, people.c.account_id).where(people.c.email.in_(chunk))
        )
        found.update({email: (pid, aid) for email, pid, aid in rows})
    return found


def _items_by_key(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], FeedbackItem]:
    wanted = sorted(set(keys))
    found: dict[tuple[str, str], FeedbackItem] = {}
    for chunk in _chunks(wanted, _LOOKUP):
        stmt = select(FeedbackItem).where(tuple_(FeedbackItem.source, FeedbackItem.external_id).in_(chunk))
        found.update({(i.source, i.external_id or ""): i for i in session.scalars(stmt)})
    return found


def _items_by_id(session: Session, ids: Iterable[int]) -> dict[int, FeedbackItem]:
    found: dict[int, FeedbackItem] = {}
    for chunk in _chunks(sorted(set(ids)), _LOOKUP):
        found.update({i.id: i for i in session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(chunk)))})
    return found


def _same_time(a: dt.datetime, b: dt.datetime) -> bool:
    return abs(a - b) < _SAME_TIME


def _changes(
    item: FeedbackItem,
    data: FeedbackIn,
    person: tuple[int | None, int | None],
    account_id: int | None,
    *,
    updatable: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What writing ``data`` over ``item`` would change, with the rules of an update by source and external id:
    the status stays; empty notes, product, area, importance and received time keep the item's; tags add up.
    ``person`` is the (person id, person's account) the row resolves to; ``account_id`` an explicit account."""
    person_id, person_account = person
    wanted: dict[str, Any] = {
        "title": data.title,
        "text": data.text,
        "source_url": data.source_url,
        "meta": data.meta,
        "person_id": person_id,
        "account_id": account_id if account_id is not None else person_account,
    }
    if data.notes:
        wanted["notes"] = data.notes
    for key in ("product_id", "area", "importance", "received_at"):
        value = getattr(data, key)
        if value is not None:
            wanted[key] = value
    found: dict[str, Any] = {}
    for key, value in wanted.items():
        if updatable is not None and key not in updatable:
            continue
        current = getattr(item, key)
        if key == "received_at" and _same_time(current, value):
            continue
        if current != value:
            found[key] = value
    tags = [*item.tags, *(t for t in data.tags if t not in item.tags)]
    if tags != item.tags:
        found["tags"] = sorted(set(tags))
    return found


#: What ``update_item`` can change: an item matched by ProdOps ID only (it has no external id) keeps the rest.
_UPDATABLE = ("title", "text", "notes", "person_id", "account_id", "product_id", "area", "importance", "received_at")


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        return self.created, self.updated, self.unchanged


class _Importer:
    """The dry-run counts and the commit of a checked file, chunk by chunk."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        plan: _Plan,
        default_source: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.plan = plan
        self.default_source = default_source
        self.progress = progress or (lambda n: None)

    def _inputs(self, chunk: Sequence[tuple[int, Row]]) -> list[tuple[int, FeedbackIn, int | None]]:
        """(row number, input, ProdOps ID of an item without an external id, else None) for each row."""
        result: list[tuple[int, FeedbackIn, int | None]] = []
        for number, row in chunk:
            key = self.plan.by_id.get(row.prodops_id) if row.prodops_id is not None else None
            product_id = self.plan.products[_fold(row.product)] if row.product else None
            data = row.to_input(product_id=product_id, default_source=self.default_source, key=key)
            by_id = row.prodops_id if key is not None and key[1] is None else None
            result.append((number, data, by_id))
        return result

    def _accounts(self, inputs: Sequence[tuple[int, FeedbackIn, int | None]]) -> dict[str, int]:
        return accounts_by_domain(self.session, (d.account_domain for _, d, _ in inputs if d.account_domain))

    def preview(self, valid: list[tuple[int, Row]]) -> tuple[int, int, int]:
        """What a commit would do, read only."""
        counts = _Counts()
        for chunk in _chunks(valid, CHUNK):
            inputs = self._inputs(chunk)
            people = _people(self.session, (d.person_email for _, d, _ in inputs if d.person_email))
            domains = self._accounts(inputs)
            keyed = _items_by_key(
                self.session, ((d.source, d.external_id) for _, d, i in inputs if i is None and d.external_id)
            )
            by_id = _items_by_id(self.session, (i for _, _, i in inputs if i is not None))
            for _, data, item_id in inputs:
                item = by_id.get(item_id) if item_id is not None else None
                if item is None and data.external_id:
                    item = keyed.get((data.source, data.external_id))
                if item is None:
                    counts.created += 1
                    continue
                person = people.get(data.person_email, (-1, None)) if data.person_email else (None, None)
                account = data.account_id or (domains.get(data.account_domain) if data.account_domain else None)
                updatable = _UPDATABLE if item_id is not None else None
                if _changes(item, data, person, account, updatable=updatable):
                    counts.updated += 1
                else:
                    counts.unchanged += 1
            self.session.expunge_all()
            self.progress(len(chunk))
        return counts.as_tuple()

    def commit(self, valid: list[tuple[int, Row]]) -> tuple[int, int, int]:
        """Write every row (the caller holds the one transaction)."""
        counts = _Counts()
        for chunk in _chunks(valid, CHUNK):
            inputs = self._inputs(chunk)
            keyed = [(n, d) for n, d, i in inputs if i is None]
            matched_by_id = [(n, d, i) for n, d, i in inputs if i is not None]
            self._commit_keyed(keyed, counts)
            self._commit_by_id(matched_by_id, counts)
            self.session.flush()
            self.session.expunge_all()  # keep memory flat: the chunk's rows are written
            self.progress(len(chunk))
        return counts.as_tuple()

    def _commit_keyed(self, rows: list[tuple[int, FeedbackIn]], counts: _Counts) -> None:
        if not rows:
            return
        existing = _items_by_key(self.session, ((d.source, d.external_id) for _, d in rows if d.external_id))
        items: list[FeedbackIn] = []
        for _, data in rows:
            item = existing.get((data.source, data.external_id)) if data.external_id else None
            if item is not None and data.received_at is not None and _same_time(item.received_at, data.received_at):
                items.append(data.model_copy(update={"received_at": None}))  # the same time, give or take rounding
            else:
                items.append(data)
        try:
            result = ingest_many(self.session, self.actor, items)
        except ServiceError as exc:
            raise _CommitRefused(_row_errors(exc, [n for n, _ in rows])) from exc
        counts.created += result.created
        counts.updated += result.updated
        counts.unchanged += len(items) - result.created - result.updated

    def _commit_by_id(self, rows: list[tuple[int, FeedbackIn, int]], counts: _Counts) -> None:
        if not rows:
            return
        wanted = {d.person_email: d.person_name for _, d, _ in rows if d.person_email}
        people = customers.ensure_people(self.session, self.actor, wanted) if wanted else {}
        domains = self._accounts(rows)
        items = _items_by_id(self.session, (i for _, _, i in rows))
        for number, data, item_id in rows:
            person = people[data.person_email] if data.person_email else (None, None)
            account = data.account_id or (domains.get(data.account_domain) if data.account_domain else None)
            item = items.get(item_id)
            if item is None:
                message = f"there is no feedback item {item_id} any more (it was deleted during the import)"
                raise _CommitRefused([RowError(number, None, "prodops_id", message)])
            changes = _changes(item, data, person, account, updatable=_UPDATABLE)
            if not changes:
                counts.unchanged += 1
                continue
            if "person_id" in changes or "account_id" in changes:
                changes["person_id"] = person[0]
                changes["account_id"] = account if account is not None else person[1]
            try:
                update_item(self.session, self.actor, item_id, FeedbackUpdate.model_validate(changes))
            except (ServiceError, ValidationError) as exc:
                message = exc.message if isinstance(exc, ServiceError) else str(exc)
                raise _CommitRefused([RowError(number, None, None, message)]) from exc
            counts.updated += 1


def _row_errors(exc: ServiceError, numbers: Sequence[int]) -> list[RowError]:
    """A service refusal about ``items.<i>.<field>`` as errors on the file's rows."""
    errors: list[RowError] = []
    for name, message in exc.problems:
        parts = (name or "").split(".")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < len(numbers):
            errors.append(RowError(numbers[int(parts[1])], None, parts[2], message))
        else:
            errors.append(RowError(0, None, name, message))
    return errors


def import_feedback(
    session: Session,
    actor: Actor,
    table: Table,
    mapping: Mapping[str, str | None],
    *,
    dry_run: bool,
    default_source: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a file of feedback all or nothing: every problem of every row is reported (row numbers as the
    spreadsheet shows them, the header being row 1), and only a clean file is written, in one transaction.

    ``default_source`` is the source of rows without one; ``progress(n)`` is called as rows are counted (dry run)
    or written."""
    if default_source not in SOURCES:
        raise ServiceError("source", f"{default_source!r} is not a source; use one of {', '.join(SOURCES)}")
    columns = import_columns(table.headers)
    clean = {k: v for k, v in mapping.items() if v}
    # A column chosen for a field is not also kept in meta (its meta field was only a guess).
    fixed = {v for k, v in clean.items() if not k.startswith(META_PREFIX)}
    clean = {k: v for k, v in clean.items() if not (k.startswith(META_PREFIX) and v in fixed)}
    total = len(table.rows)
    _, mapping_errors = check_mapping(table.headers, clean, columns)
    errors = [*table.errors, *mapping_errors]
    if mapping_errors:
        # Without a usable mapping every row would repeat the same complaint; report the columns only.
        return ImportReport(total_rows=total, valid_rows=0, errors=errors, dry_run=dry_run)
    # Validated a slice at a time and kept compact, so a large file costs its cells plus a little per row.
    valid: list[tuple[int, Row]] = []
    invalid: list[tuple[int, dict[str, str]]] = []
    for start in range(0, total, CHUNK):
        part = Table(table.headers, table.rows[start : start + CHUNK], table.row_numbers[start : start + CHUNK])
        records, _ = apply_mapping(part, clean, columns)
        models, problems = validate_rows(records, FeedbackRow, clean, columns)
        errors += problems
        valid.extend((number, model.compact()) for number, model in models)
        if problems:
            ok = {number for number, _ in models}
            invalid.extend(
                (number, {k: v for k, v in cells.items() if k in _RAW_CHECKED})
                for number, cells in records
                if number not in ok
            )
    plan = _Plan()
    errors += _check_rows(session, valid, plan, clean, default_source, invalid)
    errors.sort(key=lambda e: e.row)
    bad = {e.row for e in errors}
    report = ImportReport(
        total_rows=total, valid_rows=sum(1 for n, _ in valid if n not in bad), errors=errors, dry_run=dry_run
    )
    importer = _Importer(session, actor, plan, default_source, progress)
    if not errors and dry_run:
        report.created, report.updated, report.unchanged = importer.preview(valid)
    elif not errors:
        try:
            with transaction(session):
                report.created, report.updated, report.unchanged = importer.commit(valid)
            report.committed = True
        except _CommitRefused as refused:
            labels = {c.name: c.label for c in columns}
            report.errors = [
                RowError(e.row, clean.get(e.field or ""), e.field, f"{labels.get(e.field or '', 'Row')}: {e.message}.")
                for e in refused.errors
            ]
            report.valid_rows = 0
    if session.in_transaction():
        session.rollback()  # the checks and a dry run leave no snapshot open
    return report


__all__ = [
    "CHUNK",
    "EXPORT_ONLY",
    "IMPORT_COLUMNS",
    "FeedbackRow",
    "Row",
    "import_columns",
    "import_feedback",
    "parse_received",
    "source_of",
    "suggest_mapping",
]
