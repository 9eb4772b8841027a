"""Event sources: the admin pages (list, create, one source with its client set-up, rename, re-key, disable,
delete), the events-per-day chart, and the admin JSON API under ``/api/v1/analytics/sources``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from prodops.domains.analytics.service import pipeline, sources
from prodops.domains.analytics.service.sources import KIND_LABELS, SourceIn, SourceOut, SourceUpdate
from prodops.platform import audit, registry
from prodops.platform.config import get_settings
from prodops.platform.deps import ADMIN, AdminUser, SessionDep
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.warehouse import get_warehouse
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))

PAGES = "/admin/analytics/sources"
FormText = Annotated[str, Form(max_length=200)]


def base_url(request: Request) -> str:
    """Where clients send events: PRODOPS_BASE_URL when it is set, else this request's host."""
    settings = get_settings()
    if "base_url" in settings.model_fields_set:
        return settings.base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def snippets(base: str, source: SourceOut) -> dict[str, str]:
    """How to point each client at this server, ready to copy."""
    key = source.write_key
    out: dict[str, str] = {}
    if source.kind in ("segment", "any"):
        out["segment-analytics-python"] = (
            "from segment import analytics\n\n"
            f'analytics.write_key = "{key}"\n'
            f'analytics.host = "{base}"\n\n'
            'analytics.identify("user-42", {"email": "ada@example.com", "name": "Ada"})\n'
            'analytics.track("user-42", "Project Created", {"plan": "pro"})\n'
            "analytics.flush()"
        )
        out["rudder-sdk-python"] = (
            "import rudderstack.analytics as rudder_analytics\n\n"
            f'rudder_analytics.write_key = "{key}"\n'
            f'rudder_analytics.dataPlaneUrl = "{base}"\n\n'
            'rudder_analytics.track("user-42", "Project Created", {"plan": "pro"})\n'
            "rudder_analytics.flush()"
        )
        out["analytics.js / HTTP"] = (
            f"curl {base}/v1/track -u '{key}:' -H 'Content-Type: application/json' \\\n"
            '  -d \'{"userId": "user-42", "event": "Project Created", "properties": {"plan": "pro"}}\''
        )
    if source.kind in ("posthog", "any"):
        out["posthog (Python)"] = (
            "from posthog import Posthog\n\n"
            f'posthog = Posthog("{key}", host="{base}")\n\n'
            'posthog.capture("Project Created", distinct_id="user-42", properties={"plan": "pro"})\n'
            "posthog.flush()"
        )
        out["posthog-js"] = f"posthog.init('{key}', {{ api_host: '{base}', advanced_disable_decide: true }})"
    return out


def _list_context(request: Request, session: SessionDep) -> dict[str, Any]:
    return {
        "sources": sources.list_sources(session),
        "kinds": list(KIND_LABELS.items()),
        "chart": chart(src=f"{PAGES}/chart.json", title="Events received per day, by source", height=180),
    }


def _detail_context(request: Request, session: SessionDep, source_id: int) -> dict[str, Any]:
    source = sources.get_source(session, source_id)
    return {
        "source": source,
        "snippets": snippets(base_url(request), source),
        "base": base_url(request),
        "kinds": list(KIND_LABELS.items()),
        "history": audit.history(session, sources.ENTITY, source_id, limit=20),
        "form": {"name": source.name, "kind": source.kind},
        "errors": {},
        "chart": chart(src=f"{PAGES}/{source_id}/chart.json", title=f"Events per day from {source.name}", height=180),
    }


def _to_detail(source_id: int) -> RedirectResponse:
    return RedirectResponse(f"{PAGES}/{source_id}", status_code=303)


# --- pages ----------------------------------------------------------------------------------


@router.get(PAGES, response_class=HTMLResponse, dependencies=[ADMIN])
def sources_page(request: Request, session: SessionDep) -> Response:
    context = {**_list_context(request, session), "form": {"name": "", "kind": "any"}, "errors": {}}
    return render(request, "analytics/sources.html", context)


@router.post(PAGES)
def source_create(
    request: Request, session: SessionDep, admin: AdminUser, name: FormText = "", kind: FormText = "any"
) -> Response:
    try:
        created = sources.create_source(
            session, actor_for(admin), SourceIn.model_validate({"name": name, "kind": kind})
        )
    except (ValidationError, ServiceError) as exc:
        context = {**_list_context(request, session), "form": {"name": name, "kind": kind}, "errors": errors_of(exc)}
        return render(request, "analytics/sources.html", context, status_code=422)
    flash(request, f"Source {created.name} created. Point your tracking client at this server with its write key.")
    return _to_detail(created.id)


@router.get(PAGES + "/{source_id:int}", response_class=HTMLResponse, dependencies=[ADMIN])
def source_page(request: Request, session: SessionDep, source_id: int) -> Response:
    return render(request, "analytics/source.html", _detail_context(request, session, source_id))


