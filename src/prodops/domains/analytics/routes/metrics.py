"""Metric pages: the catalogue (each metric with its sparkline, last value and change), one metric (Insight
page pattern: question, reading with its comparison, chart, table, definition, history), and the form."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from prodops.domains.analytics.routes import _format
from prodops.domains.analytics.routes.insights import result_context
from prodops.domains.analytics.service import metrics, results
from prodops.domains.analytics.service.insights.types import INTERVAL_LABELS
from prodops.domains.analytics.service.metrics import FORMATS, MetricIn, MetricOut, MetricUpdate
from prodops.platform import audit, registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))

PAGES = "/analytics/metrics"
SPARK_POINTS = 12
EXAMPLE = {"kind": "trends", "series": [{"event": None, "math": "people"}], "interval": "week", "date_from": "-12w"}


def sparkline(values: list[float | None], width: int = 110, height: int = 24) -> Markup:
    """A tiny inline SVG (no script); the numbers are in its accessible name."""
    nums = [v or 0.0 for v in values]
    if not nums:
        return Markup("")
    top, low = max(nums), min(nums)
    span = (top - low) or 1.0
    step = width / max(len(nums) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - ((v - low) / span) * (height - 4):.1f}" for i, v in enumerate(nums)
    )
    label = "Oldest to newest: " + ", ".join(f"{v:g}" for v in nums)
    return Markup(
        '<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<title>{label}</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>'
    ).format(w=width, h=height, label=label, points=points)


def _spark_range(metric: MetricOut) -> tuple[dt.date, dt.date]:
    from prodops.domains.analytics.service.insights import sql as q

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = q.add(q.trunc(now, metric.interval), metric.interval, -(SPARK_POINTS - 1))
    return start.date(), now.date()


def _summary(metric: MetricOut) -> dict[str, Any]:
    reading = metrics.read_metric(metric)
    start, end = _spark_range(metric)
    points = metrics.series_of(metric, start, end, metric.interval if metric.interval != "hour" else "day")
    return {
        "metric": metric,
        "reading": reading,
        "value": _format.metric_value(reading.value, metric.format, metric.unit),
        "change": _format.metric_change(reading.change, metric.format),
        "previous": _format.metric_value(reading.previous, metric.format, metric.unit),
        "spark": sparkline([p.value for p in points]),
    }


@router.get(PAGES, response_class=HTMLResponse)
def metrics_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    return render(
        request, "analytics/metrics.html", {"metrics": metrics.list_metrics(session), "intervals": INTERVAL_LABELS}
    )


@router.get(PAGES + "/{key}/summary", response_class=HTMLResponse, dependencies=[VIEWER])
def metric_summary(request: Request, session: SessionDep, key: str, row: bool = False) -> Response:
    """The reading of one metric: a table row's cells (``row=1``) or a KPI card's body."""
    context = _summary(metrics.get_metric(session, key))
    return render(request, "analytics/_metric_cells.html" if row else "analytics/_metric_card.html", context)


@router.post(PAGES + "/defaults")
def metrics_defaults(request: Request, session: SessionDep, user: MemberUser) -> Response:
    added = metrics.seed_default_metrics(session, actor_for(user))
    flash(
        request,
        f"Added {len(added)} default metric{'s' if len(added) != 1 else ''}."
        if added
        else "The default metrics are all there.",
    )
    return RedirectResponse(PAGES, status_code=303)


# --- form ------------------------------------------------------------------------------------------------------


def _form_context(form: dict[str, Any], errors: dict[str, str], metric: MetricOut | None) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "metric": metric,
        "formats": FORMATS,
        "example": json.dumps(EXAMPLE, indent=2),
    }


def _definition(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError("definition", f"the definition is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _errors(exc: ValidationError | ServiceError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "_"
            detail = ".".join(str(p) for p in err["loc"][1:])
            message = err["msg"].removeprefix("Value error, ")
            found.setdefault(name, f"{detail}: {message}" if detail and name == "definition" else message)
        return found
    return errors_of(exc)


FormText = Annotated[str, Form(max_length=5000)]


@router.get(PAGES + "/new", response_class=HTMLResponse)
def metric_new(
    request: Request, user: MemberUser, definition: Annotated[str | None, Query(max_length=20000)] = None
) -> Response:
    text = (
        json.dumps(json.loads(definition), indent=2)
        if definition and definition.strip().startswith("{")
        else json.dumps(EXAMPLE, indent=2)
    )
    return render(
        request, "analytics/metric_form.html", _form_context({"definition": text, "format": "number"}, {}, None)
    )


@router.post(PAGES + "/new")
def metric_create(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    key: FormText = "",
    name: FormText = "",
    description: FormText = "",
    definition: Annotated[str, Form(max_length=20000)] = "",
    unit: FormText = "",
    format: FormText = "number",
) -> Response:
    form = {
        "key": key,
        "name": name,
        "description": description,
        "definition": definition,
        "unit": unit,
        "format": format,
    }
    try:
        data = MetricIn.model_validate({**form, "definition": _definition(definition)})
        metric = metrics.create_metric(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        return render(request, "analytics/metric_form.html", _form_context(form, _errors(exc), None), status_code=422)
    flash(request, f"Metric “{metric.name}” created.")
    return RedirectResponse(f"{PAGES}/{metric.key}", status_code=303)


@router.get(PAGES + "/{key}/edit", response_class=HTMLResponse)
def metric_edit(request: Request, session: SessionDep, user: MemberUser, key: str) -> Response:
    metric = metrics.get_metric(session, key)
    form = {**metric.model_dump(), "definition": json.dumps(metric.definition, indent=2)}
    return render(request, "analytics/metric_form.html", _form_context(form, {}, metric))


@router.post(PAGES + "/{key}/edit")
def metric_update(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    key: str,
    name: FormText = "",
    description: FormText = "",
    definition: Annotated[str, Form(max_length=20000)] = "",
    unit: FormText = "",
    format: FormText = "number",
) -> Response:
    metric = metrics.get_metric(session, key)
    form = {
        "key": key,
        "name": name,
        "description": description,
        "definition": definition,
        "unit": unit,
        "format": format,
    }
    try:
        fields = {k: v for k, v in form.items() if k != "key"}
        data = MetricUpdate.model_validate({**fields, "definition": _definition(definition)})
        metric = metrics.update_metric(session, actor_for(user), key, data)
    except (ValidationError, ServiceError) as exc:
        return render(request, "analytics/metric_form.html", _form_context(form, _errors(exc), metric), status_code=422)
    flash(request, f"Metric “{metric.name}” saved.")
    return RedirectResponse(f"{PAGES}/{metric.key}", status_code=303)


@router.post(PAGES + "/{key}/delete")
def metric_delete(request: Request, session: SessionDep, user: MemberUser, key: str) -> Response:
    metric = metrics.get_metric(session, key)
    metrics.delete_metric(session, actor_for(user), key)
    flash(request, f"Metric “{metric.name}” deleted.")
    return RedirectResponse(PAGES, status_code=303)


# --- one metric ------------------------------------------------------------------------------------------------


@router.get(PAGES + "/{key}", response_class=HTMLResponse)
def metric_page(request: Request, session: SessionDep, user: ViewerUser, key: str) -> Response:
    metric = metrics.get_metric(session, key)
    context = {
        "metric": metric,
        "history": audit.history(session, metrics.ENTITY, metric.key, limit=20),
        "formats": FORMATS,
    }
    return render(request, "analytics/metric.html", context)


@router.get(PAGES + "/{key}/result", response_class=HTMLResponse, dependencies=[VIEWER])
def metric_result(request: Request, session: SessionDep, key: str) -> Response:
    metric = metrics.get_metric(session, key)
    context = result_context(results.run_query(metric.query()))
    context.update(_summary(metric))
    return render(request, "analytics/_metric_result.html", context)
