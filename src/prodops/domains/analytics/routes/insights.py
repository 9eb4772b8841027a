"""Insight pages: the analytics overview (saved insights), the builder with its shareable URL, a saved insight
(question, chart, table, definition), funnel drop-offs, CSV export, and saving / editing / deleting.

Results arrive after the page shell: the page holds an HTMX placeholder that loads ``…/result`` (chart + table).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict, MultiDict

from prodops.domains.analytics.routes import _builder, _charts, _format
from prodops.domains.analytics.service import metrics, results, saved
from prodops.domains.analytics.service.datasets import registered
from prodops.domains.analytics.service.insights import KINDS, InsightQuery, InsightResult
from prodops.domains.analytics.service.insights.describe import duration_words
from prodops.domains.analytics.service.insights.types import (
    INTERVAL_LABELS,
    MATH_LABELS,
    OP_LABELS,
    FunnelQuery,
)
from prodops.domains.analytics.service.saved import InsightIn, InsightUpdate
from prodops.platform import audit, registry
from prodops.platform.deps import VIEWER, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import attachment_headers, write_csv
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))

HOME = "/analytics"
Text = Annotated[str, Form(max_length=5000)]


def builder_context(params: Any, errors: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "state": _builder.form_state(params),
        "errors": errors or {},
        "kinds": KINDS,
        "maths": MATH_LABELS,
        "ops": OP_LABELS,
        "intervals": INTERVAL_LABELS,
        "datasets": registered(),
        **extra,
    }


def result_context(result: InsightResult, *, dropped_url: str | None = None, height: int = 280) -> dict[str, Any]:
    return {
        "result": result,
        "chart": chart(_charts.spec_for(result, height), title=result.title, height=height),
        "table": _format.table(result),
        "definitions": _format.definitions(result.kind),
        "dropped_url": dropped_url,
        "duration": duration_words,
    }


def _builder_page(params: ImmutableMultiDict[str, str], errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    """The builder with its result (when the query is valid) and the save form."""
    query, query_errors = _builder.parse(params)
    result_url = f"{HOME}/run?{urlencode(list(params.multi_items()))}" if query is not None else None
    return builder_context(
        params,
        {**query_errors, **errors},
        result_url=result_url,
        query=query,
        save_params=list(params.multi_items()),
        **extra,
    )


def _run(query: InsightQuery) -> tuple[InsightResult | None, dict[str, str]]:
    try:
        return results.run_query(query), {}
    except ServiceError as exc:
        return None, exc.field_errors()


# --- overview and builder ----------------------------------------------------------------------------------


@router.get(HOME, response_class=HTMLResponse)
def overview(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    found = saved.list_insights(session, q=q, kind=kind if kind in KINDS else None, page=page, per_page=50)
    context = {
        "page": found,
        "q": q or "",
        "kind": kind or "",
        "kinds": KINDS,
        "metrics": metrics.list_metrics(session)[:4],
    }
    return render(request, "analytics/overview.html", context, partial="analytics/_insight_list.html")


@router.get(HOME + "/new", response_class=HTMLResponse)
def builder(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    params = request.query_params
    if "kind" not in params:
        return render(request, "analytics/builder.html", builder_context(params, result_url=None, query=None))
    context = _builder_page(params, {})
    return render(request, "analytics/builder.html", context, status_code=422 if context["errors"] else 200)


@router.get(HOME + "/run", response_class=HTMLResponse, dependencies=[VIEWER])
def run_partial(request: Request) -> Response:
    query, errors = _builder.parse(request.query_params)
    if query is None:
        return render(request, "analytics/_errors.html", {"errors": errors}, status_code=422)
    result, errors = _run(query)
    if result is None:
        return render(request, "analytics/_errors.html", {"errors": errors}, status_code=422)
    dropped = (
        f"{HOME}/dropped?{urlencode(list(request.query_params.multi_items()))}"
        if isinstance(query, FunnelQuery)
        else None
    )
    return render(request, "analytics/_result.html", result_context(result, dropped_url=dropped))


@router.get(HOME + "/run.csv", dependencies=[VIEWER])
def run_csv(request: Request) -> Response:
    query, errors = _builder.parse(request.query_params)
    if query is None:
        raise ValidationFailed(next(iter(errors)), next(iter(errors.values())))
    return _csv(results.run_query(query), "insight.csv")


def _csv(result: InsightResult, filename: str) -> Response:
    return Response(
        write_csv(result.columns, _format.csv_rows(result)),
        media_type="text/csv; charset=utf-8",
        headers=attachment_headers(filename),
    )


def _dropped(request: Request, query: InsightQuery, step: int) -> Response:
    if not isinstance(query, FunnelQuery):
        raise ValidationFailed("kind", "drop-offs belong to funnels")
    if not 2 <= step <= len(query.steps):
        raise ValidationFailed("step", f"choose a step between 2 and {len(query.steps)}")
    total, people = results.dropped_off(query, step)
    context = {"total": total, "people": people, "step": step, "query": query}
    return render(request, "analytics/_dropped.html", context)


@router.get(HOME + "/dropped", response_class=HTMLResponse, dependencies=[VIEWER])
def dropped_partial(request: Request, step: Annotated[int, Query(ge=1, le=20)]) -> Response:
    query, errors = _builder.parse(request.query_params)
    if query is None:
        return render(request, "analytics/_errors.html", {"errors": errors}, status_code=422)
    return _dropped(request, query, step)


# --- saved insights ----------------------------------------------------------------------------------------


def _form_query(params: Any) -> InsightQuery:
    query, errors = _builder.parse(params)
    if query is None:
        (field, message), *rest = errors.items()
        raise ValidationFailed(field, message, more=rest)
    return query


@router.post(HOME + "/insights")
async def insight_create(request: Request, session: SessionDep, user: MemberUser) -> Response:
    form = await request.form()
    params = _strings(form)
    try:
        data = InsightIn(
            name=str(form.get("name") or ""), description=str(form.get("description") or ""), query=_form_query(params)
        )
        insight = saved.create_insight(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        context = _builder_page(
            params, errors_of(exc), name=form.get("name") or "", description=form.get("description") or ""
        )
        return render(request, "analytics/builder.html", context, status_code=422)
    flash(request, f"Insight “{insight.name}” saved.")
    return RedirectResponse(f"{HOME}/insights/{insight.id}", status_code=303)


def _strings(form: Any) -> MultiDict:
    return MultiDict(
        [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in {"csrf_token", "name", "description"}]
    )


def _insight_context(session: Session, insight_id: int) -> dict[str, Any]:
    insight = saved.get_insight(session, insight_id)
    return {
        "insight": insight,
        "query": insight.parsed(),
        "edit_url": f"{HOME}/insights/{insight.id}/edit?{urlencode(_builder.params_of(insight.parsed()))}",
        "history": audit.history(session, saved.ENTITY, insight.id, limit=20),
    }


@router.get(HOME + "/insights/{insight_id:int}", response_class=HTMLResponse)
def insight_page(request: Request, session: SessionDep, user: ViewerUser, insight_id: int) -> Response:
    return render(request, "analytics/insight.html", _insight_context(session, insight_id))


@router.get(HOME + "/insights/{insight_id:int}/result", response_class=HTMLResponse, dependencies=[VIEWER])
def insight_result(request: Request, session: SessionDep, insight_id: int) -> Response:
    insight = saved.get_insight(session, insight_id)
    result, errors = _run(insight.parsed())
    if result is None:
        return render(request, "analytics/_errors.html", {"errors": errors}, status_code=422)
    dropped = f"{HOME}/insights/{insight_id}/dropped" if insight.kind == "funnel" else None
    return render(request, "analytics/_result.html", result_context(result, dropped_url=dropped))


@router.get(HOME + "/insights/{insight_id:int}/dropped", response_class=HTMLResponse, dependencies=[VIEWER])
def insight_dropped(
    request: Request, session: SessionDep, insight_id: int, step: Annotated[int, Query(ge=1, le=20)]
) -> Response:
    return _dropped(request, saved.get_insight(session, insight_id).parsed(), step)


@router.get(HOME + "/insights/{insight_id:int}.csv", dependencies=[VIEWER])
def insight_csv(session: SessionDep, insight_id: int) -> Response:
    insight = saved.get_insight(session, insight_id)
    return _csv(results.run_query(insight.parsed()), f"insight-{insight_id}.csv")


@router.get(HOME + "/insights/{insight_id:int}/edit", response_class=HTMLResponse)
def insight_edit(request: Request, session: SessionDep, user: MemberUser, insight_id: int) -> Response:
    insight = saved.get_insight(session, insight_id)
    params: ImmutableMultiDict[str, str] = (
        request.query_params if "kind" in request.query_params else MultiDict(_builder.params_of(insight.parsed()))
    )
    context = _builder_page(params, {}, insight=insight, name=insight.name, description=insight.description)
    return render(request, "analytics/builder.html", context)


@router.post(HOME + "/insights/{insight_id:int}/edit")
async def insight_update(request: Request, session: SessionDep, user: MemberUser, insight_id: int) -> Response:
    insight = saved.get_insight(session, insight_id)
    form = await request.form()
    params = _strings(form)
    try:
        data = InsightUpdate(
            name=str(form.get("name") or ""), description=str(form.get("description") or ""), query=_form_query(params)
        )
        saved.update_insight(session, actor_for(user), insight_id, data)
    except (ValidationError, ServiceError) as exc:
        context = _builder_page(
            params,
            errors_of(exc),
            insight=insight,
            name=form.get("name") or "",
            description=form.get("description") or "",
        )
        return render(request, "analytics/builder.html", context, status_code=422)
    flash(request, "Insight saved.")
    return RedirectResponse(f"{HOME}/insights/{insight_id}", status_code=303)


@router.post(HOME + "/insights/{insight_id:int}/delete")
def insight_delete(request: Request, session: SessionDep, user: MemberUser, insight_id: int) -> Response:
    insight = saved.get_insight(session, insight_id)
    saved.delete_insight(session, actor_for(user), insight_id)
    flash(request, f"Insight “{insight.name}” deleted.")
    return RedirectResponse(HOME, status_code=303)
