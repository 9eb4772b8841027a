"""Form parsing, inline errors and export helpers shared by the customers pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from prodops.domains.customers.schemas import (
    AccountFilters,
    PersonFilters,
    parse_scalar,
)
from prodops.platform.errors import ValidationFailed
from prodops.platform.tabular import (
    attachment_headers,
    write_csv,
)

AccountQuery = Annotated[AccountFilters, Query()]
PersonQuery = Annotated[PersonFilters, Query()]


# --- form helpers ---------------------------------------------------------------------------


class _Form(BaseModel):
    """Raw form fields as typed by a person; validation happens in the schemas so errors show inline."""

    model_config = ConfigDict(extra="ignore")


class AccountForm(_Form):
    name: str = ""
    domain: str = ""
    plan: str = ""
    arr: str = ""
    segment: str = ""
    region: str = ""
    lifecycle_stage: str = "active"
    owner_id: str = ""
    external_id: str = ""
    attributes: str = ""


class PersonForm(_Form):
    email: str = ""
    name: str = ""
    title: str = ""
    account_id: str = ""
    external_id: str = ""
    attributes: str = ""


class SegmentForm(_Form):
    name: str = ""
    description: str = ""
    entity: str = "accounts"
    cond_field: list[str] = []
    cond_op: list[str] = []
    cond_value: list[str] = []


def parse_attributes(text: str) -> dict[str, Any]:
    """``name = value`` lines (blank lines ignored) to a dict; a bad line is a field error on ``attributes``."""
    attributes: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed("attributes", f"line {number} should look like “name = value”")
        attributes[key.strip()] = parse_scalar(value)
    return attributes


def format_attributes(attributes: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return "\n".join(f"{k} = {show(v)}" for k, v in attributes.items())


def _blank(value: str) -> str | None:
    return value.strip() or None


def _account_payload(form: AccountForm) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": form.name,
        "domain": _blank(form.domain),
        "plan": _blank(form.plan),
        "segment": _blank(form.segment),
        "region": _blank(form.region),
        "lifecycle_stage": form.lifecycle_stage or "active",
        "owner_id": _blank(form.owner_id),
        "external_id": _blank(form.external_id),
        "arr": form.arr.replace(",", "").strip() or 0,
    }
    payload["attributes"] = parse_attributes(form.attributes)
    return payload


def _person_payload(form: PersonForm) -> dict[str, Any]:
    return {
        "email": form.email,
        "name": form.name,
        "title": form.title,
        "account_id": _blank(form.account_id),
        "external_id": _blank(form.external_id),
        "attributes": parse_attributes(form.attributes),
    }


def _export_query(request: Request, drop: tuple[str, ...] = ("page", "per_page")) -> str:
    """The current filters (not the page) as a query string, for the CSV export and chart links."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop and v])


def _csv_response(filename: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    return Response(
        write_csv(headers, rows), media_type="text/csv; charset=utf-8", headers=attachment_headers(filename)
    )
