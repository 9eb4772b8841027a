"""Webhook subscriptions and their delivery log (administrators): pages and the JSON API."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from prodops.platform import audit, events, registry
from prodops.platform.config import get_settings
from prodops.platform.deps import ADMIN, AdminUser, SessionDep
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.notify import jobs, queries, service, webhooks
from prodops.platform.notify.schemas import (
    DELIVERY_STATUSES,
    DeliveryFilters,
    DeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecret,
)
from prodops.platform.web import errors_of, flash, render

_ = jobs  # importing the jobs module registers the tasks and the event fan-out

router = registry.router(APIRouter(include_in_schema=False))
registry.nav("Webhooks", "/admin/webhooks", section="Administration", order=40, min_role="admin")

FORMATS = [("json", "JSON (signed ProdOps envelope)"), ("slack", "Slack-compatible message")]


# --- helpers --------------------------------------------------------------------------------------


def _event_groups() -> list[dict[str, Any]]:
    """Declared events grouped by their first name part, for the event checkboxes."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, description in events.catalogue().items():
        groups.setdefault(name.split(".", 1)[0], []).append((name, description))
    return [{"prefix": prefix, "pattern": f"{prefix}.*", "events": items} for prefix, items in groups.items()]


def _known_choices() -> set[str]:
    return {"*"} | {g["pattern"] for g in _event_groups()} | set(events.catalogue())


def _split_patterns(text: str) -> list[str]:
    return [p for p in re.split(r"[,\s]+", text) if p]


def _form_event_types(event_types: list[str] | None, other_patterns: str) -> list[str]:
    return [*(event_types or []), *_split_patterns(other_patterns)]


def _form_values(name: str, url: str, payload_format: str, event_types: list[str]) -> dict[str, Any]:
    known = _known_choices()
    return {
        "name": name,
        "url": url,
        "payload_format": payload_format,
        "event_types": [e for e in event_types if e in known],
        "other_patterns": ", ".join(e for e in event_types if e not in known),
    }


def _list_context(session: SessionDep) -> dict[str, Any]:
    return {"webhooks": queries.list_subscriptions(session), "groups": _event_groups(), "formats": FORMATS}


def _detail_context(session: SessionDep, webhook_id: int, filters: DeliveryFilters) -> dict[str, Any]:
    sub = queries.get_subscription(session, webhook_id)
    return {
        "hook": sub,
        "page": queries.list_deliveries(session, webhook_id, filters),
        "filters": filters,
        "counts": queries.delivery_counts(session, webhook_id),
        "statuses": DELIVERY_STATUSES,
        "history": audit.history(session, service.ENTITY, webhook_id, limit=20),
        "groups": _event_groups(),
        "formats": FORMATS,
        "form": _form_values(sub.name, sub.url, sub.payload_format, sub.event_types),
        "max_attempts": get_settings().webhook_max_attempts,
    }


def _to_detail(webhook_id: int) -> RedirectResponse:
    return RedirectResponse(f"/admin/webhooks/{webhook_id}", status_code=303)


# --- pages ----------------------------------------------------------------------------------------


@router.get("/admin/webhooks", response_class=HTMLResponse, dependencies=[ADMIN])
def webhooks_page(request: Request, session: SessionDep) -> Response:
    return render(
        request, "notify/list.html", {**_list_context(session), "form": {"payload_format": "json"}, "errors": {}}
    )


@router.post("/admin/webhooks")
def webhook_create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    *,
    name: Annotated[str, Form(max_length=500)] = "",
    url: Annotated[str, Form(max_length=4000)] = "",
    payload_format: Annotated[str, Form(max_length=20)] = "json",
    event_types: Annotated[list[str] | None, Form()] = None,
    other_patterns: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    chosen = _form_event_types(event_types, other_patterns)
    try:
        data = WebhookIn.model_validate(
            {"name": name, "url": url, "payload_format": payload_format, "event_types": chosen}
        )
        created = service.create_subscription(session, actor_for(admin), data)
    except (ValidationError, ServiceError) as exc:
        context = {
            **_list_context(session),
            "form": _form_values(name, url, payload_format, chosen),
            "errors": errors_of(exc),
        }
        return render(request, "notify/list.html", context, status_code=422)
    flash(
        request,
        f"Webhook {created.name} created. Configure its signing secret in the receiver, then send a test event.",
    )
    return _to_detail(created.id)


