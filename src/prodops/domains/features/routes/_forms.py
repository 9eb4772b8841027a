"""Form parsing and small helpers shared by the features pages."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from prodops.domains.features import queries, service
from prodops.domains.features.schemas import FeatureFilters, FeatureOut
from prodops.platform.tabular import attachment_headers, write_csv
from prodops.platform.web import flash

FeatureQuery = Annotated[FeatureFilters, Query()]


class _Form(BaseModel):
    """Raw form fields as typed by a person; validation happens in the schemas so errors show inline."""

    model_config = ConfigDict(extra="ignore")


class FeatureForm(_Form):
    title: str = ""
    description: str = ""
    product_id: str = ""
    area: str = ""
    owner_id: str = ""
    team_id: str = ""
    tags: str = ""
    status: str = ""
    release_note: str = ""


def _blank(value: str) -> str | None:
    return value.strip() or None


def feature_payload(form: FeatureForm) -> dict[str, Any]:
    """Form fields as schema input: blank ids and area become null, comma-separated tags a list."""
    payload: dict[str, Any] = {
        "title": form.title,
        "description": form.description,
        "product_id": _blank(form.product_id),
        "area": _blank(form.area),
        "owner_id": _blank(form.owner_id),
        "team_id": _blank(form.team_id),
        "tags": form.tags.split(","),
        "release_note": form.release_note,
    }
    if form.status.strip():
        payload["status"] = form.status.strip()
    return payload


def form_values(feature: FeatureOut) -> dict[str, Any]:
    values = feature.model_dump()
    values["tags"] = ", ".join(feature.tags)
    return {k: ("" if v is None else v) for k, v in values.items()}


def redirect_if_merged(request: Request, session: Session, feature: FeatureOut, suffix: str = "") -> Response | None:
    """A 303 to the survivor (with a flash saying so) when ``feature`` was merged, else None."""
    if feature.merged_into_id is None:
        return None
    survivor = service.resolve_feature_id(session, feature.id)
    title = queries.merged_title(session, survivor) or f"feature {survivor}"
    flash(request, f"“{feature.title}” was merged into “{title}”.", "info")
    return RedirectResponse(f"/features/{survivor}{suffix}", status_code=303)


def export_query(request: Request, drop: tuple[str, ...] = ("page", "per_page")) -> str:
    """The current filters (not the page) as a query string, for the CSV export."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop and v])


def csv_response(filename: str, headers: list[str], rows: list[list[Any]]) -> Response:
    return Response(
        write_csv(headers, rows), media_type="text/csv; charset=utf-8", headers=attachment_headers(filename)
    )