@router.post(PAGES + "/{source_id:int}")
def source_update(
    request: Request, session: SessionDep, admin: AdminUser, source_id: int, name: FormText = "", kind: FormText = ""
) -> Response:
    try:
        data = SourceUpdate.model_validate({"name": name, "kind": kind})
        sources.update_source(session, actor_for(admin), source_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        context = {
            **_detail_context(request, session, source_id),
            "form": {"name": name, "kind": kind},
            "errors": errors_of(exc),
            "editing": True,
        }
        return render(request, "analytics/source.html", context, status_code=422)
    flash(request, "Source saved.")
    return _to_detail(source_id)


@router.post(PAGES + "/{source_id:int}/enabled")
def source_set_enabled(
    request: Request, session: SessionDep, admin: AdminUser, source_id: int, enabled: Annotated[bool, Form()]
) -> Response:
    source = sources.update_source(session, actor_for(admin), source_id, SourceUpdate(enabled=enabled))
    flash(
        request,
        f"{source.name} enabled."
        if source.enabled
        else f"{source.name} disabled: its write key is refused (HTTP 401).",
    )
    return _to_detail(source_id)


@router.post(PAGES + "/{source_id:int}/rotate")
def source_rotate_key(request: Request, session: SessionDep, admin: AdminUser, source_id: int) -> Response:
    sources.rotate_key(session, actor_for(admin), source_id)
    flash(request, "The source has a new write key. Update your clients: the old key is refused from now on.")
    return _to_detail(source_id)


@router.post(PAGES + "/{source_id:int}/delete")
def source_delete(request: Request, session: SessionDep, admin: AdminUser, source_id: int) -> Response:
    name = sources.get_source(session, source_id).name
    sources.delete_source(session, actor_for(admin), source_id)
    flash(request, f"Source {name} deleted. The events it delivered stay in the warehouse.")
    return RedirectResponse(PAGES, status_code=303)


@router.post(PAGES + "/sync")
def sync_customers_now(request: Request, admin: AdminUser) -> Response:
    result = pipeline.sync_customers()
    flash(request, f"Synchronised {result['accounts']:,} accounts and re-linked {result['persons']:,} people.")
    return RedirectResponse(PAGES, status_code=303)


def _daily_spec(data: list[dict[str, Any]], by_source: bool) -> dict[str, Any]:
    import altair as alt

    base = alt.Chart(alt.Data(values=data)).mark_bar()  # type: ignore[no-untyped-call]
    encode: dict[str, Any] = {
        "x": alt.X("day:T", title=None, timeUnit="yearmonthdate"),
        "y": alt.Y("events:Q", title="Events", axis=alt.Axis(format="~s")),
        "tooltip": [alt.Tooltip("day:T", title="Day"), alt.Tooltip("events:Q", title="Events", format=",")],
    }
    if by_source:
        encode["color"] = alt.Color("source:N", title="Source")
        encode["tooltip"].insert(0, alt.Tooltip("source:N", title="Source"))
    spec: dict[str, Any] = base.encode(**encode).properties(height=150, width="container").to_dict()
    return spec


@router.get(PAGES + "/chart.json", dependencies=[ADMIN])
def sources_chart(session: SessionDep) -> JSONResponse:
    names = {s.id: s.name for s in sources.list_sources(session)}
    data = [
        {**row, "source": names.get(row["source_id"], f"deleted source {row['source_id']}")}
        for row in sources.daily_events(get_warehouse(), None)
    ]
    return JSONResponse(_daily_spec(data, by_source=True))


@router.get(PAGES + "/{source_id:int}/chart.json", dependencies=[ADMIN])
def source_chart(session: SessionDep, source_id: int) -> JSONResponse:
    sources.get_source(session, source_id)
    return JSONResponse(_daily_spec(sources.daily_events(get_warehouse(), source_id), by_source=False))


# --- admin JSON API -------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1/analytics", tags=["analytics sources"], dependencies=[ADMIN]))


class SourceApiOut(SourceOut):
    snippets: dict[str, str]
    """Client set-up, ready to copy, keyed by client."""


def _api_out(request: Request, source: SourceOut) -> SourceApiOut:
    return SourceApiOut(**source.model_dump(), snippets=snippets(base_url(request), source))


@api.get("/sources", summary="Event sources with their write keys (administrators)")
def api_list(request: Request, session: SessionDep) -> dict[str, Any]:
    items = [_api_out(request, s) for s in sources.list_sources(session)]
    return {"items": items, "total": len(items)}


@api.post("/sources", status_code=201, summary="Create an event source; the answer carries its write key")
def api_create(request: Request, session: SessionDep, admin: AdminUser, data: SourceIn) -> SourceApiOut:
    return _api_out(request, sources.create_source(session, actor_for(admin), data))


@api.get("/sources/{source_id}", summary="One event source")
def api_get(request: Request, session: SessionDep, source_id: int) -> SourceApiOut:
    return _api_out(request, sources.get_source(session, source_id))


@api.patch(
    "/sources/{source_id}", summary="Rename, change the kind of, enable or disable a source (only the fields sent)"
)
def api_update(
    request: Request, session: SessionDep, admin: AdminUser, source_id: int, data: SourceUpdate
) -> SourceApiOut:
    return _api_out(request, sources.update_source(session, actor_for(admin), source_id, data))


@api.post("/sources/{source_id}/rotate-key", summary="Give the source a new write key (the old one stops working)")
def api_rotate_key(request: Request, session: SessionDep, admin: AdminUser, source_id: int) -> SourceApiOut:
    return _api_out(request, sources.rotate_key(session, actor_for(admin), source_id))


@api.delete("/sources/{source_id}", status_code=204, summary="Delete a source (its events stay)")
def api_delete(session: SessionDep, admin: AdminUser, source_id: int) -> Response:
    sources.delete_source(session, actor_for(admin), source_id)
    return Response(status_code=204)


@api.post("/sync", summary="Copy the customers accounts into the warehouse and re-link identified people now")
def api_sync(admin: AdminUser) -> dict[str, int]:
    return pipeline.sync_customers()


@api.post("/flush", summary="Store every event accepted so far in the warehouse now (normally within a second)")
def api_flush(admin: AdminUser) -> dict[str, int]:
    return {"stored": pipeline.flush()}