@router.get("/admin/webhooks/{webhook_id}", response_class=HTMLResponse, dependencies=[ADMIN])
def webhook_page(
    request: Request, session: SessionDep, webhook_id: int, filters: Annotated[DeliveryFilters, Query()]
) -> Response:
    context = {**_detail_context(session, webhook_id, filters), "errors": {}}
    return render(request, "notify/detail.html", context, partial="notify/_deliveries.html")


@router.post("/admin/webhooks/{webhook_id}")
def webhook_update(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    webhook_id: int,
    *,
    name: Annotated[str, Form(max_length=500)] = "",
    url: Annotated[str, Form(max_length=4000)] = "",
    payload_format: Annotated[str, Form(max_length=20)] = "json",
    event_types: Annotated[list[str] | None, Form()] = None,
    other_patterns: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    chosen = _form_event_types(event_types, other_patterns)
    try:
        data = WebhookPatch.model_validate(
            {"name": name, "url": url, "payload_format": payload_format, "event_types": chosen}
        )
        service.update_subscription(session, actor_for(admin), webhook_id, data)
    except (ValidationError, ServiceError) as exc:
        context = {
            **_detail_context(session, webhook_id, DeliveryFilters()),
            "form": _form_values(name, url, payload_format, chosen),
            "errors": errors_of(exc),
            "editing": True,
        }
        return render(request, "notify/detail.html", context, status_code=422)
    flash(request, "Webhook settings saved.")
    return _to_detail(webhook_id)


@router.post("/admin/webhooks/{webhook_id}/active")
def webhook_set_active(
    request: Request, session: SessionDep, admin: AdminUser, webhook_id: int, active: Annotated[bool, Form()]
) -> Response:
    hook = service.set_active(session, actor_for(admin), webhook_id, active)
    flash(request, f"Webhook {hook.name} {'enabled' if hook.is_active else 'disabled'}.")
    return _to_detail(webhook_id)


@router.post("/admin/webhooks/{webhook_id}/secret")
def webhook_rotate_secret(request: Request, session: SessionDep, admin: AdminUser, webhook_id: int) -> Response:
    service.rotate_secret(session, actor_for(admin), webhook_id)
    flash(
        request, "A new signing secret was generated. Update the receiver: deliveries are signed with it from now on."
    )
    return _to_detail(webhook_id)


@router.post("/admin/webhooks/{webhook_id}/test")
def webhook_test(request: Request, session: SessionDep, admin: AdminUser, webhook_id: int) -> Response:
    try:
        delivery = service.send_test(session, actor_for(admin), webhook_id)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, f"Test event queued as delivery #{delivery.id}. Its result appears in the delivery log.")
    return _to_detail(webhook_id)


@router.post("/admin/webhooks/{webhook_id}/delete")
def webhook_delete(request: Request, session: SessionDep, admin: AdminUser, webhook_id: int) -> Response:
    name = queries.get_subscription_row(session, webhook_id).name
    service.delete_subscription(session, actor_for(admin), webhook_id)
    flash(request, f"Webhook {name} and its delivery log were deleted.")
    return RedirectResponse("/admin/webhooks", status_code=303)


