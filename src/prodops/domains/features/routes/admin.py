"""Admin page: configure the workspace's and each product's feature status lifecycle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.features import queries, service
from prodops.domains.features.routes._forms import _Form
from prodops.domains.features.schemas import KIND_LABELS, StatusIn
from prodops.platform import registry
from prodops.platform.deps import AdminUser, SessionDep
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))

PAGE = "/admin/features/statuses"


class LifecycleForm(_Form):
    product_id: str = ""
    key: list[str] = Field(default_factory=list)
    label: list[str] = Field(default_factory=list)
    kind: list[str] = Field(default_factory=list)
    position: list[str] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)
    """Row numbers whose notify box is ticked."""
    remove: list[str] = Field(default_factory=list)
    """Row numbers ticked for removal."""


def _product_id(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed("product_id", "choose a product from the list")
    return int(raw)


def _page_url(product_id: int | None) -> str:
    return PAGE if product_id is None else f"{PAGE}?product_id={product_id}"


def _context(
    session: Session, product_id: int | None, rows: list[dict[str, Any]] | None, errors: dict[str, str]
) -> dict[str, Any]:
    statuses = service.statuses_for(session, product_id)
    usage = queries.status_usage(session, queries.lifecycle_members(product_id))
    if rows is not None:
        current = {s.key for s in statuses}
        for row in rows:
            row["existing"] = row["key"] in current
    else:
        rows = [
            {"key": s.key, "label": s.label, "kind": s.kind, "notify": s.notify, "position": i + 1, "existing": True}
            for i, s in enumerate(statuses)
        ]
    return {
        "products": queries.product_choices(session),
        "product_id": product_id,
        "product_name": queries.product_name(session, product_id) if product_id is not None else None,
        "source": statuses[0].source if statuses else "default",
        "workspace_statuses": service.statuses_for(session, None) if product_id is not None else [],
        "rows": rows,
        "usage": usage,
        "kinds": KIND_LABELS,
        "errors": errors,
    }


@router.get(PAGE, response_class=HTMLResponse)
def statuses_page(
    request: Request, session: SessionDep, admin: AdminUser, product_id: Annotated[str | None, Query()] = None
) -> Response:
    try:
        pid = _product_id(product_id)
    except ValidationFailed:
        pid = None
    return render(request, "features/statuses.html", _context(session, pid, None, {}))


def _rows(form: LifecycleForm) -> list[dict[str, Any]]:
    """The submitted rows (as typed, to show again after an error), blank new rows left out."""
    rows = []
    for i, label in enumerate(form.label):
        key = form.key[i] if i < len(form.key) else ""
        if not label.strip() and not key.strip():
            continue
        rows.append(
            {
                "row": i,
                "key": key.strip(),
                "label": label,
                "kind": form.kind[i] if i < len(form.kind) else "idea",
                "notify": str(i) in form.notify,
                "position": form.position[i] if i < len(form.position) else "",
                "remove": str(i) in form.remove,
                "existing": bool(key.strip()),
            }
        )
    return rows


def _order(row: dict[str, Any]) -> tuple[float, int]:
    try:
        return float(str(row["position"]).strip()), row["row"]
    except ValueError:
        return float("inf"), row["row"]


@router.post(PAGE)
def statuses_save(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[LifecycleForm, Form()]
) -> Response:
    rows = _rows(form)
    try:
        product_id = _product_id(form.product_id)
    except ValidationFailed as exc:
        flash(request, exc.message, "error")
        return RedirectResponse(PAGE, status_code=303)
    kept = sorted((r for r in rows if not r["remove"]), key=_order)
    errors: dict[str, str] = {}
    statuses: list[StatusIn] = []
    for r in kept:
        try:
            statuses.append(
                StatusIn.model_validate(
                    {"key": r["key"] or None, "label": r["label"], "kind": r["kind"], "notify": r["notify"]}
                )
            )
        except ValidationError as exc:
            for name, message in errors_of(exc).items():
                errors.setdefault(f"{r['row']}.{name}", message)
    if not errors:
        try:
            service.set_statuses(session, actor_for(admin), product_id, statuses)
        except ServiceError as exc:
            for name, message in errors_of(exc).items():
                parts = name.split(".")
                if len(parts) == 3 and parts[0] == "statuses" and parts[1].isdigit() and int(parts[1]) < len(kept):
                    errors.setdefault(f"{kept[int(parts[1])]['row']}.{parts[2]}", message)
                else:
                    errors.setdefault("_", message)
    if errors:
        errors.setdefault("_", "Nothing was saved: check the rows marked below.")
        return render(request, "features/statuses.html", _context(session, product_id, rows, errors), status_code=422)
    flash(request, "Status lifecycle saved.")
    return RedirectResponse(_page_url(product_id), status_code=303)


@router.post(f"{PAGE}/reset")
def statuses_reset(
    request: Request, session: SessionDep, admin: AdminUser, product_id: Annotated[str, Form()] = ""
) -> Response:
    try:
        pid = _product_id(product_id)
        service.reset_statuses(session, actor_for(admin), pid)
    except ServiceError as exc:
        flash(request, "; ".join(errors_of(exc).values()), "error")
        return RedirectResponse(_page_url(_product_id_or_none(product_id)), status_code=303)
    flash(
        request,
        "This product follows the workspace lifecycle again." if pid is not None else "Back to the built-in lifecycle.",
    )
    return RedirectResponse(_page_url(pid), status_code=303)


def _product_id_or_none(raw: str) -> int | None:
    try:
        return _product_id(raw)
    except ValidationFailed:
        return None