@router.get("/admin/webhooks/{webhook_id}/deliveries/{delivery_id}", response_class=HTMLResponse, dependencies=[ADMIN])
def delivery_page(request: Request, session: SessionDep, webhook_id: int, delivery_id: int) -> Response:
    hook = queries.get_subscription(session, webhook_id)
    delivery = queries.get_delivery(session, webhook_id, delivery_id)
    body = webhooks.body_for(delivery.id, delivery.payload, hook.payload_format, get_settings().base_url)
    return render(
        request,
        "notify/delivery.html",
        {
            "hook": hook,
            "d": delivery,
            "body": json.dumps(body, indent=2, ensure_ascii=False, default=str),
            "headers": webhooks.headers(delivery.event, delivery.id, 0, "sha256=…")
            | {
                "X-ProdOps-Timestamp": "(Unix time of each attempt)",
                "X-ProdOps-Signature": "sha256=(HMAC of timestamp.body)",
            },
            "max_attempts": get_settings().webhook_max_attempts,
        },
    )


@router.post("/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def delivery_redeliver(
    request: Request, session: SessionDep, admin: AdminUser, webhook_id: int, delivery_id: int
) -> Response:
    try:
        fresh = service.redeliver(session, actor_for(admin), webhook_id, delivery_id)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, f"Delivery #{delivery_id} queued again as #{fresh.id}.")
    return _to_detail(webhook_id)


# --- JSON API -------------------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[ADMIN]))


@api.get("", summary="Webhook subscriptions (without secrets)")
def api_list(session: SessionDep) -> dict[str, Any]:
    items = queries.list_subscriptions(session)
    return {"items": items, "total": len(items)}


@api.get("/event-types", summary="Event types a subscription can name")
def api_event_types() -> dict[str, Any]:
    items = [{"name": name, "description": description} for name, description in events.catalogue().items()]
    return {"items": items, "total": len(items)}


@api.post("", status_code=201, summary="Create a subscription; the response carries its signing secret")
def api_create(session: SessionDep, admin: AdminUser, data: WebhookIn) -> WebhookWithSecret:
    return service.create_subscription(session, actor_for(admin), data)


@api.get("/{webhook_id}", summary="One subscription with its signing secret")
def api_get(session: SessionDep, webhook_id: int) -> WebhookWithSecret:
    return queries.get_subscription(session, webhook_id)


@api.patch("/{webhook_id}", summary="Change a subscription (name, URL, events, format, active)")
def api_update(session: SessionDep, admin: AdminUser, webhook_id: int, data: WebhookPatch) -> WebhookOut:
    return service.update_subscription(session, actor_for(admin), webhook_id, data)


@api.delete("/{webhook_id}", status_code=204, summary="Delete a subscription and its delivery log")
def api_delete(session: SessionDep, admin: AdminUser, webhook_id: int) -> Response:
    service.delete_subscription(session, actor_for(admin), webhook_id)
    return Response(status_code=204)


@api.post("/{webhook_id}/rotate-secret", summary="Replace the signing secret")
def api_rotate_secret(session: SessionDep, admin: AdminUser, webhook_id: int) -> WebhookWithSecret:
    return service.rotate_secret(session, actor_for(admin), webhook_id)


@api.post("/{webhook_id}/test", status_code=202, summary="Send a webhooks.test event to this subscription")
def api_test(session: SessionDep, admin: AdminUser, webhook_id: int) -> DeliveryOut:
    return service.send_test(session, actor_for(admin), webhook_id)


@api.get("/{webhook_id}/deliveries", summary="The delivery log, newest first")
def api_deliveries(
    session: SessionDep, webhook_id: int, filters: Annotated[DeliveryFilters, Query()]
) -> dict[str, Any]:
    page = queries.list_deliveries(session, webhook_id, filters)
    return {"items": page.items, "total": page.total, "page": page.number, "per_page": page.per_page}


@api.get("/{webhook_id}/deliveries/{delivery_id}", summary="One delivery with its stored payload")
def api_delivery(session: SessionDep, webhook_id: int, delivery_id: int) -> DeliveryOut:
    return queries.get_delivery(session, webhook_id, delivery_id)


@api.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery again as a new delivery",
)
def api_redeliver(session: SessionDep, admin: AdminUser, webhook_id: int, delivery_id: int) -> DeliveryOut:
    return service.redeliver(session, actor_for(admin), webhook_id, delivery_id)
